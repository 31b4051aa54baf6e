"""Issue 19: settings defaults, what-if values outside the PSA range, where scripts find inputs,
and publishing a model that has no survival curves, structure or budget impact.

Checks are against values set in the test (a what-if is the value given; the PSA draws are the
table's own, compared draw by draw) or against the files the publisher writes.
"""

import dataclasses
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from hta import Settings, analyse, inputs_path, publish
from hta.errors import HtaError
from hta.params import ParameterTable
from hta.params.distributions import Beta, Dirichlet

REPO = Path(__file__).resolve().parents[1]


def three_state():
    spec = importlib.util.spec_from_file_location("three_state_example", REPO / "scenarios" / "three_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- settings -----------------------------------------------------------------------------------

def test_simple_settings_default_what_a_model_does_not_use():
    s = Settings.simple(40, "year", 0.035, wtp=[20_000, 30_000])
    assert s.start_age is None and s.male_share is None
    assert s.wtp == (("WTP 1", 20_000.0), ("WTP 2", 30_000.0))
    assert (s.discount_costs, s.discount_outcomes, s.within_cycle) == (0.035, 0.035, "half-cycle")
    t = Settings.simple(20, "year", (0.06, 0.0), wtp=[("lower", 10_000)], currency="GBP", effect="LY")
    assert (t.discount_costs, t.discount_outcomes, t.wtp, t.currency_symbol) == (0.06, 0.0, (("lower", 10_000.0),), "£")


@pytest.mark.parametrize("wtp", [[-1], ["x"], [float("nan")]])
def test_settings_refuse_a_wtp_that_is_not_a_positive_number(wtp):
    with pytest.raises(HtaError, match="WTP 1"):
        Settings.simple(10, wtp=wtp)


def test_workbook_reader_still_requires_start_age(tmp_path):
    """The reader's required settings are unchanged (docs/inputs.md): a workbook without
    start_age is refused, naming the setting."""
    import broken_workbooks as bw

    from hta.excel.reader import validate

    sheets = bw.valid_rows()
    sheets["Settings"] = [row for row in sheets["Settings"] if not (row and row[0] == "start_age")]
    problems = validate(bw.write_workbook(tmp_path / "no_age.xlsx", sheets))
    assert any("start_age" in p.expected for p in problems)


# -- what-if values outside the PSA range -------------------------------------------------------

def table():
    t = ParameterTable()
    t.add("u_pf", dist=Beta.from_mean_se(0.70, 0.03), source="test")
    t.add_block(["p_a", "p_b"], Dirichlet([30, 70]), source="test")
    t.add("c", 100.0, source="test")
    return t


def test_replace_accepts_a_base_outside_the_psa_interval_and_keeps_the_distribution():
    t = table()
    w = t.replace("u_pf", base=0.80)  # the example: 0.80 lies above the 97.5th percentile
    assert w["u_pf"].base == 0.80 and w["u_pf"].dist is t["u_pf"].dist
    assert (w["u_pf"].low, w["u_pf"].high) == (t["u_pf"].low, t["u_pf"].high)
    np.testing.assert_array_equal(w.sample(200, seed=3)["u_pf"], t.sample(200, seed=3)["u_pf"])
    [note] = w.outside_range()
    assert "u_pf" in note and "0.8" in note and "unchanged" in note
    assert t.outside_range() == [] and w.replace("u_pf", base=0.70).outside_range() == []


def test_with_overrides_records_a_value_fixed_outside_its_range():
    w = table().with_overrides(u_pf=0.95, c=250.0)
    assert w["u_pf"].is_fixed and w["u_pf"].base == 0.95
    assert [n.split(":")[0] for n in w.outside_range()] == ["parameter 'u_pf'"]  # c was fixed already


def test_block_member_base_outside_its_range_is_noted():
    w = table().replace("p_a", base=0.6)
    assert any("p_a" in n for n in w.outside_range())


def test_what_if_note_reaches_the_summary_and_the_console(tmp_path, capsys):
    model = three_state().build_model()
    model = dataclasses.replace(model, parameters=model.parameters.replace("u_sick", base=0.95))
    results = analyse(model, name="what_if")
    assert any("u_sick" in n for n in results.notes)
    publish(results, tmp_path, figures=False)
    assert "note: parameter 'u_sick': base 0.95 lies outside its range" in capsys.readouterr().out
    ws = openpyxl.load_workbook(tmp_path / "what_if.xlsx", read_only=True)["Summary"]
    # in the Summary notes, with the parameter's label in place of its name (issue 20)
    assert any("base 0.95 lies outside its range" in str(row[0]) for row in ws.iter_rows(max_row=12, values_only=True))


# -- publishing what a model has ----------------------------------------------------------------

def test_markov_model_with_two_structures_and_no_survival_or_budget(tmp_path, capsys):
    """Many structures, no survival curves, no budget impact, no start age: each part appears
    only when its analysis ran."""
    from hta.analysis import OneWay

    model = three_state().build_model()
    monthly = dataclasses.replace(model, settings=dataclasses.replace(model.settings, cycle="month"))
    results = analyse(model, OneWay(), name="two_structures", alternatives={"monthly cycles": monthly})
    publish(results, tmp_path, figures=True)
    out = capsys.readouterr().out
    assert "monthly cycles" in out and out.count("ICER £") == 2
    book = openpyxl.load_workbook(tmp_path / "two_structures.xlsx", read_only=True)
    assert book.sheetnames[:3] == ["Decision", "Contents", "Summary"]
    assert {"Incremental", "NMB", "Disaggregated"} <= set(book.sheetnames)
    assert "One-way" in book.sheetnames and "Budget" not in book.sheetnames and "PSA summary" not in book.sheetnames
    assert not [s for s in book.sheetnames if s.startswith("Survival")]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["two_structures_tornado.png", "two_structures_trace.png"]


# -- where scripts find their inputs --------------------------------------------------------------

def test_inputs_path_searches_env_then_cwd_then_the_script_repository(tmp_path, monkeypatch):
    script = REPO / "scenarios" / "base_case.py"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HTA_INPUTS", raising=False)
    assert inputs_path("fucaso_hk.xlsx", script) == REPO / "inputs" / "fucaso_hk.xlsx"
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "fucaso_hk.xlsx").write_bytes(b"cwd")
    assert inputs_path("fucaso_hk.xlsx", script) == tmp_path / "inputs" / "fucaso_hk.xlsx"
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "fucaso_hk.xlsx").write_bytes(b"env")
    monkeypatch.setenv("HTA_INPUTS", str(elsewhere))
    assert inputs_path("fucaso_hk.xlsx", script) == elsewhere / "fucaso_hk.xlsx"
    with pytest.raises(HtaError, match="nothing.xlsx.*HTA_INPUTS"):
        inputs_path("nothing.xlsx", script)


