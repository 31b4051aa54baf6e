"""Cells of an input workbook: opening it, typed access to its cells, and how values are shown.

:class:`Book` is an opened workbook plus the problems found so far; :meth:`Book.records` reads a
data sheet into :class:`Record` objects (one per non-blank row, cells by column header);
:class:`Access` reads typed values from them and reports every wrong cell with its coordinate.

Cells are read twice: once for the values Excel cached when it last calculated the workbook and
once for the formulas. A formula cell with a cached value is read as that value; a formula cell
without one (a workbook written by a program that does not calculate) is an error, because the
number the model would use does not exist yet.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hta.errors import Problem
from hta.excel import schema as S
from hta.excel import xlsx
from hta.excel.archive import check_archive
from hta.excel.xlsx import column_letter

NO_CACHE = ("a calculated value", "a formula ({formula}) with no cached result: open and "
             "save the workbook in Excel or LibreOffice")

EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                 "#GETTING_DATA", "#SPILL!", "#CALC!"}




@dataclass
class Cell:
    value: Any          # the cached value: stripped text, a number, or None when blank
    coord: str          # e.g. "C7"
    bad: bool = False   # a problem was already reported for this cell


@dataclass
class Record:
    sheet: str
    row: int
    cells: dict[str, Cell]
    bad: bool = False   # a problem was reported on this row; do not build objects from it

    def cell(self, column: str) -> Cell | None:
        return self.cells.get(column)

    def coord(self, column: str) -> str:
        c = self.cells.get(column)
        return c.coord if c is not None else f"row {self.row}"

    def blank(self, column: str) -> bool:
        c = self.cells.get(column)
        return c is None or (c.value is None and not c.bad)


#: The most characters of one problem's message, and of its found part; the expected part is cut
#: to what is left, but never below EXPECTED_CHARS (long text is shown cut, with its length).
MESSAGE_CHARS, FOUND_CHARS, EXPECTED_CHARS = 250, 140, 80
EXPECTED_WORKBOOK = "an Excel workbook (.xlsx) that can be opened"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how long it was."""
    text = " ".join(str(text).split()) if len(str(text)) > limit else str(text)
    if len(text) <= limit:
        return text
    tail = f"... ({len(text):,} characters)"
    return text[: max(limit - len(tail), 10)] + tail


def damaged(exc: xlsx.Damaged) -> str:
    """The found text for a damaged part of the archive."""
    return clip(f"this part of the file is damaged: {exc.part} ({exc.detail})", FOUND_CHARS)


def show(value: Any) -> str:
    """How a found value is quoted in a message."""
    if value is None:
        return "an empty cell"
    if isinstance(value, bool):
        return f"the logical value {str(value).upper()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"a non-finite number ({value}) stored in the file"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        return f"a date/time ({value})"
    if isinstance(value, str) and value in EXCEL_ERRORS:
        return f"the Excel error {value} (the cell's formula failed)"
    if isinstance(value, xlsx.BadDate):
        return str(value)
    return f"text '{clip(value, 40)}'"


def fmt(x: float) -> str:
    return f"{x:g}"


