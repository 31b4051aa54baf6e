"""Read and validate an input workbook.

:func:`read_inputs` turns a workbook laid out as in :mod:`hta.excel.schema` (documented in
``docs/inputs.md``) into a :class:`ModelInputs`. It checks everything before it builds
anything and reports **all** problems at once in one :class:`hta.errors.InputError`; each
problem names the workbook, the sheet and the cell, what was expected and what was found.
:func:`validate` returns the same problems as a list instead of raising.

Cells are read twice: once for the values Excel cached when it last calculated the workbook and
once for the formulas. A formula cell with a cached value is read as that value; a formula cell
without one (a workbook written by a program that does not calculate) is an error, because the
number the model would use does not exist yet.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hta.inputs import BudgetInputs, DirichletBlock, ModelInputs, Settings, SurvivalInput
from hta.inputs import budget as bia
from hta.params.distributions import from_spec
from hta.errors import HtaError, InputError, Problem
from hta.excel import schema as S
from hta.excel.archive import check_archive
from hta.excel.payers_reader import read_negotiation
from hta.params import ParameterTable

_NO_CACHE = ("a calculated value", "a formula ({formula}) with no cached result: open and "
             "save the workbook in Excel or LibreOffice")

_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                 "#GETTING_DATA", "#SPILL!", "#CALC!"}


def read_inputs(path: str | Path) -> ModelInputs:
    """Read and validate an input workbook; raise :class:`InputError` listing every problem."""
    inputs, problems = _read(Path(path))
    if problems:
        raise InputError(problems)
    assert inputs is not None
    return inputs


def validate(path: str | Path) -> list[Problem]:
    """Every problem in an input workbook (an empty list when it is valid)."""
    return _read(Path(path))[1]


def _read(path: Path) -> tuple[ModelInputs | None, list[Problem]]:
    book = _Book.open(path)
    if book.problems:
        return None, book.problems
    reader = _Reader(book)
    inputs = reader.read()
    inputs = read_negotiation(book, inputs)  # optional sheets Payers, Agreements, Capacity (hta.excel.payers_reader)
    return (None if book.problems else inputs), book.problems


# ---------------------------------------------------------------------------------------------
# Cells, records and typed access


@dataclass
class _Cell:
    value: Any          # the cached value: stripped text, a number, or None when blank
    coord: str          # e.g. "C7"
    bad: bool = False   # a problem was already reported for this cell


@dataclass
class _Record:
    sheet: str
    row: int
    cells: dict[str, _Cell]
    bad: bool = False   # a problem was reported on this row; do not build objects from it

    def cell(self, column: str) -> _Cell | None:
        return self.cells.get(column)

    def coord(self, column: str) -> str:
        c = self.cells.get(column)
        return c.coord if c is not None else f"row {self.row}"

    def blank(self, column: str) -> bool:
        c = self.cells.get(column)
        return c is None or (c.value is None and not c.bad)


def _show(value: Any) -> str:
    """How a found value is quoted in a message."""
    if value is None:
        return "an empty cell"
    if isinstance(value, bool):
        return f"the logical value {str(value).upper()}"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        return f"a date/time ({value})"
    if isinstance(value, str) and value in _EXCEL_ERRORS:
        return f"the Excel error {value} (the cell's formula failed)"
    return f"text '{value}'"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _to_number(value: Any) -> float | None:
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


def _to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class _Book:
    """An opened workbook (values and formulas) plus the problems found so far."""

    def __init__(self, path: Path, values, formulas, problems: list[Problem]):
        self.path = path
        self.name = path.name
        self.values = values
        self.formulas = formulas
        self.problems = problems
        self._records: dict[str, list[_Record] | None] = {}

    @classmethod
    def open(cls, path: Path) -> "_Book":
        import openpyxl

        name = path.name
        if not path.exists():
            return cls(path, None, None, [Problem(
                name, "", "", "an existing input workbook (.xlsx)", f"no file at {path}")])
        if path.is_dir():
            return cls(path, None, None, [Problem(
                name, "", "", "an input workbook (.xlsx)", f"a folder at {path}")])
        from openpyxl.utils.exceptions import InvalidFileException

        unsafe = check_archive(path)
        if unsafe is not None:
            return cls(path, None, None, [Problem(
                name, "", "", "an Excel workbook (.xlsx) that can be opened", unsafe)])
        try:
            values = openpyxl.load_workbook(path, data_only=True)
            formulas = openpyxl.load_workbook(path, data_only=False)
        except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError,
                TypeError) as exc:
            reason = str(exc) or type(exc).__name__
            return cls(path, None, None, [Problem(
                name, "", "", "an Excel workbook (.xlsx) that can be opened",
                f"a file that cannot be read as one ({reason})")])
        return cls(path, values, formulas, [])

    def problem(self, sheet: str, cell: str, expected: str, found: str) -> None:
        self.problems.append(Problem(self.name, sheet, cell, expected, found))

    def find_sheet(self, name: str) -> str | None:
        """The actual sheet name matching ``name`` (exactly, else ignoring case), or None."""
        if name in self.values.sheetnames:
            return name
        matches = [s for s in self.values.sheetnames if s.strip().lower() == name.strip().lower()]
        return matches[0] if len(matches) == 1 else None

    def records(self, spec: S.Sheet, sheet_name: str | None = None,
                missing_ok: bool | None = None) -> list[_Record] | None:
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
                             "no such sheet (sheets: " + ", ".join(self.values.sheetnames) + ")")
            return None
        if actual in self._records:
            return self._records[actual]
        result = self._read_records(spec, actual)
        self._records[actual] = result
        return result

    def _read_records(self, spec: S.Sheet, sheet: str) -> list[_Record] | None:
        from openpyxl.utils import get_column_letter

        ws_values = self.values[sheet]
        ws_formulas = self.formulas[sheet]
        max_col = max(ws_values.max_column, 1)
        header_range = f"A1:{get_column_letter(max_col)}1"
        columns: dict[str, int] = {}
        for j in range(1, max_col + 1):
            text = _to_text(ws_values.cell(row=1, column=j).value)
            if text is None:
                continue
            key = text.lower()
            if key in spec.headers:
                if key in columns:
                    first = get_column_letter(columns[key]) + "1"
                    self.problem(sheet, f"{first}, {get_column_letter(j)}1",
                                 f"one column headed '{key}'", "two")
                    return None
                columns[key] = j
        missing = [c.name for c in spec.columns if not c.optional_header and c.name not in columns]
        if missing:
            for name in missing:
                self.problem(sheet, header_range, f"a column headed '{name}' in the header row",
                             "no such column (headers: " + ", ".join(
                                 _to_text(ws_values.cell(row=1, column=j).value) or "(blank)"
                                 for j in range(1, max_col + 1)) + ")")
            return None

        records = []
        for i in range(2, ws_values.max_row + 1):
            cells = {}
            blank = True
            for name, j in columns.items():
                cached = ws_values.cell(row=i, column=j)
                raw = cached.value
                value = raw.strip() or None if isinstance(raw, str) else raw
                cell = _Cell(value, cached.coordinate)
                if value is None:
                    formula_cell = ws_formulas.cell(row=i, column=j)
                    if formula_cell.data_type == "f":
                        formula = formula_cell.value
                        text = getattr(formula, "text", formula)  # ArrayFormula keeps .text
                        expected, found = _NO_CACHE
                        self.problem(sheet, cell.coord, expected, found.format(formula=text))
                        cell.bad = True
                if value is not None or cell.bad:
                    blank = False
                cells[name] = cell
            if blank:
                continue
            record = _Record(sheet, i, cells, bad=any(c.bad for c in cells.values()))
            records.append(record)
        return records


class _Access:
    """Typed, reporting access to the cells of records."""

    def __init__(self, book: _Book):
        self.book = book

    def fail(self, rec: _Record, column: str, expected: str, found: str) -> None:
        cell = rec.cell(column)
        self.book.problem(rec.sheet, rec.coord(column), expected, found)
        if cell is not None:
            cell.bad = True
        rec.bad = True

    def missing(self, rec: _Record, column: str, expected: str) -> None:
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

    def text(self, rec: _Record, column: str, required: bool = False,
             expected: str = "text") -> str | None:
        cell = rec.cell(column)
        value = None if cell is None or cell.bad else _to_text(cell.value)
        if value is None and required:
            self.missing(rec, column, expected)
        return value

    def choice(self, rec: _Record, column: str, choices: tuple[str, ...],
               required: bool = False) -> str | None:
        text = self.text(rec, column, required, "one of " + ", ".join(choices))
        if text is None:
            return None
        for c in choices:
            if text.lower() == c.lower():
                return c
        self.fail(rec, column, "one of " + ", ".join(choices), _show(text))
        return None

    def number(self, rec: _Record, column: str, required: bool = False, *,
               expected: str = "a number", minimum: float | None = None,
               maximum: float | None = None, exclusive_min: bool = False,
               integer: bool = False) -> float | None:
        cell = rec.cell(column)
        if cell is None or cell.bad or cell.value is None:
            if required:
                self.missing(rec, column, expected)
            return None
        x = _to_number(cell.value)
        if x is None or (integer and not float(x).is_integer()):
            self.fail(rec, column, expected, _show(cell.value))
            return None
        too_low = minimum is not None and (x <= minimum if exclusive_min else x < minimum)
        too_high = maximum is not None and x > maximum
        if too_low or too_high:
            self.fail(rec, column, expected, _fmt(x))
            return None
        return x


# ---------------------------------------------------------------------------------------------
# The reader: one method per sheet


class _Reader:
    def __init__(self, book: _Book):
        self.book = book
        self.cells = _Access(book)
        self.parameter_cells: dict[str, tuple[str, str]] = {}  # lower name -> (sheet, coord)

    def read(self) -> ModelInputs | None:
        settings = self.read_settings()
        strategies = self.read_strategies()
        parameters = self.read_parameters()
        dirichlet = self.read_dirichlet(parameters)
        survival = self.read_survival(strategies)
        lifetable = self.read_lifetable(settings)
        budget = self.read_budget(strategies, parameters)
        if self.book.problems:
            return None
        return ModelInputs(
            path=self.book.path.resolve(),
            sha256=hashlib.sha256(self.book.path.read_bytes()).hexdigest(),
            settings=settings,
            parameters=parameters,
            strategies=strategies,
            survival=survival,
            lifetable=lifetable,
            dirichlet=dirichlet,
            budget=budget,
        )

    # -- Settings ---------------------------------------------------------------------------

    def read_settings(self) -> Settings | None:
        records = self.book.records(S.SETTINGS_SHEET)
        if records is None:
            return None
        sheet = S.SETTINGS_SHEET.name
        values: dict[str, Any] = {}
        coords: dict[str, str] = {}
        value_cells: dict[str, str] = {}
        sources: dict[str, str] = {}
        wtp: dict[int, tuple[str, float]] = {}
        known = ", ".join([s.name for s in S.SETTINGS] + ["wtp_1, wtp_2, ..."])
        for rec in records:
            name = self.cells.text(rec, "setting", required=True, expected="a setting name")
            if name is None:
                continue
            key = name.lower()
            if key in coords:
                self.book.problem(sheet, f"{coords[key]}, {rec.coord('setting')}",
                                  f"each setting once", f"'{name}' twice")
                continue
            coords[key] = rec.coord("setting")
            value_cells[key] = rec.coord("value")
            sources[key] = self.cells.text(rec, "source") or ""
            wtp_match = S.WTP_SETTING.match(key)
            spec = S.SETTINGS_BY_NAME.get(key)
            if spec is None and wtp_match is None:
                self.cells.fail(rec, "setting", f"a known setting ({known})", _show(name))
                continue
            if wtp_match is not None:
                value = self._setting_value(rec, S.WTP)
                if value is not None:
                    k = int(wtp_match.group(1))
                    label = self.cells.text(rec, "description") or f"WTP {k}"
                    wtp[k] = (label, value)
                continue
            value = self._setting_value(rec, spec)
            if value is not None:
                values[key] = value
            elif spec.required and rec.blank("value"):
                self.cells.missing(rec, "value", f"a value for '{key}': {spec.expected()}")

        for spec in S.SETTINGS:
            if spec.required and spec.name not in coords:
                self.book.problem(sheet, "", f"a row for the required setting '{spec.name}' "
                                  f"({spec.expected()})", "no such row")
        if not wtp and not any(S.WTP_SETTING.match(k) for k in coords):
            self.book.problem(sheet, "", "at least one willingness-to-pay row named wtp_1 "
                              "(a number > 0 per QALY)", "no such row")
        elif not wtp:
            first = next(k for k in coords if S.WTP_SETTING.match(k))
            self.book.problem(sheet, value_cells[first], "a value for at least one wtp_N row "
                              "(a number > 0 per QALY)", "no WTP value")
        if not all(s.name in values for s in S.SETTINGS if s.required) or not wtp:
            return None
        kwargs = {s.name: values[s.name] if values.get(s.name) is not None else s.default
                  for s in S.SETTINGS}
        for s in S.SETTINGS:
            if s.kind == S.INTEGER and kwargs[s.name] is not None:
                kwargs[s.name] = int(kwargs[s.name])
        return Settings(wtp=tuple(wtp[k] for k in sorted(wtp)), sources=sources, **kwargs)

    def _setting_value(self, rec: _Record, spec: S.Setting) -> Any:
        """The typed value of one setting row, or None (blank, or reported as wrong)."""
        cell = rec.cell("value")
        if cell is None or cell.bad or cell.value is None:
            return None
        if spec.kind == S.TEXT:
            return _to_text(cell.value)
        if spec.kind == S.CHOICE:
            return self.cells.choice(rec, "value", spec.choices)
        x = _to_number(cell.value)
        name = (rec.cells.get("setting") or rec.cells.get("item")).value
        if x is None or (spec.kind == S.INTEGER and not x.is_integer()):
            self.cells.fail(rec, "value", f"{spec.expected()} for '{name}'", _show(cell.value))
            return None
        if spec.maximum == S.MAX_DISCOUNT_RATE and 1.0 < x <= 100.0:
            self.cells.fail(rec, "value", f"a per-annum rate from 0 to {_fmt(spec.maximum)} "
                            f"for '{name}', as a fraction", f"{_fmt(x)} (did you mean "
                            f"{_fmt(x / 100)}? 3% is entered as 0.03)")
            return None
        lo, hi = spec.minimum, spec.maximum
        if (lo is not None and (x <= lo if spec.minimum_exclusive else x < lo)) or (
                hi is not None and x > hi):
            self.cells.fail(rec, "value", f"{spec.expected()} for '{name}'", _fmt(x))
            return None
        return x

    # -- Strategies -------------------------------------------------------------------------

    def read_strategies(self) -> pd.DataFrame | None:
        records = self.book.records(S.STRATEGIES_SHEET)
        if records is None:
            return None
        rows, seen = [], {}
        for rec in records:
            name = self.cells.text(rec, "strategy", required=True, expected="a strategy name")
            if name is None:
                continue
            if name.lower() in seen:
                self.book.problem(rec.sheet, f"{seen[name.lower()]}, {rec.coord('strategy')}",
                                  "unique strategy names", f"'{name}' twice")
                continue
            seen[name.lower()] = rec.coord("strategy")
            rows.append({"strategy": name,
                         "label": self.cells.text(rec, "label") or name,
                         "description": self.cells.text(rec, "description") or ""})
        if not rows and not records:
            self.book.problem(S.STRATEGIES_SHEET.name, "A2", "at least one strategy",
                              "no strategies")
        return pd.DataFrame(rows, columns=["strategy", "label", "description"])

    # -- Parameters -------------------------------------------------------------------------

    def _parameter_name(self, rec: _Record, column: str = "name") -> str | None:
        name = self.cells.text(rec, column, required=True,
                               expected="a parameter name (letters, digits, underscore)")
        if name is None:
            return None
        if not S.IDENTIFIER.match(name):
            self.cells.fail(rec, column, "a parameter name of letters, digits and underscores, "
                            "starting with a letter", _show(name))
            return None
        key = name.lower()
        if key in self.parameter_cells:
            sheet, coord = self.parameter_cells[key]
            where = coord if sheet == rec.sheet else f"{sheet}!{coord}"
            self.book.problem(rec.sheet, f"{where}, {rec.coord(column)}",
                              "unique parameter names (ignoring case)", f"'{name}' twice")
            rec.bad = True
            return None
        self.parameter_cells[key] = (rec.sheet, rec.coord(column))
        return name

    def _source(self, rec: _Record) -> str | None:
        source = self.cells.text(rec, "source", required=True,
                                 expected="a source: a citation, or 'assumption' and the "
                                          "rationale")
        if source is not None and source.lower().rstrip(" .:;-") == "assumption":
            self.cells.fail(rec, "source", "a citation, or 'assumption' followed by the "
                            "rationale", "'assumption' with no rationale")
            return None
        return source

    def read_parameters(self):
        table = ParameterTable()
        records = self.book.records(S.PARAMETERS_SHEET)
        if records is None:
            return table
        for rec in records:
            name = self._parameter_name(rec)
            value = self.cells.number(rec, "value", required=True)
            unit = self.cells.text(rec, "unit") or ""
            kind = self.cells.choice(rec, "distribution", S.PARAMETER_DISTRIBUTIONS) or "fixed"
            se = self.cells.number(rec, "se")
            a = self.cells.number(rec, "param_a")
            b = self.cells.number(rec, "param_b")
            low = self.cells.number(rec, "low")
            high = self.cells.number(rec, "high")
            group = self.cells.text(rec, "group")
            description = self.cells.text(rec, "description") or ""
            source = self._source(rec)
            if rec.bad or name is None or value is None:
                continue
            spec = self._distribution_arguments(rec, kind, value, se, a, b)
            if spec is None:
                continue
            if S.is_cost(name, unit):
                self._check_cost(rec, name, value, low, a if kind in ("uniform", "triangular")
                                 else None)
            for bound, column in ((low, "low"), (high, "high")):
                if bound is None:
                    continue
                ok = bound <= value if column == "low" else bound >= value
                if not ok:
                    rel = "<=" if column == "low" else ">="
                    self.cells.fail(rec, column, f"a {column} value {rel} the value "
                                    f"{_fmt(value)} of '{name}'", _fmt(bound))
            if rec.bad:
                continue
            try:
                dist = from_spec(kind, name=name, **spec)
            except HtaError as exc:
                self._report_distribution_error(rec, kind, exc)
                continue
            if not self._finite_draws(rec, kind, dist):
                continue
            if source is None:
                continue
            try:
                table.add(name, value, dist=dist, low=low, high=high, group=group, unit=unit,
                          description=description, source=source)
            except HtaError as exc:
                self.cells.fail(rec, "name", "a parameter the table accepts",
                                _strip_who(str(exc)))
        return table

    def _distribution_arguments(self, rec: _Record, kind: str, value: float, se, a, b):
        """Keyword arguments for ``from_spec``, or None after reporting a wrong combination."""
        given = {"se": se is not None, "param_a": a is not None, "param_b": b is not None}
        if kind == "fixed":
            allowed: tuple[str, ...] = ()
        elif kind == "normal":
            allowed = ("se",)
        elif kind in S.NATIVE_PARAMETERS:
            native = S.NATIVE_PARAMETERS[kind]
            if given["se"] and (given["param_a"] or given["param_b"]):
                col = "param_a" if given["param_a"] else "param_b"
                self.cells.fail(rec, col, f"either se (with the mean in value) or native "
                                f"parameters {native[0]}/{native[1]} in param_a/param_b, "
                                f"not both", f"se and {col} both filled")
                return None
            if given["param_a"] or given["param_b"]:
                for col, p in zip(("param_a", "param_b"), native):
                    if not given[col]:
                        self.cells.missing(rec, col, f"the {kind} {p} (param_{col[-1]})")
                if rec.bad:
                    return None
                lo, hi = self._SUPPORT[kind]
                if value < lo or (hi is not None and value > hi):
                    support = f"[{_fmt(lo)}, {_fmt(hi)}]" if hi is not None else f">= {_fmt(lo)}"
                    self.cells.fail(rec, "value", f"a base value within the support of the "
                                    f"{kind} distribution ({support})", _fmt(value))
                    return None
                return {native[0]: a, native[1]: b}
            allowed = ("se",)
        else:  # uniform, triangular
            allowed = ("param_a", "param_b")
        for col in ("se", "param_a", "param_b"):
            if given[col] and col not in allowed:
                self.cells.fail(rec, col, f"a blank cell ({col} is not used by a {kind} "
                                "distribution)", _show(rec.cells[col].value))
            elif not given[col] and col in allowed:
                what = {"se": "the standard error", "param_a": "the lower limit",
                        "param_b": "the upper limit"}[col]
                if kind in S.NATIVE_PARAMETERS:
                    what += " (or native parameters in param_a/param_b)"
                self.cells.missing(rec, col, f"{what} of the {kind} distribution")
        if rec.bad:
            return None
        if kind == "fixed":
            return {"value": value}
        if kind == "normal":
            return {"mean": value, "sd": se}
        if kind in S.NATIVE_PARAMETERS:
            return {"mean": value, "se": se}
        if kind == "uniform":
            if a >= b:
                self.cells.fail(rec, "param_a", f"a uniform lower limit below the upper limit "
                                f"{_fmt(b)}", _fmt(a))
                return None
            if not a <= value <= b:
                self.cells.fail(rec, "value", f"a value within the uniform range "
                                f"[{_fmt(a)}, {_fmt(b)}]", _fmt(value))
                return None
            return {"low": a, "high": b}
        return {"low": a, "mode": value, "high": b}

    _SUPPORT = {"beta": (0.0, 1.0), "gamma": (0.0, None), "lognormal": (0.0, None)}

    def _finite_draws(self, rec: _Record, kind: str, dist) -> bool:
        """False (reported at the distribution cell) if the extreme quantiles a PSA or a
        Sobol design can reach are not finite numbers (parameters so large they overflow)."""
        with np.errstate(all="ignore"):
            q = np.asarray(dist._marginal_ppf(np.array([1e-12, 0.5, 1.0 - 1e-12])), dtype=float)
        if np.isfinite(q).all():
            return True
        self.cells.fail(rec, "distribution", f"a {kind} distribution whose draws are finite numbers",
                        "parameters so large that draws overflow to infinity")
        return False

    def _report_distribution_error(self, rec: _Record, kind: str, exc: HtaError) -> None:
        """Re-report an invalid-distribution error from ``from_spec`` at the cell at fault."""
        message = _strip_who(str(exc))
        expected, _, found = message.partition("; found ")
        column = "distribution"
        argument = re.search(rf"\b{kind}\s+(\w+)", expected, flags=re.IGNORECASE)
        if argument:
            word = argument.group(1).lower()
            native = S.NATIVE_PARAMETERS.get(kind, ())
            column = {"mean": "value", "mode": "value", "se": "se", "sd": "se",
                      "low": "param_a", "high": "param_b"}.get(word, column)
            if word in native:
                column = "param_a" if word == native[0] else "param_b"
        if rec.cell(column) is None:
            column = "value"
        self.cells.fail(rec, column, f"a valid {kind} distribution: {expected}",
                        found or "an invalid specification")

    def _check_cost(self, rec: _Record, name: str, value: float, low, lower) -> None:
        for x, column in ((value, "value"), (low, "low"), (lower, "param_a")):
            if x is not None and x < 0:
                self.cells.fail(rec, column, f"a cost >= 0 for '{name}' (costs cannot be "
                                "negative)", _fmt(x))

    # -- Dirichlet --------------------------------------------------------------------------

    def read_dirichlet(self, table: ParameterTable) -> dict[str, DirichletBlock]:
        records = self.book.records(S.DIRICHLET_SHEET)
        if not records:
            return {}
        blocks: dict[str, list[tuple[_Record, str, float, str, str]]] = {}
        first_cell: dict[str, str] = {}
        for rec in records:
            block = self.cells.text(rec, "block", required=True, expected="a block name")
            name = self._parameter_name(rec)
            count = self.cells.number(rec, "count", required=True,
                                      expected="a count > 0", minimum=0.0, exclusive_min=True)
            description = self.cells.text(rec, "description") or ""
            source = self._source(rec)
            if block is None:
                continue
            first_cell.setdefault(block, rec.coord("block"))
            blocks.setdefault(block, []).append((rec, name, count, description, source))
        result = {}
        for block, rows in blocks.items():
            if len(rows) < 2:
                self.book.problem(S.DIRICHLET_SHEET.name, first_cell[block],
                                  f"at least two categories in Dirichlet block '{block}'",
                                  "one")
                continue
            if any(r[0].bad for r in rows):
                continue
            names = [r[1] for r in rows]
            counts = np.array([r[2] for r in rows], dtype=float)
            try:
                dist = from_spec("dirichlet", name=block, counts=counts)
                table.add_block(names, dist, base=counts / counts.sum(), group=block,
                                description=[r[3] for r in rows],
                                source="; ".join(dict.fromkeys(r[4] for r in rows)))
            except HtaError as exc:
                self.book.problem(S.DIRICHLET_SHEET.name, first_cell[block],
                                  f"a valid Dirichlet block '{block}'", _strip_who(str(exc)))
                continue
            result[block] = DirichletBlock(block, tuple(names), counts,
                                           tuple(r[4] for r in rows))
        return result

    # -- Survival ---------------------------------------------------------------------------

    def read_survival(self, strategies: pd.DataFrame | None
                      ) -> dict[tuple[str, str], SurvivalInput]:
        records = self.book.records(S.SURVIVAL_SHEET)
        if not records:
            coefficient_records = self.book.records(S.SURVIVAL_COEFFICIENTS_SHEET)
            for rec in coefficient_records or []:
                self.book.problem(rec.sheet, rec.coord("strategy"), "coefficients of a curve "
                                  "listed in the Survival sheet", "no Survival rows")
                break
            return {}
        known = {} if strategies is None else {s.lower(): s for s in strategies["strategy"]}
        coefficients = self._read_coefficients()
        curves: dict[tuple[str, str], SurvivalInput] = {}
        seen: dict[tuple[str, str], str] = {}
        for rec in records:
            strategy = self.cells.text(rec, "strategy", required=True,
                                       expected="a strategy name")
            endpoint = self.cells.text(rec, "endpoint", required=True,
                                       expected="an endpoint such as PFS or OS")
            kind = self.cells.choice(rec, "input", S.SURVIVAL_INPUTS, required=True)
            distribution = self.cells.choice(rec, "distribution", S.SURVIVAL_DISTRIBUTIONS,
                                             required=kind == "parametric")
            time_unit = self.cells.choice(rec, "time_unit", S.TIME_UNITS, required=True)
            data_sheet = self.cells.text(rec, "data_sheet", required=kind in ("km", "ipd"),
                                         expected="the name of the sheet holding the data")
            n0 = self.cells.number(rec, "n_at_risk_0", expected="a whole number > 0",
                                   minimum=0, exclusive_min=True, integer=True)
            events = self.cells.number(rec, "total_events", expected="a whole number >= 0",
                                       minimum=0, integer=True)
            description = self.cells.text(rec, "description") or ""
            source = self._source(rec)
            if strategy is not None and strategies is not None:
                if strategy.lower() not in known:
                    self.cells.fail(rec, "strategy", "a strategy listed in the Strategies sheet "
                                    "(" + ", ".join(known.values()) + ")", _show(strategy))
                else:
                    strategy = known[strategy.lower()]
            if strategy is None or endpoint is None:
                continue
            key = (strategy.lower(), endpoint.lower())
            if key in seen:
                self.book.problem(rec.sheet, f"{seen[key]}, {rec.coord('endpoint')}",
                                  "one row per strategy and endpoint",
                                  f"{strategy} {endpoint} twice")
                continue
            seen[key] = rec.coord("endpoint")
            if events is not None and n0 is not None and events > n0:
                self.cells.fail(rec, "total_events", f"at most n_at_risk_0 = {int(n0)} events",
                                _fmt(events))
            curve = dict(strategy=strategy, endpoint=endpoint, kind=kind,
                         distribution=distribution, time_unit=time_unit,
                         description=description, source=source or "")
            if kind == "parametric":
                block = coefficients.pop(key, None)
                if rec.bad:
                    continue
                if block is None:
                    self.cells.fail(rec, "input", f"coefficients for {strategy} {endpoint} in "
                                    "the SurvivalCoefficients sheet", "none")
                    continue
                if rec.bad or distribution is None:
                    continue
                parsed = self._coefficient_block(block, distribution)
                if parsed is None:
                    continue
                curve.update(coef=parsed[0], coef_names=parsed[1], cov=parsed[2])
            elif kind in ("km", "ipd") and data_sheet is not None:
                actual = self.book.find_sheet(data_sheet)
                if actual is None:
                    self.cells.fail(rec, "data_sheet", "the name of a sheet in the workbook",
                                    f"'{data_sheet}' (no such sheet)")
                    continue
                curve["data_sheet"] = actual
                if kind == "km":
                    km = self._read_km(actual, None if n0 is None else int(n0))
                    if km is None:
                        continue
                    curve_km, at_risk, n0_used = km
                    if n0_used is None:
                        self.cells.missing(rec, "n_at_risk_0", "the number at risk at time 0 "
                                           "(or an at-risk table starting at time 0)")
                        continue
                    curve.update(km=curve_km, at_risk=at_risk, n_at_risk_0=n0_used,
                                 total_events=None if events is None else int(events))
                else:
                    ipd = self._read_ipd(actual)
                    if ipd is None:
                        continue
                    curve["ipd"] = ipd
            if rec.bad or kind is None or time_unit is None:
                continue
            curves[(strategy, endpoint)] = SurvivalInput(**curve)
        for key, block in coefficients.items():
            rec = block[0]
            self.book.problem(rec.sheet, rec.coord("strategy"), "coefficients of a parametric "
                              "curve listed in the Survival sheet (input = parametric)",
                              f"coefficients for {rec.cells['strategy'].value} "
                              f"{rec.cells['endpoint'].value} with no such Survival row")
        return curves

    def _read_coefficients(self) -> dict[tuple[str, str], list[_Record]]:
        records = self.book.records(S.SURVIVAL_COEFFICIENTS_SHEET)
        blocks: dict[tuple[str, str], list[_Record]] = {}
        for rec in records or []:
            strategy = self.cells.text(rec, "strategy", required=True,
                                       expected="a strategy name")
            endpoint = self.cells.text(rec, "endpoint", required=True,
                                       expected="an endpoint name")
            if strategy is None or endpoint is None:
                continue
            blocks.setdefault((strategy.lower(), endpoint.lower()), []).append(rec)
        return blocks

    def _coefficient_block(self, rows: list[_Record], distribution: str):
        """(coef, names, cov or None) of one curve, or None after reporting problems."""
        expected_names = S.SURVIVAL_COEFFICIENTS[distribution]
        k = len(expected_names)
        sheet = rows[0].sheet
        where = f"{rows[0].cells['strategy'].value} {rows[0].cells['endpoint'].value}"
        names, estimates = [], []
        for rec in rows:
            names.append(self.cells.text(rec, "coefficient", required=True,
                                         expected="a coefficient name"))
            estimates.append(self.cells.number(rec, "estimate", required=True))
            self._source(rec)
        if any(r.bad for r in rows):
            return None
        if [n.lower() for n in names] != [n.lower() for n in expected_names]:
            self.book.problem(sheet, f"{rows[0].coord('coefficient')}:"
                              f"{rows[-1].coord('coefficient')}",
                              f"{k} coefficient{'s' if k > 1 else ''} of the {distribution} "
                              f"curve {where}, in this order: {', '.join(expected_names)}",
                              ", ".join(names))
            return None
        cov_columns = [f"cov_{j}" for j in range(1, S.MAX_COEFFICIENTS + 1)]
        cov = np.full((k, k), np.nan)
        any_given = False
        for i, rec in enumerate(rows):
            for j, column in enumerate(cov_columns):
                x = self.cells.number(rec, column)
                if x is None:
                    continue
                any_given = True
                if j >= k:
                    self.cells.fail(rec, column, f"a blank cell (the {distribution} curve has "
                                    f"{k} coefficient{'s' if k > 1 else ''})", _fmt(x))
                else:
                    cov[i, j] = x
        if any(r.bad for r in rows):
            return None
        coef = np.array(estimates, dtype=float)
        if not any_given:
            return coef, tuple(expected_names), None
        for i, rec in enumerate(rows):
            for j in range(k):
                if np.isnan(cov[i, j]):
                    self.cells.missing(rec, cov_columns[j], f"covariance ({i + 1}, {j + 1}) of "
                                       f"{where} (fill the whole matrix, or leave it all blank "
                                       "for fixed coefficients)")
        if any(r.bad for r in rows):
            return None
        scale = max(float(np.max(np.abs(cov))), 1e-300)
        for i in range(k):
            for j in range(i + 1, k):
                if abs(cov[i, j] - cov[j, i]) > 1e-8 * scale:
                    self.book.problem(sheet, f"{rows[i].coord(cov_columns[j])}, "
                                      f"{rows[j].coord(cov_columns[i])}",
                                      f"a symmetric covariance matrix for {where}",
                                      f"{_fmt(cov[i, j])} and {_fmt(cov[j, i])}")
                    return None
        eigenvalues = np.linalg.eigvalsh(cov)
        if eigenvalues.min() < -1e-10 * scale:
            self.book.problem(sheet, f"{rows[0].coord(cov_columns[0])}:"
                              f"{rows[-1].coord(cov_columns[k - 1])}",
                              f"a positive semi-definite covariance matrix for {where}",
                              f"a matrix with eigenvalue {eigenvalues.min():.3g}")
            return None
        return coef, tuple(expected_names), cov

    def _read_km(self, sheet: str, n0: int | None):
        """(curve, at-risk table or None, number at risk at 0) from a KM data sheet."""
        records = self.book.records(S.KM_SHEET, sheet, missing_ok=False)
        if records is None:
            return None
        points, at_risk = [], []
        for rec in records:
            if not (rec.blank("time") and rec.blank("survival")):
                # Slightly negative digitised times are checked below, against the last time.
                t = self.cells.number(rec, "time", required=True, expected="a time >= 0")
                s = self.cells.number(rec, "survival", required=True,
                                      expected="a survival from 0 to 1 (or 0 to 100 percent)",
                                      minimum=0.0, maximum=100.0)
                if t is not None and s is not None:
                    points.append((t, s, rec))
            if not (rec.blank("at_risk_time") and rec.blank("n_at_risk")):
                t = self.cells.number(rec, "at_risk_time", required=True,
                                      expected="a time >= 0", minimum=0.0)
                n = self.cells.number(rec, "n_at_risk", required=True,
                                      expected="a whole number >= 0", minimum=0.0, integer=True)
                if t is not None and n is not None:
                    at_risk.append((t, int(n), rec))
        if any(r.bad for r in records):
            return None
        if len(points) < 2:
            self.book.problem(sheet, "A2", "at least two digitised (time, survival) points",
                              f"{len(points)}")
            return None
        limit = S.KM_NEGATIVE_TIME_TOLERANCE * max(max(t for t, _, _ in points), 0.0)
        negative = [(t, rec) for t, _, rec in points if t < -limit]
        for t, rec in negative:
            self.cells.fail(rec, "time", f"a time >= 0 (digitised times down to -{_fmt(limit)}, "
                            f"{S.KM_NEGATIVE_TIME_TOLERANCE:.0%} of the last time, are read as 0)", _fmt(t))
        if negative:
            return None
        # Percent or proportion: a percent curve has most values above 1 (it starts near 100);
        # a few values above 1 among proportions are typos, not a change of scale.
        above_one = [(s, rec) for _, s, rec in points if s > 1.0]
        percent = 2 * len(above_one) >= len(points)
        if above_one and not percent:
            for s, rec in above_one:
                self.cells.fail(rec, "survival", "a survival proportion from 0 to 1, like most "
                                "of this sheet's points", _fmt(s))
            return None
        scale = 100.0 if percent else 1.0
        order = sorted(range(len(points)), key=lambda i: points[i][0])  # stable: ties keep order
        ok = True
        lowest = math.inf
        for i in order:
            t, s, rec = points[i]
            s /= scale
            if s > lowest + S.KM_RISE_TOLERANCE:
                self.cells.fail(rec, "survival", f"a survival that does not rise by more than "
                                f"{_fmt(S.KM_RISE_TOLERANCE * scale)} above earlier points "
                                f"(lowest so far {_fmt(lowest * scale)})", _fmt(s * scale))
                ok = False
            lowest = min(lowest, s)
        km = pd.DataFrame({"time": [points[i][0] for i in order],
                           "survival": [points[i][1] / scale for i in order]})
        if not at_risk:
            return (km, None, n0) if ok else None
        t_max = float(km["time"].max())
        first_n = at_risk[0][1] if at_risk[0][0] == 0 else None
        if n0 is None:
            n0 = first_n
        elif first_n is not None and first_n != n0:
            self.cells.fail(at_risk[0][2], "n_at_risk", f"the number at risk at time 0 to "
                            f"equal n_at_risk_0 = {n0} in the Survival sheet", str(first_n))
            ok = False
        previous_t, previous_n = -math.inf, math.inf
        for t, n, rec in at_risk:
            if t <= previous_t:
                self.cells.fail(rec, "at_risk_time", "at-risk times in increasing order",
                                f"{_fmt(t)} after {_fmt(previous_t)}")
                ok = False
            elif t > t_max:
                self.cells.fail(rec, "at_risk_time", f"an at-risk time within the curve's time "
                                f"range [0, {_fmt(t_max)}]", _fmt(t))
                ok = False
            if n > previous_n:
                self.cells.fail(rec, "n_at_risk", "numbers at risk that never rise",
                                f"{n} after {previous_n}")
                ok = False
            elif n0 is not None and n > n0:
                self.cells.fail(rec, "n_at_risk", f"at most the initial number at risk {n0}",
                                str(n))
                ok = False
            elif n0 is not None and t > 0:
                # Patients still at risk at t have survived to just before t, so n(t) cannot
                # exceed n0 * S(t-) beyond digitisation error.
                before = km["survival"][km["time"] < t]
                s_before = float(before.min()) if len(before) else 1.0
                limit = n0 * (s_before + S.KM_RISE_TOLERANCE) + 1
                if n > limit:
                    self.cells.fail(rec, "n_at_risk", f"at most about {math.floor(limit)} at "
                                    f"risk at time {_fmt(t)}: the curve shows {_fmt(s_before)} "
                                    f"surviving of {n0}", str(n))
                    ok = False
            previous_t, previous_n = t, n
        if not ok:
            return None
        table = pd.DataFrame({"time": [t for t, _, _ in at_risk],
                              "n_at_risk": [n for _, n, _ in at_risk]})
        return km, table, n0

    def _read_ipd(self, sheet: str) -> pd.DataFrame | None:
        records = self.book.records(S.IPD_SHEET, sheet, missing_ok=False)
        if records is None:
            return None
        times, events = [], []
        for rec in records:
            t = self.cells.number(rec, "time", required=True, expected="a time >= 0",
                                  minimum=0.0)
            e = self.cells.number(rec, "event", required=True, expected="1 (event) or 0 "
                                  "(censored)", minimum=0.0, maximum=1.0, integer=True)
            times.append(t)
            events.append(e)
        if any(r.bad for r in records):
            return None
        if not records:
            self.book.problem(sheet, "A2", "individual patient data (time, event) rows",
                              "no rows")
            return None
        return pd.DataFrame({"time": np.array(times, dtype=float),
                             "event": np.array(events, dtype=int)})

    # -- Budget impact ----------------------------------------------------------------------

    def read_budget(self, strategies, parameters) -> BudgetInputs | None:
        return _BudgetReader(self).read(strategies, parameters)

    # -- Life table -------------------------------------------------------------------------

    def read_lifetable(self, settings: Settings | None) -> pd.DataFrame | None:
        wanted = settings is not None and settings.life_table == "sheet"
        records = self.book.records(S.LIFETABLE_SHEET, missing_ok=not wanted)
        if records is None:
            return None
        rows, seen = [], {}
        for rec in records:
            age = self.cells.number(rec, "age", required=True, expected="an age from 0 to 120",
                                    minimum=0.0, maximum=120.0)
            sex = self.cells.choice(rec, "sex", S.SEXES, required=True)
            mx = self.cells.number(rec, "mx", required=True, expected="a death rate >= 0",
                                   minimum=0.0)
            if rec.bad:
                continue
            key = (age, sex)
            if key in seen:
                self.book.problem(rec.sheet, f"{seen[key]}, {rec.coord('age')}",
                                  "one row per age and sex", f"age {_fmt(age)} {sex} twice")
                continue
            seen[key] = rec.coord("age")
            rows.append({"age": age, "sex": sex, "mx": mx})
        if not rows:
            if wanted and not records:
                self.book.problem(S.LIFETABLE_SHEET.name, "A2", "life-table rows (age, sex, "
                                  "mx), because the setting life_table is 'sheet'", "no rows")
            return None
        return pd.DataFrame(rows).sort_values(["sex", "age"], ignore_index=True)


class _BudgetReader:
    """The Budget and BudgetShares sheets -> :class:`hta.analysis.bia.BudgetInputs` (see docs/bia.md)."""

    def __init__(self, reader: "_Reader"):
        self.r = reader
        self.book = reader.book
        self.cells = reader.cells

    def read(self, strategies: pd.DataFrame | None, parameters) -> BudgetInputs | None:
        items = self.book.records(S.BUDGET_SHEET)
        shares = self.book.records(S.BUDGET_SHARES_SHEET)
        if items is None and shares is None:
            return None
        if items is not None and not shares and all(rec.blank("value") for rec in items):
            return None  # the template's item list, not filled in
        if items is None or shares is None:
            missing, present = ((S.BUDGET_SHEET.name, S.BUDGET_SHARES_SHEET.name) if items is None
                                else (S.BUDGET_SHARES_SHEET.name, S.BUDGET_SHEET.name))
            if self.book.find_sheet(missing) is None:
                self.book.problem(missing, "", f"a sheet named '{missing}' (a budget impact needs both "
                                  f"Budget and BudgetShares)", f"only '{present}'")
            return None
        values, rows = self._items(items)
        if values is None or strategies is None:
            return None
        names = [] if strategies is None else list(strategies["strategy"])
        sheet = S.BUDGET_SHEET.name
        new = values.get("new_strategy")
        if new is not None and strategies is not None and new not in names:
            self.book.problem(sheet, rows["new_strategy"].coord("value"),
                              "the name of a strategy of the Strategies sheet (" + ", ".join(names) + ")",
                              _show(new))
            return None
        price = values.get("price_parameter")
        if price is not None and parameters is not None and price not in parameters:
            self.book.problem(sheet, rows["price_parameter"].coord("value"),
                              "the name of a parameter of the Parameters sheet", _show(price))
            return None
        horizon = int(values.get("horizon_years") or 5)
        market = self._shares(shares, names, new, horizon, values.get("uptake_curve"))
        if market is None or self.book.problems:
            return None
        without, explicit, displacement, share_cells = market
        kwargs = {k: v for k, v in values.items() if k in {f.name for f in dataclasses.fields(BudgetInputs)}
                  and k not in ("eligible", "ranges", "sources", "labels")}
        for k in ("start_year", "horizon_years", "population_year"):
            if k in kwargs:
                kwargs[k] = int(kwargs[k])
        spec = BudgetInputs(shares_without=without, uptake_explicit=explicit, displacement=displacement,
                            eligible=tuple(values["eligible"]), ranges=values["ranges"],
                            price_range=values["ranges"].pop("price_parameter", None),
                            sources=values["sources"], labels=values["labels"], **kwargs)
        # The curves and shares must work in the base case and at every one-way value.
        checks = [("the base case", spec)] + [
            (f"{item} = {_fmt(v)} (its {level} value)", spec.with_values(**{item: v}))
            for item, (lo, hi) in spec.ranges.items() for level, v in (("low", lo), ("high", hi))]
        for what, variant in checks:
            try:
                bia.market_shares(variant)
            except HtaError as err:
                cell = share_cells if what == "the base case" else rows[what.split(" ")[0]].coord("value")
                where = S.BUDGET_SHARES_SHEET.name if what == "the base case" else sheet
                message = str(err).replace("budget impact: ", "")
                self.book.problem(where, cell, f"market shares that work in {what}", message)
                return None
        return spec

    def _items(self, records):
        sheet = S.BUDGET_SHEET.name
        known = ", ".join([s.name for s in S.BUDGET_ITEMS] + ["eligible_<name>"])
        values: dict[str, Any] = {"eligible": [], "ranges": {}, "sources": {}, "labels": {}}
        rows: dict[str, _Record] = {}
        for rec in records:
            name = self.cells.text(rec, "item", required=True, expected="an item name")
            if name is None:
                continue
            key = name.lower()
            if key in rows:
                self.book.problem(sheet, f"{rows[key].coord('item')}, {rec.coord('item')}",
                                  "each item once", f"'{name}' twice")
                continue
            rows[key] = rec
            spec = S.BUDGET_ITEMS_BY_NAME.get(key)
            eligible = S.ELIGIBLE_ITEM.match(key) is not None
            if spec is None and not eligible:
                self.cells.fail(rec, "item", f"a known budget item ({known})", _show(name))
                continue
            spec = spec or S.ELIGIBLE
            value = self.r._setting_value(rec, spec)
            if value is None:
                if rec.blank("value") and (spec.required or eligible):
                    self.cells.missing(rec, "value", f"a value for '{key}': {spec.expected()}")
                continue
            source = self.r._source(rec)
            if source is not None:
                values["sources"][key] = source
            label = self.cells.text(rec, "description") or key
            values["labels"][key] = label
            if eligible:
                values["eligible"].append((key, label, float(value)))
            else:
                values[key] = value
            low = self.cells.number(rec, "low")
            high = self.cells.number(rec, "high")
            if low is None and high is None:
                continue
            if low is None or high is None:
                self.cells.missing(rec, "high" if low is not None else "low",
                                   "both low and high (or neither) for a one-way range")
                continue
            if spec.kind not in (S.NUMBER, S.INTEGER) and key != "price_parameter":
                self.cells.fail(rec, "low", f"a blank cell ('{key}' is not a number)", _fmt(low))
                continue
            if key != "price_parameter" and not (low <= float(value) <= high):
                self.cells.fail(rec, "low", f"low <= value <= high for '{key}'",
                                f"low {_fmt(low)}, value {_fmt(float(value))}, high {_fmt(high)}")
                continue
            for column, x in (("low", low), ("high", high)):
                bad = ((spec.minimum is not None and x < spec.minimum)
                       or (spec.maximum is not None and x > spec.maximum))
                if key == "price_parameter":
                    bad = x < 0
                if bad:
                    self.cells.fail(rec, column, f"{spec.expected() if key != 'price_parameter' else 'a price >= 0'} "
                                    f"for '{key}'", _fmt(x))
            if not rec.bad:
                values["ranges"][key] = (low, high)
        for spec in S.BUDGET_ITEMS:
            if spec.required and spec.name not in rows:
                self.book.problem(sheet, "", f"a row for the required budget item '{spec.name}' "
                                  f"({spec.expected()})", "no such row")
        if any(r.bad for r in records) or any(s.required and s.name not in values for s in S.BUDGET_ITEMS):
            return None, rows
        curve = values["uptake_curve"]
        needed = {"linear": ("uptake_year_1", "uptake_peak", "uptake_peak_year"),
                  "s-shaped": ("uptake_peak", "uptake_midpoint", "uptake_steepness")}.get(curve, ())
        for k in needed:
            if k not in values:
                cell = rows[k].coord("value") if k in rows else ""
                self.book.problem(sheet, cell, f"a value for '{k}' (uptake_curve is {curve})",
                                  "an empty cell" if k in rows else "no such row")
        if self.book.problems:
            return None, rows
        for spec in S.BUDGET_ITEMS:
            if spec.name not in values and spec.default is not None:
                values[spec.name] = spec.default
        return values, rows

    def _shares(self, records, names, new, horizon, curve):
        sheet = S.BUDGET_SHARES_SHEET.name
        known = {n.lower(): n for n in names}
        cells: dict[tuple[str, int | None], _Record] = {}
        for rec in records:
            strategy = self.cells.text(rec, "strategy", required=True, expected="a strategy name")
            year = self.cells.number(rec, "year", expected=f"a budget year from 1 to {horizon} (or blank "
                                     "for every year)", minimum=1.0, maximum=float(horizon), integer=True)
            for column in ("share_without", "share_with", "displacement"):
                self.cells.number(rec, column, required=(column == "share_without"),
                                  expected="a share from 0 to 1", minimum=0.0, maximum=1.0)
            self.r._source(rec)
            if strategy is None or rec.bad:
                continue
            if strategy.lower() not in known:
                self.cells.fail(rec, "strategy", "a strategy of the Strategies sheet (" + ", ".join(names) + ")",
                                _show(strategy))
                continue
            key = (known[strategy.lower()], None if year is None else int(year))
            if key in cells:
                self.book.problem(sheet, f"{cells[key].coord('strategy')}, {rec.coord('strategy')}",
                                  "one row per strategy and year", f"{key[0]} year "
                                  f"{'(every year)' if key[1] is None else key[1]} twice")
                continue
            cells[key] = rec
        if any(r.bad for r in records) or self.book.problems:
            return None
        years = list(range(1, horizon + 1))
        table = {c: pd.DataFrame(np.nan, index=years, columns=names) for c in ("share_without", "share_with",
                                                                               "displacement")}
        where: dict[tuple[str, int], _Record] = {}
        for (strategy, year), rec in sorted(cells.items(), key=lambda kv: kv[0][1] is not None):
            for y in (years if year is None else [year]):
                where[(strategy, y)] = rec
                for column, frame in table.items():
                    frame.loc[y, strategy] = self.cells.number(rec, column)
        for strategy in names:
            missing = [y for y in years if (strategy, y) not in where]
            if missing and strategy != new:
                self.book.problem(sheet, "", f"a share row for strategy '{strategy}' in every budget year "
                                  "(a row with a blank year covers them all)",
                                  "none for year " + ", ".join(map(str, missing)))
        if self.book.problems:
            return None
        without = table["share_without"].fillna(0.0)
        first, last = records[0].row, records[-1].row
        column = records[0].coord("share_without")[0]
        for y in years:
            total = float(without.loc[y].sum())
            if abs(total - 1.0) > bia.SHARE_TOLERANCE:
                self.book.problem(sheet, f"{column}{first}:{column}{last}", f"shares without the new drug "
                                  f"that sum to 1 in budget year {y}", _fmt(total))
                return None
        if new is not None and float(without[new].abs().max()) > bia.SHARE_TOLERANCE:
            rec = next(where[(new, y)] for y in years if abs(without.loc[y, new]) > bia.SHARE_TOLERANCE)
            self.cells.fail(rec, "share_without", f"0 for the new strategy '{new}' (it is not used "
                            "without the new drug)", _fmt(float(without[new].abs().max())))
            return None
        with_ = table["share_with"]
        for (strategy, y), rec in where.items():
            if strategy != new and not np.isnan(with_.loc[y, strategy]):
                self.cells.fail(rec, "share_with", "a blank cell (a comparator's share with the new drug "
                                "follows from the displacement weights)", _fmt(float(with_.loc[y, strategy])))
                return None
            if strategy == new and curve != "explicit" and not np.isnan(with_.loc[y, strategy]):
                self.cells.fail(rec, "share_with", f"a blank cell (uptake_curve is {curve}; share_with is "
                                "read only for explicit uptake)", _fmt(float(with_.loc[y, strategy])))
                return None
        explicit = None
        if curve == "explicit":
            values = with_[new] if new in with_ else pd.Series(np.nan, index=years)
            missing = [y for y in years if np.isnan(values.loc[y])]
            if missing:
                self.book.problem(sheet, "", f"share_with of the new strategy '{new}' in every budget year "
                                  "(uptake_curve is explicit)", "none for year " + ", ".join(map(str, missing)))
                return None
            explicit = tuple(float(values.loc[y]) for y in years)
        d = table["displacement"]
        displacement = None
        if d.notna().to_numpy().any():
            displacement = d.fillna(0.0)
        cell_range = f"{column}{first}:{column}{last}"
        return without, explicit, displacement, cell_range


def _strip_who(message: str) -> str:
    """Drop a leading "parameter 'x': " from an engine error message."""
    return re.sub(r"^(parameter|distribution) ?('[^']*')?:\s*", "", message)
