"""Reproduction of the Chancellor et al. (1997) HIV model.

Briggs A, Claxton K, Sculpher M. Decision Modelling for Health Economic Evaluation. OUP 2006,
Exercise 2.5: monotherapy cost 44,663.45 and 7.9912 LYs; combination 50,601.65 and 8.9374 LYs;
ICER 6,275.96 per LY gained (count-based probabilities, end-of-cycle counting, 20 annual cycles,
costs discounted at 6%, LYs undiscounted, combination effect and lamivudine cost for 2 years).
"""

import numpy as np
import pytest

from hta.cea import incremental
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
