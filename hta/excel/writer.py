"""Results workbooks: formatted tables with native Excel charts, written atomically.

The writer is model-agnostic. A caller describes each worksheet as a :class:`Sheet` (a pandas
DataFrame, per-column number formats, an optional title and notes, and :class:`Chart` specs) and
calls :func:`write_workbook`. Conventions (see ``docs/outputs.md``):

* One table per sheet. The header row is bold with a fill, frozen (panes below it, and right of
  the first column when the table is wide or carries its index), with an autofilter over the
  table; the autofilter range is also how :func:`read_back` finds the table again.
* Numbers are written at full double precision (shortest round-trip ``repr``), so a value read
  back is bit-identical to the value written. NaN, NaT, None, ``pd.NA`` and +/-infinity are
  written as **empty cells**: a caller who wants a label such as "dominated" or "n/a" in an ICER
  column replaces those values before writing (the column then holds text).
* Text is always stored as a string cell. Text that a spreadsheet could take for a formula (it
  starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) also gets Excel's quote
  prefix (what Excel stores when a user types a leading apostrophe), so neither Excel nor
  LibreOffice evaluates it, even after the cell is edited. The text itself is unchanged.
* Charts are native Excel charts whose series reference the sheet's cells, so they stay live and
  work for large series (10,000 CE-plane points).
* The file is written to a temporary file in the destination folder and renamed over the
  destination only when complete: a failure leaves no partial workbook and any existing file
  untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.marker import Marker
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.line import LineProperties
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.utils.exceptions import CellCoordinatesException

from hta.errors import HtaError
from hta.excel.readback import read_back
from hta.excel.widths import _approx_display, _content_width  # noqa: F401  (column widths)

__all__ = ["FORMATS", "Block", "Chart", "Sheet", "excel_sheet_name", "read_back", "write_workbook"]

#: Number-format keys accepted in ``Sheet.formats`` (``{currency}`` is ``currency_symbol``).
FORMATS: dict[str, str] = {
    "money": '"{currency}"#,##0',
    "money2": '"{currency}"#,##0.00',
    "qaly": "0.000",
    "ly": "0.000",
    "prob": "0.0%",
    "pct": "0.0%",
    "int": "#,##0",
    "float": "0.0000",
    "text": "@",
}

CHART_KINDS = ("line", "scatter", "bar")
#: Marker colours of scatter series, in order (Office theme accents).
SERIES_COLOURS = ("4472C4", "ED7D31", "A5A5A5", "FFC000", "5B9BD5", "70AD47")

#: First characters that make Excel, LibreOffice or a CSV export treat text as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

MAX_SHEET_NAME = 31
MAX_CELL_TEXT = 32767
#: Tables with more columns than this also freeze their first column.
WIDE_TABLE_COLUMNS = 8
SHORT_TABLE_ROWS = 40  # charts of a table this short go below it, else to its right
MIN_COLUMN_WIDTH = 8.0
MAX_COLUMN_WIDTH = 60.0
MAX_HEADER_WIDTH = 30.0  # longer headers wrap instead of widening the column
ROW_HEIGHT_CM = 0.53  # Excel's default row height (15 pt) in cm, for stacking charts
BOOLEAN_FORMAT = '"TRUE";"TRUE";"FALSE"'  # Excel shows booleans so anyway; LibreOffice needs it
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_BORDER = Border(bottom=Side(style="thin"))
_HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
_WRAP_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
_TOP_ALIGNMENT = Alignment(vertical="top")
_TITLE_FONT = Font(bold=True, size=14)
_NOTE_FONT = Font(italic=True)

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# A raw Excel format must contain a digit placeholder, a text/percent sign, a literal, or be
# built from date/time codes only; anything else is taken for a misspelt format key.
_RAW_FORMAT = re.compile(r'[0#?@%"]|^General$|^[ymdhsAMP:/\-. \[\]]+$')


@dataclass
class Chart:
    """A native Excel chart over columns of the sheet's table.

    ``kind``:
      * ``"line"``: x-y lines without markers on a numeric x axis (survival curves, traces,
        CEAC); drawn as a scatter chart with straight lines, so unequal x steps are honoured.
      * ``"scatter"``: markers only (cost-effectiveness plane).
      * ``"bar"``: horizontal bars with categories from ``x`` listed top to bottom in row order,
        series overlapping (overlap 100): a tornado when ``y`` holds the low and high results.
        Set ``base_value`` (e.g. the base-case ICER) to make the bars start from it.

    ``y_number_format``/``x_number_format`` take a format key of :data:`FORMATS` or a raw Excel
    format; by default the axis uses the format of its column (the first ``y`` column for the
    value axis). ``x_title`` defaults to the ``x`` column name. ``x_min``/``x_max``/``y_min``/
    ``y_max`` fix axis limits (e.g. ``y_min=0, y_max=1`` for survival curves and CEACs); by
    default the spreadsheet scales the axes. Sizes are in centimetres.
    ``anchor`` is the top-left cell (e.g. ``"H2"``); by default charts stack to the right of
    the table.
    """

    kind: str
    title: str
    x: str
    y: list[str]
    x_title: str = ""
    y_title: str = ""
    anchor: str | None = None
    y_number_format: str | None = None
    x_number_format: str | None = None
    width_cm: float = 18
    height_cm: float = 10
    base_value: float | None = None
    x_min: float | None = None
    x_max: float | None = None
    y_min: float | None = None
    y_max: float | None = None
    #: extra straight-line series ``(x column, y column)`` (e.g. WTP lines on a CE plane); their
    #: legend entries are the y column names
    lines: list = field(default_factory=list)


@dataclass
class Block:
    """One part of a free-layout sheet (:attr:`Sheet.blocks`, e.g. a dashboard): a heading, text
    lines and an optional small table with per-column formats (keys of :data:`FORMATS`)."""

    heading: str
    frame: pd.DataFrame | None = None
    formats: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)


@dataclass
class Sheet:
    """One worksheet: a table (``frame``) with formats, optional title/notes and charts.

    ``formats`` maps column name to a key of :data:`FORMATS` or a raw Excel number format
    (e.g. ``'0.0"%"'``); unformatted numeric columns use Excel's "General", datetimes
    ``yyyy-mm-dd`` (with time when any value has one). ``title`` and ``notes`` are written above
    the table, with a blank row before the header. ``index=True`` writes the frame's index as
    the leading column(s). ``name`` is made Excel-valid by :func:`excel_sheet_name`.
    ``wrap`` lists columns whose cells wrap at the column width (every data cell of the sheet is
    then top-aligned); ``fills`` maps a column to ``{cell text: RGB hex}`` background fills (e.g.
    a status column with failures in red).
    """

    name: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    index: bool = False
    wrap: list[str] = field(default_factory=list)
    fills: dict[str, dict[str, str]] = field(default_factory=dict)
    data: bool = False  # a data sheet (draws, traces, long listings): not printed
    default_format: str | None = None  # format of float columns given none (None: Excel's "General")
    one_page: bool = False  # print on one page (fit to width and height)
    #: columns whose text names a sheet of the workbook: each cell links to that sheet
    links: list[str] = field(default_factory=list)
    #: free layout instead of one table (a dashboard): blocks stacked down columns A.., charts
    #: at their anchors; printed on one page
    blocks: list | None = None


#: Background fills of the status column of a verification sheet.
STATUS_FILLS = {"pass": "C6EFCE", "fail": "FFC7CE", "not applicable": "EDEDED"}


def verification_sheet(table: pd.DataFrame, *, title: str, notes=(), name: str = "Verification") -> Sheet:
    """The ``Verification`` sheet of a results workbook from a verification table.

    ``table`` has one row per check (``hta.analysis.verify.VerificationReport.table``: section, check,
    status, expected, observed, detail, and optionally a leading ``model`` column); the status
    cells are green (pass), red (fail) or grey (not applicable), long text wraps.
    """
    wrap = [c for c in ("check", "expected", "observed", "detail") if c in table.columns]
    fills = {"status": STATUS_FILLS} if "status" in table.columns else {}
    return Sheet(name, table, {}, title=title, notes=list(notes), wrap=wrap, fills=fills)


def excel_sheet_name(name: str) -> str:
    """Return the Excel-valid form of a sheet name (the key :func:`read_back` will use).

    Characters Excel forbids (``[]:*?/\\``) become ``-``, leading/trailing apostrophes and
    spaces are dropped and the name is cut to 31 characters. An empty result or the reserved
    name "History" raises :class:`HtaError`.
    """
    if not isinstance(name, str):
        raise HtaError(f"sheet name: expected text; found {type(name).__name__} {name!r}")
    clean = _INVALID_SHEET_CHARS.sub("-", name).strip().strip("'").strip()
    clean = clean[:MAX_SHEET_NAME].rstrip().rstrip("'")
    if not clean:
        raise HtaError(f"sheet name: expected a non-empty name; found {name!r}")
    if clean.lower() == "history":
        raise HtaError("sheet name: 'History' is reserved by Excel; choose another name")
    return clean


def write_workbook(path, sheets: list[Sheet], *, currency_symbol: str = "HK$") -> Path:
    """Write ``sheets`` to the ``.xlsx`` file ``path`` atomically and return its path.

    The workbook is built and checked in memory first, then saved to a temporary file in the
    destination folder (created if missing) and renamed over ``path``. On any failure the
    temporary file is removed and an existing ``path`` is left unchanged. ``currency_symbol``
    is used by the ``money``/``money2`` formats.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise HtaError(f"results workbook {path}: expected a file name ending in .xlsx; "
                       f"found suffix {path.suffix or '(none)'!r}")
    if '"' in currency_symbol:
        raise HtaError(f"currency_symbol: expected text without double quotes; "
                       f"found {currency_symbol!r}")
    sheets = list(sheets)
    if not sheets:
        raise HtaError(f"results workbook {path}: expected at least one sheet; found none")

    workbook = _build_workbook(sheets, currency_symbol)
    return save_atomically(workbook, path)


