"""Tests for hta.analysis.psa: CEAC, CEAF, EVPI, population EVPI and PSA summaries."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hta.analysis.psa as psa
from hta.analysis.cea import incremental
from hta.errors import HtaError

REFDATA = Path("/work/shared/refdata")


@pytest.fixture(scope="module")
def vaccine():
    """BCEA's Vaccine example (R package BCEA, data/Vaccine.RData): 1000 draws, 2 strategies."""
    frame = pd.read_csv(REFDATA / "BCEA_Vaccine_e_c_1000.csv")
    effects = frame[["e_status_quo", "e_vaccination"]].to_numpy()
    costs = frame[["c_status_quo", "c_vaccination"]].to_numpy()
    return costs, effects, ["Status Quo", "Vaccination"]


@pytest.fixture(scope="module")
def dampack_example():
    """dampack's example PSA (R package dampack, data/example_psa): 10,000 draws, 3 strategies."""
    frame = pd.read_csv(REFDATA / "dampack_example_psa_10000.csv")
    costs = frame[["Chemo_Cost", "Radio_Cost", "Surg_Cost"]].to_numpy()
    effects = frame[["Chemo_Eff", "Radio_Eff", "Surg_Eff"]].to_numpy()
    return costs, effects, ["Chemo", "Radio", "Surgery"]


# ------------------------------------------------------------------------------------------
# EVPI
# ------------------------------------------------------------------------------------------


def test_evpi_hand_table():
    # Net benefit per draw (rows) and strategy (columns):
    #   draw 1: 10 12  8   max 12
    #   draw 2: 15  9 11   max 15
    #   draw 3:  7 14 10   max 14
    #   draw 4: 12  9 13   max 13
    # mean of maxima = 54 / 4 = 13.5; means = 11, 11, 10.5 -> max of means = 11; EVPI = 2.5
    nb = np.array([[10, 12, 8], [15, 9, 11], [7, 14, 10], [12, 9, 13]], dtype=float)
    assert psa.evpi(nb) == pytest.approx(2.5)
    stacked = psa.evpi(np.stack([nb, 2 * nb]))
    np.testing.assert_allclose(stacked, [2.5, 5.0])


def test_evpi_non_negative_and_zero_when_one_strategy_always_wins():
    rng = np.random.default_rng(1)
    for _ in range(50):
        nb = rng.normal(size=(200, 4)) * rng.uniform(0.1, 10, size=4)
        assert psa.evpi(nb) >= 0.0
    nb = rng.normal(size=(500, 3))
    nb[:, 1] = nb.max(axis=1) + 0.1  # strategy 2 best in every draw
    assert psa.evpi(nb) == 0.0


def test_bcea_vaccine_published_summary(vaccine):
    # BCEA reference manual, summary.bcea / ce_table examples on data(Vaccine) with ref =
    # Vaccination, k = 25000:
    #   Expected net benefit: Status Quo -36.054, Vaccination -34.826
    #   Vaccination vs Status Quo: EIB 1.2284, CEAC 0.529, ICER 20098 (ce_table: 20097.59,
    #   delta.c 5.035983, delta.e 0.0002505764); EVPI 2.4145
    #   "Optimal decision: choose Status Quo for k < 20100 and Vaccination for k >= 20100"
    costs, effects, names = vaccine
    curve = psa.ceac(costs, effects, 25000, names)
    assert curve.loc[25000, "Vaccination"] == pytest.approx(0.529, abs=5e-4)
    evpi_at_25000 = psa.evpi_curve(costs, effects, 25000).loc[25000, "evpi"]
    assert evpi_at_25000 == pytest.approx(2.4145, abs=5e-5)
    frontier = psa.ceaf(costs, effects, [25000], names)
    assert frontier.loc[25000, "strategy"] == "Vaccination"
    assert frontier.loc[25000, "expected_nmb"] == pytest.approx(-34.826, abs=5e-4)
    assert frontier.loc[25000, "probability"] == pytest.approx(0.529, abs=5e-4)

    summary = psa.incremental_summary(costs, effects, names, "Status Quo", [25000])
    row = summary.loc["Vaccination"]
    assert row.inc_cost == pytest.approx(5.035983, abs=5e-7)
    assert row.inc_effect == pytest.approx(0.0002505764, abs=5e-11)
    assert row.icer == pytest.approx(20097.59, abs=5e-3)
    assert row.p_ce_25000 == pytest.approx(0.529, abs=5e-4)
    assert row.quadrant == "more costly, more effective"

    grid = np.arange(0, 50001, 100.0)  # BCEA's default grid
    decision = psa.ceaf(costs, effects, grid, names).strategy
    assert (decision[grid < 20100] == "Status Quo").all()
    assert (decision[grid >= 20100] == "Vaccination").all()


