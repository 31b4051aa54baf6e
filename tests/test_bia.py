"""Budget impact analysis (hta.analysis.bia): engine, cost streams from the model, workbook inputs, pipeline."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.analysis import bia
from hta.engine import outcomes, psm
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError, InputError
from hta.params import ParameterTable

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "inputs" / "fucaso_hk.xlsx"


# ---------------------------------------------------------------------------------------------
# A toy model following the model protocol: two strategies, alive/dead, exponential survival.


@dataclasses.dataclass(frozen=True)
class _Settings:
    horizon_years: float = 10.0
    cycle: str = "month"


@dataclasses.dataclass
class ToyModel:
    """'old': HK$ c_old_month per month alive; 'new': one-off c_new at time 0 and nothing else."""

    settings: _Settings = dataclasses.field(default_factory=_Settings)
    c_new: float = 1_000_000.0
    c_old_month: float = 20_000.0
    rate: float = 0.4  # deaths per year

    name = "toy"
    strategies = ("old", "new")
    strategy_labels = {"old": "Old drug", "new": "New drug"}

    @property
    def grid(self):
        return CycleGrid.from_horizon(self.settings.horizon_years, self.settings.cycle)

    @property
    def parameters(self):
        t = ParameterTable()
        t.add("c_new", self.c_new, source="test")
        t.add("c_old_month", self.c_old_month, source="test")
        t.add("rate", self.rate, source="test")
        return t

    def with_settings(self, **changes):
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    def evaluate(self, batch, keep_cohort=False):
        grid = self.grid
        n = batch.n
        rate = np.broadcast_to(batch["rate"], (n,))
        surv = np.exp(-rate[:, None] * grid.times[None, :])
        per_cycle = grid.cycle_years * 12.0
        common = dict(within_cycle="half-cycle", discount_costs=0.035, discount_outcomes=0.035)
        old = outcomes.account(psm.cohort([surv], states=("alive", "dead"), strategy="old"), grid,
                               state_costs={"regimen": np.stack([batch["c_old_month"] * per_cycle, np.zeros(n)], 1)},
                               **common)
        new = outcomes.account(psm.cohort([surv], states=("alive", "dead"), strategy="new"), grid,
                               one_off_costs={"acquisition": batch["c_new"]}, **common)
        return outcomes.Outcomes.from_list([old, new])


def _spec(**changes) -> bia.BudgetInputs:
    """N = 50 patients a year (population 100,000 x 50 per 100,000), new drug 'new', 100% uptake."""
    base = bia.BudgetInputs(start_year=2026, new_strategy="new", population=100_000, population_year=2026,
                            incidence_per_100000=50.0,
                            shares_without=pd.DataFrame({"old": 1.0, "new": 0.0}, index=range(1, 6)),
                            uptake_curve="explicit", uptake_explicit=(1.0,) * 5)
    return base.with_values(**changes) if changes else base


def _old_cost_first(model: ToyModel, years: float) -> float:
    """Independent: the old drug's undiscounted cost per patient over [0, years], trapezoid on months."""
    t = np.arange(int(round(years * 12)) + 1) / 12.0
    s = np.exp(-model.rate * t)
    return float(model.c_old_month * np.sum((s[:-1] + s[1:]) / 2))


# ---------------------------------------------------------------------------------------------
# Must show


@pytest.mark.parametrize("entry, first_year_span", [("mid-year", 0.5), ("start", 1.0)])
def test_full_uptake_of_one_off_drug_year_1_net_is_n_times_c_minus_displaced_costs(entry, first_year_span):
    model = ToyModel()
    out = bia.analyse(model, _spec(entry=entry))
    N, C = 50.0, model.c_new
    displaced = N * _old_cost_first(model, first_year_span)   # the old drug's year-1 costs of those N
    yearly = out["yearly"]
    assert yearly["patients_starting"].iloc[0] == pytest.approx(N, rel=1e-12)
    assert yearly["patients_on_new_drug"].iloc[0] == pytest.approx(N, rel=1e-12)
    assert yearly["net_impact"].iloc[0] == pytest.approx(N * C - displaced, rel=1e-12)
    # the one-off cost falls entirely in the year each cohort starts: year 2 has two cohorts'
    # worth of displaced old-drug costs but only one new acquisition
    second = N * C - N * _old_cost_first(model, first_year_span + 1.0)
    assert yearly["net_impact"].iloc[1] == pytest.approx(second, rel=1e-12)


