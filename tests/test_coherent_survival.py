"""Coherent survival draws (issue 21, item 1): dependence of calibrated points of one curve,
joint PFS/OS draws, and the crossing report of the partitioned-survival engine."""

from pathlib import Path

import numpy as np
import pytest

from hta.engine import psm
from hta.errors import HtaError
from hta.numerics import coupled_covariance
from hta.survival.calibrate import calibrate
from hta.survival.curves import make_curve

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"
Z = 1.959963984540054

# FUMANBA-1 PFS: 12-month 78.8% (68.6-86.0), JAMA Oncol 2024; median 30.5 (24.11-42.15) months, IMS 2025.
PFS = dict(median=30.5, median_ci=(24.11, 42.15), landmarks={12.0: 0.788}, landmark_ci={12.0: (0.686, 0.860)})


def _target_cov(res):
    """Delta method back from the coefficients to the targets on the cloglog scale at fixed times."""
    times = res.targets["time"].to_numpy()
    theta = res.coef.to_numpy()

    def y(th):
        return np.log(make_curve("weibull", th[None, :]).cumhaz(times)[0])

    J = np.empty((len(times), 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = 1e-6
        J[:, j] = (y(theta + e) - y(theta - e)) / 2e-6
    return J @ res.cov.to_numpy() @ J.T, times


def test_independent_calibration_gives_the_published_ses_and_no_correlation():
    res = calibrate("weibull", **PFS)
    S, times = _target_cov(res)
    se12 = abs(np.log(-np.log(0.686)) - np.log(-np.log(0.860))) / (2 * Z)
    i12 = int(np.argmin(abs(times - 12.0)))
    assert np.sqrt(S[i12, i12]) == pytest.approx(se12, rel=1e-5)
    assert S[0, 1] == pytest.approx(0.0, abs=1e-8)


def test_one_curve_calibration_reproduces_greenwoods_correlation():
    # Greenwood: Cov(log S(t1), log S(t2)) = Var(log S(t1)) for t1 < t2, so
    # corr = sqrt(G(12) / G(median)), G = Var(log S) = (SE on cloglog x log S)^2, here times sqrt(103/107).
    overlap = np.sqrt(103 / 107)
    res = calibrate("weibull", dependence="one curve", overlap=overlap, **PFS)
    S, times = _target_cov(res)
    ind = calibrate("weibull", **PFS)
    S0, _ = _target_cov(ind)
    np.testing.assert_allclose(np.diag(S), np.diag(S0), rtol=1e-5)     # each point keeps its own SE
    surv = np.where(np.isclose(times, 12.0), 0.788, 0.5)
    G = np.diag(S) * np.log(surv) ** 2
    expected = overlap * np.sqrt(G.min() / G.max())
    assert S[0, 1] / np.sqrt(S[0, 0] * S[1, 1]) == pytest.approx(expected, rel=1e-5)
    assert 0.45 < expected < 0.5
    # positively correlated points of one curve pin the shape down: a smaller SE of log(shape)
    assert res.cov.iloc[0, 0] < 0.8 * ind.cov.iloc[0, 0]
    np.testing.assert_allclose(res.coef, ind.coef, rtol=1e-10)           # exact fit: same point estimate
    assert "Greenwood" in res.note


def test_calibration_dependence_rejects_bad_input():
    with pytest.raises(HtaError, match="dependence"):
        calibrate("weibull", dependence="sometimes", **PFS)
    with pytest.raises(HtaError, match="overlap"):
        calibrate("weibull", dependence="one curve", overlap=1.5, **PFS)


def test_coupled_covariance_keeps_blocks_and_correlates_innovations():
    a = np.array([[0.04, -0.02], [-0.02, 0.03]])
    b = np.array([[0.05, -0.03], [-0.03, 0.06]])
    for rho in (0.0, 0.5, 0.79, 1.0):
        c = coupled_covariance(a, b, rho)
        np.testing.assert_allclose(c[:2, :2], a)
        np.testing.assert_allclose(c[2:, 2:], b)
        assert np.linalg.eigvalsh(c)[0] > -1e-12                           # a valid joint covariance
        La, Lb = np.linalg.cholesky(a), np.linalg.cholesky(b)
        # standardised innovations z_a = La^-1 a, z_b = Lb^-1 b have cross-covariance rho I
        cross = np.linalg.inv(La) @ c[:2, 2:] @ np.linalg.inv(Lb).T
        np.testing.assert_allclose(cross, rho * np.eye(2), atol=1e-12)
    with pytest.raises(HtaError, match="correlation"):
        coupled_covariance(a, b, 1.2)


def test_psm_reports_uncapped_crossing_per_sample():
    t = np.linspace(0, 1, 6)
    os_ = np.vstack([1 - 0.5 * t, 1 - 0.5 * t])
    pfs = np.vstack([1 - 0.6 * t, 1 - 0.6 * t])
    pfs[1, 2] = os_[1, 2] + 0.03                                             # crosses by 0.03 at index 2
    c = psm.cohort([pfs, os_])
    rec = c.report["crossing"]["PFS"]
    np.testing.assert_allclose(rec["largest_gap"], [0.0, 0.03])
    assert list(rec["time_index"]) == [0, 2]
    table = psm.crossing_summary({"arm": c.report}, threshold=0.01, times=t)
    row = table.iloc[0]
    assert (row["n_over"], row["share_over"], row["sample"]) == (1, 0.5, 1)
    assert row["largest_gap"] == pytest.approx(0.03) and row["time"] == pytest.approx(t[2])
    assert c.report["capped"]["PFS"]["samples"] == 1                        # still capped in the partition
    line = psm.crossing_lines(table)[0]
    assert line == "arm: PFS above OS by > 0.01 in 1 of 2 samples (50.00%); largest gap 0.03 at 0.4 years"


@pytest.fixture(scope="module")
def model():
    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm

    return fucaso_rrmm.build(read_inputs(INPUTS))


def test_flagship_pfs_above_os_in_at_most_one_percent_of_2000_draws(model):
    # Issue 21 must-show: uncapped eque-cel PFS above OS by > 0.01 in <= 1% of 2,000 PSA draws.
    batch = model.parameters.sample(2000, model.settings.seed)
    row = model.crossing(batch).set_index("strategy").loc["eqcel"]
    assert row["draws"] == 2000 and row["share_over"] <= 0.01
    assert model.crossing(batch, threshold=0.05).set_index("strategy").loc["eqcel", "n_over"] == 0
    # Independent draws of the same curves cross far more often (the review's finding).
    indep = model.with_joint_survival(False)
    row0 = indep.crossing(indep.parameters.sample(2000, model.settings.seed)).set_index("strategy").loc["eqcel"]
    assert row0["share_over"] > 0.1


def test_flagship_joint_block_and_outcome_report(model):
    table = model.parameters
    names = model.survival[("eqcel", "PFS")].param_names + model.survival[("eqcel", "OS")].param_names
    assert table[names[0]].block == tuple(names)                            # one block of 4 coefficients
    assert table[names[0]].group == "survival: eqcel PFS and OS"
    # draws: corr of the PFS and OS log-shape innovations = rho (first Cholesky component)
    batch = table.sample(20000, 7)
    x = np.column_stack([batch[n] for n in names])
    assert np.corrcoef(x[:, 0], x[:, 2])[0, 1] == pytest.approx(0.79, abs=0.02)
    out = model.evaluate(batch.take(np.arange(500)))
    frame = out.crossing()
    assert set(frame["strategy"]) == {"cc", "eqcel"} and (frame["draws"] == 500).all()
    direct = model.crossing(batch.take(np.arange(500))).set_index("strategy")
    assert frame.set_index("strategy").loc["eqcel", "n_over"] == direct.loc["eqcel", "n_over"]
    assert model.with_structure("stm").crossing(batch.take(np.arange(5))).empty


def test_greenwood_correlation_of_two_km_points_by_simulation():
    # The premise of dependence="one curve": for t1 < t2, Cov(log S^(t1), log S^(t2)) = Var(log S^(t1)),
    # so corr = sqrt(G(t1) / G(t2)). Without censoring the KM estimate is the empirical survival
    # function and G(t) = (1 - S(t)) / (n S(t)) (Greenwood, binomial). 20,000 simulated trials of
    # n = 103 Weibull times (the FUMANBA-1 PFS base case) give the correlation within Monte Carlo error.
    rng = np.random.default_rng(2024)
    n, reps, t1, t2 = 103, 20000, 12.0, 30.5
    shape, scale = 1.145, 42.0
    times = scale * (-np.log(rng.random((reps, n)))) ** (1.0 / shape)
    s1, s2 = (times > t1).mean(axis=1), (times > t2).mean(axis=1)
    keep = (s1 > 0) & (s2 > 0)
    observed = np.corrcoef(np.log(s1[keep]), np.log(s2[keep]))[0, 1]
    S1, S2 = np.exp(-(t1 / scale) ** shape), np.exp(-(t2 / scale) ** shape)
    G1, G2 = (1 - S1) / (n * S1), (1 - S2) / (n * S2)
    assert observed == pytest.approx(np.sqrt(G1 / G2), abs=0.02)
