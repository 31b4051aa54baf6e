"""Partitioned survival and outcome accounting: the invariants of design.md, closed forms."""

import numpy as np
import pytest
from scipy.linalg import expm

from hta.engine import markov, outcomes, psm
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError


def exp_surv(rate, t):
    return np.exp(-np.outer(np.atleast_1d(rate), t))


def test_psm_states_sum_to_one_and_pfs_capped_at_os():
    grid = CycleGrid.from_horizon(10, "month")
    t = grid.times
    pfs = exp_surv([0.2, 0.1], t)
    os_ = exp_surv([0.15, 0.3], t)  # sample 0 has PFS above OS everywhere after t=0
    c = psm.cohort([pfs, os_], strategy="x")
    np.testing.assert_allclose(c.trace.sum(axis=-1), 1.0, atol=1e-12)
    assert (c.trace >= 0).all()
    rep = c.report["capped"]["PFS"]
    assert rep["samples"] == 1
    assert rep["cycles"] == grid.n_cycles  # every time point after 0
    np.testing.assert_allclose(c.trace[1, :, 0], np.minimum(pfs[1], os_[1]))


def test_psm_no_capping_reported_when_curves_are_ordered():
    t = np.linspace(0, 5, 61)
    c = psm.cohort([exp_surv(0.3, t), exp_surv(0.1, t)])
    assert c.report["capped"] == {}
    assert c.dead_states == ("dead",)


def test_psm_rejects_probabilities_outside_unit_interval():
    t = np.linspace(0, 1, 5)
    with pytest.raises(HtaError, match="OS: survival must be in"):
        psm.cohort([exp_surv(0.3, t), 1.5 * exp_surv(0.1, t)], strategy="cc")


def test_exponential_psm_equals_equivalent_three_state_markov():
    # PF -> PD at rate a, PF -> D and PD -> D at the same rate b: OS = exp(-b t), PFS = exp(-(a+b) t).
    a, b = 0.35, 0.12
    grid = CycleGrid.from_horizon(20, "month")
    t = grid.times
    part = psm.cohort([exp_surv(a + b, t), exp_surv(b, t)])
    Q = np.array([[-(a + b), a, b], [0, -b, b], [0, 0, 0]])
    mk = markov.cohort(expm(Q * grid.cycle_years), [1, 0, 0], grid.n_cycles, states=part.states, dead_states=("dead",))
    np.testing.assert_allclose(mk.trace, part.trace, atol=1e-12)
    for method in ("start", "end", "half-cycle", "simpson"):
        lp = outcomes.account(part, grid, within_cycle=method, discount_outcomes=0.035).lys
        lm = outcomes.account(mk, grid, within_cycle=method, discount_outcomes=0.035).lys
        np.testing.assert_allclose(lp, lm, rtol=1e-12)


# Relative quadrature errors: trapezoid ~ (lam dt)^2 / 12, Simpson ~ (lam dt)^4 / 180.
@pytest.mark.parametrize("method, rtol, rtol_pf", [("half-cycle", 1e-4, 5e-4), ("simpson", 1e-9, 1e-7)])
def test_life_years_closed_form(method, rtol, rtol_pf):
    # OS exponential with rate lam: LY over H years = (1 - exp(-lam H)) / lam;
    # with continuous discounting at r: (1 - exp(-(lam + r) H)) / (lam + r).
    lam, r = 0.2, 0.03
    grid = CycleGrid.from_horizon(30, "month")
    H = grid.horizon_years
    c = psm.cohort([exp_surv(0.5, grid.times), exp_surv(lam, grid.times)])
    res = outcomes.account(c, grid, within_cycle=method, discount_outcomes=r, discount_method="continuous")
    assert res.lys_undiscounted[0] == pytest.approx((1 - np.exp(-lam * H)) / lam, rel=rtol)
    assert res.lys[0] == pytest.approx((1 - np.exp(-(lam + r) * H)) / (lam + r), rel=rtol)
    # progression-free LYs
    assert res.by("ly", "state", discounted=False)["progression-free"][0] == pytest.approx((1 - np.exp(-0.5 * H)) / 0.5, rel=rtol_pf)


def _cohort(n=4):
    grid = CycleGrid.from_horizon(15, "month")
    rates = np.linspace(0.1, 0.4, n)
    c = psm.cohort([exp_surv(rates + 0.2, grid.times), exp_surv(rates, grid.times)], strategy="s")
    return c, grid