def test_net_impact_is_zero_when_both_worlds_have_the_same_shares():
    model = ToyModel()
    out = bia.analyse(model, _spec(uptake_scale=0.0))
    result = out["result"]
    assert np.all(result.net == 0.0)
    np.testing.assert_array_equal(result.budget["with"], result.budget["without"])
    # and the engine alone, random profiles and shares
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(3), size=(4, 6))
    b = bia.budget(rng.uniform(0, 100, (4, 6)), {"without": shares, "with": shares}, rng.uniform(0, 1e5, (4, 3, 5, 6)))
    np.testing.assert_array_equal(b["with"] - b["without"], 0.0)
    assert np.abs(b["with"]).sum() > 0


@pytest.fixture(scope="module")
def flagship():
    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm

    inputs = read_inputs(FLAGSHIP)
    return inputs, fucaso_rrmm.build(inputs)


@pytest.mark.parametrize("structure", ["psm", "stm"])
def test_per_patient_costs_summed_over_years_equal_the_models_undiscounted_totals(flagship, structure):
    inputs, model = flagship
    model = model.with_structure(structure)
    from hta.params import Batch

    batch = Batch.concat([model.parameters.base(), model.parameters.sample(3, seed=11)])
    years = math.ceil(model.grid.horizon_years)
    periods, categories, per_year = bia.cost_periods(model, batch, years)
    assert per_year == 2
    full = model.evaluate(batch)
    for i, s in enumerate(model.strategies):
        np.testing.assert_allclose(periods[:, i].sum(axis=(1, 2)), full[s].costs_undiscounted, rtol=1e-11)
        for c, v in full[s].by("cost", "category", discounted=False).items():
            np.testing.assert_allclose(periods[:, i, categories.index(c)].sum(axis=-1), v, rtol=1e-11, atol=1e-6)
    # nothing is left after the model's horizon
    np.testing.assert_allclose(periods[..., -1], 0.0, atol=1e-6)
    # the CAR-T acquisition is a one-off in the first half-year; conventional care spreads over years
    k = categories.index("CAR-T acquisition")
    eq, cc = model.strategies.index("eqcel"), model.strategies.index("cc")
    # (ITT base case: paid only for the infused share, undiscounted)
    np.testing.assert_allclose(periods[:, eq, k, 0], batch["c_eqcel_price"] * (1.0 - batch["p_not_infused"]), rtol=1e-12)
    assert np.all(periods[:, eq, k, 1:] == 0)
    regimen = periods[0, cc, categories.index("conventional-care regimen")]
    assert regimen[0] > regimen[1] > regimen[2] > 0
    # a 5-year profile keeps everything after year 5 in its last column, so totals still agree
    short, _, _ = bia.cost_periods(model, batch, 5)
    assert short.shape[-1] == 11
    np.testing.assert_allclose(short.sum(axis=-1), periods.sum(axis=-1), rtol=1e-11, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Engine


def test_place_costs_is_the_convolution_of_cohorts_and_profiles():
    rng = np.random.default_rng(0)
    n, H, S, C = 3, 5, 2, 4
    entering, shares = rng.uniform(10, 50, (n, H)), rng.dirichlet(np.ones(S), size=(n, H))
    profile = rng.uniform(0, 1e4, (n, S, C, H))
    got = bia.place_costs(entering, shares, profile)
    want = np.zeros((n, H, S, C))
    for r in range(n):                  # a plain loop, as a reference
        for y in range(H):
            for i in range(y + 1):
                want[r, y] += entering[r, i] * shares[r, i][:, None] * profile[r, :, :, y - i]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # rows broadcast: one profile for all rows equals each row computed alone
    one = bia.place_costs(entering, shares, profile[:1])
    np.testing.assert_allclose(one[2], bia.place_costs(entering[2:3], shares[2:3], profile[:1])[0], rtol=1e-13)


def test_calendar_profile_entry_conventions():
    half_years = np.array([[10.0, 1.0, 2.0, 3.0, 4.0, 5.0, 99.0]])   # 3 years + remainder
    np.testing.assert_allclose(bia.calendar_profile(half_years, 2, "start", 3), [[11.0, 5.0, 9.0]])
    np.testing.assert_allclose(bia.calendar_profile(half_years, 2, "mid-year", 3), [[10.0, 3.0, 7.0]])
    with pytest.raises(HtaError, match="mid-year entry needs"):
        bia.calendar_profile(np.ones((1, 4)), 1, "mid-year", 3)


def test_population_projection_and_eligibility():
    spec = _spec(population=7_000_000, population_year=2020, population_growth=0.01, incidence_per_100000=4.0,
                 incidence_growth=0.03, prevalent_patients=12.0,
                 eligible=(("eligible_a", "a", 0.5), ("eligible_b", "b", 0.4)))
    years = np.arange(2026, 2031) - 2020
    cases = 7_000_000 * 1.01 ** years * 4e-5 * 1.03 ** years
    np.testing.assert_allclose(bia.new_cases(spec), cases, rtol=1e-13)
    want = cases * 0.2
    want[0] += 12.0
    np.testing.assert_allclose(bia.entrants(spec), want, rtol=1e-13)
    assert spec.with_values(eligible_b=0.8).value("eligible_b") == 0.8
    with pytest.raises(HtaError, match="no item named 'eligible_c'"):
        spec.with_values(eligible_c=0.1)


def test_uptake_curves():
    lin = _spec(uptake_curve="linear", uptake_year_1=0.1, uptake_peak=0.4, uptake_peak_year=4)
    np.testing.assert_allclose(bia.uptake(lin), [0.1, 0.2, 0.3, 0.4, 0.4])
    s = _spec(uptake_curve="s-shaped", uptake_peak=0.6, uptake_midpoint=3, uptake_steepness=2.0)
    u = bia.uptake(s)
    assert u[2] == pytest.approx(0.3) and np.all(np.diff(u) > 0) and u[-1] < 0.6
    np.testing.assert_allclose(bia.uptake(_spec(uptake_explicit=(0.1, 0.2, 0.3, 0.3, 0.3), uptake_scale=2.0)),
                               [0.2, 0.4, 0.6, 0.6, 0.6])
    with pytest.raises(HtaError, match="from 0 to 1"):
        bia.uptake(_spec(uptake_scale=1.5))
    with pytest.raises(HtaError, match="needs uptake_year_1"):
        bia.uptake(_spec(uptake_curve="linear"))


def test_market_shares_displacement():
    without = pd.DataFrame({"a": 0.6, "b": 0.4, "new": 0.0}, index=range(1, 6))
    spec = _spec(shares_without=without, uptake_explicit=(0.2, 0.3, 0.4, 0.5, 0.5))
    sh = bia.market_shares(spec)
    np.testing.assert_allclose(sh["with"][0], [0.6 - 0.2 * 0.6, 0.4 - 0.2 * 0.4, 0.2])   # proportional
    np.testing.assert_allclose(sh["with"].sum(axis=1), 1.0)
    only_a = spec.with_values(displacement=pd.DataFrame({"a": 1.0, "b": 0.0}, index=range(1, 6)))
    np.testing.assert_allclose(bia.market_shares(only_a)["with"][3], [0.1, 0.4, 0.5])
    too_much = only_a.with_values(uptake_explicit=(0.2, 0.3, 0.4, 0.7, 0.7))
    with pytest.raises(HtaError, match="budget year 4 takes 0.7 from 'a'"):
        bia.market_shares(too_much)


def test_analyse_one_way_rows_match_separate_runs():
    model = ToyModel()
    spec = _spec(uptake_curve="linear", uptake_year_1=0.2, uptake_peak=0.6, uptake_peak_year=3,
                 uptake_explicit=None, ranges={"uptake_peak": (0.4, 0.8), "incidence_per_100000": (40.0, 60.0)},
                 price_parameter="c_new", price_range=(500_000.0, 2_000_000.0))
    out = bia.analyse(model, spec)
    ow = out["one_way"].set_index("factor")
    assert set(ow.index) == {"c_new", "incidence_per_100000", "uptake_peak"}
    assert list(out["one_way"]["swing"]) == sorted(out["one_way"]["swing"], reverse=True)
    assert ow.loc["uptake_peak", "at_high"] == pytest.approx(
        bia.analyse(model, spec.with_values(uptake_peak=0.8))["net_total"], rel=1e-12)
    cheap = dataclasses.replace(model, c_new=500_000.0)
    assert ow.loc["c_new", "at_low"] == pytest.approx(bia.analyse(cheap, spec)["net_total"], rel=1e-12)
    # net impact is linear in the population: 60 per 100,000 gives 1.2 x the base
    assert ow.loc["incidence_per_100000", "at_high"] == pytest.approx(1.2 * out["net_total"], rel=1e-12)


def test_model_without_half_year_cycles_needs_start_entry():
    model = ToyModel(settings=_Settings(horizon_years=10, cycle="year"))
    with pytest.raises(HtaError, match="mid-year entry needs"):
        bia.analyse(model, _spec())
    assert math.isfinite(bia.analyse(model, _spec(entry="start"))["net_total"])


# ---------------------------------------------------------------------------------------------
# Workbook


def test_flagship_budget_inputs_are_sourced(flagship):
    inputs, _ = flagship
    b = inputs.budget
    assert b is not None and b.new_strategy == "eqcel" and b.horizon_years == 5
    assert b.incidence_per_100000 == pytest.approx(320 / 7_524_100 * 1e5)
    assert "320" in b.sources["incidence_per_100000"]
    for name, _, _ in b.eligible:
        assert b.sources[name].lower().startswith("assumption:"), name
    for item in ("uptake_year_1", "uptake_peak", "uptake_peak_year", "prevalent_patients", "entry"):
        assert b.sources[item].lower().startswith("assumption:"), item
    assert b.price_parameter == "c_eqcel_price" and b.price_range == (1_000_000, 2_000_000)


def _edited(tmp_path, edits, name="budget.xlsx"):
    from openpyxl import load_workbook

    path = tmp_path / name
    shutil.copy(FLAGSHIP, path)
    wb = load_workbook(path)
    for sheet, cell, value in edits:
        if cell is None:
            del wb[sheet]
        else:
            wb[sheet][cell] = value
    wb.save(path)
    return path


def _row(sheet, item):
    from openpyxl import load_workbook

    ws = load_workbook(FLAGSHIP)[sheet]
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == item)


