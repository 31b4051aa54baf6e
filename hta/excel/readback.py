"""Reading a results workbook back: the table of every sheet, found by its autofilter range
(re-exported by :mod:`hta.excel.writer`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries

from hta.errors import HtaError


def read_back(path) -> dict[str, pd.DataFrame]:
    """Read the table of every sheet of a workbook written by :func:`write_workbook`.

    The table is located by its autofilter range, so title and note rows are skipped. Returns
    ``{sheet name: DataFrame}`` in sheet order; empty cells become NaN/None, columns get the
    dtype pandas infers from the cell values (numbers written from floats come back as floats,
    bit for bit). Index columns written with ``index=True`` come back as ordinary columns.
    """
    path = Path(path)
    if not path.is_file():
        raise HtaError(f"results workbook {path}: expected an existing file; found none")
    workbook = load_workbook(path)
    tables: dict[str, pd.DataFrame] = {}
    try:
        for ws in workbook.worksheets:
            ref = ws.auto_filter.ref
            if not ref:
                tables[ws.title] = pd.DataFrame()
                continue
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            rows = list(ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col,
                                     max_col=max_col, values_only=True))
            header = ["" if h is None else str(h) for h in rows[0]]
            body = rows[1:]
            columns = {name: pd.Series([r[j] for r in body], dtype=None if body else object)
                       for j, name in enumerate(header)}
            tables[ws.title] = pd.DataFrame(columns)
    finally:
        workbook.close()
    return tables
