"""Tests of the blank input workbook (hta.excel.template) and of docs/inputs.md."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from hta.errors import HtaError, InputError
from hta.excel import schema as S
from hta.excel.reader import read_inputs
from hta.excel.template import write_template

DOCS = Path(__file__).resolve().parents[1] / "docs" / "inputs.md"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return write_template(tmp_path_factory.mktemp("template") / "inputs.xlsx")


@pytest.fixture(scope="module")
def book(template):
    return openpyxl.load_workbook(template)


def test_sheets_and_headers(book):
    assert book.sheetnames == ["README"] + [s.name for s in S.SHEETS]
    for sheet in S.SHEETS:
        ws = book[sheet.name]
        headers = [c.value for c in ws[1]]
        assert headers == list(sheet.headers), sheet.name
        assert ws.freeze_panes == "A2"
        for cell in ws[1]:
            assert cell.comment is not None and cell.comment.text.strip()


def _validations(ws) -> dict[str, str]:
    """Map each validated range to its list formula."""
    return {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}


def test_dropdowns_on_choice_columns(book):
    params = _validations(book["Parameters"])
    assert params == {"D2:D1000": '"fixed,normal,lognormal,beta,gamma,uniform,triangular"',
                      "M2:M1000": '"probability,utility,utility decrement,cost,rate,relative effect,duration,'
                                  'count,share,free"'}
    survival = _validations(book["Survival"])
    assert survival == {
        "C2:C1000": '"parametric,km,ipd"',
        "D2:D1000": '"exponential,weibull,weibullph,gompertz,lognormal,loglogistic,gamma,'
                    'gengamma"',
        "E2:E1000": '"months,years,weeks,days"',
    }
    assert _validations(book["LifeTable"]) == {"B2:B1000": '"male,female"'}


def test_dropdowns_on_choice_settings(book):
    ws = book["Settings"]
    row_of = {ws.cell(row=i, column=1).value: i for i in range(2, ws.max_row + 1)}
    settings = _validations(ws)
    assert settings == {
        f"B{row_of['cycle']}": '"week,28 days,month,year"',
        f"B{row_of['discount_method']}": '"discrete,continuous"',
        f"B{row_of['within_cycle']}": '"half-cycle,simpson,start,end"',
        f"B{row_of['life_table']}": '"hk-2020-2025,hk-2015-2020,sheet"',
        f"B{row_of['utility_norms']}": '"none,hk-eq5d5l-2019,uk-ara-brazier-2010"',
    }


def test_settings_prefilled_without_values(book):
    ws = book["Settings"]
    names = [ws.cell(row=i, column=1).value for i in range(2, ws.max_row + 1)]
    assert names == [s.name for s in S.SETTINGS] + ["wtp_1"]
    assert all(ws.cell(row=i, column=2).value is None for i in range(2, ws.max_row + 1))


def test_blank_template_lists_what_to_fill(template):
    with pytest.raises(InputError) as info:
        read_inputs(template)
    cells = {(p.sheet, p.cell) for p in info.value.problems}
    required = [s.name for s in S.SETTINGS if s.required]
    # one problem per required setting, one for the WTP and one for the strategies
    assert len(info.value.problems) == len(required) + 2
    assert ("Strategies", "A2") in cells
    assert all(p.found in ("an empty cell", "no WTP value", "no strategies")
               for p in info.value.problems)


def test_round_trip_minimum_fill(template, tmp_path):
    wb = openpyxl.load_workbook(template)
    ws = wb["Settings"]
    values = {"horizon_years": 15, "cycle": "week", "discount_costs": 0.03,
              "discount_outcomes": 0.015, "within_cycle": "simpson", "start_age": 58,
              "male_share": 0.534, "wtp_1": 390000}
    for i in range(2, ws.max_row + 1):
        name = ws.cell(row=i, column=1).value
        if name in values:
            ws.cell(row=i, column=2, value=values[name])
    wb["Strategies"].append(["soc", None, None])
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    inputs = read_inputs(path)
    s = inputs.settings
    assert (s.horizon_years, s.cycle, s.within_cycle) == (15, "week", "simpson")
    assert (s.discount_costs, s.discount_outcomes) == (0.03, 0.015)
    assert (s.start_age, s.male_share) == (58, 0.534)
    assert s.wtp == (("WTP 1", 390000.0),)
    # defaults of the optional settings
    assert (s.discount_method, s.currency, s.life_table) == ("discrete", "HKD", "hk-2020-2025")
    assert s.seed is None and s.psa_draws is None
    assert list(inputs.strategies["label"]) == ["soc"]
    assert len(inputs.parameters) == 0 and inputs.survival == {} and inputs.lifetable is None


def test_write_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"old contents")
    write_template(path)
    openpyxl.load_workbook(path)  # the old file was replaced by a whole workbook
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]  # no temporary left


def test_rejects_non_xlsx_name(tmp_path):
    with pytest.raises(HtaError, match="ending in .xlsx"):
        write_template(tmp_path / "inputs.xls")


def test_readme_documents_every_sheet_column_and_setting(book):
    text = "\n".join(str(c.value) for c in book["README"]["A"] if c.value)
    for sheet in S.SHEETS:
        assert sheet.name in text
        for column in sheet.columns:
            assert f"  {column.name}" in text, (sheet.name, column.name)
    for setting in S.SETTINGS:
        assert f"{setting.name}" in text
    assert "'assumption'" in text and "wtp_1" in text
    # no README line may be read by Excel as a formula
    assert not any(str(c.value).startswith(("=", "+", "-", "@")) for c in book["README"]["A"])


def test_docs_inputs_md_matches_schema():
    text = DOCS.read_text()
    for sheet in S.SHEETS:
        if not sheet.user_named:
            assert f"`{sheet.name}`" in text, sheet.name
        for column in sheet.columns:
            assert f"`{column.name}`" in text, (sheet.name, column.name)
    for setting in S.SETTINGS:
        assert f"`{setting.name}`" in text, setting.name
    for choices in list(S.DROPDOWN_COLUMNS.values()) + list(S.DROPDOWN_SETTINGS.values()):
        for choice in choices:
            assert choice in text, choice
    for distribution, names in S.SURVIVAL_COEFFICIENTS.items():
        assert f"{distribution}" in text and ", ".join(names) in text


@pytest.mark.libreoffice
def test_template_survives_libreoffice(template, tmp_path):
    import broken_workbooks as bw

    resaved = bw.libreoffice_resave(template, tmp_path / "lo")
    book = openpyxl.load_workbook(resaved)
    assert book.sheetnames == ["README"] + [s.name for s in S.SHEETS]
    assert "D2:D1000" in _validations(book["Parameters"])
    with pytest.raises(InputError) as info:
        read_inputs(resaved)
    assert len(info.value.problems) == sum(s.required for s in S.SETTINGS) + 2