# ------------------------------------------------------------------------------------------
# CEAC and CEAF
# ------------------------------------------------------------------------------------------


def test_ceac_rows_sum_to_one(dampack_example):
    costs, effects, names = dampack_example
    wtp = np.linspace(0, 200000, 81)
    curve = psa.ceac(costs, effects, wtp, names)
    assert curve.shape == (81, 3)
    assert curve.index.name == "wtp"
    assert list(curve.columns) == names
    np.testing.assert_allclose(curve.sum(axis=1), 1.0, atol=1e-12)


def test_ceac_two_strategies_equals_share_of_positive_incremental_nmb(vaccine):
    costs, effects, names = vaccine
    wtp = np.arange(0, 50001, 2500.0)
    curve = psa.ceac(costs, effects, wtp, names)
    d_cost = costs[:, 1] - costs[:, 0]
    d_effect = effects[:, 1] - effects[:, 0]
    for k in wtp:
        assert curve.loc[k, "Vaccination"] == pytest.approx(np.mean(k * d_effect - d_cost > 0))


def test_dampack_example_ceac_against_direct_count(dampack_example):
    # dampack's tests (tests/testthat/test_ceac.R) state that summary(ceac) on this PSA gives
    # the cost-effective strategies "Radio" then "Chemo". We check the same, plus the CEAC
    # against an independent per-WTP count of the draws in which each strategy has max NMB
    # (no published CEAC values were found to cite).
    costs, effects, names = dampack_example
    wtp = np.array([0.0, 10000.0, 50000.0, 100000.0, 150000.0])
    curve = psa.ceac(costs, effects, wtp, names)
    for k in wtp:
        best = np.argmax(k * effects - costs, axis=1)
        share = np.bincount(best, minlength=3) / len(best)
        np.testing.assert_allclose(curve.loc[k].to_numpy(), share)
    # hand-read values at 10,000 and 100,000 (counts out of 10,000 draws)
    np.testing.assert_allclose(curve.loc[10000.0].to_numpy(), [0.0461, 0.6575, 0.2964])
    np.testing.assert_allclose(curve.loc[100000.0].to_numpy(), [0.4564, 0.1817, 0.3619])

    grid = np.arange(0, 200001, 1000.0)
    decision = psa.ceaf(costs, effects, grid, names).strategy.to_numpy()
    switches = np.flatnonzero(decision[1:] != decision[:-1])
    assert decision[0] == "Radio" and decision[-1] == "Chemo" and switches.size == 1
    # The switch happens at the frontier ICER of Chemo vs Radio on the mean costs and effects
    # (Surgery is extendedly dominated), computed independently by hta.analysis.cea.incremental.
    means = pd.DataFrame({"strategy": names, "cost": costs.mean(0), "effect": effects.mean(0)})
    icers = incremental(means).set_index("strategy")
    assert icers.loc["Surgery", "status"] == "extendedly dominated"
    switch_icer = icers.loc["Chemo", "icer"]
    assert grid[switches[0]] < switch_icer <= grid[switches[0] + 1]


def test_ceac_ties_split_equally_and_order_does_not_matter():
    costs = np.array([[10.0, 10.0, 30.0], [20.0, 20.0, 0.0]])
    effects = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    curve = psa.ceac(costs, effects, [0.0, 100.0])
    # draw 1: strategies 1 and 2 tie -> 1/2 each; draw 2: strategy 3 -> 1
    np.testing.assert_allclose(curve.to_numpy(), [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5]])
    flipped = psa.ceac(costs[:, ::-1], effects[:, ::-1], [0.0, 100.0])
    np.testing.assert_allclose(flipped.to_numpy(), curve.to_numpy()[:, ::-1])


def test_chunking_does_not_change_results(dampack_example, monkeypatch):
    costs, effects, names = dampack_example
    wtp = np.linspace(0, 1e5, 23)
    whole = psa.ceac(costs, effects, wtp, names)
    whole_evpi = psa.evpi_curve(costs, effects, wtp)
    monkeypatch.setattr(psa, "_CHUNK_ELEMENTS", 3 * costs.size)  # 3 WTPs per chunk
    pd.testing.assert_frame_equal(psa.ceac(costs, effects, wtp, names), whole)
    pd.testing.assert_frame_equal(psa.evpi_curve(costs, effects, wtp), whole_evpi)


def test_evpi_curve_matches_evpi_of_nmb(dampack_example):
    costs, effects, _ = dampack_example
    wtp = [0.0, 38000.0, 120000.0]
    curve = psa.evpi_curve(costs, effects, wtp)
    for k in wtp:
        assert curve.loc[k, "evpi"] == pytest.approx(psa.evpi(k * effects - costs))