def save_atomically(workbook: Workbook, path) -> Path:
    """Save an openpyxl workbook to ``path`` through a temporary file in the same folder.

    The folder is created if missing; on any failure the temporary file is removed and an
    existing ``path`` is left unchanged (no half-written workbook).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx.tmp",
                                        dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise HtaError(f"results workbook {path}: cannot write to folder {path.parent} "
                       f"({exc.strerror or exc})") from exc
    tmp = Path(tmp_name)
    try:
        workbook.save(tmp)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise HtaError(f"results workbook {path}: could not be written (is it open in "
                           f"another program?): {exc.strerror or exc}") from exc
        raise
    return path




# ----------------------------------------------------------------------------- building


@dataclass
class _Table:
    """Where a sheet's table sits: 1-based header row and column positions by name."""

    header_row: int
    n_rows: int
    columns: list[str]
    number_formats: dict[str, str]
    offset: int = 0  # columns the table was moved right by (a dashboard's chart data)

    def col(self, name: str) -> int:
        return self.columns.index(name) + 1 + self.offset

    @property
    def last_row(self) -> int:
        return self.header_row + self.n_rows


def _build_workbook(sheets: list[Sheet], currency_symbol: str) -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    seen: dict[str, str] = {}
    for sheet in sheets:
        if not isinstance(sheet, Sheet):
            raise HtaError(f"sheets: expected Sheet objects; found {type(sheet).__name__}")
        name = excel_sheet_name(sheet.name)
        if name.lower() in seen:
            raise HtaError(f"sheet names must be unique (Excel ignores case): {sheet.name!r} "
                           f"and {seen[name.lower()]!r} both become {name!r}")
        seen[name.lower()] = sheet.name
        ws = workbook.create_sheet(name)
        frame = _table_frame(sheet, name)
        table = _write_table(ws, sheet, frame, name, currency_symbol)
        if sheet.blocks is not None:
            if table.columns:  # the chart data move right, out of the printed page
                ws.move_range(f"A{table.header_row}:{get_column_letter(len(table.columns))}{table.last_row}",
                              cols=BLOCK_DATA_OFFSET)
                table.offset = BLOCK_DATA_OFFSET
            _write_blocks(ws, sheet, name, currency_symbol)
        _add_charts(ws, sheet, frame, table, name, currency_symbol)
        if sheet.data:
            _data_print_area(ws, sheet, table)
        elif sheet.one_page:
            ws.page_setup.fitToHeight = 1
        for column in sheet.links:
            j = table.col(str(column))
            for i in range(table.header_row + 1, table.last_row + 1):
                cell = ws.cell(i, j)
                if isinstance(cell.value, str) and cell.value:
                    cell.hyperlink = f"#'{excel_sheet_name(cell.value)}'!A1"
                    cell.font = Font(color="0563C1", underline="single")
    return workbook


