"""The formula-live Excel model (``hta export-excel``, :mod:`hta.excel.formula_model`).

Each workbook is recalculated by LibreOffice headless, as a reviewer's spreadsheet would, and
every total read back is compared with the Python engine on the same inputs (1e-9 relative, the
issue's tolerance; the flagship agrees to about 1e-14). The workbooks hold formulas only, no
cached values, so every number read back was computed by LibreOffice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import broken_workbooks as bw
import numpy as np
import pytest
from openpyxl import load_workbook

from hta.app.cli import main as cli_main
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError
from hta.excel.formula_model import CHECK_TOLERANCE, ModelBook, cumhaz_formula, export, python_lines
from hta.excel.reader import read_inputs
from hta.population.lifetables import LifeTable
from hta.population.utility_norms import UtilityNorms, age_multiplier
from hta.survival.adjust import GeneralPopulation, GeneralPopulationFloor
from hta.survival.curves import DISTRIBUTIONS, make_curve
from models import fucaso_rrmm

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs" / "fucaso_hk.xlsx"

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice on PATH; Debian: apt-get install libreoffice-calc-nogui)")]


@pytest.fixture(scope="module")
def flagship():
    return fucaso_rrmm.build(read_inputs(INPUTS))


def _check_rows(path: Path) -> dict:
    """(strategy, measure, category) -> (Excel value as recalculated, Python value) of the Check sheet."""
    ws = load_workbook(path, data_only=True)["Check"]
    out = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if row[0] is None:
            break
        out[(row[0], row[1], row[2] or "")] = (row[3], row[4])
    return out


def _assert_equal(excel: dict, python: dict, tol: float = CHECK_TOLERANCE) -> float:
    assert set(python) <= set(excel), sorted(set(python) - set(excel))
    worst = 0.0
    for key, (value, _) in excel.items():
        expected = python.get(key, 0.0)
        assert isinstance(value, (int, float)), (key, value)   # an Excel error would be text
        rel = abs(value - expected) / max(abs(expected), 1e-300) if expected else abs(value)
        assert rel <= tol, (key, value, expected, rel)
        worst = max(worst, rel)
    return worst


@pytest.fixture(scope="module")
def recalculated(flagship, tmp_path_factory):
    """Export the flagship (ITT partitioned survival), the state-transition structure with Simpson's
    rule and continuous discounting, and the infused-only analysis counted at the cycles' start;
    recalculate all three with one LibreOffice start."""
    d = tmp_path_factory.mktemp("excel_model")
    models = {
        "psm_itt": flagship,
        "stm_simpson": flagship.with_structure("stm").with_settings(within_cycle="simpson", discount_method="continuous"),
        "psm_infused_start": flagship.with_itt(False).with_settings(within_cycle="start", discount_costs=0.05),
    }
    paths = [export(m, d / f"{name}.xlsx") for name, m in models.items()]
    resaved = bw.libreoffice_resave(paths, d / "lo")
    return {name: (models[name], path) for name, path in zip(models, resaved)}


@pytest.mark.parametrize("case", ["psm_itt", "stm_simpson", "psm_infused_start"])
def test_recalculated_totals_equal_python(recalculated, case):
    model, path = recalculated[case]
    expected = python_lines(model.evaluate(model.parameters.base()), list(model.strategies))
    rows = _check_rows(path)
    # every line, each strategy's totals and the ICER
    assert ("eqcel", "icer", "") in rows and ("cc", "cost", "total") in rows
    assert len(rows) >= 20
    _assert_equal(rows, expected)
    ws = load_workbook(path, data_only=True)["Check"]
    assert ws["I5"].value.startswith("OK"), ws["I5"].value


def test_markov_sheet_is_a_state_transition_model(recalculated):
    # the state-transition workbook computes occupancy from the previous row and the transition
    # probabilities (not from the survival curves), and each row of the trace sums to 1
    _, path = recalculated["stm_simpson"]
    formulas = load_workbook(path.parent.parent / "stm_simpson.xlsx")["eqcel infused"]
    header = {c.value: c.column_letter for c in formulas[3] if c.value}
    pd_col = header["occupancy: progressed"]
    f = formulas[f"{pd_col}10"].value
    assert f.startswith("=") and "9*" in f, f               # refers to row 9, the previous time point
    values = load_workbook(path, data_only=True)["eqcel infused"]
    cols = [header[f"occupancy: {s}"] for s in fucaso_rrmm.STATES]
    for r in (4, 50, 300, 508):
        total = sum(values[f"{c}{r}"].value for c in cols)
        assert abs(total - 1.0) < 1e-12, (r, total)


def test_changed_inputs_recalculate_like_python(flagship, tmp_path):
    # A price, a utility and a survival coefficient changed in the Parameters sheet, recalculated
    # by LibreOffice, give the totals of a Python run with the same three changes.
    path = export(flagship, tmp_path / "model.xlsx")
    changes = {"c_eqcel_price": 2_500_000.0, "u_pf": 0.70, "surv_eqcel_os_log_scale": 4.2}
    wb = load_workbook(path)
    ws = wb["Parameters"]
    found = {}
    for row in ws.iter_rows(min_row=2):
        if row[0].value in changes:
            row[1].value = changes[row[0].value]
            found[row[0].value] = True
    assert set(found) == set(changes)
    wb.save(path)
    resaved = bw.libreoffice_resave(path, tmp_path / "lo")
    batch = flagship.parameters.base().with_values(changes)
    expected = python_lines(flagship.evaluate(batch), list(flagship.strategies))
    base = python_lines(flagship.evaluate(flagship.parameters.base()), list(flagship.strategies))
    rows = _check_rows(resaved)
    _assert_equal(rows, expected)
    # the changes moved the results, and the Check sheet now flags the stale Python column
    assert abs(expected[("eqcel", "icer", "")] - base[("eqcel", "icer", "")]) > 1000
    assert load_workbook(resaved, data_only=True)["Check"]["I5"].value.startswith("DIFFERENT")


# -- every curve family, the life table and the floor ------------------------------------------

FAMILY_CASES = {
    "exponential": {"log_rate": -2.0},
    "weibull": {"log_shape": 0.3, "log_scale": 2.5},
    "weibullph": {"log_shape": -0.2, "log_scale": -2.7},
    "gompertz": {"shape": 0.05, "log_rate": -3.0},
    "gompertz_plateau": {"shape": -0.1, "log_rate": -2.0},
    "lognormal": {"meanlog": 2.5, "log_sdlog": 0.1},
    "loglogistic": {"log_shape": 0.4, "log_scale": 2.2},
    "gamma": {"log_shape": 0.5, "log_rate": -2.0},
    "gengamma": {"mu": 2.4, "log_sigma": -0.3, "Q": 0.6},
    "gengamma_negative_q": {"mu": 2.4, "log_sigma": -0.2, "Q": -0.5},
    "gengamma_q0": {"mu": 2.4, "log_sigma": -0.2, "Q": 0.0},
}


def test_every_family_has_a_formula_form():
    families = {case.split("_")[0] for case in FAMILY_CASES}
    assert families == set(DISTRIBUTIONS), set(DISTRIBUTIONS) ^ families


def test_curve_formulas_floor_life_table_and_utility_norms_match_python(tmp_path):
    grid = CycleGrid(0.25, 48)                         # 12 years in quarters; curves in months
    lt = LifeTable.hong_kong()
    params = {}
    for case, coef in FAMILY_CASES.items():
        for k, v in coef.items():
            params[f"{case}_{k}"] = (v, "", "", "test value")
    settings = {"cycle_years": grid.cycle_years, "n_cycles": grid.n_cycles, "discount_costs": 0.03,
                "discount_outcomes": 0.03, "discount_method": "discrete", "within_cycle": "half-cycle",
                "start_age": 71.5, "male_share": 0.4}
    norms = UtilityNorms.shipped("uk-ara-brazier-2010")
    book = ModelBook(grid=grid, settings=settings, parameters=params, lifetable=lt, utility_norms=norms)
    sheet = book.cycle_sheet("curves", "every family")
    bg = sheet.general_population("bg")
    sheet.age_multiplier("u_mult")
    for case, coef in FAMILY_CASES.items():
        family = case.split("_")[0]
        sheet.parametric_survival(f"S_{case}", family, {k: f"{case}_{k}" for k in coef}, units_per_year=12.0)
    sheet.parametric_survival("S_floored", "exponential", {"log_rate": "exponential_log_rate"},
                              units_per_year=12.0, floor=bg)
    sheet.values("spline", np.linspace(1, 0.5, grid.n_cycles + 1), note="a spline curve has no formula form")
    path = book.save(tmp_path / "curves.xlsx", python_lines={})
    resaved = bw.libreoffice_resave(path, tmp_path / "lo")
    ws = load_workbook(resaved, data_only=True)["curves"]
    t_months = grid.times * 12.0

    def column(name):
        letter = sheet.letter(name)
        return np.array([ws[f"{letter}{sheet.row(k)}"].value for k in range(grid.n_cycles + 1)], dtype=float)

    for case, coef in FAMILY_CASES.items():
        family = case.split("_")[0]
        curve = make_curve(family, np.array([[coef[c] for c in DISTRIBUTIONS[family].coef_names]]))
        np.testing.assert_allclose(column(f"S_{case}_Hc"), curve.cumhaz(t_months)[0], rtol=1e-10, atol=1e-13, err_msg=case)
        np.testing.assert_allclose(column(f"S_{case}"), curve.survival(t_months)[0], rtol=1e-10, atol=1e-15, err_msg=case)
    np.testing.assert_allclose(column("bg_H"), lt.cohort_cumhaz(grid.times, 71.5, 0.4)[0], rtol=1e-12, atol=1e-15)
    multiplier = age_multiplier(norms, 71.5, 0.4, grid.times)[:-1]          # per cycle, at the cycle's start
    np.testing.assert_allclose(column("u_mult")[1:], multiplier, rtol=1e-13)
    assert multiplier[0] == 1.0 and multiplier[-1] < 0.97                    # the step function moved
    background = GeneralPopulation(lt, 71.5, 0.4, years_per_unit=1 / 12)
    floored = GeneralPopulationFloor(make_curve("exponential", np.array([[-2.0]])), background).survival(t_months)[0]
    np.testing.assert_allclose(column("S_floored"), floored, rtol=1e-12)
    assert (column("S_floored") <= column("S_exponential") + 1e-15).all()
    # the value-only column says so on the sheet and on the About sheet
    book_values = load_workbook(resaved, data_only=True)
    assert "values, not formulas" in str(ws[f"{sheet.letter('spline')}1"].value)
    about = " ".join(str(c.value) for row in book_values["About"].iter_rows() for c in row if c.value)
    assert "spline curve has no formula form" in about


def test_unknown_family_is_refused():
    with pytest.raises(HtaError, match="no formula form"):
        cumhaz_formula("royston-parmar", {"gamma0": "g0"}, "t")


# -- the command line ------------------------------------------------------------------------


def test_cli_writes_the_flagship_model(tmp_path, capsys):
    out = tmp_path / "model.xlsx"
    assert cli_main(["export-excel", str(ROOT / "scenarios" / "base_case.py"), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    wb = load_workbook(out)
    assert wb.sheetnames == ["About", "Parameters", "LifeTable", "UtilityNorms", "cc", "eqcel infused", "Results", "Check"]
    assert "c_eqcel_price" in wb.defined_names and "u_pf" in wb.defined_names
    about = " ".join(str(c.value) for row in wb["About"].iter_rows() for c in row if c.value)
    assert "SHA-256 of fucaso_hk.xlsx" in about and "hta version" in about
    # results are formulas, never typed-in numbers
    results = wb["Results"]
    assert all(isinstance(c.value, str) and c.value.startswith("=")
               for row in results.iter_rows(min_col=4, max_col=4) for c in row
               if isinstance(c.value, (int, float)) or (isinstance(c.value, str) and c.value.startswith("=")))


def test_cli_model_without_excel_form_exits_2(tmp_path, capsys):
    script = tmp_path / "scenarios" / "other.py"
    script.parent.mkdir()
    script.write_text("from hta import FunctionModel, ParameterTable\n\n"
                      "def build_model():\n    return FunctionModel('other', ('a', 'b'), ParameterTable(), print)\n\n"
                      "def run(context):\n    pass\n")
    out = tmp_path / "other.xlsx"
    assert cli_main(["export-excel", str(script), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "excel_book()" in err and "Traceback" not in err
    assert not out.exists()


# -- a Markov model from the literature ---------------------------------------------------------


def test_hiv_markov_workbook_reproduces_briggs_exercise_2_5(tmp_path):
    # Briggs, Claxton & Sculpher (2006) Exercise 2.5: monotherapy 44,663.45 and 7.9912 LYs,
    # combination 50,601.65 and 8.9374 LYs (costs at 6%, LYs undiscounted), ICER 6,276 per LY.
    from models import hiv_chancellor as hiv

    book = hiv.excel_book()
    expected = python_lines(hiv.evaluate(hiv.base_values()), list(hiv.STRATEGIES))
    path = book.save(tmp_path / "hiv.xlsx", python_lines=expected)
    rows = _check_rows(bw.libreoffice_resave(path, tmp_path / "lo"))
    _assert_equal(rows, expected)
    assert round(rows[("monotherapy", "cost", "total")][0], 2) == 44663.45
    assert round(rows[("combination", "cost", "total")][0], 2) == 50601.65
    assert round(rows[("monotherapy", "ly", "total")][0], 4) == 7.9912
    assert round(rows[("combination", "ly", "total")][0], 4) == 8.9374
    assert round(rows[("combination", "icer", "")][0]) == 6276


def test_text_from_inputs_never_becomes_a_formula(tmp_path):
    grid = CycleGrid(1.0, 3)
    settings = {"cycle_years": 1.0, "n_cycles": 3, "discount_costs": 0.0, "discount_outcomes": 0.0,
                "discount_method": "discrete", "within_cycle": "end"}
    params = {"c_drug": (100.0, "=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)")}
    book = ModelBook(grid=grid, settings=settings, parameters=params, title="=HYPERLINK(\"x\")")
    sheet = book.cycle_sheet("arm", "-arm label")
    sheet.markov(("alive", "dead"), [1.0, 0.0], {("alive", "dead"): "0.1"})
    sheet.person_time()
    book.line("arm", "cost", "=drug", sheet.state_cost("=drug", {"alive": "c_drug"}))
    book.strategies = [("arm", "=label")]
    path = book.save(tmp_path / "text.xlsx", python_lines={})
    wb = load_workbook(path)
    row = next(r for r in wb["Parameters"].iter_rows() if r[0].value == "c_drug")
    assert [c.value for c in row[2:5]] == ["=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)"]
    assert all(c.data_type == "s" for c in row[2:5])
    assert wb["About"]["A1"].data_type == "s" and wb["arm"]["A1"].data_type == "s"
    results = wb["Results"]
    texts = [c for r in results.iter_rows() for c in r if c.value in ("=drug", "=label")]
    assert texts and all(c.data_type == "s" for c in texts)


def test_time_dependent_markov_workbook_equals_the_thr_model(tmp_path):
    # Briggs-style total hip replacement: age-dependent mortality from the life table and a
    # Weibull revision hazard in time since the operation, all as formulas.
    from models import thr_briggs as thr

    table = thr.parameter_table()
    book = thr.excel_book(table)
    expected = python_lines(thr.evaluate(table.base()), list(thr.STRATEGIES))
    path = book.save(tmp_path / "thr.xlsx", python_lines=expected)
    rows = _check_rows(bw.libreoffice_resave(path, tmp_path / "lo"))
    _assert_equal(rows, expected)
    assert ("np1", "icer", "") in rows


def test_formula_templates_refer_to_rows_and_unknown_columns_are_refused():
    """``{x}`` is row k of column x, ``{x[-1]}`` row k - 1, ``{x[0]}`` row 0 as an absolute
    reference; a template is reused across rows and sheets with each sheet's own letters."""
    grid = CycleGrid(1.0, 3)
    settings = {"cycle_years": 1.0, "n_cycles": 3, "discount_costs": 0.03, "discount_outcomes": 0.03,
                "discount_method": "discrete", "within_cycle": "half-cycle", "start_age": 60.0, "male_share": 0.5}
    book = ModelBook(grid=grid, settings=settings, parameters={"a": (1.0, "", "", "test")})
    one, two = book.cycle_sheet("one", "first"), book.cycle_sheet("two", "second")
    two.column("pad", "0")  # shifts the next column of sheet "two" one letter right
    template = "{k}+{t[-1]}*{t[0]}+a"
    for sheet in (one, two):
        sheet.column("x", template, first="{t[0]}")
    t, x = one.letter("t"), one.letter("x")
    assert one.columns["x"].formulas == ["=$B$4", "=A5+B4*$B$4+a", "=A6+B5*$B$4+a", "=A7+B6*$B$4+a"] and t == "B"
    assert two.letter("x") == chr(ord(x) + 1)
    assert two.columns["x"].formulas[2] == "=A6+B5*$B$4+a"
    with pytest.raises(HtaError, match="formula refers to unknown column 'nope'"):
        one.column("y", "{t}+{nope[-1]}")
    with pytest.raises(HtaError, match="no column 'nope'"):
        one.letter("nope")