def test_utilities_of_one_give_qalys_equal_to_lys():
    c, grid = _cohort()
    res = outcomes.account(c, grid, utilities=[1, 1, 0], discount_outcomes=0.03, within_cycle="simpson")
    np.testing.assert_allclose(res.qalys, res.lys, rtol=1e-14)
    np.testing.assert_allclose(res.qalys_undiscounted, res.lys_undiscounted, rtol=1e-14)


def test_zero_costs_give_zero_and_zero_rate_gives_undiscounted():
    c, grid = _cohort()
    res = outcomes.account(c, grid, state_costs={"care": [0, 0, 0]}, discount_costs=0.05)
    np.testing.assert_array_equal(res.costs, 0)
    res0 = outcomes.account(c, grid, utilities=[0.8, 0.6, 0], state_costs={"care": [100, 300, 0]},
                            discount_costs=0.0, discount_outcomes=0.0)
    np.testing.assert_allclose(res0.costs, res0.costs_undiscounted, rtol=1e-15)
    np.testing.assert_allclose(res0.qalys, res0.qalys_undiscounted, rtol=1e-15)
    res3 = outcomes.account(c, grid, utilities=[0.8, 0.6, 0], state_costs={"care": [100, 300, 0]},
                            discount_costs=0.03, discount_outcomes=0.03)
    assert (res3.costs < res3.costs_undiscounted).all()
    np.testing.assert_allclose(res3.costs_undiscounted, res0.costs_undiscounted)


def test_doubling_a_unit_cost_doubles_its_line_only():
    c, grid = _cohort()
    kw = dict(discount_costs=0.03)
    a = outcomes.account(c, grid, state_costs={"drug": [1000, 0, 0], "care": [50, 80, 0]}, **kw)
    b = outcomes.account(c, grid, state_costs={"drug": [2000, 0, 0], "care": [50, 80, 0]}, **kw)
    np.testing.assert_allclose(b.by("cost")["drug"], 2 * a.by("cost")["drug"])
    np.testing.assert_allclose(b.by("cost")["care"], a.by("cost")["care"])


def test_per_cycle_rewards_equal_constant_rewards_when_constant():
    c, grid = _cohort()
    T = grid.n_cycles
    for method in ("start", "end", "half-cycle", "simpson"):
        const = outcomes.account(c, grid, within_cycle=method, utilities=[0.7, 0.5, 0],
                                 state_costs={"x": [10, 20, 0]}, discount_costs=0.03, discount_outcomes=0.03)
        per = outcomes.account(c, grid, within_cycle=method, utilities=np.tile([0.7, 0.5, 0], (1, T, 1)),
                               state_costs={"x": np.tile([10, 20, 0], (1, T, 1))}, discount_costs=0.03, discount_outcomes=0.03)
        np.testing.assert_allclose(per.qalys, const.qalys, rtol=1e-12)
        np.testing.assert_allclose(per.costs, const.costs, rtol=1e-12)


def test_event_costs_on_deaths_and_one_off_items():
    c, grid = _cohort(1)
    res = outcomes.account(c, grid, event_costs={"terminal care": {"death": 10000.0}},
                           one_off_costs={"acquisition": 1e6}, one_off_qalys={"AE": -0.05},
                           utilities=[1, 1, 0], discount_costs=0.0)
    died = c.trace[0, -1, 2]
    assert res.by("cost")["terminal care"][0] == pytest.approx(10000 * died)
    assert res.by("cost")["acquisition"][0] == 1e6
    assert res.qalys[0] == pytest.approx(res.lys[0] - 0.05)
    with pytest.raises(HtaError, match="no event 'progression'"):
        outcomes.account(c, grid, event_costs={"x": {"progression": 1.0}})


def test_markov_transition_costs_from_tracked_flows():
    P = np.array([[0.9, 0.08, 0.02], [0, 0.8, 0.2], [0, 0, 1.0]])
    grid = CycleGrid(1.0, 10)
    c = markov.cohort(P, [1, 0, 0], 10, states=["PF", "PD", "D"], track=["PF->PD"], dead_states=["D"])
    res = outcomes.account(c, grid, within_cycle="end", discount_costs=0.05,
                           event_costs={"progression": {"PF->PD": 5000.0}})
    flows = np.array([0.9 ** (j - 1) * 0.08 for j in range(1, 11)])
    assert res.by("cost")["progression"][0] == pytest.approx(5000 * (flows * 1.05 ** -np.arange(1, 11)).sum())