@pytest.mark.slow
def test_a_copied_scenario_script_runs_from_the_repository_root(tmp_path):
    """scenarios/cure_model.py copied out of the repository, run from the repository root: it finds
    models/ and inputs/fucaso_hk.xlsx through the current directory."""
    shutil.copy(REPO / "scenarios" / "cure_model.py", tmp_path / "cure_model.py")
    done = subprocess.run([sys.executable, "-m", "hta", "run", str(tmp_path / "cure_model.py"), "--out",
                           str(tmp_path / "out"), "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "cure_model.xlsx").is_file()


def linear_outcomes(batch):
    """Closed form: cost = c + (price for the new strategy), QALYs = q (+ gain for it)."""
    from types import SimpleNamespace

    costs = np.column_stack([batch["c"], batch["c"] + batch["price"]])
    qalys = np.column_stack([batch["q"], batch["q"] + batch["gain"]])
    return SimpleNamespace(costs=costs, qalys=qalys, lys=qalys,
                           costs_undiscounted=costs, qalys_undiscounted=qalys, lys_undiscounted=qalys)


def test_a_function_model_without_grid_or_cohorts_publishes(tmp_path, capsys):
    """FunctionModel (no grid, no traces, no curves): Summary with the ICER price / gain."""
    from hta import FunctionModel

    t = ParameterTable().add("c", 1000.0).add("price", 5000.0).add("q", 4.0).add("gain", 0.25)
    model = FunctionModel(name="linear", strategies=("old", "new"), parameters=t, evaluate=linear_outcomes,
                          settings=Settings.simple(10, "year", 0.0, wtp=[30_000]))
    results = analyse(model, name="linear")
    assert results.summary.set_index("strategy").loc["new", "icer"] == pytest.approx(5000 / 0.25)
    publish(results, tmp_path, quiet=True)
    book = openpyxl.load_workbook(tmp_path / "linear.xlsx", read_only=True)
    assert book.sheetnames == ["Decision", "Contents", "Summary", "Incremental", "NMB", "Inputs", "Run info",
                               "Disaggregated"]
    assert "ICER HK$20,000 per QALY" in capsys.readouterr().out


def test_non_finite_totals_are_refused_before_anything_is_written(tmp_path):
    """Issue 25 point 3: outputs are checked finite before they are written."""
    import numpy as np

    from hta import HtaError

    results = analyse(three_state().build_model(), name="nan")
    results.summary.loc[0, "cost"] = np.nan
    with pytest.raises(HtaError, match=r"results table 'Summary'.*column 'cost', row 0"):
        publish(results, tmp_path / "out", figures=False)
    assert not (tmp_path / "out").exists()
