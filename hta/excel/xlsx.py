"""A small, bounded reader of the cells of an .xlsx workbook (values, cached results and formulas).

The input reader needs little of a workbook: the sheet names, and for the sheets it reads each
used cell's value (the cached result for a formula) and whether it holds a formula. This module
reads exactly that, streaming each XML part through expat in 1 MiB chunks, so that

* time and memory are proportional to the **used** cells of the sheets read, never to a sheet's
  declared dimension (one stray cell at ``A1048576`` costs one cell), and a sheet with more than
  :data:`MAX_ROWS` used rows or :data:`MAX_CELLS` cells is refused as soon as the limit is passed;
* every problem of the file is one :class:`Damaged` naming the part at fault
  (``xl/sharedStrings.xml``, ``xl/worksheets/sheet2.xml``, ...): malformed XML, invalid UTF-8,
  control characters, undefined entities, a shared-string or style index out of range, a
  missing part; any document type declaration is refused (no external entities, no entity
  expansion: workbooks never contain one);
* a NaN or infinity stored as a number is kept as a non-finite float for the reader to refuse
  at its cell; a number formatted as a date outside Excel's range becomes :class:`BadDate`.

Parts the input reader does not need (comments, drawings, document properties, charts, other
sheets) are never parsed. Chart sheets are listed with their kind so that a chart sheet named
like an input sheet is reported as such.
"""

from __future__ import annotations

import datetime as _dt
import math
import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from xml.parsers import expat

#: The most rows read from one sheet, the most filled cells of one sheet, and the most shared
#: strings of a workbook: at these limits a read takes about 4 s of CPU and 0.3 GB on the shared
#: 2-core machine (docs/robustness.md), so any workbook within them is read within 10 s and 1 GB.
MAX_ROWS = 100_000
MAX_CELLS = 500_000
MAX_STRINGS = 1_000_000
#: Excel's own limits: a cell beyond them means the part is damaged.
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
_CHUNK = 1 << 20
_REF = re.compile(r"^\$?([A-Z]{1,3})\$?([0-9]{1,7})$")


class Damaged(Exception):
    """A part of the workbook cannot be read: ``part`` is its name in the archive."""

    def __init__(self, part: str, detail: str):
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail


class TooLarge(Exception):
    """A sheet has more used rows or cells than the reader reads."""


@dataclass(frozen=True)
class BadDate:
    """A number formatted as a date that lies outside Excel's date range."""

    serial: float

    def __str__(self) -> str:
        return f"a date outside Excel's date range (serial number {self.serial:g})"


@dataclass
class SheetCells:
    """The used cells of one worksheet: ``rows[row][column] = (value, formula or None)``."""

    name: str
    part: str
    rows: dict[int, dict[int, tuple[object, str | None]]] = field(default_factory=dict)

    def by_row(self) -> dict[int, dict[int, tuple[object, str | None]]]:
        """The used cells grouped by row, rows in increasing order."""
        return {r: self.rows[r] for r in sorted(self.rows)}

    @property
    def max_column(self) -> int:
        return max((max(cols) for cols in self.rows.values() if cols), default=0)


_LETTERS: dict[int, str] = {}


def column_letter(j: int) -> str:
    """'A' for 1, 'AA' for 27."""
    letters = _LETTERS.get(j)
    if letters is None:
        letters, k = "", j
        while k > 0:
            k, rem = divmod(k - 1, 26)
            letters = chr(65 + rem) + letters
        _LETTERS[j] = letters
    return letters


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    _COLUMNS[letters] = n
    return n


_COLUMNS: dict[str, int] = {}


_LOCAL: dict[str, str] = {}


def _local(name: str) -> str:
    local = _LOCAL.get(name)
    if local is None:
        local = _LOCAL[name] = name.rsplit(" ", 1)[-1].rsplit(":", 1)[-1]
    return local


def _no_dtd(*_args) -> None:
    raise _Refused("a document type declaration (workbooks never contain one; external "
                   "entities and entity expansion are not read)")


