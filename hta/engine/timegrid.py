"""The cycle grid, discounting and within-cycle correction.

Model time is in **years** since the start of the model. A grid of ``T`` cycles of length
``dt`` years has ``T + 1`` time points ``t_k = k * dt`` (k = 0..T); a cohort trace holds the state
occupancy at each time point, and cycle ``j`` (j = 1..T) spans ``[t_{j-1}, t_j]``.

Outcomes are integrals over time of occupancy x reward x discount factor. A within-cycle
correction is a quadrature rule: a set of weights on the time points (in units of cycles), and
an allocation of those weights to cycles so that rewards that differ by cycle can be applied.
See ``docs/methods.md`` for every formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hta.errors import HtaError
from hta.units import DAYS_PER_YEAR

#: Named cycle lengths, in years.
CYCLE_LENGTHS = {
    "week": 7.0 / DAYS_PER_YEAR,
    "28 days": 28.0 / DAYS_PER_YEAR,
    "month": 1.0 / 12.0,
    "year": 1.0,
}

_METHOD_ALIASES = {
    "start": "start",
    "beginning": "start",
    "end": "end",
    "half-cycle": "half-cycle",
    "half cycle": "half-cycle",
    "trapezoid": "half-cycle",
    "life-table": "half-cycle",
    "simpson": "simpson",
    "simpson 1/3": "simpson",
}

#: The within-cycle correction methods, by canonical name.
WITHIN_CYCLE_METHODS = ("start", "end", "half-cycle", "simpson")


def cycle_years(cycle: float | str) -> float:
    """Length of one cycle in years, from a number of years or a name in :data:`CYCLE_LENGTHS`."""
    if isinstance(cycle, str):
        key = cycle.strip().lower()
        if key not in CYCLE_LENGTHS:
            raise HtaError(
                f"cycle length: expected one of {', '.join(CYCLE_LENGTHS)} or a number of years; "
                f"found '{cycle}'"
            )
        return CYCLE_LENGTHS[key]
    value = float(cycle)
    if not np.isfinite(value) or value <= 0:
        raise HtaError(f"cycle length: expected a positive number of years; found {cycle}")
    return value


def canonical_method(method: str) -> str:
    """The canonical name of a within-cycle correction method (raises on unknown names)."""
    key = str(method).strip().lower()
    if key not in _METHOD_ALIASES:
        raise HtaError(
            f"within-cycle correction: expected one of {', '.join(WITHIN_CYCLE_METHODS)}; "
            f"found '{method}'"
        )
    return _METHOD_ALIASES[key]


@dataclass(frozen=True)
class CycleGrid:
    """A grid of ``n_cycles`` cycles of ``cycle_years`` years each.

    Attributes
    ----------
    cycle_years : float
        Cycle length in years (e.g. 1/12 for monthly cycles).
    n_cycles : int
        Number of cycles ``T``; the grid has ``T + 1`` time points.
    """

    cycle_years: float
    n_cycles: int

    def __post_init__(self):
        if not (np.isfinite(self.cycle_years) and self.cycle_years > 0):
            raise HtaError(f"cycle length: expected a positive number of years; found {self.cycle_years}")
        if int(self.n_cycles) != self.n_cycles or self.n_cycles < 1:
            raise HtaError(f"number of cycles: expected a positive integer; found {self.n_cycles}")

    @classmethod
    def from_horizon(cls, horizon_years: float, cycle: float | str) -> "CycleGrid":
        """The grid covering ``horizon_years`` with cycles of ``cycle`` (years or a name).

        The number of cycles is ``ceil(horizon / cycle)`` (a horizon that is not a whole number of
        cycles is rounded up, so the horizon is always covered).
        """
        dt = cycle_years(cycle)
        horizon = float(horizon_years)
        if not np.isfinite(horizon) or horizon <= 0:
            raise HtaError(f"time horizon: expected a positive number of years; found {horizon_years}")
        n = int(np.ceil(horizon / dt - 1e-9))
        return cls(dt, max(n, 1))

    @property
    def times(self) -> np.ndarray:
        """Time points ``t_k = k * dt`` in years, shape ``(T + 1,)``."""
        return np.arange(self.n_cycles + 1) * self.cycle_years

    @property
    def horizon_years(self) -> float:
        return self.n_cycles * self.cycle_years

    @property
    def cycle_midpoints(self) -> np.ndarray:
        """Midpoint of each cycle in years, shape ``(T,)``."""
        return (np.arange(self.n_cycles) + 0.5) * self.cycle_years


def per_cycle_rate(rate_per_annum: float, cycle_length_years: float) -> float:
    """Per-cycle discount rate equivalent to an annual rate: ``(1 + r)^dt - 1``."""
    return (1.0 + rate_per_annum) ** cycle_length_years - 1.0


def discount_factors(rate_per_annum: float, times_years, method: str = "discrete") -> np.ndarray:
    """Discount factors at times ``t`` (years) for an annual rate ``r``.

    ``discrete``: ``(1 + r)^-t``; ``continuous``: ``exp(-r t)`` (``r`` is then the continuous
    annual rate). A rate of 0 gives factors of exactly 1.
    """
    t = np.asarray(times_years, dtype=float)
    r = float(rate_per_annum)
    if not np.isfinite(r) or r < 0 or r >= 1:
        raise HtaError(f"discount rate: expected an annual rate in [0, 1) such as 0.03; found {rate_per_annum}")
    m = str(method).strip().lower()
    if m == "discrete":
        return (1.0 + r) ** (-t)
    if m == "continuous":
        return np.exp(-r * t)
    raise HtaError(f"discounting method: expected 'discrete' or 'continuous'; found '{method}'")


def point_weights(n_cycles: int, method: str) -> np.ndarray:
    """Quadrature weights on the ``T + 1`` time points, in units of cycles.

    ``sum_k w_k f(t_k) * dt`` approximates the integral of ``f`` over ``[0, T dt]``.

    * ``start``: 1 at ``t_0 .. t_{T-1}``, 0 at ``t_T`` (each cycle counted at its start);
    * ``end``: 0 at ``t_0``, 1 at ``t_1 .. t_T`` (each cycle counted at its end);
    * ``half-cycle``: the trapezoid rule, ``1/2, 1, ..., 1, 1/2``;
    * ``simpson``: composite Simpson's 1/3 rule ``(1, 4, 2, 4, ..., 2, 4, 1) / 3`` for an even
      number of cycles; for an odd number the last three cycles use Simpson's 3/8 rule
      ``(1, 3, 3, 1) * 3/8``, so constants and cubics still integrate exactly (T >= 2).
    """
    return cycle_allocation(n_cycles, method).sum(axis=0)


def cycle_allocation(n_cycles: int, method: str) -> np.ndarray:
    """Allocation matrix ``A`` of shape ``(T, T + 1)``: cycle ``j``'s share of time point ``k``.

    Person-time in cycle ``j`` (in cycles) is ``sum_k A[j-1, k] * occupancy(t_k)``; the column
    sums of ``A`` are :func:`point_weights`. For the start and end methods each cycle takes one
    point; for the half-cycle method each cycle takes half of each of its two end points; for
    Simpson's rule each point's weight is split equally between the cycles that share it, so a
    pair of cycles ``(2m+1, 2m+2)`` gets ``(1/3, 2/3, 0)`` and ``(0, 2/3, 1/3)`` of the points
    ``(t_2m, t_2m+1, t_2m+2)``. With a reward that is the same in both cycles of a pair this is
    exactly Simpson's rule.
    """
    T = int(n_cycles)
    m = canonical_method(method)
    A = np.zeros((T, T + 1))
    rows = np.arange(T)
    if m == "start":
        A[rows, rows] = 1.0
    elif m == "end":
        A[rows, rows + 1] = 1.0
    elif m == "half-cycle":
        A[rows, rows] = 0.5
        A[rows, rows + 1] = 0.5
    else:  # simpson
        if T < 2:
            raise HtaError(f"Simpson's rule needs at least 2 cycles; found {T}")
        n13 = T if T % 2 == 0 else T - 3  # cycles covered by the 1/3 rule
        for j in range(0, n13, 2):
            A[j, j], A[j, j + 1] = 1 / 3, 2 / 3
            A[j + 1, j + 1], A[j + 1, j + 2] = 2 / 3, 1 / 3
        if T % 2 == 1:
            # Simpson's 3/8 rule on the last three cycles: point weights (1, 3, 3, 1) * 3/8,
            # split equally between the cycles sharing each point.
            j = n13
            A[j, j], A[j, j + 1] = 3 / 8, 9 / 16
            A[j + 1, j + 1], A[j + 1, j + 2] = 9 / 16, 9 / 16
            A[j + 2, j + 2], A[j + 2, j + 3] = 9 / 16, 3 / 8
    return A
