"""Individual-level simulation and cohort engines of hta.multistate.

References: for constant hazards the illness-death model is a time-homogeneous Markov chain,
so state occupancy is ``p0 exp(Q t)`` and discounted time in state over ``[0, T]`` is
``p0 (rI - Q)^-1 (I - exp(-(rI - Q) T))`` (e.g. Cox & Miller 1965, ch. 4), computed here with
scipy.linalg.expm. Simulated means must lie within 4 Monte Carlo standard errors of those.
Background mortality is checked against hta.population.lifetables.LifeTable.life_expectancy (exact for the
piecewise-constant hazard). Cumulative hazards are checked against hta.survival.curves (which
follows R flexsurv's formulas).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm

from hta.errors import HtaError
from hta.multistate.cohort import (
    expm_batched,
    markov_cohort,
    outcomes,
    semi_markov_cohort,
)
from hta.multistate.hazards import cumhaz, inverse_cumhaz
from hta.multistate.model import MultiStateModel, Transition
from hta.multistate.simulate import simulate, uniforms
from hta.survival.curves import make_curve

STATES = ("PF", "P", "D")
R = np.log(1.035)


def _exp_model(rates, clock="reset"):
    """Illness-death model with exponential hazards; ``rates`` (3,) or (D, 3) per year."""
    r = np.atleast_2d(np.asarray(rates, float))
    return MultiStateModel(STATES, [Transition(0, 1, "exponential", np.log(r[:, [0]])),
                                    Transition(0, 2, "exponential", np.log(r[:, [1]])),
                                    Transition(1, 2, "exponential", np.log(r[:, [2]]), clock=clock)])


def _exact(rates, t, horizon):
    l12, l13, l23 = rates
    Q = np.array([[-l12 - l13, l12, l13], [0, -l23, l23], [0, 0, 0]])
    occ = np.array([expm(Q * g)[0] for g in t])
    A = R * np.eye(3) - Q
    disc = (np.linalg.inv(A) @ (np.eye(3) - expm(-A * horizon)))[0]
    return occ, disc


@pytest.mark.parametrize("family, coefs", [
    ("exponential", [-0.5]), ("weibull", [0.3, 0.4]), ("weibull", [-0.4, 1.1]),
    ("weibullph", [-0.3, -0.2]), ("gompertz", [-0.4, -1.0]), ("gompertz", [0.5, -1.0]),
    ("lognormal", [0.5, -0.2]), ("loglogistic", [0.4, 0.7]), ("gamma", [0.5, 0.2]),
    ("gamma", [-0.7, 0.2]), ("gengamma", [0.3, -0.3, 0.6]), ("gengamma", [0.3, -0.3, -0.7]),
])
def test_cumhaz_matches_curves_and_inverts(family, coefs):
    t = np.array([0.01, 0.05, 0.3, 1.0, 2.5, 7.0, 20.0])
    H = cumhaz(family, [np.float64(c) for c in coefs], t)
    ref = make_curve(family, np.array([coefs])).cumhaz(t)[0]
    np.testing.assert_allclose(H, ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(inverse_cumhaz(family, coefs, H), t, rtol=1e-9)


def test_gompertz_inverse_beyond_the_plateau():
    """A decreasing Gompertz hazard (a < 0) has H(inf) = b / |a|: larger targets are never reached."""
    a, log_b = -0.5, np.log(0.2)
    assert np.isinf(inverse_cumhaz("gompertz", [a, log_b], 0.2 / 0.5 + 0.01))
    assert np.isfinite(inverse_cumhaz("gompertz", [a, log_b], 0.2 / 0.5 - 0.01))


def test_uniform_stream_is_uniform_and_slots_independent():
    u = uniforms(7, np.arange(200), np.arange(5000), slot=3).ravel()
    v = uniforms(7, np.arange(200), np.arange(5000), slot=4).ravel()
    n = u.size
    assert 0 < u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 4 * np.sqrt(1 / 180 / n)  # var of (U - 1/2)^2 is 1/180
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / np.sqrt(n)
    counts = np.histogram(u, bins=100, range=(0, 1))[0]
    chi2 = ((counts - n / 100) ** 2 / (n / 100)).sum()
    assert chi2 < 99 + 4 * np.sqrt(2 * 99)  # chi-square with 99 df: mean 99, sd 14
    # the same (draw, patient, slot) gives the same number whatever else is asked for
    assert uniforms(7, [5], [123], 3)[0, 0] == uniforms(7, np.arange(10), np.arange(200), 3)[5, 123]


def test_simulation_equals_exact_markov_for_exponential_model():
    rates = (0.3, 0.05, 0.4)
    grid = np.array([0.5, 1.0, 2.0, 5.0, 10.0])
    N, horizon = 200_000, 10.0
    res = simulate(_exp_model(rates), N, horizon=horizon, seed=11, grid=grid,
                   state_utilities={"PF": 0.8, "P": 0.6}, state_costs={"PF": 1000.0, "P": 3000.0},
                   event_costs={"PF->P": 500.0})
    occ, disc = _exact(rates, grid, horizon)
    se_occ = np.sqrt(occ * (1 - occ) / N)
    assert np.all(np.abs(res.occupancy[0] - occ) <= 4 * se_occ + 1e-12)
    # QALYs and costs: exact discounted integrals (event: rate x discounted time in PF)
    qaly = 0.8 * disc[0] + 0.6 * disc[1]
    cost = 1000 * disc[0] + 3000 * disc[1] + 500 * rates[0] * disc[0]
    assert abs(res.qalys[0] - qaly) < 4 * res.se_qalys[0]
    assert abs(res.costs[0] - cost) < 4 * res.se_costs[0]
    # the Monte Carlo error is small relative to the values (stated in docs: ~0.1%)
    assert res.se_qalys[0] / qaly < 2e-3


def test_markov_cohort_is_exact_for_constant_hazards():
    rates = (0.3, 0.05, 0.4)
    c = markov_cohort(_exp_model(rates, clock="forward"), cycle=1 / 12, horizon=10.0)
    t = np.arange(121) / 12
    occ, disc = _exact(rates, t, 10.0)
    np.testing.assert_allclose(c.trace[0], occ, atol=1e-13)
    out = outcomes(c, cycle=1 / 12, state_utilities={"PF": 0.8, "P": 0.6})
    # trapezoid in each month against the exact discount integral: O(cycle^2)
    assert out["qalys"][0] == pytest.approx(0.8 * disc[0] + 0.6 * disc[1], rel=2e-4)
    with pytest.raises(HtaError, match="clock-reset"):
        markov_cohort(_exp_model(rates, clock="reset"), cycle=1 / 12, horizon=10.0)


def test_expm_batched_equals_scipy():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(20, 4, 4)) * rng.uniform(0.01, 5, size=(20, 1, 1))
    np.testing.assert_allclose(expm_batched(A), np.array([expm(a) for a in A]), rtol=1e-10, atol=1e-12)


def test_simulation_converges_as_patients_grow():
    """Error within 4 SE at each size; the SE falls as 1/sqrt(N)."""
    rates = (0.3, 0.05, 0.4)
    _, disc = _exact(rates, [1.0], 10.0)
    exact = 0.8 * disc[0] + 0.6 * disc[1]
    ses = []
    for N in (2_000, 20_000, 200_000):
        res = simulate(_exp_model(rates), N, horizon=10.0, seed=5, state_utilities={"PF": 0.8, "P": 0.6})
        assert abs(res.qalys[0] - exact) < 4 * res.se_qalys[0], N
        ses.append(res.se_qalys[0])
    ratios = np.array(ses[:-1]) / np.array(ses[1:])
    np.testing.assert_allclose(ratios, np.sqrt(10), rtol=0.1)


def _weibull_model(D=3, clock="reset"):
    rng = np.random.default_rng(1)
    def coefs(log_shape, log_scale):
        return np.column_stack([log_shape + 0.05 * rng.standard_normal(D), log_scale + 0.05 * rng.standard_normal(D)])
    return MultiStateModel(STATES, [Transition(0, 1, "weibull", coefs(0.3, 1.0)),
                                    Transition(0, 2, "weibull", coefs(0.1, 2.5)),
                                    Transition(1, 2, "weibull", coefs(-0.3, 0.6), clock=clock)])


def test_chunking_does_not_change_results_bit_for_bit():
    model = _weibull_model()
    kw = {"horizon": 8.0, "seed": 42, "state_utilities": {"PF": 0.8, "P": 0.5}, "state_costs": {"P": 2000.0},
              "event_costs": {"PF->P": 100.0}, "block": 50}
    runs = [simulate(model, 1_030, chunk=c, **kw) for c in (50, 200, 1_050, 5_000)]
    for other in runs[1:]:
        for field in ("costs", "qalys", "life_years", "se_qalys", "time_in_state", "disc_time_costs",
                      "events", "occupancy"):
            assert np.array_equal(getattr(runs[0], field), getattr(other, field)), field


def test_semi_markov_cohort_agrees_with_simulation_and_converges():
    model = _weibull_model(D=1)
    grid = np.array([1.0, 2.0, 4.0, 8.0])
    sim = simulate(model, 400_000, horizon=8.0, seed=3, grid=grid)
    monthly = semi_markov_cohort(model, cycle=1 / 12, horizon=8.0)
    weekly = semi_markov_cohort(model, cycle=1 / 48, horizon=8.0)
    occ_m = monthly.trace[0, (grid * 12).astype(int)]
    occ_w = weekly.trace[0, (grid * 48).astype(int)]
    se = np.sqrt(occ_w * (1 - occ_w) / 400_000)
    assert np.all(np.abs(sim.occupancy[0] - occ_w) <= 4 * se + 1e-12)
    # second-order convergence in the cycle length: the monthly error is small
    assert np.max(np.abs(occ_m - occ_w)) < 5e-4
    # with clock-forward hazards the tunnel cohort equals the Markov cohort as cycles shrink
    fwd = _weibull_model(D=1, clock="forward")
    a = semi_markov_cohort(fwd, cycle=1 / 48, horizon=8.0).trace[0]
    b = markov_cohort(fwd, cycle=1 / 48, horizon=8.0).trace[0]
    assert np.max(np.abs(a - b)) < 2e-4


def test_clock_forward_simulation_agrees_with_markov_cohort():
    model = _weibull_model(D=1, clock="forward")
    grid = np.array([1.0, 3.0, 6.0])
    sim = simulate(model, 300_000, horizon=6.0, seed=9, grid=grid)
    c = markov_cohort(model, cycle=1 / 48, horizon=6.0).trace[0, (grid * 48).astype(int)]
    se = np.sqrt(c * (1 - c) / 300_000)
    assert np.all(np.abs(sim.occupancy[0] - c) <= 4 * se + 2e-5)


def test_psa_draws_are_simulated_together():
    """Each draw of a (D,) batch gives what that draw's parameters give within 4 SE of the exact value."""
    rates = np.array([[0.3, 0.05, 0.4], [0.5, 0.1, 0.2], [0.1, 0.02, 0.8]])
    res = simulate(_exp_model(rates), 100_000, horizon=10.0, seed=2, state_utilities={"PF": 0.8, "P": 0.6})
    for d, r in enumerate(rates):
        _, disc = _exact(r, [1.0], 10.0)
        assert abs(res.qalys[d] - (0.8 * disc[0] + 0.6 * disc[1])) < 4 * res.se_qalys[d]


