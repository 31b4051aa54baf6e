"""CEAF summary of optimal WTP ranges (hta.analysis.psa.ceaf_ranges).

The optimal strategy under current information maximises expected NMB = k E[e] - E[c]; the
switch points are the ICERs between neighbours on the cost-effectiveness frontier of the means
(Fenwick, Claxton & Sculpher, Health Econ 2001;10:779-787; Barton et al., Value Health
2008;11:886-897). Checked against a hand-computed example and against the frontier ICERs of
hta.analysis.cea.incremental (dampack's calculate_icers algorithm) on dampack's example PSA.
"""

import numpy as np
import pandas as pd
import pytest

import hta.analysis.psa as psa
from hta.analysis.cea import FRONTIER, incremental
from hta.errors import HtaError

REF = "/work/shared/refdata/dampack_example_psa_10000.csv"


def _draws(cost, effect, n=400, seed=0):
    """PSA draws whose column means are exactly ``cost`` and ``effect`` (noise of mean zero)."""
    rng = np.random.default_rng(seed)
    half = rng.normal(size=(n // 2, len(cost)))
    noise = np.vstack([half, -half])
    return np.asarray(cost) + 1000.0 * noise, np.asarray(effect) + 0.1 * noise[::-1]


def test_hand_computed_three_strategies_with_dominated_options():
    # A (0, 0), B (10,000, 1), C (50,000, 2): ICER B vs A = 10,000, C vs B = 40,000.
    # D (60,000, 1.5) is dominated by C; E (40,000, 1.2) is extendedly dominated (ICER vs B
    # 150,000 > ICER of C vs E 12,500).
    names = ["A", "B", "C", "D", "E"]
    c, e = _draws([0.0, 10_000.0, 50_000.0, 60_000.0, 40_000.0], [0.0, 1.0, 2.0, 1.5, 1.2])
    out = psa.ceaf_ranges(c, e, names)
    assert list(out.columns) == ["strategy", "from_wtp", "to_wtp"]
    assert list(out["strategy"]) == ["A", "B", "C"]
    np.testing.assert_allclose(out["from_wtp"], [0.0, 10_000.0, 40_000.0], rtol=1e-12)
    np.testing.assert_allclose(out["to_wtp"], [10_000.0, 40_000.0, np.inf], rtol=1e-12)
    # a restricted range keeps only what is optimal inside it
    part = psa.ceaf_ranges(c, e, names, wtp_min=15_000, wtp_max=60_000)
    assert list(part["strategy"]) == ["B", "C"]
    np.testing.assert_allclose(part[["from_wtp", "to_wtp"]].to_numpy(),
                               [[15_000.0, 40_000.0], [40_000.0, 60_000.0]], rtol=1e-12)
    one = psa.ceaf_ranges(c, e, names, wtp_min=12_000, wtp_max=30_000)
    assert list(one["strategy"]) == ["B"] and one["to_wtp"].iloc[0] == 30_000.0


def test_means_given_as_one_row_and_column_order_irrelevant():
    c = np.array([[50_000.0, 0.0, 10_000.0]])
    e = np.array([[2.0, 0.0, 1.0]])
    out = psa.ceaf_ranges(c, e, ["C", "A", "B"])
    assert list(out["strategy"]) == ["A", "B", "C"]
    np.testing.assert_allclose(out["from_wtp"].iloc[1:], [10_000.0, 40_000.0], rtol=1e-12)


def test_collinear_and_identical_strategies():
    # B lies on the line from A to C (ICERs 20,000 and 20,000): at 20,000 all three have the same
    # expected NMB and B is optimal over no interval; A then C. A duplicate of C never appears.
    c = np.array([[0.0, 20_000.0, 40_000.0, 40_000.0]])
    e = np.array([[0.0, 1.0, 2.0, 2.0]])
    out = psa.ceaf_ranges(c, e, ["A", "B", "C", "C2"])
    assert list(out["strategy"]) == ["A", "C"]
    np.testing.assert_allclose(out["from_wtp"], [0.0, 20_000.0], rtol=1e-12)
    # one strategy better everywhere: one row over the whole range
    single = psa.ceaf_ranges(np.array([[1.0, 2.0]]), np.array([[1.0, 0.5]]), ["x", "y"])
    assert list(single["strategy"]) == ["x"] and single["to_wtp"].iloc[0] == np.inf


def test_dampack_example_psa_switch_point_is_the_frontier_icer():
    # dampack example_psa (Jalal et al. 2013 chemo/radio/surgery). Mean costs 30,900.80,
    # 16,128.88, 25,110.22 and effects 11.0687, 10.6849, 10.8812 (computed from the file):
    # Surgery is extendedly dominated; Radio is optimal up to the Chemo-vs-Radio ICER,
    # (30,900.80 - 16,128.88) / (11.0687 - 10.6849) = 38,491.9, Chemo beyond.
    d = pd.read_csv(REF)
    names = ["Chemo", "Radio", "Surgery"]
    c = d[[f"{s}_Cost" for s in ("Chemo", "Radio", "Surg")]].to_numpy()
    e = d[[f"{s}_Eff" for s in ("Chemo", "Radio", "Surg")]].to_numpy()
    out = psa.ceaf_ranges(c, e, names)
    assert list(out["strategy"]) == ["Radio", "Chemo"]
    table = incremental(pd.DataFrame({"strategy": names, "cost": c.mean(0), "effect": e.mean(0)}))
    frontier = table[table["status"] == FRONTIER].sort_values("effect")
    assert list(frontier["strategy"]) == ["Radio", "Chemo"]
    assert out["from_wtp"].iloc[1] == pytest.approx(frontier["icer"].iloc[1], rel=1e-12)
    assert out["from_wtp"].iloc[1] == pytest.approx(38_491.91, abs=0.01)
    # the grid CEAF (one row per WTP) names the same strategy at every grid point off the switch
    grid = np.arange(0.0, 150_001.0, 500.0)
    per_wtp = psa.ceaf(c, e, grid, names)["strategy"].to_numpy()
    idx = np.searchsorted(out["from_wtp"].to_numpy(), grid, side="right") - 1
    np.testing.assert_array_equal(per_wtp, out["strategy"].to_numpy()[idx])


def test_ceaf_ranges_errors():
    with pytest.raises(HtaError, match="WTP range"):
        psa.ceaf_ranges(np.ones((2, 2)), np.ones((2, 2)), wtp_min=10.0, wtp_max=5.0)
    with pytest.raises(HtaError, match="same shape"):
        psa.ceaf_ranges(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(HtaError, match="strategies"):
        psa.ceaf_ranges(np.ones((2, 2)), np.ones((2, 2)), ["a"])


def test_rounding_of_collinear_icers_gives_no_sliver_range():
    # effects 0.1, 0.2, 0.3 and costs 0.1k, 0.2k, 0.3k (k = 30,000): the three pairwise ICERs
    # equal 30,000 only up to rounding (0.3 - 0.1 != 0.2 in binary); still two ranges, A then C
    c = np.array([[3000.0, 6000.0, 9000.0]])
    e = np.array([[0.1, 0.2, 0.3]])
    out = psa.ceaf_ranges(c, e, ["A", "B", "C"])
    assert list(out["strategy"]) == ["A", "C"]
    assert out["from_wtp"].iloc[1] == pytest.approx(30_000.0, rel=1e-12)


def test_dampack_cdiff_frontier_icers_are_the_switch_points():
    # dampack vignette "Basic Cost Effectiveness Analysis" (vignettes/cdiff_icers.csv in
    # DARTH-git/dampack): calculate_icers on the 11 C. difficile strategies gives the frontier
    # s3, s27, s33, s31, s43, s44 with ICERs 2769.85470915263, 4065.03105249231,
    # 5056.2216470406, 8504.2160616553, 38362.6519947134 (s39 extendedly dominated, others dominated)
    d = pd.read_csv("/work/shared/refdata/dampack_cdiff_strategies.csv")
    out = psa.ceaf_ranges(d[["Cost"]].T.to_numpy(), d[["Effect"]].T.to_numpy(), d["Strategy"])
    assert list(out["strategy"]) == ["s3", "s27", "s33", "s31", "s43", "s44"]
    np.testing.assert_allclose(out["from_wtp"].iloc[1:],
                               [2769.85470915263, 4065.03105249231, 5056.2216470406, 8504.2160616553,
                                38362.6519947134], rtol=1e-10)  # the CSV holds 15 significant digits


def test_dampack_summary_ceac_order():
    # dampack tests/testthat/test_ceac.R: summary(ceac(example_psa$wtp, psa_obj))$cost_eff_strat
    # == c("Radio", "Chemo") for the example PSA
    d = pd.read_csv(REF)
    c = d[["Chemo_Cost", "Radio_Cost", "Surg_Cost"]].to_numpy()
    e = d[["Chemo_Eff", "Radio_Eff", "Surg_Eff"]].to_numpy()
    assert list(psa.ceaf_ranges(c, e, ["Chemo", "Radio", "Surgery"])["strategy"]) == ["Radio", "Chemo"]
