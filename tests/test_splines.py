"""Royston-Parmar spline models (hta.survival.splines).

References: flexsurv's own test suite (chjackson/flexsurv, tests/testthat/test_spline.R) publishes
log-likelihoods of intercept-only ``flexsurvspline`` fits to its ``bc`` data (shipped here as
/work/shared/refdata/flexsurv_bc.csv): k = 0 (Weibull) -873.207054864145, and Stata ``stpm``
values for k = 2 on the three scales. R's flexsurv itself is not installed on this machine.
"""

import numpy as np
import pandas as pd
import pytest

from hta.errors import HtaError
from hta.survival.curves import LogLogistic, LogNormal, Weibull
from hta.survival.fit import fit
from hta.survival.splines import SplineCurve, fit_spline, spline_basis

REF = "/work/shared/refdata"


@pytest.fixture(scope="module")
def bc():
    frame = pd.read_csv(f"{REF}/flexsurv_bc.csv")
    return frame["recyrs"].to_numpy(float), frame["censrec"].to_numpy(float)


@pytest.fixture(scope="module")
def lung():
    frame = pd.read_csv(f"{REF}/lung_R_survival.csv")
    return frame["time"].to_numpy(float), (frame["status"] == 2).to_numpy(float)


TIMES = np.array([0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0])


@pytest.mark.parametrize("data", ["bc", "lung"])
def test_zero_knots_hazard_scale_is_weibull(data, request):
    time, event = request.getfixturevalue(data)
    spl = fit_spline(time, event, knots=0, scale="hazard")
    wei = fit(time, event, "weibull")["weibull"]
    assert spl.loglik == pytest.approx(wei.loglik, abs=1e-6)
    shape, scale = np.exp(wei.coef.to_numpy())
    g0, g1 = spl.coef.to_numpy()
    assert g1 == pytest.approx(shape, rel=1e-5)
    assert np.exp(-g0 / g1) == pytest.approx(scale, rel=1e-5)
    t = TIMES * np.median(time)
    np.testing.assert_allclose(spl.survival(t), Weibull(shape, scale).survival(t), atol=1e-6)
    np.testing.assert_allclose(spl.hazard(t), Weibull(shape, scale).hazard(t), rtol=1e-5)


def test_zero_knots_odds_scale_is_loglogistic(bc):
    time, event = bc
    spl = fit_spline(time, event, knots=0, scale="odds")
    ll = fit(time, event, "loglogistic")["loglogistic"]
    assert spl.loglik == pytest.approx(ll.loglik, abs=1e-6)
    g0, g1 = spl.coef.to_numpy()
    curve = LogLogistic(g1, np.exp(-g0 / g1))
    np.testing.assert_allclose(spl.survival(TIMES), ll.survival(TIMES), atol=1e-6)
    np.testing.assert_allclose(curve.survival(TIMES), ll.survival(TIMES), atol=1e-6)


def test_zero_knots_normal_scale_is_lognormal(bc):
    time, event = bc
    spl = fit_spline(time, event, knots=0, scale="normal")
    ln = fit(time, event, "lognormal")["lognormal"]
    assert spl.loglik == pytest.approx(ln.loglik, abs=1e-6)
    g0, g1 = spl.coef.to_numpy()
    np.testing.assert_allclose(LogNormal(-g0 / g1, 1 / g1).survival(TIMES), ln.survival(TIMES),
                               atol=1e-6)


def test_flexsurv_published_weibull_loglik(bc):
    # test_spline.R: flexsurvspline(Surv(recyrs, censrec) ~ 1, data=bc, k=0)$loglik
    assert fit_spline(*bc, knots=0).loglik == pytest.approx(-873.207054864145, abs=1e-6)


@pytest.mark.parametrize("scale, reference, coefs", [
    ("hazard", -674.75128, [-1.728339, 3.476179, 0.567432, -0.3420749]),
    ("odds", -675.271, None),
    ("normal", -675.73591, None),
])
def test_two_knots_match_stata_stpm(bc, scale, reference, coefs):
    # test_spline.R "flexsurvspline results match stpm in Stata": loglik + sum(log event times)
    # equals Stata's value to relative 1e-4; coefficients to R all.equal tolerance 1e-2
    # (mean absolute difference / mean absolute reference).
    time, event = bc
    spl = fit_spline(time, event, knots=2, scale=scale)
    assert spl.converged and spl.monotone.all()
    stata_ll = spl.loglik + np.log(time[event == 1]).sum()
    assert abs(stata_ll - reference) / abs(reference) < 1e-4
    if coefs is not None:
        diff = np.mean(np.abs(spl.coef.to_numpy() - coefs)) / np.mean(np.abs(coefs))
        assert diff < 1e-2


