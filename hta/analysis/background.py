"""Work that runs in a forked helper process while the plan goes on, and the checks for forking.

An analysis whose result nothing later in the plan reads (the PSA's EVPPI table: only the report
shows it) can hand that work to :func:`start`. On Linux, with two or more usable cores and no other
Python thread in this process, a child process is forked (copy-on-write: the PSA draws are not
copied or pickled) and computes it while the next analyses run here; its result comes back
through a pipe when :meth:`Pending.result` is called. Otherwise the work runs here at once, as
before. The value is the same either way: the function is the same and reads the same data.

The checks :func:`can_fork` and :func:`cores` and the error transport :func:`portable` are shared
with the publisher's helper (:mod:`hta.report.tasks`).

Forking a process with threads can deadlock the child (Python 3.12+ warns), so with any other
Python thread alive (a Dask client, a progress bar's monitor that cannot be stopped) the work
runs here. OpenBLAS shuts its own thread pool down around ``fork``.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from hta.errors import HtaError

__all__ = ["Pending", "can_fork", "cores", "portable", "start", "stop_tqdm_monitor"]


def cores() -> int:
    """The cores this process may run on (``taskset`` and container CPU sets respected)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def can_fork(workers: int | None) -> bool:
    """Whether work may go to a forked helper process: Linux, ``workers`` None (every core) or
    >= 2, at least two usable cores, and this process runs no other Python thread once tqdm's
    monitor thread (left running by every progress bar) is stopped."""
    if workers is not None and workers < 2:
        return False
    if not sys.platform.startswith("linux") or cores() < 2:
        return False
    import multiprocessing

    if multiprocessing.current_process().daemon:  # a daemonic process may not have children
        return False
    stop_tqdm_monitor()
    return threading.active_count() == 1


def stop_tqdm_monitor() -> None:
    """Stop tqdm's monitor thread if one runs (the next progress bar starts a new one).

    tqdm starts it with its first bar and keeps it after the bar closes; it only refreshes bars
    that have not printed for a while, so stopping it changes no output."""
    std = sys.modules.get("tqdm.std")
    if std is None:
        return
    classes, seen = [std.tqdm], []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes.extend(c for c in cls.__subclasses__() if c not in seen)
    for cls in seen:
        monitor = cls.__dict__.get("monitor")
        if monitor is not None:
            monitor.exit()  # sets its stop event and joins it
            cls.monitor = None


def portable(err: BaseException) -> BaseException:
    """``err`` if it survives pickling, else a RuntimeError carrying its text and traceback."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:  # noqa: BLE001 - any pickling problem: send the text instead
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        return RuntimeError(f"{type(err).__name__}: {err}\n(in the helper process)\n{text}")


class Pending:
    """The result of :func:`start`: :meth:`result` returns the value or raises the work's error
    (the same exception as running it here, pickled back); :meth:`cancel` ends the helper."""

    def __init__(self, label: str, value=None, process=None, receiver=None):
        self.label = label
        self._process = process
        self._receiver = receiver
        self._outcome = None if process is not None else ("ok", value)

    @property
    def in_helper(self) -> bool:
        """True when a helper process computes the value."""
        return self._process is not None

    def result(self):
        """The value (waits for the helper process if it has not finished)."""
        if self._outcome is None:
            try:
                self._outcome = self._receiver.recv()
            except EOFError:  # the child died without a report (killed, out of memory)
                self._process.join()
                self._outcome = ("error", HtaError(
                    f"{self.label}: the helper process ended with exit code {self._process.exitcode} before "
                    f"finishing; run with --workers 1"))
            finally:
                self._receiver.close()
            self._process.join()
        kind, value = self._outcome
        if kind == "error":
            raise value
        return value

    def cancel(self) -> None:
        """End the helper process if it still runs (Ctrl-C, or an error elsewhere in the plan)."""
        if self._process is not None and self._outcome is None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._receiver.close()
            self._outcome = ("error", HtaError(f"{self.label}: cancelled"))


def start(fn: Callable[[], object], *, workers: int | None, label: str) -> Pending:
    """Compute ``fn()`` in a forked helper process where :func:`can_fork` allows, else here, now.

    ``label`` names the work in messages (e.g. ``"EVPPI"``). Run here, ``fn``'s exception
    propagates at once, as a direct call's would. In a helper, the exception (or a RuntimeError
    with its text, if it cannot be pickled) is raised by :meth:`Pending.result`; the helper
    ignores Ctrl-C (this process ends it with :meth:`Pending.cancel`).
    """
    if not can_fork(workers):
        return Pending(label, value=fn())
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    try:
        receiver, sender = ctx.Pipe(duplex=False)
    except OSError:  # no pipes here: compute it now
        return Pending(label, value=fn())

    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends this process
        receiver.close()
        try:
            outcome = ("ok", fn())
            try:
                sender.send(outcome)
                return
            except Exception as err:  # noqa: BLE001 - a value that cannot be pickled: report why
                outcome = ("error", portable(err))
        except BaseException as err:  # noqa: BLE001 - reported to the parent, never a traceback here
            outcome = ("error", portable(err))
        sender.send(outcome)

    process = ctx.Process(target=child, name=f"hta-{label.lower().replace(' ', '-')}", daemon=True)
    try:
        process.start()
    except OSError:  # fork refused (out of memory, process limit): compute it now
        receiver.close()
        sender.close()
        return Pending(label, value=fn())
    sender.close()
    return Pending(label, process=process, receiver=receiver)
