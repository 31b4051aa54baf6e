"""The publisher on two processes (issue 24): the same files as one after another, the same
error, nothing written on an error, no thread left to fork with (hta.report.tasks).

The model is the HIV Markov model (Chancellor et al. 1997; Briggs et al. 2006 exercise 2.5) with
a one-way analysis, a 200-draw PSA and its formula-live workbook: 7 figures and 2 workbooks.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from hta.analysis import FormulaWorkbook, OneWay, Psa, analyse
from hta.errors import HtaError
from hta.report import figures as plots
from hta.report import publish as P
from hta.report import tasks as T
from models import hiv_chancellor as hiv

ROOT = Path(__file__).resolve().parents[1]
STARTED = dt.datetime(2026, 12, 5, 12, 0, 0, tzinfo=dt.timezone.utc)

two_cores = pytest.mark.skipif(not T.can_fork(2), reason="needs Linux, 2 usable cores and no other thread")


@pytest.fixture(scope="module")
def results():
    return analyse(hiv.model(), OneWay(), Psa(draws=200), FormulaWorkbook(), name="hiv", title="HIV")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:  # docProps/core.xml holds the moment of writing
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


@two_cores
def test_two_processes_write_the_same_files_as_one(results, tmp_path, monkeypatch):
    forked = []
    run_two = T._run_two
    monkeypatch.setattr(T, "_run_two", lambda *a: (forked.append(True), run_two(*a)))
    one = P.write(results, tmp_path / "one", started=STARTED, workers=1)
    assert not forked
    two = P.write(results, tmp_path / "two", started=STARTED, workers=2)
    assert forked  # the helper process took part
    names = sorted(p.name for p in one)
    assert names == sorted(p.name for p in two)
    assert sum(n.endswith(".png") for n in names) >= 6 and {"hiv.xlsx", "hiv_model.xlsx"} <= set(names)
    assert one[-1].name == two[-1].name == "hiv.xlsx"  # the main file moved last
    for name in names:
        a, b = tmp_path / "one" / name, tmp_path / "two" / name
        if name.endswith(".png"):
            assert a.read_bytes() == b.read_bytes(), name
        else:
            assert _parts(a) == _parts(b), name  # every sheet, cell, style and chart
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        from compare_workbooks import main as compare
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    assert compare(tmp_path / "one" / "hiv.xlsx", tmp_path / "two" / "hiv.xlsx") == 0
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_figure_is_one_message_and_writes_nothing(results, tmp_path, monkeypatch, workers):
    pids = tmp_path / "pids"
    pids.mkdir()

    def broken(*args, **kwargs):  # the first figure (the cohort trace)
        _mark(pids, "trace")()
        raise HtaError("trace: expected a cohort trace; found none")

    monkeypatch.setattr(plots, "trace_plot", broken)
    write_workbook = P.write_workbook
    if workers == 2 and T.can_fork(2):  # this process starts with the results workbook: wait for the helper
        monkeypatch.setattr(P, "write_workbook", lambda *a: (_wait_for(pids / "trace")(), write_workbook(*a)))
    out = tmp_path / "out"
    with pytest.raises(HtaError) as err:
        P.write(results, out, started=STARTED, workers=workers)
    assert str(err.value) == "trace: expected a cohort trace; found none"
    assert not out.exists() and _leftovers(tmp_path) == []
    drawn_by = _pids(pids, "trace")
    assert len(drawn_by) == 1
    assert (drawn_by == [os.getpid()]) == (workers == 1 or not T.can_fork(2))


def _mark(folder: Path, name: str):
    def task():
        (folder / f"{name}.{os.getpid()}").touch()
    return task


def _wait_for(path: Path):
    def task():
        for _ in range(3000):
            if list(path.parent.glob(path.name + ".*")):
                return
            time.sleep(0.01)
        raise AssertionError(f"{path} never appeared")
    return task


def _pids(folder: Path, name: str) -> list[int]:
    return [int(p.suffix[1:]) for p in folder.glob(f"{name}.*")]


@two_cores
def test_the_helper_takes_tasks_from_the_back_and_this_process_from_the_front(tmp_path):
    # this process takes task 1 and waits there until task 0 is done: only the helper can do it
    T.run_tasks([_mark(tmp_path, "zero"), _wait_for(tmp_path / "zero")], first=[1], workers=2)
    assert _pids(tmp_path, "zero") != [os.getpid()] and len(_pids(tmp_path, "zero")) == 1
    assert multiprocessing.active_children() == []


def test_one_worker_runs_every_task_here_in_order(tmp_path):
    order = []
    T.run_tasks([lambda: order.append(0), lambda: order.append(1), lambda: order.append(2)], first=[2], workers=1)
    assert order == [0, 1, 2]


@two_cores
def test_the_error_raised_is_the_first_in_task_order_whichever_process_meets_it(tmp_path):
    def fail(message, after=None):
        def task():
            if after is not None:
                _wait_for(after)()
            raise HtaError(message)
        return task

    with pytest.raises(HtaError, match="^first$"):
        T.run_tasks([fail("first"), fail("second")], first=[1], workers=1)
    # on two processes the helper fails on task 0 only after this process failed on task 1
    tasks = [fail("first", after=tmp_path / "second"), lambda: (_mark(tmp_path, "second")(), fail("second")())]
    with pytest.raises(HtaError, match="^first$"):
        T.run_tasks(tasks, first=[1], workers=2)


class Unpicklable(Exception):
    def __init__(self, lock):
        super().__init__("a lock cannot be pickled")
        self.lock = lock

    def __reduce__(self):
        raise TypeError("cannot pickle")


@two_cores
def test_an_error_of_the_helper_that_cannot_be_pickled_comes_back_with_its_traceback(tmp_path):
    def fail():
        _mark(tmp_path, "failing")()
        raise Unpicklable(threading.Lock())

    # this process takes task 1 and waits there until task 0 has started: the helper runs it
    with pytest.raises(RuntimeError, match="Unpicklable: a lock cannot be pickled") as err:
        T.run_tasks([fail, _wait_for(tmp_path / "failing")], first=[1], workers=2)
    assert "in the helper process" in str(err.value) and "Traceback" in str(err.value)


@two_cores
def test_a_helper_that_dies_is_one_message(tmp_path):
    parent = os.getpid()

    def die():
        _mark(tmp_path, "dying")()
        if os.getpid() != parent:
            os._exit(3)

    # this process takes task 1 and waits there until task 0 has started: the helper runs it
    with pytest.raises(HtaError, match="helper process ended with exit code 3"):
        T.run_tasks([die, _wait_for(tmp_path / "dying")], first=[1], workers=2)
    assert multiprocessing.active_children() == []


@two_cores
def test_ctrl_c_here_ends_the_helper_first(tmp_path):
    def interrupted():
        _wait_for(tmp_path / "started")()
        raise KeyboardInterrupt

    def long_figure():
        _mark(tmp_path, "started")()
        time.sleep(60)
        _mark(tmp_path, "finished")()

    with pytest.raises(KeyboardInterrupt):
        T.run_tasks([long_figure, interrupted], first=[1], workers=2)
    assert multiprocessing.active_children() == []  # ended, not waited for
    assert not list(tmp_path.glob("finished.*"))


def test_no_thread_is_left_to_fork_with(monkeypatch):
    import io

    from tqdm import tqdm

    from hta.app.progress import StepProgress

    bar = tqdm(total=2, file=io.StringIO())  # e.g. the PSA's bar: its monitor thread outlives it
    bar.close()
    steps = StepProgress(stream=io.StringIO(), tty=True)
    steps("start", "publish", 0, 0, 0.0)  # the step bar stays open while publishing
    monkeypatch.setattr(T, "cores", lambda: 2)
    forks = T.can_fork(None)
    assert threading.active_count() == 1  # the monitor stopped; the step bar started none
    assert forks == sys.platform.startswith("linux")
    assert not T.can_fork(1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not T.can_fork(None)  # another thread (a Dask client, say): one process
    finally:
        stop.set()
        other.join()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_before_the_tasks_is_raised_first_and_ends_the_helper(tmp_path, workers):
    def prepare():
        _wait_for(tmp_path / "started")() if workers == 2 and T.can_fork(2) else None
        raise HtaError("labels: expected text; found a number")

    def figure():
        _mark(tmp_path, "started")()
        raise HtaError("a figure's error comes later in the order")

    with pytest.raises(HtaError, match="^labels: expected text"):
        T.run_tasks([figure, lambda: None], first=[1], workers=workers, before=prepare)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("workers", [1, 2])
def test_the_run_context_passes_its_workers_to_the_publisher(results, tmp_path, monkeypatch, capsys, workers):
    from hta.app.scripts import RunContext

    forked = []
    run_two = T._run_two
    monkeypatch.setattr(T, "_run_two", lambda *a: (forked.append(True), run_two(*a)))
    context = RunContext(script=tmp_path / "hiv.py", out=tmp_path / "out", quiet=True, workers=workers)
    paths = context.publish(results)
    assert {p.name for p in paths} >= {"hiv.xlsx", "hiv_model.xlsx", "hiv_ceac.png"}
    assert forked == ([True] if workers == 2 and T.can_fork(2) else [])


@two_cores
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the thread count from /proc")
def test_the_fork_happens_with_one_thread_as_python_3_12_counts_them(tmp_path):
    # Python 3.12+ warns (DeprecationWarning) when the thread count of /proc/self/stat is above 1
    # just after fork; OpenBLAS's own threads (started by a matrix product) end around fork.
    import numpy as np

    a = np.random.default_rng(1).random((400, 400))
    a @ a

    def threads() -> int:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[17])

    counted = []
    T.run_tasks([_mark(tmp_path, "helper"), lambda: counted.append(threads())], first=[1], workers=2,
                before=lambda: counted.append(threads()))
    assert counted[0] == 1


def test_publishing_freezes_the_heap_for_its_duration_only(results, tmp_path, monkeypatch):
    """The objects alive when publishing starts are frozen (gc.freeze) while the files are
    written and handed back to the collector afterwards, also after an error; a caller's own
    freeze is left alone."""
    import gc

    counts = []
    real = P.write_workbook
    monkeypatch.setattr(P, "write_workbook", lambda *a, **k: (counts.append(gc.get_freeze_count()), real(*a, **k))[1])
    assert gc.get_freeze_count() == 0
    P.publish(results, tmp_path / "a", quiet=True, workers=1, figures=False)
    assert counts[-1] > 0 and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError, match="boom"), T.frozen_heap():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        with T.frozen_heap():
            assert gc.get_freeze_count() == mine
        assert gc.get_freeze_count() == mine
    finally:
        gc.unfreeze()
