"""Reproduction of the Chancellor et al. (1997) HIV model.

Briggs A, Claxton K, Sculpher M. Decision Modelling for Health Economic Evaluation. OUP 2006,
Exercise 2.5: monotherapy cost 44,663.45 and 7.9912 LYs; combination 50,601.65 and 8.9374 LYs;
ICER 6,275.96 per LY gained (count-based probabilities, end-of-cycle counting, 20 annual cycles,
costs discounted at 6%, LYs undiscounted, combination effect and lamivudine cost for 2 years).
"""

import numpy as np
import pytest

from hta.analysis.cea import incremental
from models import hiv_chancellor as hiv


def test_briggs_exercise_2_5_to_published_digits():
    out = hiv.evaluate(hiv.base_values())
    cost, ly = out.costs[0], out.lys[0]
    assert round(cost[0], 2) == 44663.45
    assert round(cost[1], 2) == 50601.65
    assert round(ly[0], 4) == 7.9912
    assert round(ly[1], 4) == 8.9374
    assert round((cost[1] - cost[0]) / (ly[1] - ly[0]), 2) == 6275.96


def test_incremental_table_of_the_hiv_model():
    table = hiv.evaluate(hiv.base_values()).summary()[["strategy", "cost", "lys"]].rename(columns={"lys": "effect"})
    res = incremental(table)
    comb = res.set_index("strategy").loc["combination"]
    assert comb["status"] == "frontier"
    assert comb["icer"] == pytest.approx(6275.9556, abs=1e-3)


def test_batch_of_identical_samples_equals_base_case():
    base = hiv.base_values()
    batch = {k: np.full(7, v) for k, v in base.items()}
    out = hiv.evaluate(batch)
    np.testing.assert_allclose(out.costs, np.tile(hiv.evaluate(base).costs, (7, 1)))


def test_psa_results_are_bit_identical_to_the_per_cycle_array_formulation():
    """The model passes piecewise matrices (issue 10); the original (n, T, 4, 4) array gives the same bits."""
    from hta.engine import markov, outcomes
    from hta.engine.timegrid import CycleGrid

    batch = hiv.parameter_table().sample(300, 42)
    new = hiv.evaluate(batch, keep_cohort=True)
    n, T = batch.n, 20
    P_mono = hiv._matrix(batch)
    P_comb = np.empty((n, T, 4, 4))
    P_comb[:] = P_mono[:, None]
    P_comb[:, :hiv.RR_YEARS] = hiv._matrix(batch, rr=batch["rr"])[:, None]
    old = markov.cohort(P_comb, [1.0, 0, 0, 0], T, states=hiv.STATES, dead_states=("D",))
    np.testing.assert_array_equal(new["combination"].cohort.trace, old.trace)
    alive = np.array([1.0, 1, 1, 0])
    care = np.stack([batch[f"c_dmed_{s}"] + batch[f"c_ccare_{s}"] for s in "ABC"] + [np.zeros(n)], axis=1)
    lam = np.zeros((n, T, 4))
    lam[:, :hiv.RR_YEARS] = (batch["c_lamivudine"][:, None] * alive)[:, None]
    res = outcomes.account(old, CycleGrid(1.0, T), within_cycle="end", discount_costs=0.06, utilities=alive,
                           state_costs={"care": care, "zidovudine": batch["c_zidovudine"][:, None] * alive, "lamivudine": lam})
    np.testing.assert_array_equal(new["combination"].costs, res.costs)
    np.testing.assert_array_equal(new["combination"].lys, res.lys)