class _Refused(Exception):
    pass


def _parse(archive: zipfile.ZipFile, part: str, start, end=None, text=None) -> None:
    """Stream ``part`` through expat with the given handlers; any failure is :class:`Damaged`."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    parser.ExternalEntityRefHandler = lambda *a: 0
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
        parser.buffer_text = True
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except KeyError:
        raise Damaged(part, "the part is missing") from None
    except expat.ExpatError as exc:
        raise Damaged(part, f"not valid XML ({expat.ErrorString(exc.code)}, line {exc.lineno}, "
                            f"column {exc.offset})") from None
    except _Refused as exc:
        raise Damaged(part, str(exc)) from None
    except (TooLarge, Damaged):
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, IndexError, OverflowError,
            UnicodeError, RecursionError, MemoryError) as exc:
        raise Damaged(part, f"{type(exc).__name__}: {exc}") from None


def _attrs(attrs: dict) -> dict:
    return {_local(k): v for k, v in attrs.items()}


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


class Workbook:
    """The sheets of an .xlsx archive; worksheets are parsed when first asked for."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.sheets: dict[str, tuple[str, str]] = {}  # name -> (kind, part)
        self.date1904 = False
        self._shared: list[str] | None = None
        self._date_styles: list[bool] | None = None
        self._cache: dict[str, SheetCells] = {}
        self._failed: dict[str, Exception] = {}
        rels = self._relationships("xl/_rels/workbook.xml.rels", "xl")
        self._shared_part = next((t for t, kind in rels.values() if kind == "sharedStrings"), None)
        self._styles_part = next((t for t, kind in rels.values() if kind == "styles"), None)
        order: list[tuple[str, str]] = []

        def start(name, attrs):
            name, attrs = _local(name), _attrs(attrs)
            if name == "sheet":
                order.append((attrs.get("name", ""), attrs.get("id", "")))
            elif name == "workbookPr":
                self.date1904 = attrs.get("date1904", "0").lower() in ("1", "true")

        _parse(archive, "xl/workbook.xml", start)
        for sheet_name, rid in order:
            if rid not in rels:
                raise Damaged("xl/_rels/workbook.xml.rels", f"no relationship {rid!r} for the "
                              f"sheet '{sheet_name[:31]}'")
            target, kind = rels[rid]
            self.sheets[sheet_name] = (kind, target)

    @property
    def sheetnames(self) -> list[str]:
        return list(self.sheets)

    def _relationships(self, part: str, base_dir: str) -> dict[str, tuple[str, str]]:
        rels: dict[str, tuple[str, str]] = {}

        def start(name, attrs):
            if _local(name) == "Relationship":
                a = _attrs(attrs)
                kind = a.get("Type", "").rsplit("/", 1)[-1]
                rels[a.get("Id", "")] = (_resolve(base_dir, a.get("Target", "")), kind)

        _parse(self.archive, part, start)
        return rels

    # -- shared strings and styles (read once, when a sheet first needs them) -----------------

    def shared_strings(self) -> list[str]:
        if self._failed.get("strings") is not None:
            raise self._failed["strings"]
        try:
            return self._read_shared_strings()
        except (Damaged, TooLarge) as exc:
            self._failed["strings"] = exc
            raise

    def _read_shared_strings(self) -> list[str]:
        if self._shared is None:
            strings: list[str] = []
            if self._shared_part is not None:
                state = {"in_si": False, "depth_rph": 0, "in_t": False, "buf": []}

                def start(name, attrs):
                    name = _local(name)
                    if name == "si":
                        state["in_si"], state["buf"] = True, []
                    elif name == "rPh":
                        state["depth_rph"] += 1
                    elif name == "t" and state["in_si"] and not state["depth_rph"]:
                        state["in_t"] = True

                def end(name):
                    name = _local(name)
                    if name == "si":
                        strings.append("".join(state["buf"]))
                        state["in_si"] = False
                        if len(strings) > MAX_STRINGS:
                            raise TooLarge(f"more than {MAX_STRINGS:,} shared strings")
                    elif name == "rPh":
                        state["depth_rph"] -= 1
                    elif name == "t":
                        state["in_t"] = False

                def text(data):
                    if state["in_t"]:
                        state["buf"].append(data)

                _parse(self.archive, self._shared_part, start, end, text)
            self._shared = strings
        return self._shared

    def date_styles(self) -> list[bool]:
        """For each cell style (``s`` attribute of a cell), whether its number format is a date."""
        if self._failed.get("styles") is not None:
            raise self._failed["styles"]
        try:
            return self._read_date_styles()
        except (Damaged, TooLarge) as exc:
            self._failed["styles"] = exc
            raise

    def _read_date_styles(self) -> list[bool]:
        if self._date_styles is None:
            from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

            formats: dict[int, str] = {}
            styles: list[bool] = []
            state = {"xfs": False}

            def start(name, attrs):
                name, attrs = _local(name), _attrs(attrs)
                if name == "numFmt":
                    try:
                        formats[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
                    except ValueError:
                        pass
                elif name == "cellXfs":
                    state["xfs"] = True
                elif name == "xf" and state["xfs"]:
                    try:
                        fid = int(attrs.get("numFmtId", "0"))
                    except ValueError:
                        fid = 0
                    code = formats.get(fid, BUILTIN_FORMATS.get(fid, "General"))
                    styles.append(bool(is_date_format(code)) if code else False)

            def end(name):
                if _local(name) == "cellXfs":
                    state["xfs"] = False

            if self._styles_part is not None:
                _parse(self.archive, self._styles_part, start, end)
            self._date_styles = styles
        return self._date_styles

    # -- worksheets -----------------------------------------------------------------------------

    def kind(self, sheet: str) -> str:
        return self.sheets[sheet][0]

    def cells(self, sheet: str) -> SheetCells:
        """The used cells of a worksheet (raises :class:`Damaged` or :class:`TooLarge`)."""
        if sheet in self._cache:
            return self._cache[sheet]
        kind, part = self.sheets[sheet]
        if kind != "worksheet":
            raise Damaged(part, f"'{sheet[:31]}' is a {kind or 'non-worksheet'} part, not a worksheet")
        result = SheetCells(sheet, part)
        shared = self.shared_strings()
        dates = self.date_styles()
        rows = result.rows
        merges: list[str] = []
        # row, column, rows seen, cells kept, type, style, value, formula, collecting, buffer, in rPh
        st = {"row": 0, "col": 0, "rows": 0, "cells": 0, "t": "n", "s": 0, "v": None, "f": None,
              "in": None, "buf": [], "rph": 0}
        local = _local
        ref_match = _REF.match

        def fail(detail):
            raise Damaged(part, detail)

        def start(name, attrs):
            name = local(name)
            if name == "c":
                ref = attrs.get("r")
                if ref is not None:
                    m = ref_match(ref)
                    if m is None:
                        fail(f"a cell reference {ref[:20]!r} that is not a cell")
                    letters = m.group(1)
                    col = _COLUMNS.get(letters) or _column_number(letters)
                    row = int(m.group(2))
                    if row != st["row"] or not 1 <= row <= EXCEL_ROWS:
                        if not 1 <= row <= EXCEL_ROWS:
                            fail(f"a cell outside Excel's grid (row {row})")
                        st["row"] = row
                else:
                    row, col = st["row"], st["col"] + 1
                if col > EXCEL_COLUMNS:
                    fail(f"a cell outside Excel's grid (column {col})")
                st["col"] = col
                st["t"] = attrs.get("t", "n")
                s = attrs.get("s")
                if s is None:
                    st["s"] = 0
                else:
                    try:
                        st["s"] = int(s)
                    except ValueError:
                        fail(f"cell {column_letter(col)}{row} has a style {s[:20]!r} that is not a number")
                st["v"] = st["f"] = None
            elif name == "v":
                st["in"], st["buf"] = "v", []
            elif name == "f":
                st["in"], st["buf"], st["f"] = "f", [], ""
            elif name == "row":
                r = attrs.get("r")
                try:
                    r = int(r) if r is not None else st["row"] + 1
                except ValueError:
                    fail(f"a row number {r[:20]!r} that is not a number")
                if not 1 <= r <= EXCEL_ROWS:
                    fail(f"a row outside Excel's grid ({r})")
                st["row"], st["col"] = r, 0
                st["rows"] += 1
                if st["rows"] > MAX_ROWS:
                    raise TooLarge(f"more than {MAX_ROWS:,} rows")
            elif name == "rPh":
                st["rph"] += 1
            elif name == "t" and st["t"] == "inlineStr" and not st["rph"]:
                if st["in"] != "is":
                    st["buf"] = []
                st["in"] = "is"
            elif name == "mergeCell":
                merges.append(attrs.get("ref", ""))

        def end(name):
            name = local(name)
            if name == "c":
                row, col = st["row"], st["col"]
                v = st["v"]
                t = st["t"]
                if t == "n" and v and not st["s"]:  # the common case: a plain number
                    try:
                        value = float(v)
                    except ValueError:
                        value = self._value(t, v, 0, shared, dates, row, col, fail)
                else:
                    value = self._value(t, v, st["s"], shared, dates, row, col, fail)
                if value is not None or st["f"] is not None:
                    cols = rows.get(row)
                    if cols is None:
                        cols = rows[row] = {}
                    cols[col] = (value, st["f"])
                    st["cells"] += 1
                    if st["cells"] > MAX_CELLS:
                        raise TooLarge(f"more than {MAX_CELLS:,} filled cells")
            elif name == "v" or name == "f":
                st[name] = "".join(st["buf"])
                st["in"] = None
            elif name == "is":
                st["v"] = "".join(st["buf"])
                st["in"] = None
            elif name == "rPh":
                st["rph"] -= 1

        def text(data):
            if st["in"] is not None:
                st["buf"].append(data)

        _parse(self.archive, part, start, end, text)
        for ref in merges:  # Excel shows only the top-left cell of a merged range
            first, _, last = ref.partition(":")
            m1, m2 = _REF.match(first), _REF.match(last or first)
            if m1 is None or m2 is None:
                continue
            r1, r2 = sorted((int(m1.group(2)), int(m2.group(2))))
            c1, c2 = sorted((_column_number(m1.group(1)), _column_number(m2.group(1))))
            for r in [r for r in rows if r1 <= r <= r2]:
                for c in [c for c in rows[r] if c1 <= c <= c2 and (r, c) != (r1, c1)]:
                    del rows[r][c]
        self._cache[sheet] = result
        return result

    def _value(self, t, v, s, shared, dates, row, col, fail):
        if t == "inlineStr" or t == "str":
            return v
        if v is None or v == "":
            return None
        if t == "s":
            try:
                return shared[int(v)]
            except (ValueError, IndexError):
                fail(f"cell {column_letter(col)}{row} refers to shared string {v[:20]!r}, but the workbook has "
                     f"{len(shared)}")
        if t == "b":
            return v.strip() in ("1", "true")
        if t == "e":
            return v
        if t == "d":
            try:
                return _dt.datetime.fromisoformat(v.strip())
            except ValueError:
                return v
        try:
            x = float(v)
        except ValueError:
            fail(f"cell {column_letter(col)}{row} holds {v[:20]!r} as a number")
        if s and math.isfinite(x):
            if s >= len(dates):
                if self._styles_part is not None:
                    fail(f"cell {column_letter(col)}{row} uses style {s}, but the workbook defines {len(dates)}")
                return x
            if dates[s]:
                from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

                epoch = CALENDAR_MAC_1904 if self.date1904 else CALENDAR_WINDOWS_1900
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        return from_excel(x, epoch)
                except (ValueError, OverflowError, ArithmeticError, TypeError):
                    return BadDate(float(x))
        return x