def _data_print_area(ws, sheet: Sheet, table: _Table) -> None:
    """A data sheet is not printed: its print area is one empty cell below the table, and
    spreadsheets skip empty pages (the rows stay in the workbook)."""
    ws.print_area = f"A{table.last_row + 2}"
    ws.print_title_rows = None
    ws.page_setup.orientation = "portrait"


_BLOCK_HEADING_FONT = Font(bold=True, size=11, color="1F4E79")
BLOCK_DATA_OFFSET = 30  # a free-layout sheet's own table (chart data) starts in column AE
BLOCK_TEXT_COLUMNS = 9  # text lines of blocks wrap across columns A..I


def _write_blocks(ws, sheet: Sheet, name: str, currency_symbol: str) -> None:
    """Write the blocks of a free-layout sheet below its title and notes (one page, landscape)."""
    row = 1 + (1 if sheet.title else 0) + len(sheet.notes) + 1
    widths: dict[int, float] = {}
    for block in sheet.blocks:
        if not isinstance(block, Block):
            raise HtaError(f"sheet '{name}': expected Block objects in blocks; found {type(block).__name__}")
        _put_text(ws.cell(row, 1), block.heading, name).font = _BLOCK_HEADING_FONT
        row += 1
        for line in block.lines:
            cell = _put_text(ws.cell(row, 1), str(line), name)
            cell.alignment = _WRAP_ALIGNMENT
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=BLOCK_TEXT_COLUMNS)
            ws.row_dimensions[row].height = 15 * max(1, math.ceil(len(str(line)) / 150))
            row += 1
        if block.frame is not None and len(block.frame.columns):
            frame = block.frame
            for j, column in enumerate(frame.columns, start=1):
                cell = _put_text(ws.cell(row, j), str(column), name)
                cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
                cell.alignment = _HEADER_ALIGNMENT
                key = block.formats.get(column)
                fmt = _resolve_format(key, currency_symbol, f"sheet '{name}', block {block.heading!r}") if key else None
                values, default = _column_values(frame[column], name, str(column))
                fmt = fmt or default
                cap = 46 if j == 1 else 17
                for i, value in enumerate(values, start=row + 1):
                    if value is None:
                        continue
                    cell = _put_value(ws.cell(i, j), value, name)
                    cell.alignment = _TOP_ALIGNMENT
                    if fmt:
                        cell.number_format = fmt
                    if isinstance(value, str) and len(value) > cap:
                        cell.alignment = _WRAP_ALIGNMENT
                        ws.row_dimensions[i].height = 15 * math.ceil(len(value) / cap)
                content = _content_width(values, fmt, key, currency_symbol)
                widths[j] = max(widths.get(j, 0), min(max(content + 1.5, min(len(str(column)), 40) * 0.5 + 1, 10), cap))
            ws.row_dimensions[row].height = 42
            row += len(frame) + 1
        row += 1
    for j, width in widths.items():
        ws.column_dimensions[get_column_letter(j)].width = round(width, 1)
    _set_page_setup(ws, 1)
    ws.auto_filter.ref = ws.freeze_panes = ws.print_title_rows = None
    ws.print_area = f"A1:Q{max(row, 40)}"
    ws.page_setup.fitToHeight = 1
    ws.sheet_view.showGridLines = False