def test_background_mortality_gives_life_table_life_expectancy():
    from hta.population.lifetables import LifeTable
    table = LifeTable.hong_kong()
    model = MultiStateModel(("alive", "dead"), [Transition(0, 1, "exponential", [[-60.0]])])
    pop = pd.DataFrame({"age": [60.0, 60.0], "sex": ["male", "female"], "weight": [0.4, 0.6]})
    res = simulate(model, 100_000, horizon=80.0, seed=4, population=pop, life_table=table,
                   discount_outcomes=0.0, state_utilities={"alive": 1.0})
    expected = float(table.life_expectancy(60.0, 0.4)[0])  # survival beyond age 140 is negligible
    assert abs(res.life_years[0] - expected) < 4 * res.se_life_years[0]
    assert res.events[0, -1] > 0.99  # almost everyone dies of background causes within 80 years


def test_errors():
    model = _exp_model((0.3, 0.05, 0.4))
    with pytest.raises(HtaError, match="chunk: expected a multiple of block"):
        simulate(model, 100, horizon=5.0, block=30, chunk=40)
    with pytest.raises(HtaError, match="state_costs: expected keys from PF, P, D; found 'X'"):
        simulate(model, 100, horizon=5.0, state_costs={"X": 1.0})
    with pytest.raises(HtaError, match="horizon"):
        simulate(model, 100, horizon=-1.0)
    with pytest.raises(HtaError, match="life_table: background mortality needs a population"):
        simulate(model, 100, horizon=5.0, life_table=object())


