"""Property-based fuzzing of the input workbook reader (issue 14).

Start from the valid minimal workbook of ``broken_workbooks`` and apply one to three random
mutations: a cell set to a hostile value (wrong type, blank, NaN, infinity, huge numbers,
unicode, formula-like text, formulas, dates and booleans where numbers belong), a sheet removed
or added, a column removed or renamed, rows shuffled or duplicated, cells merged. The reader must
then either read the workbook correctly (``validate`` finds nothing and ``read_inputs`` returns
finite parameters) or report problems, each naming the workbook and what was expected and found
(and, unless the problem is the whole file or sheet, the cell). It must never raise anything else.

500 cases, derandomised so that CI runs the same cases every time (``HTA_FUZZ_EXAMPLES`` sets
another number, e.g. 5000 for a longer local run).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from pathlib import Path

import broken_workbooks as bw
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hta.excel.reader import read_inputs, validate

EXAMPLES = int(os.environ.get("HTA_FUZZ_EXAMPLES", "500"))
SHEETS = list(bw.valid_rows())
# A cell, a range, a list of cells, or "row N" where the column itself is missing.
CELL = re.compile(r"^([A-Z]{1,3}[0-9]+(:[A-Z]{1,3}[0-9]+)?(, [A-Z]{1,3}[0-9]+)*|row [0-9]+)$")

hostile_values = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),  # what a cell can hold
    st.sampled_from(["=1+1", "=A1*2", "=1/0", "+5", "-", "@SUM(A1)", "NaN", "inf", "-inf", "1e400",
                     " 0.5 ", "0,5", "５", "é", "\u202e", "🙂", "#N/A", "TRUE", "beta", "gamma", "year"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e308, max_value=1e308),
    st.integers(min_value=-10**30, max_value=10**30),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
)


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["cell", "cell", "cell", "cell", "drop_sheet", "add_sheet", "drop_column",
                                 "rename_column", "shuffle", "duplicate_row", "merge"]))
    sheet = draw(st.sampled_from(SHEETS))
    return kind, sheet, draw(st.integers(0, 40)), draw(st.integers(0, 15)), draw(hostile_values), draw(st.randoms())


def _apply(sheets: dict, merges: list, change) -> None:
    kind, sheet, row, col, value, rnd = change
    if sheet not in sheets:
        return
    rows = sheets[sheet]
    if kind == "cell":
        row = row % (len(rows) + 2)
        while len(rows) <= row:
            rows.append([])
        while len(rows[row]) <= col:
            rows[row].append(None)
        rows[row][col] = value
    elif kind == "drop_sheet":
        del sheets[sheet]
    elif kind == "add_sheet":
        sheets[f"Extra {row}"] = [["name", "value"], [str(value)[:30], 1]]
    elif kind in ("drop_column", "rename_column") and rows:
        col = col % max(len(rows[0]), 1)
        if kind == "drop_column":
            for r in rows:
                if len(r) > col:
                    del r[col]
        elif rows[0]:
            rows[0][col] = str(value)[:30] if value is not None else None
    elif kind == "shuffle" and len(rows) > 2:
        body = rows[1:]
        rnd.shuffle(body)
        rows[1:] = body
    elif kind == "duplicate_row" and len(rows) > 1:
        rows.insert(1 + row % (len(rows) - 1), list(rows[1 + row % (len(rows) - 1)]))
    elif kind == "merge":
        merges.append((sheet, 1 + row % (len(rows) + 1), 1 + col, 2 + row % (len(rows) + 1), 2 + col))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutation(), min_size=1, max_size=3))
def test_reader_reads_correctly_or_names_the_place(changes):
    sheets, merges = bw.valid_rows(), []
    for change in changes:
        _apply(sheets, merges, change)
    with tempfile.TemporaryDirectory() as tmp:
        path = bw.write_workbook(Path(tmp) / "fuzzed.xlsx", sheets, merges)
        problems = validate(path)  # must not raise
        for p in problems:
            assert p.workbook == "fuzzed.xlsx"
            assert p.expected.strip() and p.found.strip(), p
            if p.sheet:
                assert p.cell == "" or CELL.match(p.cell), p
            assert "Traceback" not in str(p)
        if not problems:
            inputs = read_inputs(path)
            frame = inputs.parameters.to_frame()
            values = frame[["base", "low", "high"]].to_numpy(float)
            assert np.all(np.isfinite(values)), frame
            assert math.isfinite(inputs.settings.horizon_years) and inputs.settings.horizon_years > 0