@pytest.mark.parametrize("edit, sheet, expected", [
    (("Budget", "B{incidence_per_100000}", "four"), "Budget", "expected a number"),
    (("Budget", "B{new_strategy}", "carvykti"), "Budget", "the name of a strategy"),
    (("Budget", "C{uptake_peak}", 0.9), "Budget", "low <= value <= high"),
    (("Budget", "B{eligible_ha}", 1.5), "Budget", "from 0 to 1"),
    (("Budget", "B{uptake_curve}", "exponential"), "Budget", "one of explicit, linear, s-shaped"),
    (("BudgetShares", "C2", 0.9), "BudgetShares", "sum to 1 in budget year 1"),
    (("BudgetShares", "D3", 0.4), "BudgetShares", "read only for explicit uptake"),
])
def test_bad_budget_inputs_name_workbook_sheet_cell(tmp_path, edit, sheet, expected):
    from hta.excel.reader import read_inputs

    target, cell, value = edit
    if "{" in cell:
        item = cell[cell.index("{") + 1:-1]
        cell = cell[0] + str(_row("Budget", item))
    with pytest.raises(InputError) as err:
        read_inputs(_edited(tmp_path, [(target, cell, value)]))
    text = str(err.value)
    assert "budget.xlsx" in text and f"sheet '{sheet}'" in text and expected in text, text
    if sheet == "Budget":
        assert f"cell {cell}" in text, text