@pytest.mark.parametrize("family, coefs", [
    ("weibullph", [[0.2, -1.0], [-0.3, -0.5]]), ("gompertz", [[0.3, -2.0], [-0.2, -1.0]]),
    ("lognormal", [[1.0, -0.3], [0.5, 0.2]]), ("loglogistic", [[0.5, 1.0], [-0.2, 0.3]]),
    ("gamma", [[0.6, -0.5], [-0.4, -1.0]]), ("gengamma", [[1.0, -0.4, 0.7], [0.8, -0.2, -0.5]]),
])
def test_sampled_times_follow_the_curve(family, coefs):
    """Two PSA draws of a one-transition model: the simulated survival at each grid time is the
    curve's S(t) (hta.survival.curves, flexsurv's formulas) within 4 binomial SE."""
    model = MultiStateModel(("alive", "dead"), [Transition(0, 1, family, np.array(coefs))])
    grid = np.array([0.25, 1.0, 3.0, 8.0])
    res = simulate(model, 50_000, horizon=8.0, seed=13, grid=grid)
    S = make_curve(family, np.array(coefs)).survival(grid)
    se = np.sqrt(S * (1 - S) / 50_000)
    assert np.all(np.abs(res.occupancy[:, :, 0] - S) <= 4 * se + 1e-12)


def test_tunnel_cap():
    """Capped tunnels: exact for constant clock-reset hazards whatever the cap; with Weibull
    hazards the full-horizon cohort is recovered when the cap covers the horizon."""
    exp_model = _exp_model((0.3, 0.05, 0.4), clock="reset")
    full = semi_markov_cohort(exp_model, cycle=1 / 12, horizon=10.0).trace
    for cap in (1, 2, 12):
        capped = semi_markov_cohort(exp_model, cycle=1 / 12, horizon=10.0, max_tunnels=cap).trace
        np.testing.assert_allclose(capped, full, atol=1e-14)
    wb = _weibull_model(D=2)
    full = semi_markov_cohort(wb, cycle=1 / 12, horizon=8.0).trace
    np.testing.assert_array_equal(semi_markov_cohort(wb, cycle=1 / 12, horizon=8.0, max_tunnels=96).trace, full)
    capped = semi_markov_cohort(wb, cycle=1 / 12, horizon=8.0, max_tunnels=12).trace
    assert 1e-4 < np.abs(capped - full).max() < 0.2  # time in state beyond a year is approximated