def test_default_knots_are_quantiles_of_log_event_times(bc):
    time, event = bc
    spl = fit_spline(time, event, knots=2)
    log_ev = np.log(time[event == 1])
    np.testing.assert_allclose(spl.knots, np.quantile(log_ev, [0, 1 / 3, 2 / 3, 1]))
    assert spl.n_par == 4
    assert spl.aic == pytest.approx(-2 * spl.loglik + 8)
    assert spl.bic == pytest.approx(-2 * spl.loglik + np.log(len(time)) * 4)


def test_hazard_is_derivative_of_cumulative_hazard(bc):
    spl = fit_spline(*bc, knots=3, scale="odds")
    t = np.linspace(0.05, 12.0, 401)
    step = 1e-5 * t
    numeric = (spl.cumhaz(t + step)[0] - spl.cumhaz(t - step)[0]) / (2 * step)
    np.testing.assert_allclose(spl.hazard(t)[0], numeric, rtol=1e-6)


def test_basis_is_linear_beyond_boundary_knots():
    knots = np.log([1.0, 2.0, 5.0, 9.0])
    x = np.array([knots[-1] + 0.5, knots[-1] + 1.5, knots[-1] + 2.5])
    b, d = spline_basis(x, knots)
    np.testing.assert_allclose(b[2] - 2 * b[1] + b[0], 0.0, atol=1e-10)  # no curvature
    np.testing.assert_allclose(d[0], d[2], atol=1e-10)
    b_left, _ = spline_basis(np.array([-3.0, -1.0]), knots)
    np.testing.assert_array_equal(b_left[:, 2:], 0.0)  # before k_min only 1 and x remain


def test_extrapolation_is_linear_in_log_time(bc):
    spl = fit_spline(*bc, knots=1)
    t = np.exp(spl.knots[-1] + np.array([1.0, 2.0, 3.0]))
    log_h = np.log(spl.cumhaz(t)[0])
    assert log_h[2] - 2 * log_h[1] + log_h[0] == pytest.approx(0.0, abs=1e-9)


def test_non_monotone_spline_never_rises():
    knots = np.log([1.0, 3.0, 10.0])
    curve = SplineCurve([[-1.0, 1.0, 2.0], [-1.0, 1.2, 0.1]], knots)
    assert list(curve.monotone) == [False, True]
    t = np.linspace(0.01, 80, 5000)
    s = curve.survival(t)
    assert np.all(np.diff(s, axis=1) <= 1e-15)
    h = curve.hazard(t)
    assert h.min() >= 0.0
    assert np.any(h[0] == 0.0)  # clipped where the raw spline would make survival rise


def test_sampling_is_vectorised_and_centred(bc):
    spl = fit_spline(*bc, knots=1)
    draws = spl.sample(4000, seed=3)
    assert draws.n == 4000
    tolerance = 4 * np.sqrt(np.diag(spl.cov.to_numpy()) / 4000)  # 4 Monte Carlo SEs
    assert np.all(np.abs(draws.gamma.mean(axis=0) - spl.coef.to_numpy()) < tolerance)
    s = draws.survival(TIMES)
    assert s.shape == (4000, len(TIMES))
    one = SplineCurve(draws.gamma[17], spl.knots, spl.scale).survival(TIMES)
    np.testing.assert_allclose(s[17], one[0])
    assert spl.sample(5, seed=1).gamma.tolist() == spl.sample(5, seed=1).gamma.tolist()


def test_errors():
    with pytest.raises(HtaError, match="scale"):
        fit_spline([1, 2, 3], [1, 1, 0], scale="logit")
    with pytest.raises(HtaError, match="knots"):
        fit_spline([1, 2, 3], [1, 1, 0], knots=9)
    with pytest.raises(HtaError, match="shape"):
        SplineCurve([[0.0, 1.0]], np.log([1.0, 2.0, 3.0]))