def test_missing_shares_sheet_and_infeasible_one_way_are_reported(tmp_path):
    from hta.excel.reader import validate

    problems = validate(_edited(tmp_path, [("BudgetShares", None, None)]))
    assert [p.sheet for p in problems] == ["BudgetShares"] and "needs both" in problems[0].expected
    # uptake_peak high of 1.0 with uptake_scale 1.5 cannot fit
    r = _row("Budget", "uptake_scale")
    path = _edited(tmp_path, [("Budget", f"B{r}", 1.0), ("Budget", f"C{r}", 0.5), ("Budget", f"D{r}", 2.5),
                              ("Budget", f"G{r}", "test fixture")], name="scale.xlsx")
    problems = validate(path)
    assert len(problems) == 1 and problems[0].sheet == "Budget"
    assert "uptake_scale = 2.5" in problems[0].expected and "uptake" in problems[0].found


def test_template_budget_sheet_is_documented_and_blank_budget_is_absent(tmp_path):
    from openpyxl import load_workbook

    from hta.excel import schema as S
    from hta.excel.template import write_template

    path = write_template(tmp_path / "t.xlsx")
    book = load_workbook(path)
    items = [c.value for c in book["Budget"]["A"][1:] if c.value]
    assert items[:len(S.BUDGET_ITEMS)] == [s.name for s in S.BUDGET_ITEMS]
    readme = "\n".join(str(c.value) for c in book["README"]["A"] if c.value)
    docs = (ROOT / "docs" / "inputs.md").read_text()
    for s in S.BUDGET_ITEMS:
        assert f"  {s.name}" in readme and f"`{s.name}`" in docs, s.name
    assert "`eligible_<name>`" in docs
    from hta.excel.reader import validate

    assert not [p for p in validate(path) if p.sheet.startswith("Budget")]


# ---------------------------------------------------------------------------------------------
# Pipeline


