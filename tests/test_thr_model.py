"""The Briggs-style total hip replacement model (models/thr_briggs.py): invariants and structure."""

import numpy as np
import pytest

from hta.engine import markov
from models import thr_briggs as thr


@pytest.fixture(scope="module")
def q_bg():
    return thr.background_death()


def test_background_death_rises_with_age_and_stays_a_probability(q_bg):
    assert q_bg.shape == (thr.N_CYCLES,)
    assert (q_bg > 0).all() and (q_bg < 1).all()
    assert q_bg[-1] > 10 * q_bg[0]


def test_occupancy_sums_to_one_and_qalys_stay_below_life_years(q_bg):
    batch = thr.parameter_table().sample(400, 9)
    out = thr.evaluate(batch, q_bg=q_bg, keep_cohort=True)
    for s in thr.STRATEGIES:
        trace = out[s].cohort.trace
        np.testing.assert_allclose(trace.sum(axis=-1), 1.0, atol=1e-12)
        assert (trace >= 0).all()
        assert (np.abs(trace[:, 1:, 0]) <= 1e-15).all()  # the primary operation lasts one cycle (up to rounding of 1 - exits)
    assert (out.qalys < out.lys).all()


def test_new_prosthesis_means_fewer_revisions_and_costs_its_price(q_bg):
    base = thr.parameter_table().base()
    out = thr.evaluate(base, q_bg=q_bg, keep_cohort=True)
    rev_std = out["standard"].by("cost")["revision"]
    rev_np1 = out["np1"].by("cost")["revision"]
    assert rev_np1[0] < rev_std[0]
    assert out["np1"].by("cost")["prosthesis"][0] == thr.PROSTHESIS_COST["np1"]


def test_transitions_equal_the_dense_matrices_and_a_batch_of_copies_equals_the_base(q_bg):
    table = thr.parameter_table()
    batch = table.sample(64, 1)
    for s in thr.STRATEGIES:
        tr = markov.transitions(thr.STATES, thr.transition_probabilities(batch, s, q_bg))
        a = markov.cohort(tr, np.eye(5)[0], thr.N_CYCLES, states=thr.STATES)
        b = markov.cohort(tr.matrices(), np.eye(5)[0], thr.N_CYCLES, states=thr.STATES)
        np.testing.assert_array_equal(a.trace, b.trace)
    base = table.base()
    copies = {k: np.repeat(base[k], 5) for k in base}
    np.testing.assert_allclose(thr.evaluate(copies, q_bg=q_bg).costs, np.tile(thr.evaluate(base, q_bg=q_bg).costs, (5, 1)), rtol=1e-14)
