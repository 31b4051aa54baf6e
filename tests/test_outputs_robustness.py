"""Results files under stress (issue 14): reproducible bytes, Ctrl-C, concurrent runs.

* The same inputs, seed and version give byte-identical results workbooks and figures, apart
  from the run timestamp: the workbook's created/modified properties and the Run info rows
  'started (UTC)', 'elapsed (s)' and 'elapsed_seconds'.
* Ctrl-C during a long PSA exits 130 with one line, no traceback, and leaves no workbook, no
  figure and no temporary file behind.
* Two runs writing into the same folder at once leave complete, readable files (the last one
  to finish wins) and no temporary files: every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from hta.excel.writer import read_back

ROOT = Path(__file__).resolve().parents[1]
VOLATILE_RUN_INFO = {"started (UTC)", "elapsed (s)", "elapsed_seconds"}

SCENARIO = '''
from pathlib import Path
from hta.excel.reader import read_inputs
from hta.analysis import OneWay, Psa, analyse
from models import fucaso_rrmm

INPUTS = Path({inputs!r})
MARKER = Path({marker!r})


def run(context):
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    MARKER.write_text("started")
    results = analyse(model, OneWay(), Psa(draws={draws}, chunk_size=1000), name="small",
                      title="robustness test run", execution=context.execution)
    context.publish(results, inputs=[INPUTS])
    return results
'''


def _scenario(tmp_path: Path, draws: int, name: str = "small_run.py") -> tuple[Path, Path]:
    marker = tmp_path / f"{name}.started"
    script = tmp_path / name
    script.write_text(SCENARIO.format(inputs=str(ROOT / "inputs" / "fucaso_hk.xlsx"), marker=str(marker),
                                      draws=draws))
    return script, marker


def _hta(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hta", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files of the writer (.NAME.*.xlsx.tmp) or the report staging (.hta-*)."""
    places = [folder, folder.parent] if folder.exists() else [folder.parent]
    return sorted(p.name for place in places for p in place.iterdir() if p.name.startswith("."))


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_same_inputs_and_seed_give_byte_identical_results(tmp_path):
    script, _ = _scenario(tmp_path, draws=200)
    outs = []
    for i in (1, 2):
        out = tmp_path / f"out{i}"
        proc = _hta("run", script, "--out", out, "--seed", 11, "--quiet")
        assert proc.wait(timeout=600) == 0, proc.stderr.read()
        outs.append(out)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir()) and "small.xlsx" in files
    for name in files:
        if name.endswith(".png"):
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    first, second = _parts(outs[0] / "small.xlsx"), _parts(outs[1] / "small.xlsx")
    assert list(first) == list(second)
    books = [read_back(o / "small.xlsx") for o in outs]
    run_info_part = next(n for n, data in first.items() if n.startswith("xl/worksheets/") and b"started (UTC)" in data)
    differing = sorted(n for n in first if first[n] != second[n])
    assert set(differing) <= {"docProps/core.xml", run_info_part}, differing
    stamp = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")
    assert stamp.sub(b"", first["docProps/core.xml"]) == stamp.sub(b"", second["docProps/core.xml"])
    info = [b["Run info"].set_index("item")["value"].astype(str) for b in books]
    stable = [i.drop(index=[k for k in VOLATILE_RUN_INFO if k in i.index]) for i in info]
    assert stable[0].equals(stable[1])
    assert info[0][info[0].index == "seed"].iloc[0] == "11"


def test_ctrl_c_during_a_long_psa_leaves_nothing_behind(tmp_path):
    script, marker = _scenario(tmp_path, draws=2_000_000)  # minutes of PSA: interrupted long before
    out = tmp_path / "results"
    proc = _hta("run", script, "--out", out)
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "the scenario never started"
    time.sleep(1.5)  # inside the PSA by now
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    err = proc.stderr.read()
    assert code == 130, err
    lines = err.strip().splitlines()  # progress lines (one per step, issue 20), then the one interrupt line
    assert lines[-1] == "hta: interrupted" and "Traceback" not in err
    assert all(line.startswith("hta: [") for line in lines[:-1])
    assert not out.exists() or list(out.iterdir()) == []
    assert _leftovers(out) == []


@pytest.mark.slow
def test_two_runs_into_one_folder_do_not_corrupt_each_other(tmp_path):
    script, _ = _scenario(tmp_path, draws=300)
    out = tmp_path / "shared"
    runs = [_hta("run", script, "--out", out, "--seed", seed, "--quiet") for seed in (1, 2)]
    for proc in runs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read()
    book = read_back(out / "small.xlsx")  # complete and readable
    assert {"Summary", "PSA summary", "Run info"} <= set(book)
    info = book["Run info"].set_index("item")["value"].astype(str)
    assert info[info.index == "seed"].iloc[0] in {"1", "2"}
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert _leftovers(out) == []


def test_formula_like_text_from_inputs_is_written_as_text(tmp_path):
    import openpyxl
    import pandas as pd

    from hta.excel.writer import Sheet, write_workbook

    hostile = ["=HYPERLINK(\"http://x\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "=1/0"]
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("Inputs", pd.DataFrame({"source": hostile}), {})])
    ws = openpyxl.load_workbook(path)["Inputs"]
    cells = [c for row in ws.iter_rows() for c in row if c.value in hostile]
    assert len(cells) == len(hostile) and all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(path) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