def test_pipeline_reports_the_budget_impact(flagship):
    from hta.analysis import BudgetImpact, analyse
    from hta.report.console import console_table
    from hta.report.publish import sections

    inputs, model = flagship
    results = analyse(model, BudgetImpact(inputs.budget, ({"name": "price 4M", "parameters": {"c_eqcel_price": 4e6}},)),
                      name="bia")
    out = results.analyses["bia"].frames
    rendered = sections(results)
    yearly = out["yearly"]
    assert list(yearly["calendar_year"]) == [2026, 2027, 2028, 2029, 2030]
    assert out["net_total"] == pytest.approx(yearly["net_impact"].sum(), rel=1e-12)
    assert results.analyses["bia"].net_total == out["net_total"] > 0
    # by category sums to the totals of each world
    cat = out["by_category"]
    for w, col in (("without", "budget_without"), ("with", "budget_with")):
        np.testing.assert_allclose(cat[cat["world"] == w][[str(y) for y in yearly["calendar_year"]]].sum().to_numpy(),
                                   yearly[col].to_numpy(), rtol=1e-12)
    # a higher price raises the net impact by (4M - base price) x patients on eque-cel
    scen = out["scenarios"].set_index("scenario")
    on = scen.loc["base case", "patients on new drug"]
    # (ITT base case: the acquisition is paid for the infused share only)
    delta = (4e6 - model.parameters["c_eqcel_price"].base) * on * (1.0 - model.parameters["p_not_infused"].base)
    assert scen.loc["price 4M", "net over 5 years"] - scen.loc["base case", "net over 5 years"] == pytest.approx(delta)
    names = [s.name for s in rendered["bia"].sheets]
    assert names[0] == "BIA" and "BIA sensitivity" in names
    assert "net budget impact over 5 years" in console_table(results, rendered)


def test_cli_bad_budget_exits_2_without_traceback_or_files(tmp_path, capsys):
    from hta.app.cli import main

    path = _edited(tmp_path, [("BudgetShares", "C2", 0.9)])
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hta: error:") and "Traceback" not in err
    assert "budget.xlsx" in err and "sheet 'BudgetShares'" in err
    script = tmp_path / "scenario.py"
    script.write_text("from hta.excel.reader import read_inputs\n"
                      f"def run(context):\n    read_inputs(r'{path}')\n    raise AssertionError('unreachable')\n")
    out_dir = tmp_path / "results"
    assert main(["run", str(script), "--out", str(out_dir)]) == 2
    assert "Traceback" not in capsys.readouterr().err and not out_dir.exists()


def test_explicit_uptake_and_year_rows_override_the_every_year_row(tmp_path):
    from hta.excel.reader import read_inputs

    curve = _row("Budget", "uptake_curve")
    edits = [("Budget", f"B{curve}", "explicit")]
    for k in ("uptake_year_1", "uptake_peak"):   # their one-way ranges apply to linear curves only
        edits += [("Budget", f"C{_row('Budget', k)}", None), ("Budget", f"D{_row('Budget', k)}", None)]
    for i, (y, u) in enumerate([(1, 0.1), (2, 0.2), (3, 0.3), (4, 0.35), (5, 0.4)]):
        r = 4 + i
        edits += [("BudgetShares", f"A{r}", "eqcel"), ("BudgetShares", f"B{r}", y), ("BudgetShares", f"C{r}", 0.0),
                  ("BudgetShares", f"D{r}", u), ("BudgetShares", f"F{r}", "test fixture")]
    b = read_inputs(_edited(tmp_path, edits)).budget
    assert b.uptake_explicit == (0.1, 0.2, 0.3, 0.35, 0.4)
    np.testing.assert_allclose(bia.market_shares(b)["with"][:, b.strategies.index("cc")], [0.9, 0.8, 0.7, 0.65, 0.6])


def test_weekly_cycles_give_nearly_the_monthly_budget(flagship):
    inputs, model = flagship
    monthly = bia.analyse(model, inputs.budget)["net_total"]
    weekly = bia.analyse(model.with_settings(cycle="week"), inputs.budget)["net_total"]
    assert weekly == pytest.approx(monthly, rel=0.01)


def test_bad_scenarios_are_errors_not_silent():
    model = ToyModel()
    with pytest.raises(HtaError, match="entry expected one of mid-year, start; found 'midyear'"):
        bia.analyse(model, _spec(), scenarios=[{"name": "typo", "budget": {"entry": "midyear"}}])
    with pytest.raises(HtaError, match="scenario 'x': budget impact: no item named 'uptake'"):
        bia.analyse(model, _spec(), scenarios=[{"name": "x", "budget": {"uptake": 0.5}}])
    with pytest.raises(HtaError, match="no model parameter named 'price'"):
        bia.analyse(model, _spec(), scenarios=[{"name": "x", "parameters": {"price": 1.0}}])