def test_on_treatment_occupancy_costs_capped_at_os():
    grid = CycleGrid.from_horizon(5, "month")
    t = grid.times
    ttd, os_ = exp_surv(0.1, t), exp_surv(0.5, t)
    occ = psm.on_treatment(ttd, os_)
    np.testing.assert_allclose(occ, os_)
    c = psm.cohort([exp_surv(0.6, t), os_])
    res = outcomes.account(c, grid, occupancy_costs={"drug": (occ, 100.0)}, within_cycle="half-cycle")
    pf_like = outcomes.account(psm.cohort([os_, os_]), grid, state_costs={"drug": [100.0, 0, 0]}, within_cycle="half-cycle")
    np.testing.assert_allclose(res.by("cost")["drug"], pf_like.by("cost")["drug"], rtol=1e-12)


def test_utility_above_one_or_not_finite_is_caught_where_qalys_are_made():
    c, grid = _cohort()
    outcomes.account(c, grid, utilities=[1.0, -0.2, 0])  # worse than death is allowed
    with pytest.raises(HtaError, match=r"state 'progressed', every sample: expected a utility <= 1 .* found 1.2"):
        outcomes.account(c, grid, utilities=[0.8, 1.2, 0])
    per_sample = np.array([[0.8, 0.6, 0.0]] * 4)
    per_sample[2, 0] = np.nan
    with pytest.raises(HtaError, match=r"state 'progression-free', sample 2: .* found nan"):
        outcomes.account(c, grid, utilities=per_sample)
    per_cycle = np.tile([0.7, 0.5, 0.0], (1, grid.n_cycles, 1))
    per_cycle[0, 3, 1] = 1.5
    with pytest.raises(HtaError, match=r"state 'progressed', every sample, cycle 3: .* found 1.5"):
        outcomes.account(c, grid, utilities=per_cycle)
    # infinities either way, and the first bad value in row order when there are several
    for bad, shown in ((np.inf, "inf"), (-np.inf, "-inf")):
        per_cycle = np.tile([0.7, 0.5, 0.0], (4, grid.n_cycles, 1))
        per_cycle[1, 5, 0] = bad
        per_cycle[2, 0, 1] = np.nan
        with pytest.raises(HtaError, match=rf"state 'progression-free', sample 1, cycle 5: .* found {shown}"):
            outcomes.account(c, grid, utilities=per_cycle)
    outcomes.account(c, grid, utilities=np.full((4, grid.n_cycles, 3), 1.0 + 5e-13))  # within the tolerance


def test_psm_events_are_computed_when_read_and_equal_the_falls_in_the_curves():
    t = np.linspace(0.0, 5.0, 61)
    pfs, os_ = exp_surv(np.array([[0.6], [0.9]]), t), exp_surv(np.array([[0.3], [0.2]]), t)
    c = psm.cohort([pfs, os_])
    assert list(c.events) == ["death", "pfs_event"] and len(c.events) == 2 and "death" in c.events
    assert not c.events._values  # nothing computed by listing or testing the keys
    death = c.events["death"]
    assert np.array_equal(death, os_[:, :-1] - os_[:, 1:]) and list(c.events._values) == ["death"]
    assert c.events["death"] is death  # computed once
    assert np.array_equal(c.events["pfs_event"], c.partition[0][:, :-1] - c.partition[0][:, 1:])
    assert dict(c.events).keys() == {"death", "pfs_event"}
    with pytest.raises(KeyError):
        c.events["PF->PD"]
    c.events["progression"] = c.events["pfs_event"] * 0.5   # a model adds its own, as to a dict
    c.events["death"] = death * 2.0
    assert list(c.events) == ["death", "pfs_event", "progression"] and len(c.events) == 3
    assert np.array_equal(c.events["death"], death * 2.0)
    del c.events["pfs_event"]
    assert list(c.events) == ["death", "progression"] and "pfs_event" not in c.events


def test_row_blocks_do_not_change_the_cohort(monkeypatch):
    # _partition checks, clips and caps the curves block of rows by block (cache-sized); any block size must
    # give the same capped curves, capping report and crossing records, bit for bit.
    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 10.0, 301)
    os_ = np.exp(-rng.uniform(0.1, 0.5, (97, 1)) * t)
    pfs = np.exp(-rng.uniform(0.05, 0.8, (97, 1)) * t)   # some samples cross OS
    pfs[3, 7] = 1.0 + 5e-13                                  # within the tolerance: clipped
    results = []
    for block_bytes in (8 * 301 * 1, 8 * 301 * 10, 2**30):
        monkeypatch.setattr(psm, "_BLOCK_BYTES", block_bytes)
        c = psm.cohort([pfs, os_], strategy="x")
        results.append((np.array(c.partition_stack), c.report))
    stack0, report0 = results[0]
    assert report0["capped"]["PFS"]["samples"] > 0
    for stack, report in results[1:]:
        assert np.array_equal(stack, stack0)
        assert report["capped"] == report0["capped"]
        assert report["crossing"] == report0["crossing"]
    # a NaN in any block is rejected
    bad = pfs.copy()
    bad[90, 100] = np.nan
    monkeypatch.setattr(psm, "_BLOCK_BYTES", 8 * 301 * 10)
    with pytest.raises(HtaError, match="survival must be in"):
        psm.cohort([bad, os_], strategy="x")


