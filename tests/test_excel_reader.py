"""Tests of the input workbook reader and validator (hta.excel.reader)."""

from __future__ import annotations

import math
from pathlib import Path

import broken_workbooks as bw
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hta.errors import InputError
from hta.excel.reader import read_inputs, validate

REFDATA = Path("/work/shared/refdata")


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return read_inputs(bw.valid_workbook(tmp_path_factory.mktemp("valid")))


# ---------------------------------------------------------------------------------------------
# The valid workbook reads into the right objects


def test_settings_are_typed(valid):
    s = valid.settings
    assert s.horizon_years == 20.0 and s.cycle == "month" and s.within_cycle == "half-cycle"
    assert s.discount_costs == 0.03 and s.discount_outcomes == 0.03
    assert s.discount_method == "discrete" and s.currency == "HKD"
    assert s.start_age == 60.0 and s.male_share == 0.55 and s.life_table == "hk-2020-2025"
    assert s.seed == 2024 and isinstance(s.seed, int) and s.psa_draws == 1000
    assert s.annual_population is None and s.model == "test_model"
    assert s.wtp == (("1x test threshold", 400000.0), ("3x test threshold", 1200000.0))
    np.testing.assert_array_equal(s.wtp_values, [400000.0, 1200000.0])
    assert s.sources["horizon_years"] == bw.SOURCE


def test_file_identity(valid, tmp_path):
    import hashlib

    path = bw.valid_workbook(tmp_path)
    inputs = read_inputs(path)
    assert inputs.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert inputs.path == path.resolve()


def test_beta_from_mean_se_is_method_of_moments(valid):
    # Briggs, Claxton & Sculpher (2006), Decision Modelling for Health Economic Evaluation,
    # section 4.3: alpha + beta = m(1-m)/se^2 - 1. m = 0.6, se = 0.05 -> 95, so alpha 57, beta 38.
    p = valid.parameters["p_response"]
    assert p.base == 0.6
    assert p.dist.alpha == pytest.approx(57.0) and p.dist.beta == pytest.approx(38.0)
    # low/high default to the 2.5th and 97.5th percentiles
    assert p.low == pytest.approx(stats.beta.ppf(0.025, 57, 38), rel=1e-9)
    assert p.high == pytest.approx(stats.beta.ppf(0.975, 57, 38), rel=1e-9)
    assert p.group == "efficacy" and p.unit == "probability" and p.source == bw.SOURCE


def test_gamma_lognormal_normal_uniform_triangular_fixed(valid):
    t = valid.parameters
    # gamma by mean/se: shape = (m/se)^2 = 25, scale = se^2/m = 200
    assert t["c_admin"].dist.shape == pytest.approx(25.0)
    assert t["c_admin"].dist.scale == pytest.approx(200.0)
    # gamma by native parameters: shape 4, scale 500; base value kept as given
    assert (t["c_monitor"].dist.shape, t["c_monitor"].dist.scale) == (4.0, 500.0)
    assert t["c_monitor"].base == 2000.0
    # lognormal by native parameters
    hr = t["hr_os"]
    assert hr.dist.meanlog == pytest.approx(math.log(0.7)) and hr.dist.sdlog == 0.1
    assert hr.low == pytest.approx(math.exp(math.log(0.7) - 1.959963984540054 * 0.1))
    # normal with explicit one-way range
    rr = t["rr_scale"]
    assert (rr.low, rr.high) == (0.8, 1.2)
    np.testing.assert_allclose(rr.dist.ppf(np.array([[0.975]])), [[1.0 + 0.1 * 1.959963984540054]])
    # uniform and triangular
    assert t["p_uniform"].dist.interval(0.95)[:, 0] == pytest.approx([0.2 + 0.6 * 0.025,
                                                                       0.2 + 0.6 * 0.975])
    assert t["p_uniform"].source.startswith("assumption:")
    tri = t["t_mode"].dist
    assert (tri.low, tri.mode, tri.high) == (1.0, 3.0, 5.0)
    # blank distribution = fixed, low = high = value
    drug = t["c_drug"]
    assert drug.is_fixed and drug.low == drug.high == drug.base == 1200000.0


def test_parameter_order_and_names(valid):
    assert valid.parameters.names[:3] == ["p_response", "u_pfs", "c_drug"]
    assert len(valid.parameters) == 9 + 3


