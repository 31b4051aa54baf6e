"""Outcome accounting: life-years, QALYs and costs from a cohort, per strategy and per sample.

Conventions (see ``docs/methods.md``):

* Model time is in years; ``grid.cycle_years`` converts person-cycles to person-years.
* **Utilities** are annual weights: QALYs = utility x years in the state.
* **State costs** are per cycle spent in the state (HK$ per cycle).
* **Occupancy costs** are per cycle for a proportion of the cohort that is not a state, such as
  the proportion on treatment (time-on-treatment curve capped at OS).
* **Event costs** are per event (a transition ``A->B`` tracked by the Markov engine, or a death /
  PFS event of the partitioned-survival engine); an event in cycle ``j`` is discounted at the start
  of the cycle (method "start"), its end ("end") or its midpoint (half-cycle, Simpson).
* **One-off costs and QALY changes** happen at time 0 and are not discounted.
* State rewards are either constant over time, shape ``(K,)`` or ``(n, K)``, or per cycle, shape
  ``(n, T, K)`` with ``n`` possibly 1 (cycle ``j`` = index ``j - 1``). A state cost that is
  constant but paid in some cycles only (a drug given for the first two years) can be given as
  :func:`in_cycles` ``(values, first, last)`` instead of an ``(n, T, K)`` array that is 0 in the
  other cycles: the same results, bit for bit, without building or scanning that array.
  Utilities that are a constant per state times a per-cycle multiplier shared by every sample
  (the age adjustment of utilities) can be given as :func:`with_multiplier` ``(values,
  multiplier)`` instead of the ``(n, T, K)`` product: the QALYs are then the state values times
  the occupancy weighted by the multiplier, integrated with the life-years in one pass (the same
  totals within rounding, without the ``(n, T, K)`` array).

Integrals use the within-cycle correction of :mod:`hta.engine.timegrid`: occupancy is discounted at each time
point, then allocated to cycles, then multiplied by the cycle's reward.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.engine.cohort import Cohort
from hta.engine.timegrid import CycleGrid, canonical_method, cycle_allocation, discount_factors
from hta.errors import HtaError

# Keys of StrategyOutcome.lines: (measure, category, state) with measure in {"ly", "qaly", "cost"}.


@dataclass(frozen=True)
class InCycles:
    """A state cost constant per state, ``(K,)`` or ``(n|1, K)``, paid in cycles ``first..last`` only."""

    values: object
    first: int
    last: int | None


def in_cycles(values, first: int = 1, last: int | None = None) -> InCycles:
    """State costs ``values`` (``(K,)`` or ``(n|1, K)``, per cycle in each state) paid only in cycles
    ``first`` to ``last`` (1-based, inclusive; ``last=None``: to the end of the horizon).

    ``state_costs={"drug": in_cycles(c, 1, 2)}`` gives the same lines, bit for bit, as the
    ``(n, T, K)`` array equal to ``c`` in cycles 1-2 and 0 afterwards.
    """
    for what, v in (("first", first), ("last", last)):
        if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1):
            raise HtaError(f"in_cycles: {what} must be a cycle number >= 1; found {v!r}")
    if last is not None and last < first:
        raise HtaError(f"in_cycles: last ({last}) must not be before first ({first})")
    return InCycles(values, int(first), None if last is None else int(last))


@dataclass(frozen=True)
class WithMultiplier:
    """Utilities constant per state, ``(K,)`` or ``(n|1, K)``, times a multiplier per cycle ``(T,)``."""

    values: object
    multiplier: np.ndarray


def with_multiplier(values, multiplier) -> WithMultiplier:
    """Utilities ``values`` (annual, ``(K,)`` or ``(n|1, K)``) times ``multiplier[j - 1]`` in cycle
    ``j`` (``(T,)``, the same for every sample; e.g. the age adjustment of
    :func:`hta.population.utility_norms.age_multiplier`).

    ``utilities=with_multiplier(u, m)`` in :func:`account` gives the QALYs of the per-cycle array
    ``m[None, :, None] * u[:, None, :]`` without building it: the occupancy is weighted by the
    multiplier in the same pass as the life-years, then times ``u``. The totals equal the
    per-cycle array's within rounding (a product taken in another order: a few units in the last
    place); the checks of the utilities (at most 1, finite) are those of the per-cycle array.
    """
    m = np.asarray(multiplier, dtype=float)
    if m.ndim != 1:
        raise HtaError(f"with_multiplier: expected one multiplier per cycle, shape (T,); found shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise HtaError(f"with_multiplier: expected finite multipliers; found {float(m[~np.isfinite(m)][0])!r}")
    m = m.copy()
    m.setflags(write=False)
    return WithMultiplier(values, m)


@dataclass
class StrategyOutcome:
    """Outcomes of one strategy for a batch of ``n`` samples.

    ``lines`` maps ``(measure, category, state)`` to an array of shape ``(2, n)``: row 0
    discounted, row 1 undiscounted. ``measure`` is ``"ly"``, ``"qaly"`` or ``"cost"``; ``state`` is
    empty for lines that belong to no state (events, one-off items, on-treatment costs).
    """

    strategy: str
    states: tuple
    n: int
    lines: dict = field(default_factory=dict)
    cohort: Cohort | None = None
    #: the cohort's engine report (e.g. partitioned survival's ``capped`` and ``crossing``),
    #: kept without the trace so a batch's crossing can be summarised (hta.engine.psm.crossing_summary)
    report: dict = field(default_factory=dict)

    def _total(self, measure: str, row: int) -> np.ndarray:
        total = np.zeros(self.n)
        for (m, _, _), v in self.lines.items():
            if m == measure:
                total += v[row]  # in place: the same sums, in the same order, as total = total + v[row]
        return total

    @property
    def lys(self) -> np.ndarray:
        """Discounted life-years, shape (n,)."""
        return self._total("ly", 0)

    @property
    def lys_undiscounted(self) -> np.ndarray:
        return self._total("ly", 1)

    @property
    def qalys(self) -> np.ndarray:
        """Discounted QALYs, shape (n,)."""
        return self._total("qaly", 0)

    @property
    def qalys_undiscounted(self) -> np.ndarray:
        return self._total("qaly", 1)

    @property
    def costs(self) -> np.ndarray:
        """Discounted total costs, shape (n,)."""
        return self._total("cost", 0)

    @property
    def costs_undiscounted(self) -> np.ndarray:
        return self._total("cost", 1)

    def by(self, measure: str, key: str = "category", discounted: bool = True) -> dict:
        """Totals of a measure grouped by ``category`` or ``state``: dict name -> (n,)."""
        row = 0 if discounted else 1
        pos = 1 if key == "category" else 2
        out: dict = {}
        for k, v in self.lines.items():
            if k[0] == measure:
                out[k[pos]] = out.get(k[pos], 0.0) + v[row]
        return out

    def disaggregated(self, sample: int | None = None) -> pd.DataFrame:
        """One row per line: measure, category, state, discounted and undiscounted values.

        With ``sample=None`` values are means over samples; otherwise the given sample.
        """
        rows = []
        for (m, c, s), v in self.lines.items():
            d, u = (v[0].mean(), v[1].mean()) if sample is None else (v[0][sample], v[1][sample])
            rows.append({"strategy": self.strategy, "measure": m, "category": c, "state": s,
                         "discounted": float(d), "undiscounted": float(u)})
        return pd.DataFrame(rows)

    def add(self, measure: str, category: str, state: str, discounted, undiscounted) -> None:
        key = (measure, category, state)
        value = np.empty((2, self.n))
        value[0] = discounted
        value[1] = undiscounted
        self.lines[key] = self.lines[key] + value if key in self.lines else value

    def _add_pair(self, key: tuple, pair: np.ndarray) -> None:
        """:meth:`add` of a line given as one contiguous ``(2, n)`` array (discounted, undiscounted),
        stored as it is (no copy): the caller hands it over and does not change it afterwards."""
        self.lines[key] = self.lines[key] + pair if key in self.lines else pair


def _check_utilities(u: np.ndarray, strategy: str, states) -> None:
    """Utilities are at most 1 (full health) and finite; below 0 (worse than death) is allowed."""
    # One pass each for the largest and the smallest value: NaN propagates through max (and fails
    # the comparison) and -inf is the smallest, so only a utility array with a bad value is
    # searched for the first one.
    if u.size == 0 or (u.max() <= 1.0 + 1e-12 and u.min() > -np.inf):
        return
    bad = ~np.isfinite(u) | (u > 1.0 + 1e-12)
    if bad.any():
        index = np.unravel_index(int(np.flatnonzero(bad)[0]), u.shape)  # (sample, [cycle,] state)
        state = states[index[-1]]
        where = f"sample {index[0]}" if u.shape[0] > 1 else "every sample"
        if u.ndim == 3:
            where += f", cycle {index[1]}"
        raise HtaError(f"strategy '{strategy}', state '{state}', {where}: expected a utility <= 1 (full "
                       f"health) and finite; found {float(u[index])!r}")


def _check_multiplied_utilities(u: np.ndarray, m: np.ndarray, strategy: str, states) -> None:
    """:func:`_check_utilities` of the per-cycle utilities ``m[t] u[n, k]`` without building them
    unless one is bad: each product is largest (and smallest) at the largest or smallest
    multiplier, so those two products are checked first; the error is the per-cycle array's."""
    if u.size == 0 or m.size == 0:
        return
    ends = np.stack([u * m.max(), u * m.min()], axis=1)
    if ends.max() <= 1.0 + 1e-12 and ends.min() > -np.inf:
        return
    _check_utilities(m[None, :, None] * u[:, None, :], strategy, states)


