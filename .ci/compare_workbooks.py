"""Compare two results workbooks cell by cell (values as stored), for refactors that must change no number.

    python .ci/compare_workbooks.py BEFORE.xlsx AFTER.xlsx

Every sheet, every cell: values must be equal (floats bit for bit). Cells of the run-info rows that
record the moment or the code version (started, elapsed, git commit) are skipped. Exit 1 on any
difference, listing the first 50.
"""

import re
import sys

import openpyxl

SKIP_ITEMS = ("started (UTC)", "elapsed (s)", "elapsed_seconds", "git commit", "written (UTC)")


def cells(path):
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    out = {}
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        for i, row in enumerate(rows):
            skip = any(isinstance(v, str) and v in SKIP_ITEMS for v in row[:2])
            for j, v in enumerate(row):
                if isinstance(v, str):  # elapsed times inside summary lines, e.g. "(9 model calls, ..., 0.6 s)"
                    v = re.sub(r"\d+(\.\d+)? s\)", "<elapsed> s)", v)
                if v is not None and not skip:
                    out[(ws.title, i + 1, j + 1)] = v
    return [ws.title for ws in wb.worksheets], out


def main(a, b):
    sa, ca = cells(a)
    sb, cb = cells(b)
    diffs = []
    if sa != sb:
        diffs.append(f"sheets differ: {sa} vs {sb}")
    for key in sorted(set(ca) | set(cb), key=str):
        va, vb = ca.get(key), cb.get(key)
        if va != vb and not (isinstance(va, float) and isinstance(vb, float) and va != va and vb != vb):
            diffs.append(f"{key}: {va!r} vs {vb!r}")
    for d in diffs[:50]:
        print(d)
    print(f"{len(ca)} cells compared; {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