def test_dirichlet_block(valid):
    block = valid.dirichlet["best_response"]
    assert block.names == ("p_cr", "p_pr", "p_sd")
    np.testing.assert_array_equal(block.counts, [10, 20, 5])
    # base values are count / total
    assert valid.parameters["p_pr"].base == pytest.approx(20 / 35)
    assert valid.parameters["p_cr"].block == ("p_cr", "p_pr", "p_sd")


def test_strategies(valid):
    assert list(valid.strategies["strategy"]) == ["soc", "cart"]
    assert list(valid.strategies["label"]) == ["Standard of care", "CAR-T"]


def test_survival_inputs(valid):
    assert set(valid.survival) == {("soc", "PFS"), ("soc", "OS"), ("cart", "PFS"),
                                   ("cart", "OS")}
    pfs = valid.survival[("soc", "PFS")]
    assert pfs.kind == "parametric" and pfs.distribution == "weibull"
    assert pfs.time_unit == "months" and pfs.coef_names == ("log_shape", "log_scale")
    np.testing.assert_array_equal(pfs.coef, [0.1, 2.5])
    np.testing.assert_array_equal(pfs.cov, [[0.01, 0.002], [0.002, 0.02]])
    os_ = valid.survival[("soc", "OS")]
    assert os_.cov is None and os_.coef_names == ("log_rate",)
    km = valid.survival[("cart", "PFS")]
    assert km.kind == "km" and km.n_at_risk_0 == 100 and km.data_sheet == "KM_cart_PFS"
    assert list(km.km.columns) == ["time", "survival"] and len(km.km) == 10
    assert list(km.at_risk["n_at_risk"]) == [100, 70, 40]
    ipd = valid.survival[("cart", "OS")]
    assert ipd.ipd["event"].dtype.kind == "i" and ipd.ipd["event"].sum() == 6
    assert ipd.distribution is None


def test_validate_valid_workbook_is_empty(tmp_path):
    assert validate(bw.valid_workbook(tmp_path)) == []


# ---------------------------------------------------------------------------------------------
# Every broken workbook names the workbook, sheet, cell, expected and found


@pytest.mark.parametrize("name", sorted(bw.BROKEN))
def test_broken_workbook_is_reported(name, tmp_path):
    case = bw.BROKEN[name]
    path = case.build(tmp_path)
    with pytest.raises(InputError) as info:
        read_inputs(path)
    message = str(info.value)
    assert path.name in message
    problems = info.value.problems
    matching = [p for p in problems
                if p.sheet == case.sheet and p.cell == case.cell
                and case.expected in p.expected and case.found in p.found]
    assert matching, f"no problem at {case.sheet}!{case.cell} in:\n{message}"
    assert all(p.workbook == path.name for p in problems)
    text = str(matching[0])
    if case.sheet:
        assert f"sheet '{case.sheet}'" in text
    if case.cell:
        assert f"cell {case.cell}" in text
    assert f"expected {matching[0].expected}" in text and f"found {matching[0].found}" in text
    assert validate(path) == problems


def test_single_problem_per_broken_cell(tmp_path):
    # One wrong cell gives one problem, not a cascade of follow-on complaints.
    for name in ["text_in_numeric_cell", "unknown_distribution", "beta_mean_above_1",
                 "negative_cost", "duplicate_parameter_names", "rising_km",
                 "formula_without_cached_value", "empty_required_cell", "missing_column"]:
        assert len(validate(bw.BROKEN[name].build(tmp_path))) == 1, name


def test_all_problems_reported_at_once(tmp_path):
    with pytest.raises(InputError) as info:
        read_inputs(bw.several_problems(tmp_path))
    found = {(p.sheet, p.cell) for p in info.value.problems}
    assert found == {("Settings", "B3"), ("Parameters", "B3"), ("Parameters", "B4"),
                     ("KM_cart_PFS", "B8")}
    assert str(info.value).startswith("4 problems in the inputs:")


# ---------------------------------------------------------------------------------------------
# Accepted variations


def test_formula_with_cached_value_is_accepted(tmp_path):
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Parameters"], "B5", "=1000*5")
    path = bw.write_workbook(tmp_path / "cached.xlsx", sheets)
    assert validate(path)  # no cached value yet
    bw.with_cached_values(path, {"1000*5": "5000"})
    assert read_inputs(path).parameters["c_admin"].base == 5000.0