def _table_frame(sheet: Sheet, name: str) -> pd.DataFrame:
    """The frame to write: index moved into columns, column names flattened to unique text."""
    frame = sheet.frame
    if not isinstance(frame, pd.DataFrame):
        raise HtaError(f"sheet '{name}': expected a pandas DataFrame; "
                       f"found {type(frame).__name__}")
    if sheet.index:
        try:
            frame = frame.reset_index()
        except ValueError as exc:
            raise HtaError(f"sheet '{name}': cannot write the index as a column ({exc})") \
                from exc
    names = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c)
             for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HtaError(f"sheet '{name}': expected unique column names; found duplicates "
                       f"{duplicates}")
    frame = frame.copy(deep=False)
    frame.columns = names
    return frame


def _resolve_format(spec: str, currency_symbol: str, where: str) -> str:
    if not isinstance(spec, str) or not spec:
        raise HtaError(f"{where}: expected a format key or Excel number format; found {spec!r}")
    if spec in FORMATS:
        return FORMATS[spec].format(currency=currency_symbol)
    if _RAW_FORMAT.search(spec):
        return spec
    raise HtaError(f"{where}: expected one of {sorted(FORMATS)} or an Excel number format "
                   f"such as '#,##0.00'; found {spec!r}")


def _write_table(ws, sheet: Sheet, frame: pd.DataFrame, name: str,
                 currency_symbol: str) -> _Table:
    row = 1
    if sheet.title:
        _put_text(ws.cell(row, 1), str(sheet.title), name).font = _TITLE_FONT
        row += 1
    for note in sheet.notes:
        _put_text(ws.cell(row, 1), str(note), name).font = _NOTE_FONT
        row += 1
    header_row = row + 1 if row > 1 else 1

    unknown = [c for c in sheet.formats if str(c) not in frame.columns]
    if unknown:
        raise HtaError(f"sheet '{name}': formats given for columns {unknown} that are not in "
                       f"the table; columns are {list(frame.columns)}")
    number_formats = {
        str(c): _resolve_format(f, currency_symbol, f"sheet '{name}', format of column '{c}'")
        for c, f in sheet.formats.items()}
    for what, given in (("wrap", list(sheet.wrap)), ("fills", list(sheet.fills))):
        unknown = [c for c in given if str(c) not in frame.columns]
        if unknown:
            raise HtaError(f"sheet '{name}': {what} given for columns {unknown} that are not in "
                           f"the table; columns are {list(frame.columns)}")
    fills = {}
    for column, colours in sheet.fills.items():
        for text, colour in colours.items():
            if not (isinstance(colour, str) and re.fullmatch(r"[0-9A-Fa-f]{6}", colour)):
                raise HtaError(f"sheet '{name}', fill of column '{column}' for {text!r}: expected a "
                               f"6-digit RGB hex colour such as 'F8CBAD'; found {colour!r}")
            fills[(str(column), str(text))] = PatternFill("solid", fgColor=colour.upper())
    wrapped = {str(c) for c in sheet.wrap}

    columns = list(frame.columns)
    table = _Table(header_row, len(frame), columns, number_formats)
    if not columns:
        return table

    widths = []
    header_lines = 1
    for j, column in enumerate(columns, start=1):
        values, default_format = _column_values(frame[column], name, column)
        fmt = number_formats.setdefault(column, default_format) if default_format else \
            number_formats.get(column)
        if fmt is None and sheet.default_format and any(
                isinstance(v, float) and not float(v).is_integer() for v in values):
            fmt = number_formats[column] = _resolve_format(sheet.default_format, currency_symbol,
                                                           f"sheet '{name}', default_format")
        cell = _put_text(ws.cell(header_row, j), column, name)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.border, cell.alignment = _HEADER_BORDER, _HEADER_ALIGNMENT
        for i, value in enumerate(values, start=header_row + 1):
            if value is None:
                continue
            cell = ws.cell(i, j)
            _put_value(cell, value, name)
            if fmt:
                cell.number_format = fmt
            if wrapped:
                cell.alignment = _WRAP_ALIGNMENT if column in wrapped else _TOP_ALIGNMENT
            fill = fills.get((column, str(value))) if fills else None
            if fill is not None:
                cell.fill = fill
        content = _content_width(values, fmt, sheet.formats.get(column), currency_symbol)
        header = min(len(column) * 1.1 + 2, MAX_HEADER_WIDTH)
        width = min(max(content + 2, header, MIN_COLUMN_WIDTH), MAX_COLUMN_WIDTH)
        widths.append(width)
        header_lines = max(header_lines, math.ceil((len(column) * 1.1 + 1) / width))
        ws.column_dimensions[get_column_letter(j)].width = round(width, 1)
    if header_lines > 1:
        ws.row_dimensions[header_row].height = 15 * header_lines
    if wrapped:  # files carry no computed row heights: set them from the wrapped text
        for i in range(len(frame)):
            lines = 1
            for j, column in enumerate(columns):
                if column in wrapped:
                    text = frame[column].iloc[i]
                    if isinstance(text, str) and text:
                        lines = max(lines, sum(math.ceil((len(part) * 1.1 + 1) / widths[j]) or 1
                                               for part in text.split("\n")))
            if lines > 1:
                ws.row_dimensions[header_row + 1 + i].height = 15 * lines

    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(header_row + len(frame), header_row)}"
    freeze_first = sheet.index or len(columns) > WIDE_TABLE_COLUMNS
    ws.freeze_panes = f"{'B' if freeze_first else 'A'}{header_row + 1}"
    _set_page_setup(ws, header_row)
    return table