# ------------------------------------------------------------------------------------------
# Population EVPI
# ------------------------------------------------------------------------------------------


def test_population_evpi_discounting():
    # 100 per patient, 1,000 patients a year, 3 years, 5%:
    # 100 * 1000 * (1 + 1/1.05 + 1/1.05^2) = 100000 * 2.8594104308 = 285,941.04
    assert psa.population_evpi(100.0, 1000, 3, 0.05) == pytest.approx(285941.04308, rel=1e-10)
    assert psa.population_evpi(100.0, 1000, 10, 0.0) == pytest.approx(1_000_000.0)
    out = psa.population_evpi(np.array([1.0, 2.0]), 10, 1, 0.03)
    np.testing.assert_allclose(out, [10.0, 20.0])
    with pytest.raises(HtaError, match="years"):
        psa.population_evpi(1.0, 10, 0, 0.03)
    with pytest.raises(HtaError, match="discount rate"):
        psa.population_evpi(1.0, 10, 5, -0.01)
    with pytest.raises(HtaError, match="annual population"):
        psa.population_evpi(1.0, -1, 5, 0.03)


# ------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------


def test_summarise_closed_form():
    values = np.column_stack([np.arange(1.0, 101.0), 2 * np.arange(1.0, 101.0)])
    table = psa.summarise(values, ["x", "2x"])
    # 1..100: mean 50.5; sd = sqrt(100*101/12) = 29.0114; linear quantiles (R type 7):
    # q(0.025) = 1 + 0.025 * 99 = 3.475, q(0.975) = 1 + 0.975 * 99 = 97.525
    assert table.loc["x", "mean"] == pytest.approx(50.5)
    assert table.loc["x", "sd"] == pytest.approx(np.sqrt(100 * 101 / 12))
    assert table.loc["x", "lower"] == pytest.approx(3.475)
    assert table.loc["x", "upper"] == pytest.approx(97.525)
    assert table.loc["2x", "upper"] == pytest.approx(2 * 97.525)
    narrow = psa.summarise(values[:, 0], ["x"], level=0.5)
    assert narrow.loc["x", "lower"] == pytest.approx(1 + 0.25 * 99)
    with pytest.raises(HtaError, match="names"):
        psa.summarise(values, ["x"])
    with pytest.raises(HtaError, match="between 0 and 1"):
        psa.summarise(values, ["x", "y"], level=95)


def test_running_mean():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 0.0], [4.0, 10.0]])
    np.testing.assert_allclose(
        psa.running_mean(values), [[1, 10], [1.5, 15], [2, 10], [2.5, 10]]
    )
    np.testing.assert_allclose(psa.running_mean(values[:, 0]), [1, 1.5, 2, 2.5])


def test_incremental_summary_quadrants_and_intervals():
    costs = np.array([[100.0, 50.0, 300.0], [100.0, 70.0, 500.0]])
    effects = np.array([[1.0, 1.5, 0.5], [1.0, 1.7, 0.5]])
    table = psa.incremental_summary(costs, effects, ["ref", "good", "bad"], "ref", [0.0, 1000.0])
    assert list(table.index) == ["good", "bad"]
    assert table.loc["good", "quadrant"].startswith("dominant")
    assert table.loc["bad", "quadrant"].startswith("dominated")
    assert table.loc["good", "inc_cost"] == pytest.approx(-40.0)
    assert table.loc["good", "inc_effect"] == pytest.approx(0.6)
    assert table.loc["good", "icer"] == pytest.approx(-40.0 / 0.6)
    # percentile interval of two draws (-50, -30) at 95%: -50 + 0.025 * 20, -50 + 0.975 * 20
    assert table.loc["good", "inc_cost_lower"] == pytest.approx(-49.5)
    assert table.loc["good", "inc_cost_upper"] == pytest.approx(-30.5)
    assert table.loc["good", "p_ce_0"] == 1.0 and table.loc["bad", "p_ce_1000"] == 0.0


def test_input_errors():
    with pytest.raises(HtaError, match="same shape"):
        psa.ceac(np.ones((5, 2)), np.ones((5, 3)), 1.0)
    with pytest.raises(HtaError, match="finite costs"):
        psa.ceac(np.array([[1.0, np.nan]]), np.ones((1, 2)), 1.0)
    with pytest.raises(HtaError, match="2 names"):
        psa.ceac(np.ones((5, 2)), np.ones((5, 2)), 1.0, strategies=["a"])
    with pytest.raises(HtaError, match=">= 0"):
        psa.ceac(np.ones((5, 2)), np.ones((5, 2)), [-1.0])
    with pytest.raises(HtaError, match="shape"):
        psa.evpi(np.ones(4))

