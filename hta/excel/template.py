"""Write a blank, documented input workbook.

The layout comes from :mod:`hta.excel.schema`, so a template always matches what
:func:`hta.excel.reader.read_inputs` accepts: filling the required settings and one strategy
gives a workbook that reads. The workbook has a README sheet, a header row with a note on every
column, drop-down lists on choice columns, frozen headers and readable column widths.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hta.excel import schema as S

#: Rows given drop-down lists and formats in each data sheet.
TEMPLATE_ROWS = 1000

_HEADER_FILL = "DDEBF7"
_REQUIRED_FILL = "FCE4D6"


def write_template(path: str | Path) -> Path:
    """Write a blank input workbook to ``path`` (atomically) and return the path."""
    from openpyxl import Workbook

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        from hta.errors import HtaError

        raise HtaError(f"template path: expected a file name ending in .xlsx; found '{path}'")
    wb = Workbook()
    readme = wb.active
    readme.title = "README"
    _write_readme(readme)
    for sheet in S.SHEETS:
        ws = wb.create_sheet(sheet.name)
        _write_headers(ws, sheet)
        if sheet is S.SETTINGS_SHEET:
            _prefill_settings(ws)
        if sheet is S.BUDGET_SHEET:
            _prefill_budget(ws)
    _save_atomically(wb, path)
    return path


def _save_atomically(wb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_headers(ws, sheet: S.Sheet) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    for j, column in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=1, column=j, value=column.name)
        cell.font = Font(bold=True)
        fill = _REQUIRED_FILL if column.required else _HEADER_FILL
        cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
        note = column.description
        if column.required:
            note = "Required on every row. " + note
        if column.choices:
            note += " Choices: " + ", ".join(column.choices) + "."
        comment = Comment(note, "hta")
        comment.width, comment.height = 320, 140
        cell.comment = comment
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(column.width, len(column.name) + 4)
        if column.choices:
            dv = _dropdown(DataValidation, column.choices, column.name)
            dv.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"


def _dropdown(DataValidation, choices: tuple[str, ...], what: str):
    dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True)
    dv.error = f"{what}: choose one of " + ", ".join(choices)
    dv.errorTitle = f"Invalid {what}"
    dv.prompt = "One of " + ", ".join(choices)
    dv.showErrorMessage = True
    return dv


def _prefill_settings(ws) -> None:
    """List every known setting (value left blank) so the analyst only fills values."""
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    for i, setting in enumerate(S.SETTINGS, start=2):
        ws.cell(row=i, column=1, value=setting.name).font = Font(bold=setting.required)
        ws.cell(row=i, column=3, value=setting.unit or None)
        required = "Required. " if setting.required else "Optional. "
        ws.cell(row=i, column=4, value=required + setting.description + " Expected: "
                + setting.expected() + ".")
        if setting.choices:
            dv = _dropdown(DataValidation, setting.choices, setting.name)
            dv.add(f"B{i}")
            ws.add_data_validation(dv)
    # The description of a wtp_N row is its label in results, so it is left for the analyst.
    i = len(S.SETTINGS) + 2
    ws.cell(row=i, column=1, value="wtp_1").font = Font(bold=True)
    ws.cell(row=i, column=3, value=S.WTP.unit)


def _prefill_budget(ws) -> None:
    """List every known budget item (value left blank), then one example eligibility step."""
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    unit_col = S.BUDGET_SHEET.headers.index("unit") + 1
    desc_col = S.BUDGET_SHEET.headers.index("description") + 1
    items = list(S.BUDGET_ITEMS) + [S.ELIGIBLE]
    for i, item in enumerate(items, start=2):
        name = "eligible_line_of_therapy" if item is S.ELIGIBLE else item.name
        ws.cell(row=i, column=1, value=name).font = Font(bold=item.required)
        ws.cell(row=i, column=unit_col, value=item.unit or None)
        required = "Required (with a budget impact). " if item.required else "Optional. "
        ws.cell(row=i, column=desc_col, value=required + item.description + " Expected: "
                + item.expected() + ".")
        if item.choices:
            dv = _dropdown(DataValidation, item.choices, item.name)
            dv.add(f"B{i}")
            ws.add_data_validation(dv)


def readme_lines() -> list[tuple[str, str]]:
    """The README sheet as (style, text) lines; style is 'title', 'heading' or 'text'."""
    lines: list[tuple[str, str]] = [
        ("title", "hta input workbook"),
        ("text", "Fill the sheets below; every number needs a source. Full reference: "
                 "docs/inputs.md in the hta repository."),
        ("heading", "Conventions"),
        ("text", "Each sheet has its header in row 1 and one record per row; blank rows are "
                 "ignored. Columns may be in any order and are found by their header (case and "
                 "surrounding spaces ignored). Extra columns are ignored: use them for notes."),
        ("text", "Header cells shaded orange must be filled on every row; hover over a header "
                 "for its meaning. Choice columns have drop-down lists (case is ignored)."),
        ("text", "Units: model time is in years; discount rates are per annum as fractions (3% "
                 "is 0.03); state costs are per cycle; utilities are annual weights; survival "
                 "data keep the time unit given in Survival.time_unit."),
        ("text", "Formulas are allowed, but the workbook must be saved by Excel or LibreOffice "
                 "so that every formula has a calculated value."),
        ("heading", "Sources and assumptions"),
        ("text", "Every parameter needs a source: a citation precise enough to find the number "
                 "(author, year, table or figure, page; or a web page and the date read). A "
                 "number with no published source is labelled by starting its source with the "
                 "word 'assumption' followed by the rationale, e.g. 'assumption: same as "
                 "comparator, no data'. 'assumption' on its own is not accepted."),
        ("text", "Costs (names starting with c_, or units starting with HK$) must not be "
                 "negative."),
        ("heading", "Settings (required sheet)"),
        ("text", S.SETTINGS_SHEET.purpose),
    ]
    lines += _column_lines(S.SETTINGS_SHEET)
    lines.append(("text", "Known settings:"))
    for s in S.SETTINGS:
        lines.append(("text", f"  {s.name}{' (required)' if s.required else ''}: "
                              f"{s.description} Expected: {s.expected()}."))
    lines.append(("text", f"  wtp_1, wtp_2, ... (at least wtp_1): {S.WTP.description} "
                          f"Expected: {S.WTP.expected()}."))
    lines.append(("text", "Unknown setting names are errors."))
    budget_lines = [("text", "Budget items (sheet Budget, optional; see docs/bia.md):")]
    for s in list(S.BUDGET_ITEMS) + [S.ELIGIBLE]:
        budget_lines.append(("text", f"  {s.name}{' (required)' if s.required else ''}: "
                                     f"{s.description} Expected: {s.expected()}."))
    for sheet in S.SHEETS:
        if sheet is S.SETTINGS_SHEET:
            continue
        status = "required sheet" if sheet.required else "optional sheet"
        if sheet.user_named:
            status = "example sheet; name your own and reference it from Survival.data_sheet"
        lines.append(("heading", f"{sheet.name} ({status})"))
        lines.append(("text", sheet.purpose))
        lines += _column_lines(sheet)
        if sheet is S.BUDGET_SHEET:
            lines += budget_lines
    lines.append(("text", f"Digitised survival may wiggle upwards by up to "
                          f"{S.KM_RISE_TOLERANCE:g} (absolute, 0-1 scale) and times may fall "
                          f"below 0 by up to {S.KM_NEGATIVE_TIME_TOLERANCE:.0%} of the last time; "
                          "the reconstruction cleans and reports both, and larger ones are "
                          "errors. Numbers at risk never rise, never exceed the number at risk "
                          "at time 0 and cannot exceed that number times the survival shown "
                          "just before their time."))
    return lines


def _column_lines(sheet: S.Sheet) -> list[tuple[str, str]]:
    lines = []
    for c in sheet.columns:
        flags = []
        if c.required:
            flags.append("required")
        if c.optional_header:
            flags.append("column may be omitted")
        flag = f" ({', '.join(flags)})" if flags else ""
        choices = f" Choices: {', '.join(c.choices)}." if c.choices else ""
        lines.append(("text", f"  {c.name}{flag}: {c.description}{choices}"))
    return lines


def _write_readme(ws) -> None:
    from openpyxl.styles import Alignment, Font

    ws.column_dimensions["A"].width = 120
    fonts = {"title": Font(bold=True, size=14), "heading": Font(bold=True, size=12),
             "text": Font()}
    for i, (style, text) in enumerate(readme_lines(), start=1):
        cell = ws.cell(row=i, column=1, value=text)
        cell.font = fonts[style]
        cell.alignment = Alignment(wrap_text=True, vertical="top")
