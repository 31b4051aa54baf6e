"""CEAC, CEAF and EVPI over a WTP grid as one blocked array kernel (hta.analysis.psa.wtp_curves, issue 24).

Reference: the previous implementation of hta.analysis.psa (commit 01b7b81), which computed the whole
``(W, n, S)`` NMB array and reduced it (``_share_of_best``, ``ceaf``'s expected NMB, ``evpi`` of the
stacked NMB). It is copied below verbatim as the oracle; every comparison is np.array_equal (bit for
bit), on the dampack example PSA (shared/refdata/dampack_example_psa_10000.csv via the
``dampack_example`` fixture) and on PSAs built to have ties (integer-valued draws: 2- and 3-way ties)
and near-switches of the decision.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.analysis import psa

REFDATA = Path("/work/shared/refdata")


@pytest.fixture(scope="module")
def dampack_example():
    """dampack's example PSA (R package dampack, data/example_psa): 10,000 draws, 3 strategies."""
    frame = pd.read_csv(REFDATA / "dampack_example_psa_10000.csv")
    costs = frame[["Chemo_Cost", "Radio_Cost", "Surg_Cost"]].to_numpy()
    effects = frame[["Chemo_Eff", "Radio_Eff", "Surg_Eff"]].to_numpy()
    return costs, effects, ["Chemo", "Radio", "Surgery"]


# ------------------------------------------------------------------------------------------------
# The previous implementation (whole (W, n, S) NMB array), verbatim


def _old_share_of_best(nmb):
    is_best = nmb == nmb.max(axis=-1, keepdims=True)
    weight = is_best / is_best.sum(axis=-1, keepdims=True)
    return weight.mean(axis=1)


def _old_evpi(nb):
    chosen = nb.mean(axis=-2).argmax(axis=-1)
    nb_chosen = np.take_along_axis(nb, chosen[..., None, None], axis=-1)[..., 0]
    return (nb.max(axis=-1) - nb_chosen).mean(axis=-1)


def old_curves(costs, effects, k):
    nmb = k[:, None, None] * effects[None] - costs[None]
    ceac = _old_share_of_best(nmb)
    expected = k[:, None] * effects.mean(axis=0)[None] - costs.mean(axis=0)[None]
    best = expected.argmax(axis=1)
    rows = np.arange(k.size)
    return ceac, best, ceac[rows, best], expected[rows, best], _old_evpi(nmb)


def _assert_same(costs, effects, k):
    new = psa.wtp_curves(costs, effects, k)
    ceac, best, prob, exp_nmb, evpi = old_curves(costs, effects, k)
    assert np.array_equal(new.ceac, ceac)
    assert np.array_equal(new.best, best)
    rows = np.arange(k.size)
    assert np.array_equal(new.ceac[rows, new.best], prob)
    assert np.array_equal(new.expected_nmb[rows, new.best], exp_nmb)
    assert np.array_equal(new.evpi, evpi)
    # the DataFrame functions are the same numbers
    names = list(new.strategies)
    assert np.array_equal(psa.ceac(costs, effects, k, names).to_numpy(), ceac)
    assert np.array_equal(psa.evpi_curve(costs, effects, k)["evpi"].to_numpy(), evpi)
    frontier = psa.ceaf(costs, effects, k, names)
    assert np.array_equal(frontier["probability"].to_numpy(), prob)
    assert np.array_equal(frontier["expected_nmb"].to_numpy(), exp_nmb)
    assert list(frontier["strategy"]) == [names[b] for b in best]


def test_dampack_example_bit_for_bit(dampack_example):
    costs, effects, _ = dampack_example
    _assert_same(costs, effects, np.linspace(0, 2e5, 101))


@pytest.mark.parametrize("n, s, seed", [(1000, 1, 1), (1000, 2, 2), (3000, 3, 3), (777, 5, 4)])
def test_random_psas_bit_for_bit(n, s, seed):
    rng = np.random.default_rng(seed)
    costs = rng.normal(50_000, 9_000, (n, s)) + 5_000 * np.arange(s)
    effects = rng.normal(5.0, 0.7, (n, s)) + 0.2 * np.arange(s)
    _assert_same(costs, effects, np.concatenate([[0.0], np.geomspace(1.0, 3e5, 57)]))


@pytest.mark.parametrize("s", [2, 3, 4, 6])
def test_ties_bit_for_bit(s):
    # integer costs and effects on a coarse grid: many draws tie for the highest NMB, 2, 3 or more ways
    rng = np.random.default_rng(10 + s)
    costs = rng.integers(0, 4, (2000, s)).astype(float)
    effects = rng.integers(0, 3, (2000, s)).astype(float)
    k = np.arange(0.0, 6.0, 0.5)
    curves = psa.wtp_curves(costs, effects, k)
    assert np.all(curves.ceac.sum(axis=1) == pytest.approx(1.0))
    _assert_same(costs, effects, k)


def test_near_switch_of_the_decision_bit_for_bit():
    # two strategies whose expected NMBs cross exactly at k = 1,000 (and are equal there up to rounding)
    rng = np.random.default_rng(5)
    n = 4000
    effects = np.column_stack([np.zeros(n), rng.normal(1.0, 0.3, n)])
    costs = np.column_stack([np.zeros(n), 1000.0 * effects[:, 1] + rng.normal(0.0, 50.0, n)])
    costs[:, 1] -= costs[:, 1].mean() - 1000.0 * effects[:, 1].mean()
    k = np.concatenate([[999.999999, 1000.0 - 1e-9, 1000.000001], 1000.0 + np.arange(-200, 201) * 1e-13])
    # at one of these WTPs, k * mean(e) - mean(c) and the mean of the NMB draws pick different strategies
    # (rounding), so the EVPI's decision must be taken the old way there to stay bit for bit
    expected = k[:, None] * effects.mean(axis=0) - costs.mean(axis=0)
    by_draws = np.array([(kk * effects - costs).mean(axis=0) for kk in k])
    assert np.any(expected.argmax(axis=1) != by_draws.argmax(axis=1))
    _assert_same(costs, effects, k)


def test_block_size_does_not_change_the_results(dampack_example, monkeypatch):
    costs, effects, _ = dampack_example
    k = np.linspace(0, 1e5, 37)
    whole = psa.wtp_curves(costs, effects, k)
    for elements in (1, costs.size, 7 * costs.size, 10**9):
        monkeypatch.setattr(psa, "_CHUNK_ELEMENTS", elements)
        part = psa.wtp_curves(costs, effects, k)
        assert np.array_equal(part.ceac, whole.ceac) and np.array_equal(part.evpi, whole.evpi)


def test_frames_and_skipped_curves(dampack_example):
    costs, effects, names = dampack_example
    k = np.array([0.0, 5e4, 1e5])
    curves = psa.wtp_curves(costs, effects, k, names)
    pd.testing.assert_frame_equal(curves.ceac_frame(), psa.ceac(costs, effects, k, names))
    pd.testing.assert_frame_equal(curves.ceaf_frame(), psa.ceaf(costs, effects, k, names))
    pd.testing.assert_frame_equal(curves.evpi_frame(), psa.evpi_curve(costs, effects, k))
    only_evpi = psa.wtp_curves(costs, effects, k, names, ceac=False)
    assert only_evpi.ceac is None and np.array_equal(only_evpi.evpi, curves.evpi)
    only_ceac = psa.wtp_curves(costs, effects, k, names, evpi=False)
    assert only_ceac.evpi is None and np.array_equal(only_ceac.ceac, curves.ceac)
