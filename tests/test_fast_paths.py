"""The engines' fast paths give the same numbers, bit for bit, as the straightforward ones.

Issue 10 made the Markov cohort, the partitioned-survival cohort and the accounting faster
without changing any result: every test here compares a fast path with the computation it
replaces (einsum over dense matrices, an (n, T, K, K) array, a copied list of curves, a sum over
every cycle) with ``assert_array_equal``, not a tolerance.
"""

import numpy as np
import pytest

from hta.engine import markov, outcomes, psm
from hta.engine.outcomes import _sum_over_cycles
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError
from hta.survival.curves import LogLogistic, Weibull


def random_matrices(rng, shape, K, zero_share=0.4):
    """Row-stochastic matrices with structural zeros (the same zero pattern in every sample)."""
    P = rng.random(shape + (K, K)) ** 2
    P[..., rng.random((K, K)) < zero_share] = 0.0
    P[..., np.arange(K), np.arange(K)] += 0.1  # every row keeps a non-zero entry
    return P / P.sum(axis=-1, keepdims=True)


def einsum_trace(P_for_cycle, x0, T):
    """The reference: x_j = x_{j-1} P_j with einsum (the engine's original update)."""
    n = P_for_cycle(1).shape[0]
    x = np.broadcast_to(np.asarray(x0, dtype=float), (n, len(x0)))
    out = [x]
    for j in range(1, T + 1):
        x = np.einsum("nk,nkl->nl", x, P_for_cycle(j))
        out.append(x)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("K", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("n", [5, 40, 1000])
def test_explicit_update_equals_einsum_for_constant_per_cycle_and_callable_matrices(K, n):
    rng = np.random.default_rng(K * 100 + n)
    T = 12
    x0 = np.eye(K)[0]
    P3 = random_matrices(rng, (n,), K)
    np.testing.assert_array_equal(markov.cohort(P3, x0, T).trace, einsum_trace(lambda j: P3, x0, T))
    P4 = random_matrices(rng, (n, T), K)
    ref = einsum_trace(lambda j: P4[:, j - 1], x0, T)
    np.testing.assert_array_equal(markov.cohort(P4, x0, T).trace, ref)
    np.testing.assert_array_equal(markov.cohort(lambda j: P4[:, j - 1].copy(), x0, T).trace, ref)


def test_tracked_flows_are_unchanged_by_the_explicit_update():
    rng = np.random.default_rng(7)
    n, T, K = 200, 10, 4
    P4 = random_matrices(rng, (n, T), K)
    c = markov.cohort(P4, np.eye(K)[0], T, track="all")
    ref = einsum_trace(lambda j: P4[:, j - 1], np.eye(K)[0], T)
    for a in range(K):
        for b in range(K):
            if a != b:
                np.testing.assert_array_equal(c.events[f"S{a}->S{b}"], ref[:, :-1, a] * P4[:, :, a, b])


def test_piecewise_matrices_equal_the_repeated_per_cycle_array():
    rng = np.random.default_rng(3)
    for n in (3, 500):
        early, late = random_matrices(rng, (n,), 4), random_matrices(rng, (n,), 4)
        P4 = np.empty((n, 20, 4, 4))
        P4[:] = late[:, None]
        P4[:, :2] = early[:, None]
        x0 = [1.0, 0.0, 0.0, 0.0]
        a = markov.cohort(markov.piecewise((2, early), (None, late)), x0, 20)
        b = markov.cohort(P4, x0, 20)
        np.testing.assert_array_equal(a.trace, b.trace)


def test_piecewise_errors_name_the_cycles():
    good = np.eye(3)
    bad = np.array([[0.5, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(HtaError, match="cycles 3-5"):
        markov.cohort(markov.piecewise((2, good), (None, bad)), [1, 0, 0], 5, strategy="x")
    with pytest.raises(HtaError, match="cover 2 cycles; the model has 5"):
        markov.cohort(markov.piecewise((2, good)), [1, 0, 0], 5)
    with pytest.raises(HtaError, match="only the last segment"):
        markov.piecewise((None, good), (2, good))


def thr_like(rng, n, T):
    states = ("a", "b", "c", "dead")
    q = rng.random(T) * 0.05
    return states, {
        ("a", "b"): rng.random(n) * 0.3,                             # per sample
        ("a", "dead"): q[None, :],                                   # per cycle, shared
        ("b", "c"): rng.random((n, T)) * 0.2,                        # per sample and cycle
        ("b", "dead"): q[None, :] * 2.0,
        ("c", "dead"): 0.25,                                         # scalar
    }


@pytest.mark.parametrize("n", [4, 300])
def test_transitions_equal_their_dense_matrices(n):
    rng = np.random.default_rng(n)
    T = 15
    states, probs = thr_like(rng, n, T)
    tr = markov.transitions(states, probs)
    x0 = [1.0, 0.0, 0.0, 0.0]
    sparse = markov.cohort(tr, x0, T, states=states, track=["a->b", "b->c", "c->a"])
    dense = markov.cohort(tr.matrices(), x0, T, states=states, track=["a->b", "b->c", "c->a"])
    np.testing.assert_array_equal(sparse.trace, dense.trace)
    for key in ("a->b", "b->c", "c->a"):
        np.testing.assert_array_equal(sparse.events[key], dense.events[key])
    np.testing.assert_allclose(sparse.trace.sum(axis=-1), 1.0, atol=1e-12)


def test_transitions_reject_bad_probabilities_naming_transition_cycle_and_sample():
    states = ("a", "b", "dead")
    p = np.full((3, 4), 0.2)
    p[1, 2] = 1.3
    with pytest.raises(HtaError, match=r"a->b, cycle 3, sample 1: probability must be in \[0, 1\]"):
        markov.transitions(states, {("a", "b"): p})
    with pytest.raises(HtaError, match=r"exits from 'a', sample 2: probability must sum to at most 1"):
        markov.transitions(states, {("a", "b"): np.array([0.1, 0.2, 0.7]), ("a", "dead"): 0.4})
    with pytest.raises(HtaError, match="complement"):
        markov.transitions(states, {("a", "a"): 0.5})
    with pytest.raises(HtaError, match="no state named 'x'"):
        markov.transitions(states, {("a", "x"): 0.5})


def test_stacked_psm_cohort_equals_the_list_cohort_and_caps_in_place():
    rng = np.random.default_rng(11)
    t = np.linspace(0, 120, 200)
    pfs = Weibull(shape=rng.uniform(0.8, 1.6, 300), scale=rng.uniform(5, 20, 300))
    os_ = Weibull(shape=rng.uniform(0.8, 1.6, 300), scale=rng.uniform(10, 40, 300))
    S = np.empty((2, 300, t.size))
    pfs.survival(t, out=S[0])
    os_.survival(t, out=S[1])
    a = psm.cohort([pfs.survival(t), os_.survival(t)])
    b = psm.cohort_from_stack(S)
    assert a.report == b.report and a.report["capped"]  # some PFS above OS, capped in both
    np.testing.assert_array_equal(a.trace, b.trace)
    np.testing.assert_array_equal(S[0], np.minimum(pfs.survival(t), os_.survival(t)))  # in place
    grid = CycleGrid(1.0, t.size - 1)
    kw = dict(discount_costs=0.03, discount_outcomes=0.03, utilities=[0.8, 0.6, 0.0], state_costs={"c": [10.0, 5.0, 0.0]})
    ra, rb = outcomes.account(a, grid, **kw), outcomes.account(b, grid, **kw)
    for key in ra.lines:
        np.testing.assert_array_equal(ra.lines[key], rb.lines[key])
    with pytest.raises(HtaError, match="C-contiguous float64"):
        psm.cohort_from_stack(S.transpose(1, 0, 2))


def test_survival_into_an_array_equals_survival():
    t = np.linspace(0, 60, 50)
    for curve in (Weibull(shape=[0.9, 1.3], scale=[10.0, 20.0]), LogLogistic(shape=[1.5, 2.0], scale=[8.0, 12.0])):
        out = np.empty((2, t.size))
        assert curve.survival(t, out=out) is out
        np.testing.assert_array_equal(out, curve.survival(t))
    with pytest.raises(HtaError, match="out must be a float64 array of shape"):
        Weibull(shape=1.0, scale=2.0).survival(t, out=np.empty((2, t.size)))


@pytest.mark.parametrize("shape", [(50, 20, 4), (7, 300, 3), (1000, 61, 5), (10, 5, 2)])
def test_sum_over_cycles_equals_numpy_sum(shape):
    x = np.random.default_rng(0).random(shape)
    np.testing.assert_array_equal(_sum_over_cycles(x), x.sum(axis=1))


@pytest.mark.parametrize("method", ["end", "half-cycle"])
def test_per_cycle_rewards_in_some_cycles_equal_the_sum_over_every_cycle(method):
    rng = np.random.default_rng(5)
    n, T, K = 60, 20, 4
    P = random_matrices(rng, (n,), K)
    c = markov.cohort(P, np.eye(K)[0], T)
    grid = CycleGrid(1.0, T)
    cost = np.zeros((n, T, K))
    cost[:, 3:5, :3] = rng.random((n, 1, 3)) * 100  # cycles 4 and 5 only
    res = outcomes.account(c, grid, within_cycle=method, discount_costs=0.06, state_costs={"drug": cost})
    # the straightforward computation over every cycle
    integ = outcomes._Integrator(grid, method, 0.06, 0.0, "discrete")
    disc, und = integ.per_cycle(c.trace, "cost")
    expected_disc, expected_und = (disc * cost).sum(axis=1), (und * cost).sum(axis=1)
    for k in range(3):
        line = res.lines[("cost", "drug", f"S{k}")]
        np.testing.assert_array_equal(line[0], expected_disc[:, k])
        np.testing.assert_array_equal(line[1], expected_und[:, k])


@pytest.mark.parametrize("method", ["start", "end", "half-cycle", "simpson"])
@pytest.mark.parametrize("first, last", [(1, 2), (4, 9), (1, None), (15, 40), (20, 20)])
@pytest.mark.parametrize("n", [1, 60])
def test_in_cycles_equals_the_per_cycle_array_that_is_zero_elsewhere(method, first, last, n):
    rng = np.random.default_rng(8)
    T, K = 20, 4
    P = random_matrices(rng, (n,), K)
    c = markov.cohort(P, np.eye(K)[0], T)
    grid = CycleGrid(1.0, T)
    values = rng.random((n, K)) * 100
    values[:, -1] = 0.0  # nothing in the last state: no line for it
    array = np.zeros((n, T, K))
    array[:, first - 1:(T if last is None else min(last, T))] = values[:, None, :]
    common = dict(within_cycle=method, discount_costs=0.06, utilities=np.ones(K))
    expected = outcomes.account(c, grid, state_costs={"care": values, "drug": array}, **common)
    got = outcomes.account(c, grid, state_costs={"care": values, "drug": outcomes.in_cycles(values, first, last)}, **common)
    assert got.lines.keys() == expected.lines.keys()
    for key in expected.lines:
        np.testing.assert_array_equal(got.lines[key], expected.lines[key])


def test_in_cycles_rejects_bad_cycles_and_per_cycle_values():
    with pytest.raises(HtaError, match="first must be a cycle number"):
        outcomes.in_cycles([1.0, 0.0], first=0)
    with pytest.raises(HtaError, match="must not be before first"):
        outcomes.in_cycles([1.0, 0.0], first=3, last=2)
    c = markov.cohort(np.eye(2), [1.0, 0.0], 5)
    with pytest.raises(HtaError, match="one value per state"):
        outcomes.account(c, CycleGrid(1.0, 5), state_costs={"x": outcomes.in_cycles(np.zeros((1, 5, 2)), 1, 2)})
    with pytest.raises(HtaError, match="in_cycles is for state costs"):
        outcomes.account(c, CycleGrid(1.0, 5), utilities=outcomes.in_cycles([1.0, 0.0], 1, 2))


# --- cohorts without a stored trace (markov.cohort(..., keep_trace=False)) -----------------------

def _lines_close(lazy, stored, T, ulps=2):
    """Lines equal to within ``ulps * (T + 1)`` units in the last place, relative: the bound for sums of
    T + 1 non-negative terms rounded in two different orders (each within (T + 1) eps of the exact sum)."""
    assert lazy.lines.keys() == stored.lines.keys()
    bound = ulps * (T + 1) * np.finfo(float).eps
    worst = 0.0
    for key, a in stored.lines.items():
        b = lazy.lines[key]
        scale = np.maximum(np.abs(a), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(b - a) / scale)))
    assert worst <= bound, (worst, bound)
    return worst


@pytest.mark.parametrize("method", ["start", "end", "half-cycle", "simpson"])
@pytest.mark.parametrize("n", [1, 5, 300])
def test_cohort_without_trace_gives_the_stored_traces_lines_within_the_rounding_bound(method, n):
    rng = np.random.default_rng(n + len(method))
    T, K = 25, 5
    early, late = random_matrices(rng, (n,), K), random_matrices(rng, (n,), K)
    P = markov.piecewise((3, early), (None, late))
    x0 = np.eye(K)[0]
    grid = CycleGrid(0.5, T)
    costs = rng.random((n, K)) * 1000
    costs[:, -1] = 0.0
    per_cycle = np.zeros((n, T, K))
    per_cycle[:, 4:9, 1] = 50.0
    kw = dict(within_cycle=method, discount_costs=0.035, discount_outcomes=0.015, utilities=rng.random((n, K)) * 0.9,
              state_costs={"care": costs, "drug": outcomes.in_cycles(costs * 0.5, 2, 6), "visits": per_cycle},
              one_off_costs={"surgery": 100.0})
    stored = outcomes.account(markov.cohort(P, x0, T), grid, **kw)
    lazy_cohort = markov.cohort(P, x0, T, keep_trace=False)
    assert not lazy_cohort.has_trace
    lazy = outcomes.account(lazy_cohort, grid, **kw)
    _lines_close(lazy, stored, T)
    # the lines the loop does not integrate (per-cycle rewards, read from the points it keeps) are equal
    for key in stored.lines:
        if key[1] in ("visits", "surgery"):
            np.testing.assert_array_equal(lazy.lines[key], stored.lines[key])
    # traces on request: the same trace, bit for bit
    np.testing.assert_array_equal(lazy_cohort.trace, markov.cohort(P, x0, T).trace)


def test_cohort_without_trace_is_independent_of_the_chunk_size():
    rng = np.random.default_rng(4)
    n, T, K = 1000, 30, 4
    P = random_matrices(rng, (n,), K)
    grid = CycleGrid(1.0, T)
    kw = dict(within_cycle="half-cycle", discount_costs=0.06, utilities=[0.9, 0.7, 0.4, 0.0],
              state_costs={"c": rng.random((n, K)) * 100})
    whole = outcomes.account(markov.cohort(P, np.eye(K)[0], T, keep_trace=False), grid, **kw)
    for lo, hi in ((0, 7), (7, 300), (300, 1000)):  # einsum below 32 samples, the explicit update above
        part_kw = dict(kw, state_costs={"c": kw["state_costs"]["c"][lo:hi]})
        part = outcomes.account(markov.cohort(P[lo:hi], np.eye(K)[0], T, keep_trace=False), grid, **part_kw)
        for key, v in whole.lines.items():
            np.testing.assert_array_equal(part.lines[key], v[:, lo:hi])


def test_hiv_model_without_traces_within_the_rounding_bound_of_the_stored_traces():
    from models import hiv_chancellor

    batch = hiv_chancellor.parameter_table().sample(2000, 5)
    stored = hiv_chancellor.evaluate(batch, keep_cohort=True)   # cohorts with their traces
    lazy = hiv_chancellor.evaluate(batch)                       # traces not stored
    bound = 2 * (20 + 1) * np.finfo(float).eps
    for s in hiv_chancellor.STRATEGIES:
        assert _lines_close(lazy[s], stored[s], 20) <= bound
        # life-years are the same sums either way; costs may differ in the last bits only
        np.testing.assert_array_equal(lazy[s].lys, stored[s].lys)
        np.testing.assert_allclose(lazy[s].costs, stored[s].costs, rtol=bound, atol=0)
        assert stored[s].cohort is not None and lazy[s].cohort is None


def test_cohort_without_trace_rejects_what_it_cannot_do_and_validates_now():
    P = np.array([[0.9, 0.1], [0.0, 1.0]])
    with pytest.raises(HtaError, match="tracked transitions need the trace"):
        markov.cohort(P, [1.0, 0.0], 5, track="all", keep_trace=False)
    with pytest.raises(HtaError, match="not a function of the cycle"):
        markov.cohort(lambda j: P, [1.0, 0.0], 5, keep_trace=False)
    bad = np.tile(P, (3, 6, 1, 1))
    bad[1, 3, 0] = [0.5, 0.6]
    with pytest.raises(HtaError, match="cycle 4, sample 1"):
        markov.cohort(bad, [1.0, 0.0], 5, keep_trace=False)
    c = markov.cohort(P, [1.0, 0.0], 5, keep_trace=False)
    assert (c.n, c.n_cycles) == (1, 5) and c.events == {}
