"""Hostile workbooks in families (issue 25): each is refused with located messages or read.

A derandomised subset of ``hostile_workbooks.cases()`` (every family, evenly spread over its
cases; ``HTA_FUZZ_EXAMPLES`` scales it: the subset has about half that many cases) and every
file-level case but the 3 GiB one. ``judge`` runs ``hta validate`` in-process: a case that must
be refused exits 2 with every problem naming the workbook, sheet and cell (or what the file is),
no traceback or warning, no line over 260 characters and no file written; a valid case exits 0.
The whole set (about 1,600 cases) runs with ``python tests/hostile_run.py``; its counts are in
docs/robustness.md.
"""

from __future__ import annotations

import os
from collections import defaultdict

import hostile_workbooks as hw
import pytest

EXAMPLES = int(os.environ.get("HTA_FUZZ_EXAMPLES", "500"))


def _subset() -> list[hw.Case]:
    cases = hw.cases()
    by_family: dict[str, list[hw.Case]] = defaultdict(list)
    for c in cases:
        by_family[c.family].append(c)
    wanted = max(EXAMPLES // 2, len(by_family))
    chosen = []
    for family, items in by_family.items():
        k = min(len(items), max(6, round(len(items) * wanted / len(cases))))
        step = len(items) / k
        chosen += [items[int(i * step)] for i in range(k)]
    return chosen


SUBSET = _subset()
FILES = hw.file_cases(big=False)


def test_subset_covers_every_family_and_both_outcomes():
    families = {c.family for c in SUBSET}
    assert families == {c.family for c in hw.cases()}
    assert {c.expect for c in SUBSET} == {hw.ERROR, hw.VALID}
    assert len(hw.cases()) + len(FILES) >= 1000


@pytest.mark.parametrize("case", SUBSET, ids=[f"{c.family}:{c.name}" for c in SUBSET])
def test_hostile_workbook(case, tmp_path):
    path = case.build(tmp_path)
    outcome, detail = hw.judge(path, case.expect)
    assert outcome == "ok", f"{case.family} {case.name}: {outcome}: {detail}"


@pytest.mark.parametrize("name, expect, build", FILES, ids=[f[0] for f in FILES])
def test_hostile_file(name, expect, build, tmp_path):
    outcome, detail = hw.judge(build(tmp_path), expect)
    assert outcome == "ok", f"{name}: {outcome}: {detail}"


def test_messages_name_the_damaged_part(tmp_path):
    case = next(c for c in hw.cases() if c.name == "shared shared strings or sheet truncated")
    from hta.excel.reader import validate

    problems = validate(case.build(tmp_path))
    assert len(problems) == 1
    assert "this part of the file is damaged: xl/sharedStrings.xml" in problems[0].found


def test_encrypted_workbook_is_named(tmp_path):
    from hta.excel.reader import validate

    build = dict((n, b) for n, _, b in FILES)["encrypted"]
    problems = validate(build(tmp_path))
    assert len(problems) == 1 and "password-protected" in problems[0].found


def test_kind_inference_is_listed(tmp_path, capsys):
    from hta.app.cli import main

    case = next(c for c in hw.cases() if c.name == "parameter kind inferred")
    assert main(["validate", str(case.build(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "c_x: cost: inferred from its name" in out


def test_check_finite_outputs_names_table_column_and_row():
    import numpy as np
    import pandas as pd

    from hta.errors import HtaError
    from hta.excel.finite import check_finite_outputs

    ok = pd.DataFrame({"strategy": ["cc", "eqcel"], "cost": [1.0, 2.0]})
    check_finite_outputs({"Results": ok})
    bad = pd.DataFrame({"strategy": ["cc", "eqcel"], "cost": [1.0, np.inf], "qaly": [np.nan, 1.0]})
    with pytest.raises(HtaError, match=r"'Budget'.*nan in column 'qaly', row 0, and 1 other"):
        check_finite_outputs({"Results": ok, "Budget": bad})
