"""Scenario comparison (hta.analysis.scenarios) on the flagship eque-cel model and the HIV model.

Every number in the comparison table is checked against a direct evaluation of the model with
the scenario's changes applied by hand; the HIV base case against Briggs et al. (2006) Ex 2.5.
"""

import numpy as np
import pytest

from hta.analysis import dsa
from hta.analysis.evaluate import FunctionModel
from hta.analysis.scenarios import Scenario, compare
from hta.errors import HtaError
from models import hiv_chancellor as hiv


@pytest.fixture(scope="module")
def flagship():
    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm

    return fucaso_rrmm.build(read_inputs("inputs/fucaso_hk.xlsx"))


@pytest.fixture(scope="module")
def hiv_model():
    return FunctionModel("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)


def _totals(model, **values):
    out = model.evaluate(model.parameters.base().with_values(values))
    return out.costs[0], out.qalys[0], out.lys[0]


def test_hiv_base_case_row(hiv_model):
    frame = compare(hiv_model, [], wtps=[("k", 10000.0)])
    row = frame.iloc[0]
    # Briggs et al. (2006) Ex 2.5
    assert row["scenario"] == "base case" and row["strategy"] == "combination"
    assert row["cost_monotherapy"] == pytest.approx(44663.45, abs=0.005)
    assert row["lys_combination"] == pytest.approx(8.9374, abs=5e-5)
    assert row["icer"] == pytest.approx(6275.96, abs=0.01)
    assert row["inmb [k]"] == pytest.approx(10000 * row["inc_qalys"] - row["inc_cost"], rel=1e-12)


def test_flagship_scenarios_equal_direct_evaluations(flagship):
    scenarios = [
        Scenario("price 2m", "eque-cel at HK$2,000,000", overrides={"c_eqcel_price": 2_000_000.0}),
        Scenario("undiscounted", "no discounting", settings={"discount_costs": 0.0, "discount_outcomes": 0.0}),
        Scenario("state transition", "semi-Markov structure", model=lambda m: m.with_structure("stm")),
    ]
    frame = compare(flagship, scenarios).set_index("scenario")
    assert list(frame.index) == ["base case", "price 2m", "undiscounted", "state transition"]
    labels = [label for label, _ in flagship.settings.wtp]
    assert all(f"inmb [{label}]" in frame.columns for label in labels)

    expected = {
        "base case": _totals(flagship),
        "price 2m": _totals(flagship, c_eqcel_price=2_000_000.0),
        "undiscounted": _totals(flagship.with_settings(discount_costs=0.0, discount_outcomes=0.0)),
        "state transition": _totals(flagship.with_structure("stm")),
    }
    for name, (c, q, ly) in expected.items():
        row = frame.loc[name]
        np.testing.assert_allclose([row["cost_cc"], row["cost_eqcel"]], c, rtol=1e-12)
        np.testing.assert_allclose([row["qalys_cc"], row["qalys_eqcel"]], q, rtol=1e-12)
        np.testing.assert_allclose([row["lys_cc"], row["lys_eqcel"]], ly, rtol=1e-12)
        assert row["icer"] == pytest.approx((c[1] - c[0]) / (q[1] - q[0]), rel=1e-12)
        for label, k in flagship.settings.wtp:
            assert row[f"inmb [{label}]"] == pytest.approx(k * (q[1] - q[0]) - (c[1] - c[0]), rel=1e-9)
    # only the price changed: QALYs equal the base case, costs rise by the price difference
    assert frame.loc["price 2m", "qalys_eqcel"] == frame.loc["base case", "qalys_eqcel"]
    # (ITT base case: paid for the infused share, at infusion, discounted over the vein-to-vein time)
    base = flagship.parameters.base()
    share = (1.0 - base["p_not_infused"][0]) * (1.0 + flagship.settings.discount_costs) ** (-base["bridging_months"][0] / 12.0)
    assert frame.loc["price 2m", "inc_cost"] - frame.loc["base case", "inc_cost"] == pytest.approx(640_000.0 * share)
    # no discounting: undiscounted totals exceed discounted ones
    assert frame.loc["undiscounted", "lys_eqcel"] > frame.loc["base case", "lys_eqcel"]


def test_threshold_columns(flagship):
    frame = compare(flagship, [Scenario("stm", model=lambda m: m.with_structure("stm"))],
                    threshold_parameter="c_eqcel_price", threshold_range=(0.0, 5e6))
    label, k = flagship.settings.wtp[0]
    base = dsa.threshold(flagship, "c_eqcel_price", k, 0.0, 5e6).value
    stm = dsa.threshold(flagship.with_structure("stm"), "c_eqcel_price", k, 0.0, 5e6).value
    assert frame[f"threshold [{label}]"].tolist() == pytest.approx([base, stm], rel=1e-12)


def test_each_scenario_shares_one_scan_and_its_searches_with_the_same_numbers():
    rows = []
    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), lambda b: rows.append(b.n) or hiv.evaluate(b))
    scenarios = [Scenario("cheap", overrides={"c_lamivudine": 1000.0}), Scenario("rr", overrides={"rr": 0.7})]
    wtps = [("low", 6000.0), ("high", 12000.0)]
    frame = compare(model, scenarios, wtps=wtps, threshold_parameter="c_lamivudine",
                    threshold_range=(0.0, 20000.0)).set_index("scenario")
    calls = len(rows)
    for scenario in [Scenario("base case")] + scenarios:
        m = scenario.apply(model)
        out = m.evaluate(m.parameters.base())
        assert frame.loc[scenario.name, "cost_combination"] == out.costs[0, 1]  # bit for bit
        for label, k in wtps:
            expected = dsa.threshold(m, "c_lamivudine", k, 0.0, 20000.0).value
            assert frame.loc[scenario.name, f"threshold [{label}]"] == expected
    # per scenario: the base case and the scan in one call, then a few rounds of both WTPs' searches
    assert calls <= 3 * 4


def test_scenario_model_runs_any_analysis(flagship):
    model = Scenario("price 1m", overrides={"c_eqcel_price": 1_000_000.0}).apply(flagship)
    assert model.parameters["c_eqcel_price"].base == 1_000_000.0
    assert model.strategies == flagship.strategies and model.settings is flagship.settings
    assert flagship.parameters["c_eqcel_price"].base == 1_360_000.0  # base model untouched


def test_bad_scenarios(hiv_model):
    with pytest.raises(HtaError, match="unique"):
        compare(hiv_model, [Scenario("a"), Scenario("a")], wtps=1.0)
    with pytest.raises(HtaError, match="with_settings"):
        compare(hiv_model, [Scenario("a", settings={"horizon_years": 10})], wtps=1.0)
    with pytest.raises(HtaError, match="must return a model"):
        compare(hiv_model, [Scenario("a", model=lambda m: 3)], wtps=1.0)
    with pytest.raises(HtaError, match="no parameter named"):
        compare(hiv_model, [Scenario("a", overrides={"nope": 1.0})], wtps=1.0)
