"""Markov cohort engine: invariants, shapes, tunnels, transition rewards, error messages."""

import numpy as np
import pytest
from scipy.linalg import expm

from hta.engine import markov
from hta.errors import HtaError

P3 = np.array([[0.90, 0.07, 0.03], [0.0, 0.85, 0.15], [0.0, 0.0, 1.0]])


def test_trace_shape_and_sums_to_one():
    c = markov.cohort(P3, [1, 0, 0], 50, states=["PF", "PD", "D"])
    assert c.trace.shape == (1, 51, 3)
    np.testing.assert_allclose(c.trace.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(c.trace[0, 1], [0.90, 0.07, 0.03])
    np.testing.assert_allclose(c.trace[0, 10], np.linalg.matrix_power(P3, 10)[0])


def test_per_sample_and_per_cycle_shapes_agree():
    rng = np.random.default_rng(1)
    n, T = 5, 12
    p = rng.uniform(0.01, 0.2, size=n)
    P = np.zeros((n, 3, 3))
    P[:, 0, 1] = p
    P[:, 0, 2] = 0.02
    P[:, 0, 0] = 1 - p - 0.02
    P[:, 1, 2] = 0.1
    P[:, 1, 1] = 0.9
    P[:, 2, 2] = 1
    a = markov.cohort(P, [1, 0, 0], T)
    b = markov.cohort(np.repeat(P[:, None], T, axis=1), [1, 0, 0], T)
    c = markov.cohort(lambda j: P, [1, 0, 0], T)
    for i in range(n):  # reference: plain matrix powers, one sample at a time
        np.testing.assert_allclose(a.trace[i, T], np.linalg.matrix_power(P[i], T)[0], rtol=1e-12)
    np.testing.assert_allclose(a.trace, b.trace)
    np.testing.assert_allclose(a.trace, c.trace)


def test_time_dependent_callable_uses_cycle_index():
    seen = []

    def P(j):
        seen.append(j)
        q = min(0.01 * j, 1.0)
        return np.array([[1 - q, q], [0, 1]])

    c = markov.cohort(P, [1, 0], 5)
    assert seen == [1, 2, 3, 4, 5]
    expected = np.prod([1 - 0.01 * j for j in range(1, 6)])
    assert c.trace[0, 5, 0] == pytest.approx(expected)


def test_tracked_flows_sum_to_state_changes():
    c = markov.cohort(P3, [1, 0, 0], 20, states=["PF", "PD", "D"], track=["PF->PD", "PF->D", ("PD", "D")])
    deaths = c.events["PF->D"] + c.events["PD->D"]
    np.testing.assert_allclose(deaths.sum(axis=1), c.trace[:, -1, 2])
    np.testing.assert_allclose(c.events["PF->PD"][0, 0], 0.07)


def test_track_all_flows():
    c = markov.cohort(P3, [1, 0, 0], 3, track="all")
    assert set(c.events) == {f"{a}->{b}" for a in ("S0", "S1", "S2") for b in ("S0", "S1", "S2") if a != b}


def test_row_not_summing_to_one_names_strategy_state_cycle_sample():
    P = np.repeat(P3[None, None], 2, axis=0).repeat(4, axis=1)
    P[1, 2, 1, 2] = 0.2  # sample 1, cycle 3, state PD
    with pytest.raises(HtaError) as err:
        markov.cohort(P, [1, 0, 0], 4, states=["PF", "PD", "D"], strategy="eque-cel")
    msg = str(err.value)
    for part in ("eque-cel", "'PD'", "cycle 3", "sample 1", "sum to 1"):
        assert part in msg


def test_probability_outside_unit_interval_is_an_error():
    P = P3.copy()
    P[0] = [1.1, -0.1, 0.0]
    with pytest.raises(HtaError, match=r"state 'PF', every cycle, sample 0: .*\[0, 1\]"):
        markov.cohort(P, [1, 0, 0], 4, states=["PF", "PD", "D"], strategy="cc")


def test_tunnel_expansion_matches_hand_built_model():
    # PD mortality 0.3 in the first cycle after progression, 0.1 afterwards.
    states = ["PF", "PD", "D"]
    P = np.array([[0.8, 0.15, 0.05], [0, 0, 0], [0, 0, 1.0]])
    exits = np.array([[0, 0.7, 0.3], [0, 0.9, 0.1]])
    Q, names = markov.with_tunnel(P, states, "PD", exits)
    assert names == ["PF", "PD#1", "PD#2", "D"]
    expected = np.array([[0.8, 0.15, 0, 0.05], [0, 0, 0.7, 0.3], [0, 0, 0.9, 0.1], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(Q, expected)
    c = markov.cohort(Q, [1, 0, 0, 0], 30, states=names)
    np.testing.assert_allclose(c.trace.sum(axis=-1), 1.0)


def test_continuous_time_model_via_matrix_exponential():
    # Rates a (PF->PD), b (PF->D), c (PD->D): the Markov trace at t equals expm(Q t).
    a, b, c_ = 0.3, 0.05, 0.4
    Q = np.array([[-(a + b), a, b], [0, -c_, c_], [0, 0, 0]])
    dt = 1 / 12
    coh = markov.cohort(expm(Q * dt), [1, 0, 0], 24)
    np.testing.assert_allclose(coh.trace[0, 24], expm(Q * 2.0)[0], rtol=1e-10)


def test_a_sample_gives_the_same_bits_in_any_batch_size_and_with_a_shared_matrix():
    # chunks of 1 (a single draw), of fewer than SPARSE_MIN_SAMPLES (einsum) and of more (the
    # explicit sparse update) give every sample the same bits; so does one matrix shared by many
    # samples (never a BLAS product, whose summation order may depend on the batch)
    rng = np.random.default_rng(3)
    K, n, T = 4, 200, 15
    P = rng.dirichlet(np.ones(K), size=(n, K))
    P[:, 3] = [0.0, 0.0, 0.0, 1.0]
    x0 = np.array([1.0, 0.0, 0.0, 0.0])
    full = markov.cohort(P, x0, T).trace
    for chunk in (1, 2, 7, markov.SPARSE_MIN_SAMPLES - 1, markov.SPARSE_MIN_SAMPLES, 100):
        parts = [markov.cohort(P[i:i + chunk], x0, T).trace for i in range(0, n, chunk)]
        assert np.array_equal(np.concatenate(parts), full), chunk
    single = markov.cohort(P[0], x0, T).trace[0]
    for m in (1, 5, 64):
        shared = markov.cohort(P[0], np.tile(x0, (m, 1)), T).trace
        assert all(np.array_equal(row, single) for row in shared), m
    assert np.array_equal(single, full[0])
