"""The cohort object shared by the Markov and partitioned-survival engines."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np


class Cohort:
    """State occupancy of a cohort over a cycle grid, for a batch of samples.

    Attributes
    ----------
    strategy : str
        Strategy name (used in messages and outputs).
    states : tuple of str
        State names, in the order of the last axis of ``trace``.
    trace : ndarray, shape (n, T + 1, K)
        Proportion of the cohort in each state at each time point ``t_0 .. t_T``.
    events : dict of str -> ndarray, shape (n, T)
        Counts (as proportions of the cohort) of events during each cycle ``j = 1..T``: tracked
        transitions of a Markov model are named ``"A->B"``; a partitioned-survival model records
        ``"death"`` (fall in OS) and ``"pfs_event"`` (fall in PFS), each computed when first read
        (a mutable mapping: a model may add its own events as to a dict).
    report : dict
        Engine diagnostics (e.g. how often PFS was capped at OS).
    dead_states : tuple of str
        States that accrue no life-years (death).
    partition : list of ndarray (n, T + 1), optional
        For a partitioned-survival cohort, the (capped) survival curves that define the states.
        The trace and the events are then built from them only when first asked for, and
        :func:`hta.engine.outcomes.account` integrates the curves directly (fewer passes over memory).
    partition_stack : ndarray (N-1, n, T + 1), optional
        The same curves in one array (``partition[i]`` is ``partition_stack[i]``), as
        :func:`hta.engine.psm.cohort` builds them, so that accounting needs no copy.
    runner : hta.engine.markov.MatrixRun, optional
        For a Markov cohort run with ``keep_trace=False``: its cycle loop, which
        :func:`hta.engine.outcomes.account` runs to integrate the occupancy without storing it; the trace
        is built from it only when first asked for.
    """

    def __init__(self, strategy: str, states, trace: np.ndarray | None = None, events: dict | None = None,
                 report: dict | None = None, dead_states=(), partition: list | None = None,
                 partition_stack: np.ndarray | None = None, runner=None):
        if trace is None and partition is None and runner is None:
            raise ValueError("a cohort needs a trace, a partition or a runner")
        self.strategy = strategy
        self.states = tuple(states)
        self._trace = trace
        self._events = events
        self.report = {} if report is None else report
        self.dead_states = tuple(dead_states)
        self.partition = partition
        self.partition_stack = partition_stack
        self.runner = runner

    @property
    def has_trace(self) -> bool:
        """True when the trace is stored (not built on request)."""
        return self._trace is not None

    @property
    def trace(self) -> np.ndarray:
        if self._trace is None and self.runner is not None:
            self._trace = self.runner.trace()
        if self._trace is None:
            curves = self.partition
            n, T1 = curves[0].shape
            # (n, N, T1) storage viewed as (n, T1, N): each state is contiguous in time.
            by_state = np.empty((n, len(curves) + 1, T1))
            by_state[:, 0] = curves[0]
            for i in range(1, len(curves)):
                np.subtract(curves[i], curves[i - 1], out=by_state[:, i])
            np.subtract(1.0, curves[-1], out=by_state[:, -1])
            self._trace = by_state.transpose(0, 2, 1)
        return self._trace

    @property
    def events(self) -> Mapping:
        if self._events is None:
            self._events = _PartitionEvents(self.partition[0], self.partition[-1])
        return self._events

    @events.setter
    def events(self, value: dict) -> None:
        self._events = value

    @property
    def n(self) -> int:
        if self._trace is None and self.runner is not None:
            return self.runner.n
        return (self.partition[0] if self._trace is None else self._trace).shape[0]

    @property
    def n_cycles(self) -> int:
        if self._trace is None and self.runner is not None:
            return self.runner.T
        return (self.partition[0] if self._trace is None else self._trace).shape[1] - 1

    def state_index(self, state: str) -> int:
        try:
            return self.states.index(state)
        except ValueError:
            raise KeyError(f"strategy '{self.strategy}': no state named '{state}'; states are {', '.join(self.states)}") from None

    def __repr__(self) -> str:
        return f"Cohort(strategy={self.strategy!r}, states={self.states}, n={self.n}, cycles={self.n_cycles})"


class _PartitionEvents(MutableMapping):
    """A partitioned-survival cohort's events, each ``(n, T)`` array computed when first read (a
    model that costs deaths only does not pay for the PFS events): ``"death"``, the fall in the
    last curve in each cycle, and ``"pfs_event"``, the fall in the first (progression or death).
    A model may add or replace events, as in a dict (e.g. progression without the background
    deaths)."""

    def __init__(self, first: np.ndarray, last: np.ndarray):
        self._curves = {"death": last, "pfs_event": first}
        self._values: dict = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._values:
            curve = self._curves[key]
            self._values[key] = curve[:, :-1] - curve[:, 1:]
        return self._values[key]

    def __setitem__(self, key: str, value) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._curves.pop(key, None)
        self._values.pop(key, None)

    def __contains__(self, key) -> bool:
        return key in self._curves or key in self._values   # without computing the array

    def __iter__(self):
        yield from self._curves
        yield from (k for k in self._values if k not in self._curves)

    def __len__(self) -> int:
        return len(self._curves) + sum(k not in self._curves for k in self._values)
