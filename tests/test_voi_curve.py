"""EVPPI over a WTP grid (hta.analysis.voi.evppi_curve): one regression of incremental costs and one of
incremental effects per strategy, shared by every WTP.

References (R package voi, Jackson et al., tests/testthat on GitHub chjackson/voi; data
chemo_cea = list(e, c, k = 10000 * 1:5), whose draws are refdata/voi_chemo_pars_nb_cea_10000.csv):
* test_evpi.R: evpi(chemo_cea)$evpi = 8.76486716445652, 368.605096225918, 206.468704777362,
  150.472904023947, 126.983450042782.
* test_evppi.R: evppi(chemo_nb, chemo_pars, pars="p_side_effects_t2") = 262.1109 (k = 20,000),
  and voi's cost-effectiveness EVPPI at k = 20,000 equals it (voi regresses e and c separately
  for cea outputs); the Strong-Oakley binned estimator evppi(chemo_cea, ..., method="so",
  n.blocks=20)$evppi[3] = 118.0415 at k = 30,000 (voi's tolerance 1e-2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hta.analysis import voi
from hta.errors import HtaError

REF = "/work/shared/refdata/voi_chemo_pars_nb_cea_10000.csv"
K = 10_000.0 * np.arange(1, 6)
VOI_EVPI = [8.76486716445652, 368.605096225918, 206.468704777362, 150.472904023947, 126.983450042782]
PI2 = "p_side_effects_t2"
SIDE_EFFECTS = ["p_side_effects_t1", "logor_side_effects"]


@pytest.fixture(scope="module")
def chemo():
    frame = pd.read_csv(REF)
    return frame[["c_SoC", "c_Novel"]], frame[["e_SoC", "e_Novel"]], frame.iloc[:, :13]


@pytest.fixture(scope="module")
def curve(chemo):
    costs, effects, pars = chemo
    return voi.evppi_curve(costs, effects, pars, {"pi2": PI2, "side_effects": SIDE_EFFECTS}, K)


def _tolerance(reference, evpi):
    # as tests/test_voi.py: 1% of the value plus 0.5% of EVPI (two smoothers of one sample)
    return 0.01 * abs(reference) + 0.005 * evpi


def test_evpi_column_matches_voi(curve):
    assert list(curve.columns) == ["pi2", "side_effects", "evpi"]
    np.testing.assert_allclose(curve.index.to_numpy(), K)
    np.testing.assert_allclose(curve["evpi"], VOI_EVPI, rtol=1e-9)


def test_published_voi_values(curve):
    assert curve.loc[20_000.0, "pi2"] == pytest.approx(262.1109, rel=5e-4)
    # a different (binned) estimator of the same quantity; voi's own tolerance
    assert curve.loc[30_000.0, "pi2"] == pytest.approx(118.0415, rel=1e-2)


@pytest.mark.parametrize("label, group", [("pi2", [PI2]), ("side_effects", SIDE_EFFECTS)])
def test_each_grid_point_equals_single_wtp_evppi(chemo, curve, label, group):
    costs, effects, pars = chemo
    for k in K:
        nb = k * effects.to_numpy() - costs.to_numpy()
        single = voi.evppi(nb, pars, group)
        assert curve.loc[k, label] == pytest.approx(single, abs=_tolerance(single, voi.evpi(nb))), k
        assert curve.loc[k, label] <= curve.loc[k, "evpi"] + 1e-9


def test_gp_group_equals_single_wtp_evppi(chemo):
    costs, effects, pars = chemo
    group = ["p_hospitalised_total", "p_died", "lambda_home", "lambda_hosp", "u_home_care"]
    out = voi.evppi_curve(costs, effects, pars, group, [20_000.0])
    nb = 20_000.0 * effects.to_numpy() - costs.to_numpy()
    single = voi.evppi(nb, pars, group)  # auto: GP for 5 parameters
    assert out.iloc[0, 0] == pytest.approx(single, abs=_tolerance(single, voi.evpi(nb)))


def test_three_strategies_linear_gaussian_closed_form():
    # dE_1 = 0.1 + 0.2 x + e1, dC_1 = 2000 + 1000 y; strategy 2 = strategy 1 + independent noise
    # with mean -500 in cost. With x, y, e ~ N(0, 1): given x, g_1(k) = k (0.1 + 0.2 x) - 2000 and
    # g_2 = g_1 + 500, so strategy 2 beats 1 always and EVPPI(x) = E[max(0, a + b x)] - max(0, a)
    # with a = 0.1 k - 1500, b = 0.2 k.
    rng = np.random.default_rng(4)
    n = 20_000
    x, y, e1, e2 = rng.standard_normal((4, n))
    effects = np.column_stack([np.zeros(n), 0.1 + 0.2 * x + e1, 0.1 + 0.2 * x + e1 + 0.01 * e2])
    costs = np.column_stack([np.zeros(n), 2000 + 1000 * y, 1500 + 1000 * y + 10 * e2])
    inputs = pd.DataFrame({"x": x, "y": y})
    k = np.array([0.0, 5_000.0, 15_000.0, 30_000.0])
    out = voi.evppi_curve(costs, effects, inputs, "x", k)
    a, b = 0.1 * k - 1500.0, 0.2 * k
    sd = np.where(b > 0, b, 1.0)
    closed = np.where(b > 0, a * stats.norm.cdf(a / sd) + sd * stats.norm.pdf(a / sd), np.maximum(a, 0)) - np.maximum(a, 0)
    # oracle on the same draws (true conditional means) removes the Monte Carlo error of x
    g = np.stack([np.zeros((k.size, n)), k[:, None] * (0.1 + 0.2 * x) - 2000, k[:, None] * (0.1 + 0.2 * x) - 1500], axis=2)
    oracle = g.max(axis=2).mean(axis=1) - g.mean(axis=1).max(axis=1)
    np.testing.assert_allclose(out["x"], oracle, atol=0.01 * out["evpi"].max())
    np.testing.assert_allclose(out["x"], closed, atol=0.03 * out["evpi"].max())
    assert out["x"].iloc[0] == 0.0  # at k = 0 strategy 2 is cheapest in every draw


def test_curve_errors(chemo):
    costs, effects, pars = chemo
    with pytest.raises(HtaError, match="same shape"):
        voi.evppi_curve(costs, effects.iloc[:100], pars, PI2, K)
    with pytest.raises(HtaError, match="wtp"):
        voi.evppi_curve(costs, effects, pars, PI2, [-1.0])
    with pytest.raises(HtaError, match="expected a column"):
        voi.evppi_curve(costs, effects, pars, "nope", K)
    with pytest.raises(HtaError, match="at least one"):
        voi.evppi_curve(costs, effects, pars, {}, K)


def test_curve_input_messages_name_costs_or_effects(chemo):
    costs, effects, pars = chemo
    bad = costs.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(HtaError, match="costs of strategy 'c_Novel'.*draw 3"):
        voi.evppi_curve(bad, effects, pars, PI2, K)
    with pytest.raises(HtaError, match="effects: expected an array"):
        voi.evppi_curve(costs, effects.to_numpy()[:, 0], pars, PI2, K)