def to_number(value: Any) -> float | None:
    """A finite float from a cell value, or None if the value is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value)  # no thousands separators: "1,5" must not become 15
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class Book:
    """An opened workbook (its sheets, read through :mod:`hta.excel.xlsx`) plus the problems found so far."""

    def __init__(self, path: Path, workbook: xlsx.Workbook | None, problems: list[Problem]):
        self.path = path
        self.name = path.name
        self.workbook = workbook
        self.problems = problems
        self._records: dict[str, list[Record] | None] = {}
        self._damaged: set[str] = set()

    @classmethod
    def open(cls, path: Path) -> Book:
        name = path.name
        opened = EXPECTED_WORKBOOK
        if not path.exists():
            return cls(path, None, [Problem(
                name, "", "", "an existing input workbook (.xlsx)", f"no file at {clip(str(path), 120)}")])
        if path.is_dir():
            return cls(path, None, [Problem(
                name, "", "", "an input workbook (.xlsx)", f"a folder at {clip(str(path), 120)}")])
        unsafe = check_archive(path)
        if unsafe is not None:
            return cls(path, None, [Problem(name, "", "", opened, clip(unsafe, FOUND_CHARS))])
        try:
            archive = zipfile.ZipFile(path)
            workbook = xlsx.Workbook(archive)
        except xlsx.Damaged as exc:
            return cls(path, None, [Problem(name, "", "", opened, damaged(exc))])
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            return cls(path, None, [Problem(name, "", "", opened, clip(
                f"a file that cannot be read as one ({type(exc).__name__}: {exc})", FOUND_CHARS))])
        return cls(path, workbook, [])

    @property
    def sheetnames(self) -> list[str]:
        return self.workbook.sheetnames if self.workbook is not None else []

    def problem(self, sheet: str, cell: str, expected: str, found: str) -> None:
        """Record one problem; long texts are cut so that each message stays short."""
        name, sheet, cell = self.name, clip(sheet, 31), clip(cell, 40)
        room = MESSAGE_CHARS - len(name) - len(sheet) - len(cell) - 40
        found = clip(found, max(min(FOUND_CHARS, room - min(len(expected), EXPECTED_CHARS)), 40))
        self.problems.append(Problem(name, sheet, cell, clip(expected, max(room - len(found), 60)), found))

    def find_sheet(self, name: str) -> str | None:
        """The actual sheet name matching ``name`` (exactly, else ignoring case), or None."""
        if name in self.sheetnames:
            return name
        matches = [s for s in self.sheetnames if s.strip().lower() == name.strip().lower()]
        return matches[0] if len(matches) == 1 else None

    def was_read(self, name: str) -> bool:
        """True if the sheet ``name`` exists and its records were read (no sheet-level problem)."""
        actual = self.find_sheet(name)
        return actual is not None and self._records.get(actual) is not None

    def records(self, spec: S.Sheet, sheet_name: str | None = None,
                missing_ok: bool | None = None) -> list[Record] | None:
        """The non-blank records of a sheet laid out as ``spec``.

        Returns None (after reporting, unless the sheet is optional) when the sheet or one of its
        required columns is missing. Reports formula cells without cached values.
        """
        wanted = sheet_name or spec.name
        actual = self.find_sheet(wanted)
        if actual is None:
            optional = (not spec.required) if missing_ok is None else missing_ok
            if not optional:
                self.problem(wanted, "", f"a sheet named '{wanted}'",
                             "no such sheet (sheets: " + ", ".join(self.sheetnames) + ")")
            return None
        if actual in self._records:
            return self._records[actual]
        result = self._read_records(spec, actual)
        self._records[actual] = result
        return result

    def _read_records(self, spec: S.Sheet, sheet: str) -> list[Record] | None:
        try:
            used = self.workbook.cells(sheet)
        except xlsx.Damaged as exc:
            kind = self.workbook.kind(sheet)
            if kind != "worksheet":
                self.problem(sheet, "", f"a worksheet named '{sheet}'", f"a {kind or 'non-worksheet'} part")
            elif exc.part not in self._damaged:  # a shared part (strings, styles) is reported once
                self._damaged.add(exc.part)
                self.problem(sheet if exc.part == self.workbook.sheets[sheet][1] else "", "",
                             EXPECTED_WORKBOOK, damaged(exc))
            return None
        except xlsx.TooLarge as exc:
            if "shared strings" in str(exc):
                if "strings" not in self._damaged:
                    self._damaged.add("strings")
                    self.problem("", "", f"a workbook of at most {xlsx.MAX_STRINGS:,} distinct texts "
                                 "(docs/robustness.md)", str(exc))
                return None
            self.problem(sheet, "", f"a sheet of at most {xlsx.MAX_ROWS:,} rows and "
                         f"{xlsx.MAX_CELLS:,} filled cells (docs/robustness.md)", str(exc))
            return None
        rows = used.by_row()
        header = rows.pop(1, {})
        max_col = max(header, default=1)
        header_range = f"A1:{column_letter(max_col)}1"
        columns: dict[str, int] = {}
        for j in sorted(header):
            text = to_text(header[j][0])
            if text is None or not isinstance(header[j][0], str):
                continue
            key = text.lower()
            if key in spec.headers:
                if key in columns:
                    first = column_letter(columns[key]) + "1"
                    self.problem(sheet, f"{first}, {column_letter(j)}1",
                                 f"one column headed '{key}'", "two")
                    return None
                columns[key] = j
        missing = [c.name for c in spec.columns if not c.optional_header and c.name not in columns]
        if missing:
            found = [to_text(header[j][0]) for j in sorted(header) if to_text(header[j][0])]
            for name in missing:
                self.problem(sheet, header_range, f"a column headed '{name}' in the header row",
                             "no such column (headers: " + (", ".join(found) or "none") + ")")
            return None

        records = []
        for i, row in rows.items():
            cells = {}
            blank = True
            for name, j in columns.items():
                raw, formula = row.get(j, (None, None))
                value = raw.strip() or None if isinstance(raw, str) else raw
                cell = Cell(value, f"{column_letter(j)}{i}")
                if value is None and formula is not None:
                    expected, found = NO_CACHE
                    self.problem(sheet, cell.coord, expected, found.format(formula=clip("=" + formula, 30) if formula else "a shared formula"))
                    cell.bad = True
                if value is not None or cell.bad:
                    blank = False
                cells[name] = cell
            if blank:
                continue
            record = Record(sheet, i, cells, bad=any(c.bad for c in cells.values()))
            records.append(record)
        return records


class Access:
    """Typed, reporting access to the cells of records."""

    def __init__(self, book: Book):
        self.book = book

    def fail(self, rec: Record, column: str, expected: str, found: str) -> None:
        cell = rec.cell(column)
        self.book.problem(rec.sheet, rec.coord(column), expected, found)
        if cell is not None:
            cell.bad = True
        rec.bad = True

    def missing(self, rec: Record, column: str, expected: str) -> None:
        """Report an empty cell that is needed, unless its cell was already reported."""
        cell = rec.cell(column)
        if cell is None:
            self.book.problem(rec.sheet, f"row {rec.row}",
                              f"{expected} in a column headed '{column}'", "no such column")
            rec.bad = True
        elif not cell.bad:
            self.fail(rec, column, expected, "an empty cell")
        else:
            rec.bad = True

    def text(self, rec: Record, column: str, required: bool = False,
             expected: str = "text") -> str | None:
        cell = rec.cell(column)
        value = None if cell is None or cell.bad else to_text(cell.value)
        if value is None and required:
            self.missing(rec, column, expected)
        return value

    def choice(self, rec: Record, column: str, choices: tuple[str, ...],
               required: bool = False) -> str | None:
        text = self.text(rec, column, required, "one of " + ", ".join(choices))
        if text is None:
            return None
        for c in choices:
            if text.lower() == c.lower():
                return c
        self.fail(rec, column, "one of " + ", ".join(choices), show(text))
        return None

    def number(self, rec: Record, column: str, required: bool = False, *,
               expected: str = "a number", minimum: float | None = None,
               maximum: float | None = None, exclusive_min: bool = False,
               integer: bool = False) -> float | None:
        cell = rec.cell(column)
        if cell is None or cell.bad or cell.value is None:
            if required:
                self.missing(rec, column, expected)
            return None
        x = to_number(cell.value)
        if x is None or (integer and not float(x).is_integer()):
            self.fail(rec, column, expected, show(cell.value))
            return None
        too_low = minimum is not None and (x <= minimum if exclusive_min else x < minimum)
        too_high = maximum is not None and x > maximum
        if too_low or too_high:
            self.fail(rec, column, expected, fmt(x))
            return None
        return x


def strip_who(message: str) -> str:
    """Drop a leading "parameter 'x': " from an engine error message."""
    return re.sub(r"^(parameter|distribution) ?('[^']*')?:\s*", "", message)