def test_headers_free_order_case_and_blank_rows(tmp_path, valid):
    sheets = bw.valid_rows()
    params = sheets["Parameters"]
    order = list(reversed(range(len(params[0]))))
    sheets["Parameters"] = [[row[j] if j < len(row) else None for j in order] for row in params]
    sheets["Parameters"][0] = [f"  {h.upper()} " for h in sheets["Parameters"][0]]
    sheets["Parameters"].insert(3, [None] * len(order))  # a blank row
    sheets["Parameters"][1].append("a note in an unknown column")
    sheets["Parameters"][0].append("notes")
    inputs = read_inputs(bw.write_workbook(tmp_path / "shuffled.xlsx", sheets))
    pd.testing.assert_frame_equal(inputs.parameters.to_frame(), valid.parameters.to_frame())


def test_km_survival_in_percent(tmp_path):
    sheets = bw.valid_rows()
    for row in sheets["KM_cart_PFS"][1:]:
        row[1] = row[1] * 100
    inputs = read_inputs(bw.write_workbook(tmp_path / "pct.xlsx", sheets))
    np.testing.assert_allclose(inputs.survival[("cart", "PFS")].km["survival"],
                               [r[1] for r in bw.KM[1:]])


def test_n_at_risk_0_taken_from_at_risk_table(tmp_path):
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Survival"], "G4", None)
    inputs = read_inputs(bw.write_workbook(tmp_path / "n0.xlsx", sheets))
    assert inputs.survival[("cart", "PFS")].n_at_risk_0 == 100


def _bonner_sheets(surv: pd.DataFrame, nrisk: pd.DataFrame) -> dict:
    sheets = bw.valid_rows()
    km = [["time", "survival", "at_risk_time", "n_at_risk"]]
    for i, (t, s) in enumerate(zip(surv.iloc[:, 0], surv.iloc[:, 1])):
        row = [float(t), float(s), None, None]
        if i < len(nrisk):
            row[2:] = [float(nrisk["Time"].iloc[i]), int(nrisk["nrisk"].iloc[i])]
        km.append(row)
    sheets["KM_cart_PFS"] = km
    bw.set_cell(sheets["Survival"], "G4", 213)
    return sheets


def test_published_bonner_curve_passes(tmp_path):
    # Bonner et al., NEJM 2006, radiotherapy arm as cleaned for Guyot et al. (2012): the
    # published at-risk table (213, 122, 80, 51, 30, 10 at months 0-50) is consistent with
    # the curve, so validation must accept it.
    surv = pd.read_csv(REFDATA / "guyot_bonner_RT_surv.txt", sep="\t")[["time", "survival"]]
    nrisk = pd.read_csv(REFDATA / "guyot_bonner_RT_nrisk.txt", sep="\t")
    inputs = read_inputs(bw.write_workbook(tmp_path / "bonner.xlsx",
                                           _bonner_sheets(surv, nrisk)))
    curve = inputs.survival[("cart", "PFS")]
    assert curve.n_at_risk_0 == 213 and len(curve.km) == len(surv)
    assert list(curve.at_risk["n_at_risk"]) == [213, 122, 80, 51, 30, 10]


def test_raw_digitised_bonner_curve_is_read_and_a_far_negative_time_is_not(tmp_path):
    # The raw digitised points (IPDfromKM::Radiationdata) start at -0.512 months, within the
    # tolerance (2% of the last time, 58.1): read as digitised, for the reconstruction to clean.
    raw = pd.read_csv(REFDATA / "IPDfromKM_Radiationdata_raw_digitised.csv")
    raw = raw[raw["arm"] == "RT"][["time", "surv_pct"]]
    nrisk = pd.read_csv(REFDATA / "guyot_bonner_RT_nrisk.txt", sep="\t")
    inputs = read_inputs(bw.write_workbook(tmp_path / "raw.xlsx", _bonner_sheets(raw, nrisk)))
    curve = inputs.survival[("cart", "PFS")]
    assert curve.km["time"].min() == -0.512 and curve.km["survival"].max() == pytest.approx(0.989)
    # -5 months is not digitisation error: the validator points at that cell.
    raw.iloc[0, 0] = -5.0
    problems = validate(bw.write_workbook(tmp_path / "far.xlsx", _bonner_sheets(raw, nrisk)))
    assert [(p.sheet, p.cell, p.found) for p in problems] == [("KM_cart_PFS", "A2", "-5")]
    assert "read as 0" in problems[0].expected


