"""The cohort object shared by the Markov and partitioned-survival engines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
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
        ``"death"`` (fall in OS) and ``"pfs_event"`` (fall in PFS).
    report : dict
        Engine diagnostics (e.g. how often PFS was capped at OS).
    dead_states : tuple of str
        States that accrue no life-years (death).
    """

    strategy: str
    states: tuple
    trace: np.ndarray
    events: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    dead_states: tuple = ()

    @property
    def n(self) -> int:
        return self.trace.shape[0]

    @property
    def n_cycles(self) -> int:
        return self.trace.shape[1] - 1

    def state_index(self, state: str) -> int:
        try:
            return self.states.index(state)
        except ValueError:
            raise KeyError(f"strategy '{self.strategy}': no state named '{state}'; states are {', '.join(self.states)}") from None