def test_per_cycle_reward_blocks_do_not_change_the_totals(monkeypatch):
    # account() sums per-cycle rewards (age-adjusted utilities) block of rows by block of rows;
    # any block size, and per-cycle values given once for every row (1, T, K), give the same bits.
    rng = np.random.default_rng(11)
    grid = CycleGrid(1 / 12, 240)
    t = grid.times
    n = 53
    os_ = np.exp(-rng.uniform(0.05, 0.3, (n, 1)) * t)
    pfs = np.exp(-rng.uniform(0.1, 0.6, (n, 1)) * t)
    per_sample = rng.uniform(0.3, 0.9, (n, 1, 3)) * np.linspace(1.0, 0.8, grid.n_cycles)[None, :, None]
    per_sample[:, :, 2] = 0.0
    shared = per_sample[:1]
    totals = []
    for block_bytes in (8 * 240 * 3, 8 * 240 * 3 * 7, 2**30):
        monkeypatch.setattr(outcomes, "_BLOCK_BYTES", block_bytes)
        row = []
        for u in (per_sample, shared):
            c = psm.cohort([pfs, os_], strategy="x")
            out = outcomes.account(c, grid, discount_outcomes=0.03, utilities=u)
            row.append((out.qalys, out.qalys_undiscounted))
        totals.append(row)
    for row in totals[1:]:
        for (q, qu), (q0, qu0) in zip(row, totals[0]):
            assert np.array_equal(q, q0) and np.array_equal(qu, qu0)


@pytest.mark.parametrize("method", ["start", "end", "half-cycle", "simpson"])
def test_per_cycle_rewards_are_the_person_cycles_times_the_values(monkeypatch, method):
    # account() sums per-cycle rewards block of rows by block of rows, over the span of cycles
    # where they are not zero: the same totals as the person-cycles of each cycle (the
    # integrator's per_cycle over the whole horizon) times its values, within rounding, with
    # values zero in the first and last cycles (a span lo..hi inside the horizon), for a
    # partitioned-survival cohort (trace) and a Markov cohort run without its trace (the
    # occupancy window), every within-cycle method; any block size gives the same bits.
    rng = np.random.default_rng(5)
    grid = CycleGrid(1 / 12, 60)
    T, n = grid.n_cycles, 37
    u = rng.uniform(0.2, 0.9, (n, T, 3))
    u[:, :7] = 0.0
    u[:, 50:] = 0.0
    u[:, :, 2] = 0.0
    os_ = np.exp(-rng.uniform(0.05, 0.3, (n, 1)) * grid.times)
    pfs = np.exp(-rng.uniform(0.1, 0.6, (n, 1)) * grid.times)
    P = np.broadcast_to(np.array([[0.9, 0.07, 0.03], [0.0, 0.92, 0.08], [0.0, 0.0, 1.0]]), (n, 3, 3))
    makers = {"psm": lambda: psm.cohort([pfs, os_], strategy="x"),
              "markov without trace": lambda: markov.cohort(P, np.eye(3)[0], T, keep_trace=False)}
    for name, make in makers.items():
        integ = outcomes._Integrator(grid, method, 0.0, 0.035, "discrete")
        trace = markov.cohort(P, np.eye(3)[0], T).trace if name != "psm" else make().trace
        disc, und = integ.per_cycle(trace, "outcome")
        expected_disc = (disc * u).sum(axis=(1, 2)) * grid.cycle_years
        expected_und = (und * u).sum(axis=(1, 2)) * grid.cycle_years
        found = []
        for block_bytes in (8 * 61 * 3, 8 * 61 * 3 * 5, 2**30):
            monkeypatch.setattr(outcomes, "_BLOCK_BYTES", block_bytes)
            out = outcomes.account(make(), grid, within_cycle=method, discount_outcomes=0.035, utilities=u)
            found.append((out.qalys, out.qalys_undiscounted))
        np.testing.assert_allclose(found[0][0], expected_disc, rtol=1e-13)
        np.testing.assert_allclose(found[0][1], expected_und, rtol=1e-13)
        for q, qu in found[1:]:
            assert np.array_equal(q, found[0][0]) and np.array_equal(qu, found[0][1]), (name, method)