# ---------------------------------------------------------------------------------------------
# Further checks


def _problems_after(tmp_path, changes: dict[tuple[str, str], object], extra=None):
    sheets = bw.valid_rows()
    for (sheet, cell), value in changes.items():
        bw.set_cell(sheets[sheet], cell, value)
    if extra:
        extra(sheets)
    return validate(bw.write_workbook(tmp_path / "case.xlsx", sheets))


def test_assumption_needs_a_rationale(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "L8"): "Assumption"})
    assert [(p.cell, p.found) for p in problems] == [("L8", "'assumption' with no rationale")]


def test_missing_required_setting_row(tmp_path):
    problems = _problems_after(tmp_path, {}, lambda s: s["Settings"].pop(3))  # cycle row
    assert len(problems) == 1 and "required setting 'cycle'" in problems[0].expected


def test_discount_rate_above_range(tmp_path):
    problems = _problems_after(tmp_path, {("Settings", "B6"): 0.25})
    assert [(p.cell, p.found) for p in problems] == [("B6", "0.25")]
    assert "from 0 to 0.2" in problems[0].expected


def test_choice_values_are_case_insensitive(tmp_path):
    assert _problems_after(tmp_path, {("Settings", "B4"): "Month",
                                      ("Survival", "C2"): "Parametric"}) == []


def test_beta_se_too_large_points_at_se(tmp_path):
    # sd of a beta is below sqrt(m(1-m)) = sqrt(0.24) = 0.49 for m = 0.6
    problems = _problems_after(tmp_path, {("Parameters", "E2"): 0.5})
    assert [(p.cell, p.found) for p in problems] == [("E2", "0.5")]


def test_low_above_value(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "H7"): 1.05})
    assert [(p.cell, p.found) for p in problems] == [("H7", "1.05")]


def test_normal_without_se(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "E7"): None})
    assert [(p.cell, p.found) for p in problems] == [("E7", "an empty cell")]


def test_fixed_with_se_is_an_error(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "E4"): 100})
    assert [(p.cell, p.found) for p in problems] == [("E4", "100")]


def test_bad_identifier(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "A2"): "p response"})
    assert [(p.cell, p.found) for p in problems] == [("A2", "text 'p response'")]


def test_asymmetric_covariance(tmp_path):
    problems = _problems_after(tmp_path, {("SurvivalCoefficients", "F2"): 0.003})
    assert [(p.cell, p.found) for p in problems] == [("F2, E3", "0.003 and 0.002")]


def test_partial_covariance(tmp_path):
    problems = _problems_after(tmp_path, {("SurvivalCoefficients", "F3"): None})
    assert [(p.cell, p.found) for p in problems] == [("F3", "an empty cell")]


def test_missing_data_sheet(tmp_path):
    problems = _problems_after(tmp_path, {}, lambda s: s.pop("IPD_cart_OS"))
    assert [(p.sheet, p.cell) for p in problems] == [("Survival", "F5")]


def test_ipd_event_not_binary(tmp_path):
    problems = _problems_after(tmp_path, {("IPD_cart_OS", "B3"): 2})
    assert [(p.sheet, p.cell, p.found) for p in problems] == [("IPD_cart_OS", "B3", "2")]


def test_life_table_sheet(tmp_path):
    problems = _problems_after(tmp_path, {("Settings", "B12"): "sheet"})
    assert [(p.sheet, p.found) for p in problems] == [("LifeTable", "no such sheet (sheets: "
        "Settings, Parameters, Dirichlet, Strategies, Survival, SurvivalCoefficients, "
        "KM_cart_PFS, IPD_cart_OS)")]
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Settings"], "B12", "sheet")
    sheets["LifeTable"] = [["age", "sex", "mx"], [61, "female", 0.004], [60, "Male", 0.008],
                           [60, "female", 0.0035]]
    table = read_inputs(bw.write_workbook(tmp_path / "lt.xlsx", sheets)).lifetable
    assert list(table["sex"]) == ["female", "female", "male"]
    assert list(table["age"]) == [60, 61, 60] and table["mx"].iloc[2] == 0.008