def _as_state_reward(values, n: int, T: int, K: int, what: str, strategy: str):
    """Return (kind, array): kind 'const' with (n|1, K) or 'cycle' with (n|1, T, K); for
    :class:`InCycles`, kind 'cycles' with ``(array (n|1, K), lo, hi)``: cycle indices ``lo:hi``."""
    if isinstance(values, InCycles):
        kind, a = _as_state_reward(values.values, n, T, K, what, strategy)
        if kind != "const":
            raise HtaError(f"strategy '{strategy}', {what}: in_cycles takes one value per state, shape ({K},) or "
                           f"({n}, {K}); found per-cycle values of shape {a.shape}")
        hi = T if values.last is None else min(values.last, T)
        return "cycles", (a, min(values.first - 1, hi), hi)
    a = np.asarray(values, dtype=float)
    if a.ndim == 0:
        a = np.full((K,), float(a))
    if a.ndim == 1:
        if a.shape[0] != K:
            raise HtaError(f"strategy '{strategy}', {what}: expected one value per state ({K}); found {a.shape[0]}")
        return "const", a[None]
    if a.ndim == 2:
        if a.shape[1] != K or a.shape[0] not in (1, n):
            raise HtaError(f"strategy '{strategy}', {what}: expected shape ({n}, {K}); found {a.shape}")
        return "const", a
    if a.ndim == 3:
        if a.shape[1:] != (T, K) or a.shape[0] not in (1, n):
            raise HtaError(f"strategy '{strategy}', {what}: per-cycle values must have shape ({n} or 1, {T}, {K}); found {a.shape}")
        return "cycle", a
    raise HtaError(f"strategy '{strategy}', {what}: expected at most 3 dimensions; found shape {a.shape}")


