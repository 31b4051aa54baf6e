"""Tests for hta.analysis.cea: incremental analysis (dominance, extended dominance, ties) and NMB/NHB."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.analysis.cea import incremental, incremental_nmb, nhb, nmb
from hta.errors import HtaError

REFDATA = Path("/work/shared/refdata")


def table(rows):
    """rows: list of (strategy, cost, effect)."""
    return pd.DataFrame(rows, columns=["strategy", "cost", "effect"])


def by_name(result):
    return result.set_index("strategy")


# ------------------------------------------------------------------------------------------
# Published reference: dampack C. difficile example
# ------------------------------------------------------------------------------------------


def test_dampack_cdiff_icer_table():
    # Published output of dampack::calculate_icers on the basic_cea vignette's C. difficile
    # strategies (dampack, DARTH workgroup; the vignette's printed ICER table):
    #   Strategy Cost     Effect   Inc_Cost Inc_Effect  ICER      Status
    #   s3       57336.01 12.93996 NA       NA          NA        ND
    #   s27      57541.25 13.01406 205.2466 0.07410015  2769.855  ND
    #   s33      57642.26 13.03891 101.0061 0.02484756  4065.031  ND
    #   s31      57934.07 13.09663 291.8156 0.05771416  5056.222  ND
    #   s43      58072.11 13.11286 138.0394 0.01623188  8504.216  ND
    #   s44      58665.78 13.12833 593.6686 0.01547517  38362.652 ND
    #   s39 ED; s4, s13, s37, s20 D
    raw = pd.read_csv(REFDATA / "dampack_cdiff_strategies.csv")
    result = by_name(incremental(raw.rename(columns=str.lower)))

    published = {
        "s27": (205.2466, 0.07410015, 2769.855),
        "s33": (101.0061, 0.02484756, 4065.031),
        "s31": (291.8156, 0.05771416, 5056.222),
        "s43": (138.0394, 0.01623188, 8504.216),
        "s44": (593.6686, 0.01547517, 38362.652),
    }
    for name, (inc_c, inc_e, icer) in published.items():
        row = result.loc[name]
        assert row.status == "frontier"
        assert row.inc_cost == pytest.approx(inc_c, abs=5e-5)
        assert row.inc_effect == pytest.approx(inc_e, abs=5e-9)
        assert row.icer == pytest.approx(icer, abs=5e-4)
    assert result.loc["s3", "status"] == "frontier"
    assert np.isnan(result.loc["s3", "icer"])
    assert result.loc["s39", "status"] == "extendedly dominated"
    for name in ("s4", "s13", "s37", "s20"):
        assert result.loc[name, "status"] == "dominated", name
        assert np.isnan(result.loc[name, "icer"])
    # Frontier in cost order, comparator chain s3 -> s27 -> s33 -> s31 -> s43 -> s44.
    front = incremental(raw.rename(columns=str.lower)).query("status == 'frontier'")
    assert front.strategy.tolist() == ["s3", "s27", "s33", "s31", "s43", "s44"]
    assert front.comparator.tolist()[1:] == ["s3", "s27", "s33", "s31", "s43"]


def test_published_three_strategy_table_with_absolute_dominance():
    # Table 1 of a published CEA of breast-cancer testing strategies (JNCI Cancer Spectrum
    # 2020;4(2):pkaa004, doi:10.1093/jncics/pkaa004): Strategy 1 cost 1695.865, effect
    # 8.570992; Strategy 3 cost 12118.17, effect 8.590681, ICER 529,365.8 vs Strategy 1;
    # Strategy 2 (12224.17, 8.583273) "absolutely dominated". The ICER is printed from
    # unrounded inputs, so it matches to ~1e-4 relative.
    result = by_name(
        incremental(
            table(
                [
                    ("Strategy 1", 1695.865, 8.570992),
                    ("Strategy 2", 12224.17, 8.583273),
                    ("Strategy 3", 12118.17, 8.590681),
                ]
            )
        )
    )
    assert result.loc["Strategy 3", "icer"] == pytest.approx(529365.8, rel=1e-4)
    assert result.loc["Strategy 2", "status"] == "dominated"
    assert result.loc["Strategy 2", "note"] == "dominated by Strategy 3"
    # Reported against the previous frontier strategy by cost (Strategy 3): +106.00, -0.007408
    assert result.loc["Strategy 2", "inc_cost"] == pytest.approx(106.0)
    assert result.loc["Strategy 2", "inc_effect"] == pytest.approx(-0.007408)


# ------------------------------------------------------------------------------------------
# Hand-checked extended dominance
# ------------------------------------------------------------------------------------------


def test_hand_checked_extended_dominance():
    # Costs (HK$) and QALYs, worked by hand:
    #   A  10,000  5.0
    #   B  25,000  5.5   ICER vs A = 15,000/0.5 = 30,000
    #   C  30,000  6.0   ICER vs B =  5,000/0.5 = 10,000  < 30,000 -> B extendedly dominated
    #   D  60,000  6.5   ICER vs C = 30,000/0.5 = 60,000
    # Without B: C vs A = 20,000/1.0 = 20,000; D vs C = 60,000 (increasing: done).
    # B lies above the A-C chord: a 50/50 mix of A and C costs 20,000 for 5.5 QALYs.
    result = by_name(
        incremental(
            table([("D", 60000, 6.5), ("B", 25000, 5.5), ("A", 10000, 5.0), ("C", 30000, 6.0)])
        )
    )
    assert result.loc["B", "status"] == "extendedly dominated"
    assert result.loc["B", "note"] == "extendedly dominated by A and C"
    assert np.isnan(result.loc["B", "icer"])
    assert result.loc["B", "inc_cost"] == 15000 and result.loc["B", "inc_effect"] == 0.5
    assert result.loc["C", "icer"] == pytest.approx(20000.0)
    assert result.loc["C", "comparator"] == "A"
    assert result.loc["D", "icer"] == pytest.approx(60000.0)
    assert result.loc["A", "comparator"] is None


def test_iterated_extended_dominance_needs_two_passes():
    # A (0, 0); B (10, 1); C (40, 2); D (41, 12).
    # Pass 1 ICERs: B 10, C 30, D 0.1 -> only C falls (30 > 0.1) -> C extendedly dominated.
    # Pass 2 on A, B, D: B 10, D = 31/11 = 2.818 -> B now extendedly dominated.
    # Final frontier A, D with ICER 41/12.
    result = by_name(incremental(table([("A", 0, 0), ("B", 10, 1), ("C", 40, 2), ("D", 41, 12)])))
    assert result.loc["C", "status"] == "extendedly dominated"
    assert result.loc["B", "status"] == "extendedly dominated"
    assert result.loc["B", "note"] == "extendedly dominated by A and D"
    assert result.loc["D", "icer"] == pytest.approx(41 / 12)
    assert result.loc["D", "comparator"] == "A"


def test_collinear_strategies_stay_on_frontier():
    # Equal ICERs are not extended dominance (dampack's calculate_icers flags a strategy only
    # when its ICER is strictly greater than the next one). In binary floating point
    # 1000 / (0.7 - 0.6) > 1000 / (0.8 - 0.7), so this also checks that rounding in the last
    # digit does not make B extendedly dominated.
    result = by_name(incremental(table([("A", 1000, 0.6), ("B", 2000, 0.7), ("C", 3000, 0.8)])))
    assert (result.status == "frontier").all()
    assert result.loc["B", "icer"] == pytest.approx(10000.0)
    assert result.loc["C", "icer"] == pytest.approx(10000.0)


# ------------------------------------------------------------------------------------------
# Ties, duplicates, degenerate tables
# ------------------------------------------------------------------------------------------


def test_equal_cost_less_effective_is_dominated_with_negative_increment():
    result = by_name(incremental(table([("A", 100, 1.0), ("B", 100, 2.0), ("C", 300, 3.0)])))
    assert result.loc["A", "status"] == "dominated"
    assert result.loc["A", "note"] == "dominated by B"
    assert result.loc["A", "comparator"] == "B"
    assert result.loc["A", "inc_cost"] == 0.0
    assert result.loc["A", "inc_effect"] == -1.0
    assert result.loc["B", "status"] == "frontier" and np.isnan(result.loc["B", "icer"])
    assert result.loc["C", "icer"] == pytest.approx(200.0)


def test_equal_effect_costlier_is_dominated():
    result = by_name(incremental(table([("A", 100, 1.0), ("B", 250, 1.0)])))
    assert result.loc["B", "status"] == "dominated"
    assert result.loc["B", "inc_cost"] == 150.0 and result.loc["B", "inc_effect"] == 0.0
    assert result.loc["A", "status"] == "frontier"


def test_duplicates_first_by_name_stays():
    result = incremental(table([("zeta", 100, 1.0), ("alpha", 100, 1.0), ("c", 300, 2.0)]))
    assert result.strategy.tolist() == ["alpha", "zeta", "c"]
    rows = by_name(result)
    assert rows.loc["alpha", "status"] == "frontier"
    assert rows.loc["zeta", "status"] == "dominated"
    assert rows.loc["zeta", "note"] == "duplicate of alpha (identical cost and effect)"
    assert rows.loc["zeta", "inc_cost"] == 0.0 and rows.loc["zeta", "inc_effect"] == 0.0
    assert rows.loc["c", "icer"] == pytest.approx(200.0)
    assert rows.loc["c", "comparator"] == "alpha"


def test_duplicates_dominated_by_a_third_strategy_are_both_dominated():
    rows = by_name(incremental(table([("b", 100, 1.0), ("a", 100, 1.0), ("x", 50, 2.0)])))
    assert rows.loc["x", "status"] == "frontier"
    assert rows.loc["a", "status"] == rows.loc["b", "status"] == "dominated"


def test_everything_dominated_by_one():
    rows = by_name(
        incremental(table([("W", 20, 1.0), ("X", 30, 4.0), ("Y", 10, 3.0), ("Best", 10, 5.0)]))
    )
    assert rows.loc["Best", "status"] == "frontier"
    assert (rows.drop("Best").status == "dominated").all()
    assert rows.icer.isna().all()
    assert (rows.drop("Best").comparator == "Best").all()
    assert rows.loc["Y", "note"] == "dominated by Best"


def test_one_strategy():
    result = incremental(table([("only", 5.0, 1.0)]))
    assert result.status.tolist() == ["frontier"]
    assert np.isnan(result.icer[0]) and np.isnan(result.inc_cost[0])
    assert result.comparator[0] is None


def test_order_is_deterministic_and_extra_columns_are_kept():
    rows = [("A", 0, 0), ("B", 10, 1), ("C", 40, 2), ("D", 41, 12), ("E", 40, 2), ("F", 41, 1)]
    base = table(rows)
    base["label"] = [r[0].lower() for r in rows]
    expected = incremental(base)
    shuffled = incremental(base.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(expected, shuffled)
    assert expected.strategy.tolist() == ["A", "B", "C", "E", "D", "F"]
    assert expected.label.tolist() == ["a", "b", "c", "e", "d", "f"]


def test_frontier_strategies_maximise_nmb_between_their_icers():
    # Property check against net monetary benefit on random tables: each frontier strategy has
    # the highest NMB for WTPs between its own ICER and the next one; off-frontier strategies
    # never do; frontier ICERs are positive and non-decreasing.
    rng = np.random.default_rng(7)
    for _ in range(200):
        s = rng.integers(2, 9)
        costs, effects = rng.uniform(0, 1e5, s), rng.uniform(0, 5, s)
        frame = table([(f"s{i}", c, e) for i, (c, e) in enumerate(zip(costs, effects))])
        result = incremental(frame)
        front = result[result.status == "frontier"]
        icers = front.icer.to_numpy()[1:]
        assert np.all(icers > 0) and np.all(np.diff(icers) >= 0)
        bounds = np.concatenate([[0.0], icers, [icers[-1] * 2 + 1 if icers.size else 1.0]])
        cost, effect = result.cost.to_numpy(), result.effect.to_numpy()
        for j, name in enumerate(front.strategy):
            k = 0.5 * (bounds[j] + bounds[j + 1])
            values = k * effect - cost
            assert result.strategy.iloc[values.argmax()] == name


def test_errors_are_readable():
    with pytest.raises(HtaError, match="missing effect"):
        incremental(pd.DataFrame({"strategy": ["a"], "cost": [1.0]}))
    with pytest.raises(HtaError, match="empty table"):
        incremental(table([]))
    with pytest.raises(HtaError, match="finite number for cost.*'b'"):
        incremental(table([("a", 1.0, 1.0), ("b", np.nan, 2.0)]))
    with pytest.raises(HtaError, match="finite number for effect.*'a'.*'lots'"):
        incremental(table([("a", 1.0, "lots")]))
    with pytest.raises(HtaError, match="unique strategy names.*'a'"):
        incremental(table([("a", 1.0, 1.0), ("a", 2.0, 2.0)]))
    clash = table([("a", 1.0, 1.0)])
    clash["icer"] = 3.0
    with pytest.raises(HtaError, match="icer"):
        incremental(clash)


# ------------------------------------------------------------------------------------------
# Net monetary and net health benefit
# ------------------------------------------------------------------------------------------


def test_nmb_nhb_closed_forms_and_shapes():
    cost = np.array([[1000.0, 3000.0], [2000.0, 2500.0], [0.0, 100.0]])  # (n=3, S=2)
    effect = np.array([[1.0, 1.1], [0.9, 1.2], [0.5, 0.5]])
    assert nmb(cost, effect, 20000).shape == (3, 2)
    assert nmb(cost, effect, 20000)[0, 1] == pytest.approx(20000 * 1.1 - 3000)
    wtp = np.array([10000.0, 50000.0])
    values = nmb(cost, effect, wtp)
    assert values.shape == (2, 3, 2)
    np.testing.assert_allclose(values[1], 50000 * effect - cost)
    health = nhb(cost, effect, wtp)
    assert health.shape == (2, 3, 2)
    np.testing.assert_allclose(health * wtp[:, None, None], values)
    assert nhb(cost[0], effect[0], 20000)[1] == pytest.approx(1.1 - 3000 / 20000)
    assert nmb(cost[0], effect[0], wtp).shape == (2, 2)
    # (1, S) broadcasts against (n, S), as everywhere in hta
    assert nmb(cost[:1], effect, 1.0).shape == (3, 2)


def test_incremental_nmb_against_reference():
    cost = np.array([[100.0, 400.0, 250.0]])
    effect = np.array([[1.0, 1.02, 1.01]])
    inmb = incremental_nmb(cost, effect, [0.0, 20000.0], reference="B", strategies=["A", "B", "C"])
    assert inmb.shape == (2, 1, 3)
    np.testing.assert_allclose(inmb[:, 0, 1], 0.0)
    # A vs B at 20,000: 20000 * (1.0 - 1.02) - (100 - 400) = -400 + 300 = -100
    assert inmb[1, 0, 0] == pytest.approx(-100.0)
    at_zero = incremental_nmb(cost, effect, 0.0, reference=0)
    np.testing.assert_allclose(at_zero[0], [0.0, -300.0, -150.0])


def test_net_benefit_errors():
    with pytest.raises(HtaError, match="> 0"):
        nhb([1.0], [1.0], 0.0)
    with pytest.raises(HtaError, match=">= 0"):
        nmb([1.0], [1.0], -1.0)
    with pytest.raises(HtaError, match="matching shapes"):
        nmb(np.ones((3, 2)), np.ones((3, 3)), 1.0)
    with pytest.raises(HtaError, match="finite costs"):
        nmb([np.nan], [1.0], 1.0)
    with pytest.raises(HtaError, match="one of A, B"):
        incremental_nmb([[1.0, 2.0]], [[1.0, 2.0]], 1.0, reference="Z", strategies=["A", "B"])