def test_number_stored_as_text_is_accepted_but_not_with_separators(tmp_path):
    assert _problems_after(tmp_path, {("Parameters", "B2"): " 0.6 "}) == []
    problems = _problems_after(tmp_path, {("Parameters", "B4"): "1,200,000"})
    assert [(p.cell, p.found) for p in problems] == [("B4", "text '1,200,000'")]


# ---------------------------------------------------------------------------------------------
# Workbooks saved by a spreadsheet program (LibreOffice headless)


@pytest.mark.libreoffice
def test_libreoffice_calculates_formulas(tmp_path):
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Parameters"], "B5", "=1000*5")
    bw.set_cell(sheets["Parameters"], "B3", "=1/0")
    path = bw.write_workbook(tmp_path / "formulas.xlsx", sheets)
    assert {p.cell for p in validate(path)} == {"B3", "B5"}  # neither has a cached value
    problems = validate(bw.libreoffice_resave(path, tmp_path / "resaved"))
    # B5 now reads as 5000; B3 holds the cached error value and is reported as such
    assert [(p.cell, p.found) for p in problems] == [
        ("B3", "the Excel error #DIV/0! (the cell's formula failed)")]


def test_proportion_typo_is_not_read_as_percent(tmp_path):
    # 1.5 among proportions is a typo; reading the sheet as percent would silently divide
    # every point by 100.
    problems = _problems_after(tmp_path, {("KM_cart_PFS", "B5"): 1.5})
    assert [(p.sheet, p.cell, p.found) for p in problems] == [("KM_cart_PFS", "B5", "1.5")]


def test_uniform_limits_reversed_points_at_lower_limit(tmp_path):
    problems = _problems_after(tmp_path, {("Parameters", "F8"): 0.9})
    assert [(p.cell, p.found) for p in problems] == [("F8", "0.9")]


def test_distribution_whose_draws_overflow_is_reported_at_its_cell(tmp_path):
    # hr_os (row 6): lognormal with meanlog 710 in param_a would draw exp(710 + ...) = inf.
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Parameters"], "F6", 710.0)
    problems = validate(bw.write_workbook(tmp_path / "overflow.xlsx", sheets))
    assert len(problems) == 1, problems
    p = problems[0]
    assert (p.sheet, p.cell) == ("Parameters", "F6") and "overflow" in p.expected + p.found, p
    # a normal with an SD near the largest float: constructed, but its extreme quantiles overflow
    sheets = bw.valid_rows()
    bw.set_cell(sheets["Parameters"], "E7", 1e308)
    problems = validate(bw.write_workbook(tmp_path / "normal.xlsx", sheets))
    assert [(p.sheet, p.cell) for p in problems] == [("Parameters", "D7")], problems
    assert "finite" in problems[0].expected


# ---------------------------------------------------------------------------------------------
# Issue 25: parameter kinds, the model's requirements, finite numbers, located and short messages
# (the rules checked are those of docs/inputs.md, "Parameter kinds", and docs/robustness.md)


def _with(tmp_path, name, change):
    sheets = bw.valid_rows()
    change(sheets)
    return bw.write_workbook(tmp_path / f"{name}.xlsx", sheets)


def _add_kind_column(sheets, kinds: dict[str, str]):
    rows = sheets["Parameters"]
    rows[0].append("kind")
    for row in rows[1:]:
        row.extend([None] * (len(rows[0]) - 1 - len(row)))
        row.append(kinds.get(row[0]))


@pytest.mark.parametrize("kind, value, found", [
    ("probability", 1.5, "a probability <= 1"), ("probability", -0.1, "a probability >= 0"),
    ("utility", -3, "a utility >= -1"), ("utility decrement", 5, "a utility decrement <= 1"),
    ("count", -12, "a count >= 0"), ("duration", -15, "a duration >= 0"), ("rate", -0.07, "a rate >= 0"),
    ("relative effect", 0, "a relative effect > 0"),
])
def test_a_fixed_value_outside_its_kind_is_refused_at_its_cell(tmp_path, kind, value, found):
    # t_mode (row 9) is a triangular in the fixture; make it fixed, declare its kind.
    def change(s):
        bw.set_cell(s["Parameters"], "B9", value)
        for col in "DEFG":
            bw.set_cell(s["Parameters"], f"{col}9", None)
        _add_kind_column(s, {"t_mode": kind})
    problems = validate(_with(tmp_path, "kind", change))
    assert [(p.sheet, p.cell) for p in problems] == [("Parameters", "B9")]
    assert found in problems[0].expected