def _multiplier_cohorts(rng, n, T, grid):
    os_ = np.exp(-rng.uniform(0.05, 0.3, (n, 1)) * grid.times)
    pfs = np.exp(-rng.uniform(0.1, 0.6, (n, 1)) * grid.times)
    P = np.broadcast_to(np.array([[0.9, 0.07, 0.03], [0.0, 0.92, 0.08], [0.0, 0.0, 1.0]]), (n, 3, 3))
    return {"partitioned survival": lambda rows=slice(None): psm.cohort([pfs[rows], os_[rows]], strategy="x"),
            "Markov, trace": lambda rows=slice(None): markov.cohort(P[rows], np.eye(3)[0], T),
            "Markov, no trace": lambda rows=slice(None): markov.cohort(P[rows], np.eye(3)[0], T, keep_trace=False)}


@pytest.mark.parametrize("method", ["start", "end", "half-cycle", "simpson"])
def test_utilities_with_a_multiplier_equal_the_per_cycle_array(method):
    # with_multiplier(u, m) gives the QALYs of the (n, T, K) array m[t] u[n, k] within rounding,
    # for the three kinds of cohort, every within-cycle method and u given per state or per
    # sample; LYs and costs are the same bits; the first rows of a batch are the same bits as a
    # batch of those rows alone (chunks change nothing).
    rng = np.random.default_rng(8)
    grid = CycleGrid(1 / 12, 48)
    T, n = grid.n_cycles, 23
    m = np.linspace(1.0, 0.85, T)
    for u in (np.array([0.8, 0.6, 0.0]), np.column_stack([rng.uniform(0.6, 0.9, n), rng.uniform(0.3, 0.6, n), np.zeros(n)])):
        full = m[None, :, None] * np.atleast_2d(u)[:, None, :]
        for name, make in _multiplier_cohorts(rng, n, T, grid).items():
            kw = dict(within_cycle=method, discount_outcomes=0.035, discount_costs=0.035, state_costs={"care": [100.0, 50.0, 0.0]})
            fast = outcomes.account(make(), grid, utilities=outcomes.with_multiplier(u, m), **kw)
            slow = outcomes.account(make(), grid, utilities=full, **kw)
            np.testing.assert_allclose(fast.qalys, slow.qalys, rtol=1e-13, err_msg=name)
            np.testing.assert_allclose(fast.qalys_undiscounted, slow.qalys_undiscounted, rtol=1e-13, err_msg=name)
            assert np.array_equal(fast.lys, slow.lys) and np.array_equal(fast.costs, slow.costs), name
            rows = slice(0, 5)
            part = outcomes.account(make(rows), grid, utilities=outcomes.with_multiplier(u if u.ndim == 1 else u[rows], m), **kw)
            assert np.array_equal(part.qalys, fast.qalys[rows]), name


def test_utilities_with_a_multiplier_are_checked_as_the_per_cycle_array():
    grid = CycleGrid(1 / 12, 24)
    T = grid.n_cycles
    c = psm.cohort([exp_surv(np.array([0.4]), grid.times), exp_surv(np.array([0.2]), grid.times)], strategy="s")
    m = np.ones(T)
    m[9] = 1.3                               # 0.8 x 1.3 > 1 in cycle 10 only
    with pytest.raises(HtaError) as fast:
        outcomes.account(c, grid, utilities=outcomes.with_multiplier([0.8, 0.5, 0.0], m))
    with pytest.raises(HtaError) as slow:
        outcomes.account(c, grid, utilities=m[None, :, None] * np.array([0.8, 0.5, 0.0])[None, None, :])
    assert str(fast.value) == str(slow.value) and "cycle 9" in str(fast.value)
    with pytest.raises(HtaError, match=r"multiplier per cycle, shape \(24,\)"):
        outcomes.account(c, grid, utilities=outcomes.with_multiplier([0.8, 0.5, 0.0], np.ones(T + 1)))
    with pytest.raises(HtaError, match="finite multipliers"):
        outcomes.with_multiplier([0.8, 0.5, 0.0], np.full(T, np.nan))
    with pytest.raises(HtaError, match="one value per state"):
        outcomes.account(c, grid, utilities=outcomes.with_multiplier(np.full((1, T, 3), 0.5), np.ones(T)))
