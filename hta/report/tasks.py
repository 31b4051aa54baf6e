"""The publisher's file-writing tasks on two cores: a forked helper process shares them.

:func:`run_tasks` runs independent tasks (callables without arguments that each write files,
e.g. one figure or one workbook) as if one after another, in the given order, and raises the
exception the first failing task in that order raised: the same error, the same files, whether
the tasks run in one process or two.

With two processes (Linux, at least 2 usable cores, ``workers`` not 1, no other thread running
in this process), a child process is forked (the tasks' closures are not pickled under fork)
and both take tasks from a shared list until it is empty: this process from the front (the
tasks given as ``first``: the workbooks), the child from the back (the figures, in order), so
the two sides balance themselves by measurement, one task at a time. A task that fails
records its place in the order; tasks later in the order that have not started are then
skipped, tasks earlier still run, so the error raised is the one the sequential order meets
first. The child sends its errors back through a pipe (an exception that cannot be pickled
comes back as a ``RuntimeError`` with its traceback); it ignores Ctrl-C, which this process
handles by ending the child before the exception goes on (so nothing writes into the staging
folder after it is removed).

Forking a process with threads can deadlock the child (Python 3.12+ warns): with any other
Python thread alive (e.g. a Dask client), the tasks run one after another here. OpenBLAS shuts
its own thread pool down around ``fork``.

:func:`frozen_heap` keeps Python's cyclic garbage collector off the objects that exist when
publishing starts (the results, the modules): the figures and workbooks create enough objects
for about six full collections, each of which would otherwise walk the whole heap again (in
both processes: the helper inherits the heap).
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Callable, Sequence

from hta.analysis.background import can_fork, cores, portable, stop_tqdm_monitor
from hta.errors import HtaError

__all__ = ["can_fork", "cores", "frozen_heap", "run_tasks", "stop_tqdm_monitor"]


@contextlib.contextmanager
def frozen_heap():
    """Within this block, the garbage collector leaves alone the objects that exist when it
    starts (``gc.freeze``; ``gc.unfreeze`` at the end hands them back to it). Objects created in
    the block are collected as usual; garbage that existed before waits for the end. Nothing
    changes when the collector is off or the caller froze objects itself (a server that
    freezes its start-up objects), nor does any result: only when cycles are collected."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_tasks(tasks: Sequence[Callable[[], object]], *, first: Sequence[int] = (), workers: int | None = None,
              before: Callable[[], object] | None = None) -> None:
    """Run every task of ``tasks`` (in this order when sequential) and raise the exception of the
    first one in that order that fails; ``first``: the positions this process starts with when a
    helper process takes part (the rest are taken from the back by the helper); ``workers``: 1
    runs the tasks one after another here, None or more uses two processes where
    :func:`can_fork` allows. ``before``: called in this process before any task of this process
    (with a helper, after the helper started, so the two overlap); its exception is raised before
    any task's. A task that needs its result must compute it itself if the helper runs it."""
    tasks = list(tasks)
    if len(tasks) < 2 or not can_fork(workers):
        _run_here(tasks, before)
        return
    front = [i for i in first if 0 <= i < len(tasks)]
    schedule = front + [i for i in reversed(range(len(tasks))) if i not in front]
    _run_two(tasks, schedule, before)


def _run_here(tasks, before) -> None:
    if before is not None:
        before()
    for task in tasks:
        task()


class _Board:
    """The shared state: the next positions of the schedule from the front and from the back and
    the lowest failed task (``len(tasks)``: none), in shared memory under one lock."""

    def __init__(self, ctx, schedule: list[int]):
        self.schedule = schedule
        self.lock = ctx.Lock()
        self.state = ctx.RawArray("q", [0, len(schedule) - 1, len(schedule)])

    def take(self, from_back: bool) -> int | None:
        """The next task still worth running (earlier than every failed one), or None."""
        with self.lock:
            front, back, failed = self.state[0], self.state[1], self.state[2]
            found = None
            while front <= back and found is None:
                i = self.schedule[back] if from_back else self.schedule[front]
                if from_back:
                    back -= 1
                else:
                    front += 1
                if i < failed:
                    found = i
            self.state[0], self.state[1] = front, back
        return found

    def failed(self, i: int) -> None:
        with self.lock:
            self.state[2] = min(self.state[2], i)


def _work(tasks, board: _Board, from_back: bool) -> list[tuple[int, BaseException]]:
    errors = []
    while (i := board.take(from_back)) is not None:
        try:
            tasks[i]()
        except Exception as err:  # noqa: BLE001 - reported in task order after both sides finish
            board.failed(i)
            errors.append((i, err))
    return errors


def _run_two(tasks, schedule: list[int], before) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    try:
        board = _Board(ctx, schedule)
        receiver, sender = ctx.Pipe(duplex=False)
    except OSError:  # no shared memory or semaphores here (some containers): one process
        _run_here(tasks, before)
        return

    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends this process
        receiver.close()
        try:
            errors = [(i, portable(err)) for i, err in _work(tasks, board, from_back=True)]
        except BaseException as err:  # noqa: BLE001 - anything else: report it, never a traceback here
            errors = [(-1, portable(err))]
        sender.send(errors)
        sender.close()

    process = ctx.Process(target=child, name="hta-publish", daemon=True)
    try:
        process.start()
    except OSError:  # fork refused (out of memory, process limit): one process
        receiver.close()
        sender.close()
        _run_here(tasks, before)
        return
    sender.close()
    try:
        if before is not None:
            before()
        errors = _work(tasks, board, from_back=False)
        try:
            errors += receiver.recv()
        except EOFError:  # the child died without a report (killed, out of memory)
            process.join()
            errors.append((-1, HtaError(f"writing the figures: the helper process ended with exit code "
                                        f"{process.exitcode} before finishing; run with --workers 1")))
        process.join()
    except BaseException:  # Ctrl-C or a failure outside the tasks: end the child first
        if process.is_alive():
            process.terminate()
        process.join()
        raise
    finally:
        receiver.close()
    if errors:
        raise min(errors, key=lambda e: e[0])[1]