def _set_page_setup(ws, header_row: int) -> None:
    """Print landscape, one page wide (table and charts), header repeated on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = f"{header_row}:{header_row}"


def _column_values(series: pd.Series, sheet: str, column: str) -> tuple[list, str | None]:
    """Python values to write (None for an empty cell) and the column's default format."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        raise HtaError(f"sheet '{sheet}', column '{column}': Excel has no time zones; "
                       f"expected naive datetimes; found {dtype}")
    if pd.api.types.is_bool_dtype(dtype) and not series.hasnans:
        return [bool(v) for v in series.to_numpy()], BOOLEAN_FORMAT
    numpy_dtype = not isinstance(dtype, pd.api.extensions.ExtensionDtype)
    if pd.api.types.is_float_dtype(dtype) and numpy_dtype:
        arr = series.to_numpy(dtype=float)
        finite = np.isfinite(arr)
        return [float(v) if ok else None for v, ok in zip(arr.tolist(), finite.tolist())], None
    if pd.api.types.is_integer_dtype(dtype) and numpy_dtype:
        return series.to_numpy().tolist(), None
    if pd.api.types.is_datetime64_dtype(dtype):
        values = [None if pd.isna(v) else v.to_pydatetime() for v in series]
        has_time = any(v is not None and v.time() != dt.time(0) for v in values)
        return values, DATETIME_FORMAT if has_time else DATE_FORMAT
    values = [_python_value(v, sheet, column, i) for i, v in enumerate(series.tolist())]
    default = None
    dates = [v for v in values if isinstance(v, (dt.datetime, dt.date))]
    if dates and len(dates) == sum(v is not None for v in values):
        has_time = any(isinstance(v, dt.datetime) and v.time() != dt.time(0) for v in dates)
        default = DATETIME_FORMAT if has_time else DATE_FORMAT
    return values, default