def _points_read(utilities, state_costs, n: int, T: int, K: int, strategy: str):
    """For a cohort without a stored trace: ``(spans, points)``. ``spans``: the cycle spans
    ``(lo, hi)`` (cycles ``lo+1..hi``) of :func:`in_cycles` costs, integrated in the cycle loop
    like constant rewards; ``points``: the time points ``(lo, hi)`` whose occupancy the per-cycle
    rewards read, or None when there are none."""
    spans, read = [], []
    rewards = ([("utilities", utilities)] if utilities is not None and not isinstance(utilities, (InCycles, WithMultiplier))
               else [])
    rewards += [(f"state costs '{category}'", values) for category, values in (state_costs or {}).items()]
    for what, values in rewards:
        kind, a = _as_state_reward(values, n, T, K, what, strategy)
        if kind == "cycles":
            spans.append(a[1:])
        elif kind == "cycle":
            read.append(_cycle_span(a))
    points = (min(lo for lo, _ in read), max(hi for _, hi in read)) if read else None
    return list(dict.fromkeys(spans)), points


def _constant_state_values(person_cycles: np.ndarray, c: np.ndarray, K: int):
    """``(states, v)`` of a cost constant per state ``c`` (n|1, K) on ``person_cycles`` (K, 2, n):
    ``v[i] = person_cycles[k] * c[:, k]`` for ``k = states[i]``. A state whose cost is 0 in every
    sample is left out (0 x finite person-cycles is 0: it would have no line)."""
    states = [k for k in range(K) if c[:, k].any() or not np.isfinite(person_cycles[k]).all()]
    v = person_cycles[states]  # a copy, (K', 2, n)
    for i, k in enumerate(states):
        v[i] *= c[:, k]        # (2, n) * (n|1,)
    return states, v


def _is_constant_reward(values) -> bool:
    """True for state rewards that are the same in every cycle (at most 2 dimensions)."""
    return not isinstance(values, InCycles) and np.ndim(values) <= 2


def _as_cycle_values(values, n: int, T: int) -> np.ndarray:
    """Per-event or per-cycle amount as (n|1, T): scalar, (n,), or (n|1, T)."""
    a = np.asarray(values, dtype=float)
    if a.ndim == 0:
        return np.full((1, 1), float(a))
    if a.ndim == 1:
        return a[:, None]
    return a