def test_a_normal_on_a_cost_or_probability_is_refused_unless_free(tmp_path):
    def change(kind):
        def apply(s):
            bw.set_cell(s["Parameters"], "A7", "c_scale")  # rr_scale -> a cost by its name
            _add_kind_column(s, {"c_scale": kind})
        return apply
    problems = validate(_with(tmp_path, "normal_cost", change(None)))
    assert [(p.cell, p.found) for p in problems] == [("D7", "normal (draws from -inf to inf)")]
    assert "a cost >= 0" in problems[0].expected
    assert validate(_with(tmp_path, "normal_free", change("free"))) == []


def test_uniform_limits_outside_a_probability_are_refused(tmp_path):
    def change(s):
        bw.set_cell(s["Parameters"], "G8", 1.2)  # p_uniform: uniform(0.2, 1.2), unit probability
    problems = validate(_with(tmp_path, "uniform", change))
    assert [(p.cell, p.found) for p in problems] == [("G8", "1.2")]


def test_inferred_kinds_are_recorded(valid):
    assert valid.kinds["c_drug"] == "cost" and valid.kinds["p_response"] == "probability"
    assert valid.kinds["u_pfs"] == "utility" and valid.kinds["rr_scale"] == "free"
    assert valid.kind_notes["c_drug"] == "cost: inferred from its name"
    assert valid.kind_notes["u_pfs"] == "utility: inferred from its unit 'annual utility'"
    assert "treated as free" in valid.kind_notes["rr_scale"]


def test_requirements_are_checked_with_the_models_spelling(tmp_path):
    from hta.inputs.requirements import Requirements

    path = bw.valid_workbook(tmp_path)
    ok = Requirements(parameters=("c_drug", "hr_os"), strategies=("soc",))
    assert validate(path, ok) == []
    wrong = Requirements(parameters=("C_drug", "c_missing"), strategies=("SOC", "other"))
    found = {(p.sheet, p.cell, p.found) for p in validate(path, wrong)}
    assert ("Parameters", "A4", "'c_drug'") in found          # case differs: the row's cell
    assert ("Parameters", "", "no such row") in found          # absent: the sheet
    assert ("Strategies", "A2", "'soc'") in found
    assert ("Strategies", "", "no such row") in found


def test_nan_stored_as_a_number_is_refused_at_its_cell(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import hostile_workbooks as hw

    pkg = hw.fixture().copy().set("Parameters", "B4", hw.Raw("", "<v>NaN</v>"))
    problems = validate(pkg.write(tmp_path / "nan.xlsx"))
    assert [(p.cell, p.found) for p in problems] == [("B4", "a non-finite number (nan) stored in the file")]


def test_long_text_is_cut_and_every_message_is_short(tmp_path):
    problems = validate(_with(tmp_path, "long", lambda s: bw.set_cell(s["Parameters"], "B3", "x" * 1_000_000)))
    assert len(problems) == 1 and problems[0].cell == "B3"
    # openpyxl stores at most Excel's 32,767 characters of a cell
    assert "(32,767 characters)" in problems[0].found and len(str(problems[0])) <= 260


def test_horizon_under_a_year_is_refused_clearly(tmp_path):
    problems = validate(_with(tmp_path, "short", lambda s: bw.set_cell(s["Settings"], "B3", 0.5)))
    assert [(p.sheet, p.cell, p.found) for p in problems] == [("Settings", "B3", "0.5")]
    assert "from 1 to 120" in problems[0].expected


def test_duplicate_labels_and_one_sex_life_table(tmp_path):
    def change(s):
        bw.set_cell(s["Strategies"], "B3", "Standard of care")
        s["LifeTable"] = [["age", "sex", "mx"]] + [[a, "male", 0.01] for a in range(0, 101)]
        for row in s["Settings"]:
            if row[0] == "life_table":
                row[1] = "sheet"
    found = {(p.sheet, p.cell) for p in validate(_with(tmp_path, "labels", change))}
    assert found == {("Strategies", "B2, B3"), ("LifeTable", "")}