def _python_value(v, sheet: str, column: str, i: int):
    """One object-column value as bool/int/float/str/datetime/timedelta, or None (empty)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating, Decimal)):
        x = float(v)
        return x if math.isfinite(x) else None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        if v.tzinfo is not None:
            raise HtaError(f"sheet '{sheet}', column '{column}', row {i + 1}: Excel has no "
                           f"time zones; expected a naive datetime; found {v}")
        return pd.Timestamp(v).to_pydatetime() if isinstance(v, pd.Timestamp) else v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, (pd.Timedelta, dt.timedelta, np.timedelta64)):
        return pd.Timedelta(v).to_pytimedelta()
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else pd.Timestamp(v).to_pydatetime()
    raise HtaError(f"sheet '{sheet}', column '{column}', row {i + 1}: expected a number, "
                   f"text, boolean or date; found {type(v).__name__} {v!r:.60}")


def _put_value(cell, value, sheet: str):
    if isinstance(value, str):
        return _put_text(cell, value, sheet)
    if isinstance(value, float):
        # openpyxl writes floats with "%.16g", which can lose the last bit; store the shortest
        # round-trip repr instead so the file holds exactly the double that was computed.
        cell.value = value
        cell._value = repr(value)
        return cell
    cell.value = value
    return cell


def _put_text(cell, text: str, sheet: str):
    if len(text) > MAX_CELL_TEXT:
        raise HtaError(f"sheet '{sheet}', cell {cell.coordinate}: expected at most "
                       f"{MAX_CELL_TEXT} characters (Excel's limit); found {len(text)}")
    bad = ILLEGAL_CHARACTERS_RE.search(text)
    if bad:
        raise HtaError(f"sheet '{sheet}', cell {cell.coordinate}: text contains control "
                       f"character {bad.group()!r}, which Excel cannot store: {text!r:.60}")
    quote = text.startswith(FORMULA_TRIGGERS)
    # XML parsers turn a stored carriage return into a line feed (XML 1.0, section 2.11);
    # do it here so the value written is the value every reader gets back.
    cell.value = text.replace("\r\n", "\n").replace("\r", "\n")
    cell.data_type = "s"  # never a formula ("=...") or error code ("#N/A")
    if quote:
        cell.quotePrefix = True
    return cell


def put_text(cell, text: str, sheet: str):
    """Write ``text`` into an openpyxl ``cell`` as text, never a formula or error code (a leading
    ``=``, ``+``, ``-`` or ``@`` gets Excel's quote prefix); control characters and text longer than
    Excel's cell limit are refused with the sheet and cell named. Returns the cell."""
    return _put_text(cell, text, sheet)




# ----------------------------------------------------------------------------- charts


def _add_charts(ws, sheet: Sheet, frame: pd.DataFrame, table: _Table, name: str,
                currency_symbol: str) -> None:
    next_row = table.header_row + 1 if table.n_rows > SHORT_TABLE_ROWS else table.last_row + 3
    default_col = get_column_letter(len(table.columns) + 2)
    for k, spec in enumerate(sheet.charts, start=1):
        where = f"sheet '{name}', chart {k} ({getattr(spec, 'title', '')!r})"
        chart = _build_chart(ws, spec, frame, table, where, currency_symbol)
        if spec.anchor is not None:
            try:
                coordinate_from_string(str(spec.anchor))
            except (ValueError, CellCoordinatesException) as exc:
                raise HtaError(f"{where}: expected an anchor cell such as 'H2'; "
                               f"found {spec.anchor!r}") from exc
            anchor = spec.anchor.upper()
        else:  # charts below a short table (printable), else right of it below the header
            anchor = f"{default_col if table.n_rows > SHORT_TABLE_ROWS else 'A'}{next_row}"
            next_row += math.ceil(spec.height_cm / ROW_HEIGHT_CM) + 2
        if chart is not None:
            ws.add_chart(chart, anchor)


def _build_chart(ws, spec: Chart, frame: pd.DataFrame, table: _Table, where: str,
                 currency_symbol: str):
    if not isinstance(spec, Chart):
        raise HtaError(f"{where}: expected a Chart; found {type(spec).__name__}")
    if spec.kind not in CHART_KINDS:
        raise HtaError(f"{where}: expected kind one of {list(CHART_KINDS)}; "
                       f"found {spec.kind!r}")
    y_columns = [spec.y] if isinstance(spec.y, str) else list(spec.y)
    if not y_columns:
        raise HtaError(f"{where}: expected at least one y column; found none")
    for column in [spec.x, *y_columns]:
        if column not in table.columns:
            raise HtaError(f"{where}: column {column!r} is not in the table; "
                           f"columns are {table.columns}")
    for column in y_columns + ([spec.x] if spec.kind != "bar" else []):
        if not _is_plottable_number(frame[column]):
            raise HtaError(f"{where}: column {column!r} must hold numbers to be plotted; "
                           f"found dtype {frame[column].dtype}")
    if not (spec.width_cm > 0 and spec.height_cm > 0):
        raise HtaError(f"{where}: expected positive width_cm and height_cm; "
                       f"found {spec.width_cm} x {spec.height_cm}")
    if spec.base_value is not None and spec.kind != "bar":
        raise HtaError(f"{where}: base_value applies to bar charts only; found kind "
                       f"{spec.kind!r}")
    if table.n_rows == 0:
        return None  # nothing to plot

    first, last = table.header_row + 1, table.last_row
    if spec.kind == "bar":
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "clustered"
        chart.overlap = 100
        chart.gapWidth = 60
        for column in y_columns:
            chart.add_data(Reference(ws, min_col=table.col(column), min_row=table.header_row,
                                     max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=table.col(spec.x), min_row=first,
                                       max_row=last))
        chart.x_axis.scaling.orientation = "maxMin"  # first table row at the top
        chart.x_axis.tickLblPos = "low"  # labels at the left edge, clear of the bars
        chart.y_axis.crosses = "max"  # value axis at the bottom despite the reversed order
        if spec.base_value is not None:
            chart.x_axis.crosses = None
            chart.x_axis.crossesAt = float(spec.base_value)  # bars grow from the base value
    else:
        chart = ScatterChart()
        chart.scatterStyle = "lineMarker"
        x_ref = Reference(ws, min_col=table.col(spec.x), min_row=first, max_row=last)
        for column in y_columns:
            y_ref = Reference(ws, min_col=table.col(column), min_row=table.header_row,
                              max_row=last)
            series = Series(y_ref, x_ref, title_from_data=True)
            series.smooth = False
            if spec.kind == "line":
                series.marker = Marker(symbol="none")
            else:
                # explicit marker colours: without them LibreOffice draws unfilled markers
                colour = SERIES_COLOURS[len(chart.series) % len(SERIES_COLOURS)]
                series.marker = Marker(symbol="circle", size=3, spPr=GraphicalProperties(
                    solidFill=colour, ln=LineProperties(solidFill=colour)))
                series.graphicalProperties = GraphicalProperties(ln=LineProperties(noFill=True))
            chart.series.append(series)
        for k, (lx, ly) in enumerate(spec.lines):
            for column in (lx, ly):
                if column not in table.columns:
                    raise HtaError(f"{where}: line column {column!r} is not in the table; "
                                   f"columns are {table.columns}")
            n = int(frame[ly].notna().sum())
            line = Series(Reference(ws, min_col=table.col(ly), min_row=table.header_row,
                                    max_row=table.header_row + n),
                          Reference(ws, min_col=table.col(lx), min_row=first,
                                    max_row=table.header_row + n), title_from_data=True)
            line.smooth = False
            line.marker = Marker(symbol="none")
            line.graphicalProperties = GraphicalProperties(ln=LineProperties(
                solidFill=("C00000", "7F7F7F", "548235")[k % 3], prstDash="dash", w=19050))
            chart.series.append(line)

    chart.title = spec.title
    chart.x_axis.title = spec.x_title or spec.x
    if spec.y_title:
        chart.y_axis.title = spec.y_title
    chart.legend.position = "b"
    # axis sides: a horizontal bar chart lists categories on the left, values along the bottom
    chart.x_axis.axPos = "l" if spec.kind == "bar" else "b"
    chart.y_axis.axPos = "b" if spec.kind == "bar" else "l"
    chart.width, chart.height = spec.width_cm, spec.height_cm
    # openpyxl >= 3.1 marks axes as deleted unless told otherwise; recent Excel honours that.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if spec.kind != "bar":
        # tick labels at the plot edges, not along axes that cross at zero inside the plot
        # (a CE plane or a negative range would otherwise print labels over the data)
        chart.x_axis.tickLblPos = "low"
        chart.y_axis.tickLblPos = "low"
    _set_axis_limits(chart.x_axis, spec.x_min, spec.x_max, spec, "x")
    _set_axis_limits(chart.y_axis, spec.y_min, spec.y_max, spec, "y")

    y_fmt = _axis_format(spec.y_number_format, table.number_formats.get(y_columns[0]),
                         currency_symbol, f"{where}, y_number_format")
    if y_fmt:
        chart.y_axis.number_format = y_fmt
    if spec.kind != "bar":
        x_fmt = _axis_format(spec.x_number_format, table.number_formats.get(spec.x),
                             currency_symbol, f"{where}, x_number_format")
        if x_fmt:
            chart.x_axis.number_format = x_fmt
    return chart


def _set_axis_limits(axis, low, high, spec: Chart, which: str) -> None:
    if spec.kind == "bar" and which == "x" and (low is not None or high is not None):
        raise HtaError(f"chart {spec.title!r}: a bar chart's x axis holds categories; "
                       f"set y_min/y_max for the value axis instead")
    if low is not None and high is not None and not float(low) < float(high):
        raise HtaError(f"chart {spec.title!r}: expected {which}_min < {which}_max; "
                       f"found {low} and {high}")
    if low is not None:
        axis.scaling.min = float(low)
    if high is not None:
        axis.scaling.max = float(high)


def _axis_format(spec: str | None, column_format: str | None, currency_symbol: str,
                 where: str) -> str | None:
    if spec is not None:
        return _resolve_format(spec, currency_symbol, where)
    return column_format if column_format and column_format != "@" else None


def _is_plottable_number(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return False
    if pd.api.types.is_numeric_dtype(series.dtype):
        return True
    values = series.dropna()
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values)


def _new_file_mode(path: Path) -> int:
    """Permissions for the new file: those of the file it replaces, else 0o666 minus umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