def _sum_over_cycles(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` of an ``(n, T, K)`` array, bit for bit, about 4x faster for K > 1.

    With K > 1 the cycle axis is not the innermost, so numpy adds the cycles one after another
    (no pairwise summation) and einsum adds them in the same order, without the reduction
    machinery's overhead. With K == 1 numpy sums pairwise, so ``sum`` is kept.
    """
    if x.ndim == 3 and x.shape[2] > 1 and x.flags.c_contiguous:
        return np.einsum("ntk->nk", x)
    return x.sum(axis=1)


@functools.lru_cache(maxsize=4)
def _allocation(T: int, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``cycle_allocation(T, method)``, its start and end weights and its column sums, built once
    per ``(T, method)`` and read-only (shared by every call and thread).

    The dense matrix is ``(T, T + 1)``: 19.6 MB for weekly cycles over 30 years, which took about
    9 ms to build and sum in every ``account`` call (a fixed cost per PSA chunk and strategy).
    The arrays are the same bit for bit as when built per call.
    """
    A = cycle_allocation(T, method)
    rows = np.arange(T)
    arrays = (A, A[rows, rows], A[rows, rows + 1], A.sum(axis=0))
    for x in arrays:
        x.setflags(write=False)
    return arrays


class _Integrator:
    """Discounted and undiscounted integrals over the grid for one within-cycle method."""

    def __init__(self, grid: CycleGrid, method: str, rate_costs: float, rate_outcomes: float, discount_method: str):
        T = grid.n_cycles
        self.T = T
        self.dt = grid.cycle_years
        self.method = canonical_method(method)
        # (T, T + 1): cycle j's person-cycles from the time points; the weights of the point at the
        # start and at the end of each cycle; the point weights (T + 1,). Read-only, built once.
        self.A, self.a, self.b, self.w = _allocation(T, self.method)
        self._multiplied: dict = {}   # kinds from multiplied(): their point weights (T + 1,)
        t = grid.times
        self.d = {"cost": discount_factors(rate_costs, t, discount_method),
                  "outcome": discount_factors(rate_outcomes, t, discount_method),
                  "none": np.ones_like(t)}
        if self.method == "start":
            t_event = t[:-1]
        elif self.method == "end":
            t_event = t[1:]
        else:
            t_event = grid.cycle_midpoints
        self.d_event = {"cost": discount_factors(rate_costs, t_event, discount_method),
                        "outcome": discount_factors(rate_outcomes, t_event, discount_method),
                        "none": np.ones_like(t_event)}

    def point_totals(self, occupancy: np.ndarray, which: str) -> np.ndarray:
        """Person-cycles: occupancy (n, T+1, K) -> (K, 2, n): for each state, discounted with `which`
        and undiscounted (each ``[k]`` a contiguous ``(2, n)`` block, see :func:`_by_state`)."""
        return self.point_totals_many(occupancy, (which,))[which]

    def point_totals_many(self, occupancy: np.ndarray, which) -> dict:
        """:meth:`point_totals` for several discount kinds at once: one pass over ``occupancy``.

        The trace is the largest array of a model (n x (T+1) x K), so it is read once for all
        weight columns. The product is one small matrix product per sample (a stacked matmul),
        never a single (n K, T+1) @ (T+1, C) product: BLAS may sum a large product in an order
        that depends on n, which would break bit-for-bit chunk invariance of PSA results.
        """
        which = tuple(which)
        res = np.matmul(occupancy.transpose(0, 2, 1), self.weights(which))                # (n, K, C)
        return {w: _by_state(res[:, :, 2 * i:2 * i + 2]) for i, w in enumerate(which)}    # (K, 2, n) each

    def weights(self, which) -> np.ndarray:
        """Point weights ``(T+1, C)``: for each discount kind, discounted then undiscounted."""
        return np.stack([col for w in which for col in (self._point_w(w) * self.d[self._rate(w)], self._point_w(w))],
                        axis=1)

    def multiplied(self, multiplier: np.ndarray) -> tuple:
        """A kind for :meth:`point_totals_many` and the other totals: person-cycles in each cycle
        times ``multiplier`` ``(T,)``, discounted at the outcome rate. Its point weights are
        ``a_s m_s + b_(s-1) m_(s-1)`` (the weight of point s in its two cycles times their
        multipliers), so that the sum over the points is ``sum_t m_t (a_t o_t + b_t o_(t+1))``."""
        m = np.asarray(multiplier, dtype=float)
        w = np.zeros(self.T + 1)
        w[:-1] += self.a * m
        w[1:] += self.b * m
        key = ("outcome", "multiplier", len(self._multiplied))
        self._multiplied[key] = w
        return key

    def _point_w(self, which) -> np.ndarray:
        return self._multiplied[which] if isinstance(which, tuple) else self.w

    @staticmethod
    def _rate(which) -> str:
        return which[0] if isinstance(which, tuple) else which

    def run_totals_many(self, runner, which, spans=(), points=None) -> tuple[dict, dict, np.ndarray | None]:
        """:meth:`point_totals_many` of a Markov cohort without a stored trace, accumulated in its
        cycle loop (:meth:`hta.engine.markov.MatrixRun.integrate`). Also, for each cycle span ``(lo, hi)``
        in ``spans``, the cost person-cycles in cycles ``lo+1..hi`` only (point weights
        ``A[lo:hi].sum(0)``: what :meth:`per_cycle` sums over those cycles); and the occupancy at
        ``points``. All person-cycles as ``(K, 2, n)`` arrays (discounted, undiscounted)."""
        which = tuple(which)
        W = [self.weights(which)]
        for lo, hi in spans:
            w = self.A[lo:hi].sum(axis=0)
            W.append(np.stack([w * self.d["cost"], w], axis=1))
        W = np.concatenate(W, axis=1)                                                     # (T+1, C)
        pairs = [np.empty((runner.K, 2, runner.n)) for _ in range(W.shape[1] // 2)]      # (K, 2, n) each
        window = runner.integrate(W, [p[:, i] for p in pairs for i in (0, 1)], points)
        return dict(zip(which, pairs)), dict(zip(spans, pairs[len(which):])), window

    def partition_totals_many(self, curves, which, stacked=None) -> dict:
        """:meth:`point_totals_many` of a partitioned-survival cohort from its N-1 curves.

        State occupancies are differences of the curves, so their integrals are differences of the
        curves' integrals: state 1 = curve 1, state i = curve i - curve i-1, dead = 1 - last curve.
        ``stacked`` is the curves as one ``(N-1, n, T+1)`` array when the cohort has it (no copy).
        The product is taken on its ``(n, N-1, T+1)`` view: each sample's ``(N-1, T+1)`` block
        has a constant row stride, so BLAS reads it in place (same sums as a contiguous copy).
        """
        which = tuple(which)
        W = self.weights(which)                                                             # (T+1, C)
        if stacked is None:
            stacked = np.stack(curves, axis=0)                                              # (N-1, n, T+1)
        per_curve = np.matmul(stacked.transpose(1, 0, 2), W)                                 # (n, N-1, C)
        n, m, C = per_curve.shape
        states = np.empty((n, m + 1, C))
        states[:, 0] = per_curve[:, 0]
        states[:, 1:m] = per_curve[:, 1:] - per_curve[:, :-1]
        states[:, m] = W.sum(axis=0) - per_curve[:, -1]
        return {w: _by_state(states[:, :, 2 * i:2 * i + 2]) for i, w in enumerate(which)}  # (N, 2, n) each

    def per_cycle(self, occupancy: np.ndarray, which: str, lo: int = 0, hi: int | None = None,
                  first_point: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Person-cycles in each cycle: (n, T+1, K) -> two arrays (n, T, K) (discounted, undiscounted).

        ``lo``, ``hi``: only cycles ``lo+1 .. hi`` (array indices ``lo:hi``); the values are those
        of the full arrays' slice, computed without the other cycles. ``first_point``: the time
        point of ``occupancy[:, 0]`` when it holds only some of the points (from ``first_point``).
        """
        hi = self.T if hi is None else hi
        occ = occupancy[:, lo - first_point:hi + 1 - first_point]
        d = self.d[which][None, lo:hi + 1, None]
        if self.method in ("start", "end"):
            # one point per cycle with weight 1: skip the multiply-adds by 0 and 1 (same values)
            und = occ[:, :-1] if self.method == "start" else occ[:, 1:]
            return und * (d[:, :-1] if self.method == "start" else d[:, 1:]), und
        a = self.a[None, lo:hi, None]
        b = self.b[None, lo:hi, None]
        und = a * occ[:, :-1] + b * occ[:, 1:]
        x = occ * d
        disc = a * x[:, :-1] + b * x[:, 1:]
        return disc, und


def _by_state(x: np.ndarray) -> np.ndarray:
    """An ``(n, K, 2)`` array (samples, states, discounted/undiscounted) as a contiguous ``(K, 2, n)``
    array: one copy, after which each state's ``(2, n)`` line is a contiguous view (stored without
    further copies or strided reads). Each discount kind gets its own array, so the lines of one
    kind do not keep the other kinds' values alive."""
    return np.ascontiguousarray(x.transpose(1, 2, 0))


#: Bytes of one ``(rows, T, K)`` array per row block in :func:`_reward_sums`: a block's
#: person-cycles, products and sums stay in the core's cache (256 KiB; measured on the flagship's
#: age-adjusted QALYs, 505 monthly cycles: see docs/performance.md).
_BLOCK_BYTES = 256 * 2**10


def _reward_sums(per_cycle_rows, values: np.ndarray, n: int, K: int) -> np.ndarray:
    """Sums over cycles of the discounted and undiscounted person-cycles times per-cycle
    ``values`` ``(n, T', K)``, as a ``(K, 2, n)`` array (:func:`_by_state`).

    ``per_cycle_rows(rows)`` gives the two ``(rows, T', K)`` person-cycle arrays of a block of
    rows. The rows are taken in blocks of about :data:`_BLOCK_BYTES` per array, so each block's
    arrays are computed, multiplied and summed while in cache; every value is a row's own
    elementwise products summed over its cycles in order, so the block size changes no bit.
    """
    T = max(values.shape[1], 1)
    rows_per_block = max(1, _BLOCK_BYTES // (8 * T * K))
    if n <= rows_per_block:
        disc, und = per_cycle_rows(slice(None))
        return _by_state(np.stack([_sum_over_cycles(disc * values), _sum_over_cycles(und * values)], axis=-1))
    out = np.empty((n, K, 2))
    for a in range(0, n, rows_per_block):
        rows = slice(a, min(a + rows_per_block, n))
        disc, und = per_cycle_rows(rows)
        v = values[rows] if values.shape[0] != 1 else values   # (1, T', K): the same values for every row
        out[rows, :, 0] = _sum_over_cycles(disc * v)
        out[rows, :, 1] = _sum_over_cycles(und * v)
    return _by_state(out)


def _cycle_span(values: np.ndarray) -> tuple[int, int]:
    """``(lo, hi)``: the cycles (array indices ``lo:hi``) where per-cycle rewards ``(n, T, K)`` are
    not all 0. Sums over the other cycles add only zeros (exactly), so they can be skipped."""
    n, T, K = values.shape
    used = np.flatnonzero(values.reshape(n, T * K).any(axis=0).reshape(T, K).any(axis=1))  # 10x faster than any(axis=(0, 2))
    if used.size == 0:
        return 0, 0
    return int(used[0]), int(used[-1]) + 1


def account(
    cohort: Cohort,
    grid: CycleGrid,
    *,
    within_cycle: str = "half-cycle",
    discount_costs: float = 0.0,
    discount_outcomes: float = 0.0,
    discount_method: str = "discrete",
    utilities=None,
    state_costs: dict | None = None,
    occupancy_costs: dict | None = None,
    event_costs: dict | None = None,
    one_off_costs: dict | None = None,
    one_off_qalys: dict | None = None,
    keep_cohort: bool = False,
) -> StrategyOutcome:
    """Life-years, QALYs and costs of a cohort, discounted and undiscounted.

    Parameters
    ----------
    cohort : Cohort
        From :func:`hta.engine.markov.cohort` or :func:`hta.engine.psm.cohort`.
    grid : CycleGrid
        The grid the cohort was run on.
    within_cycle : str
        "start", "end", "half-cycle" (trapezoid) or "simpson".
    discount_costs, discount_outcomes : float
        Annual discount rates for costs and for LYs/QALYs.
    discount_method : str
        "discrete" ``(1+r)^-t`` or "continuous" ``exp(-r t)``.
    utilities : array, optional
        Annual utility weight per state (see module docstring for shapes). Dead states should
        have 0. If omitted, QALYs are not computed.
    state_costs : dict category -> array
        Cost per cycle in each state, by cost category.
    occupancy_costs : dict category -> (occupancy (n|1, T+1), cost per cycle scalar/(n,)/(n|1, T))
        Costs on a proportion of the cohort that is not a state (e.g. on treatment).
    event_costs : dict category -> dict event -> cost per event (scalar, (n,) or (n|1, T))
        Events are keys of ``cohort.events`` (e.g. ``"PF->PD"``, ``"death"``).
    one_off_costs : dict category -> scalar or (n,)
        Costs at time 0 (undiscounted), e.g. the CAR-T acquisition cost.
    one_off_qalys : dict category -> scalar or (n,)
        QALY changes at time 0 (negative for losses), e.g. adverse-event disutilities.
    keep_cohort : bool
        Keep the cohort (trace) on the result.
    """
    n, T, K = cohort.n, cohort.n_cycles, len(cohort.states)
    T1 = T + 1
    if T != grid.n_cycles:
        raise HtaError(f"strategy '{cohort.strategy}': cohort has {T} cycles but the grid has {grid.n_cycles}")
    integ = _Integrator(grid, within_cycle, discount_costs, discount_outcomes, discount_method)
    dt = grid.cycle_years
    out = StrategyOutcome(strategy=cohort.strategy, states=cohort.states, n=n, cohort=cohort if keep_cohort else None,
                          report=cohort.report if isinstance(cohort.report, dict) else {})

    # Person-cycles by state, discounted at the outcome and the cost rate, in one pass.
    const_costs = any(_is_constant_reward(v) for v in (state_costs or {}).values())
    kinds = ("outcome", "cost") if const_costs else ("outcome",)
    multiplied = None   # utilities with a per-cycle multiplier: integrated with the life-years
    if isinstance(utilities, WithMultiplier):
        if utilities.multiplier.shape != (T,):
            raise HtaError(f"strategy '{cohort.strategy}', utilities: expected a multiplier per cycle, shape ({T},); "
                           f"found shape {utilities.multiplier.shape}")
        multiplied = integ.multiplied(utilities.multiplier)
    window = None       # a cohort run without its trace: the occupancy at the points per-cycle rewards read,
    span_totals = None  # and the person-cycles in the cycles of each in_cycles cost
    # The multiplied utilities' columns are a product of their own, so that the other columns'
    # sums (BLAS may order a product's sums by its number of columns) are those without them; the
    # cycle loop sums every column on its own.
    extra = (multiplied,) if multiplied is not None else ()
    if cohort.partition is not None:
        stacked = getattr(cohort, "partition_stack", None)
        totals = integ.partition_totals_many(cohort.partition, kinds, stacked)
        if extra:
            totals.update(integ.partition_totals_many(cohort.partition, extra, stacked))
    elif not cohort.has_trace and cohort.runner is not None:
        spans, points = _points_read(utilities, state_costs, n, T, K, cohort.strategy)
        totals, span_totals, window = integ.run_totals_many(cohort.runner, kinds + extra, spans, points)
    else:
        totals = integ.point_totals_many(cohort.trace, kinds)
        if extra:
            totals.update(integ.point_totals_many(cohort.trace, extra))

    def per_cycle(which: str, lo: int = 0, hi: int | None = None, rows: slice = slice(None)):
        if window is not None:
            return integ.per_cycle(window[rows], which, lo, hi, first_point=points[0])
        return integ.per_cycle(cohort.trace[rows], which, lo, hi)

    # Life-years by state (dead states accrue none). Values by state are (K, 2, n) arrays, each
    # state's (discounted, undiscounted) pair a contiguous block stored as its line without a copy.
    person_cycles = totals["outcome"]  # (K, 2, n)
    years = person_cycles * dt if dt != 1.0 else person_cycles  # x * 1.0 is x: skip the pass
    for k, s in enumerate(cohort.states):
        if s not in cohort.dead_states:
            out._add_pair(("ly", "life-years", s), years[k])

    # QALYs by state.
    if utilities is not None:
        if isinstance(utilities, InCycles):
            raise HtaError(f"strategy '{cohort.strategy}', utilities: in_cycles is for state costs; give utilities "
                           f"as ({K},), ({n}, {K}) or per cycle ({n}, {T}, {K})")
        if multiplied is not None:
            kind, u = _as_state_reward(utilities.values, n, T, K, "utilities", cohort.strategy)
            if kind != "const":
                raise HtaError(f"strategy '{cohort.strategy}', utilities: with_multiplier takes one value per state, "
                               f"shape ({K},) or ({n}, {K}); found per-cycle values of shape {u.shape}")
            _check_multiplied_utilities(u, utilities.multiplier, cohort.strategy, cohort.states)
            q = totals[multiplied] * u.T[:, None, :]  # (K, 2, n) * (K, 1, n|1)
        else:
            kind, u = _as_state_reward(utilities, n, T, K, "utilities", cohort.strategy)
            _check_utilities(u, cohort.strategy, cohort.states)
            if kind == "const":
                q = person_cycles * u.T[:, None, :]  # (K, 2, n) * (K, 1, n|1)
            else:
                lo, hi = _cycle_span(u)
                q = _reward_sums(lambda rows: per_cycle("outcome", lo, hi, rows), u[:, lo:hi], n, K)
        if dt != 1.0:
            q *= dt
        for k, s in enumerate(cohort.states):
            out._add_pair(("qaly", "QALYs", s), q[k])

    # State costs by category and state.
    per_cycle_cache = None
    cost_person_cycles = None
    for category, values in (state_costs or {}).items():
        kind, c = _as_state_reward(values, n, T, K, f"state costs '{category}'", cohort.strategy)
        if kind == "const":
            if cost_person_cycles is None:
                cost_person_cycles = totals.get("cost")
                if cost_person_cycles is None:
                    cost_person_cycles = integ.point_totals(cohort.trace, "cost")
            states_, v = _constant_state_values(cost_person_cycles, c, K)
        elif kind == "cycles" and span_totals is not None:  # integrated in the cycle loop
            c, lo, hi = c
            states_, v = _constant_state_values(span_totals[lo, hi], c, K)
        else:
            if kind == "cycles":  # constant values in cycles lo+1..hi: as the (n, T, K) array's span
                c, lo, hi = c
                disc, und = per_cycle("cost", lo, hi)
                c = c[:, None, :]
            else:
                lo, hi = _cycle_span(c)
                if (lo, hi) == (0, T):
                    if per_cycle_cache is None:
                        per_cycle_cache = per_cycle("cost")
                    disc, und = per_cycle_cache
                else:  # rewards in some cycles only (e.g. a drug for the first two years)
                    disc, und = per_cycle("cost", lo, hi)
                    c = c[:, lo:hi]
            v = _by_state(np.stack([_sum_over_cycles(disc * c), _sum_over_cycles(und * c)], axis=-1))
            states_ = range(K)
        for i, k in enumerate(states_):
            if v[i].any():  # the same test as any(v != 0): NaN counts, -0.0 does not
                out._add_pair(("cost", category, cohort.states[k]), v[i])

    # Costs on other occupancy curves (e.g. on treatment).
    for category, (occupancy, cost) in (occupancy_costs or {}).items():
        occ = np.atleast_2d(np.asarray(occupancy, dtype=float))
        if occ.shape[-1] != T1:
            raise HtaError(f"strategy '{cohort.strategy}', occupancy costs '{category}': expected {T1} time points; found {occ.shape[-1]}")
        c = _as_cycle_values(cost, n, T)
        disc, und = integ.per_cycle(occ[..., None], "cost")
        out.add("cost", category, "", (disc[..., 0] * c).sum(axis=1), (und[..., 0] * c).sum(axis=1))

    # Event costs.
    for category, per_event in (event_costs or {}).items():
        for event, cost in per_event.items():
            if event not in cohort.events:
                known = ", ".join(cohort.events) or "none (track transitions in the Markov engine)"
                raise HtaError(f"strategy '{cohort.strategy}', event costs '{category}': no event '{event}'; events recorded: {known}")
            counts = cohort.events[event]  # (n, T)
            c = _as_cycle_values(cost, n, T)
            spent = counts * c  # undiscounted per cycle; discounted: spent * d, as counts * c * d multiplies
            out.add("cost", category, "", (spent * integ.d_event["cost"]).sum(axis=1), spent.sum(axis=1))

    for category, value in (one_off_costs or {}).items():
        out.add("cost", category, "", value, value)
    for category, value in (one_off_qalys or {}).items():
        out.add("qaly", category, "", value, value)
    return out


@dataclass
class Outcomes:
    """Outcomes of several strategies over the same batch of ``n`` samples."""

    strategies: list
    results: dict  # strategy -> StrategyOutcome

    @classmethod
    def from_list(cls, outcomes: list) -> "Outcomes":
        return cls([o.strategy for o in outcomes], {o.strategy: o for o in outcomes})

    def __getitem__(self, strategy: str) -> StrategyOutcome:
        return self.results[strategy]

    @property
    def n(self) -> int:
        return next(iter(self.results.values())).n

    def _stack(self, attr: str) -> np.ndarray:
        return np.stack([getattr(self.results[s], attr) for s in self.strategies], axis=1)

    @property
    def costs(self) -> np.ndarray:
        """Discounted costs, shape (n, S)."""
        return self._stack("costs")

    @property
    def qalys(self) -> np.ndarray:
        """Discounted QALYs, shape (n, S)."""
        return self._stack("qalys")

    @property
    def lys(self) -> np.ndarray:
        """Discounted life-years, shape (n, S)."""
        return self._stack("lys")

    def summary(self, sample: int | None = 0) -> pd.DataFrame:
        """Per strategy: costs, QALYs, LYs (discounted and undiscounted) for one sample or the mean."""
        rows = []
        for s in self.strategies:
            r = self.results[s]
            pick = (lambda a: float(np.mean(a))) if sample is None else (lambda a: float(a[sample]))
            rows.append({
                "strategy": s,
                "cost": pick(r.costs), "qalys": pick(r.qalys), "lys": pick(r.lys),
                "cost_undiscounted": pick(r.costs_undiscounted),
                "qalys_undiscounted": pick(r.qalys_undiscounted),
                "lys_undiscounted": pick(r.lys_undiscounted),
            })
        return pd.DataFrame(rows)

    def disaggregated(self, sample: int | None = 0) -> pd.DataFrame:
        return pd.concat([self.results[s].disaggregated(sample) for s in self.strategies], ignore_index=True)

    def crossing(self, threshold: float = 0.01) -> pd.DataFrame:
        """Uncapped crossing of the partitioned-survival curves in this batch, per strategy
        (share of samples with the earlier curve above the later by more than ``threshold``,
        and the largest gap): :func:`hta.engine.psm.crossing_summary` of the strategies' reports."""
        from hta.engine.psm import crossing_summary

        return crossing_summary({s: self.results[s].report for s in self.strategies}, threshold)
