"""Partitioned-survival engine, vectorised over samples.

``N - 1`` survival curves, ordered from the earliest endpoint to the latest (e.g. PFS then OS),
partition the cohort into ``N`` states: with curves ``S_1 <= S_2 <= ... <= S_{N-1}``, state 1
holds ``S_1``, state ``i`` holds ``S_i - S_{i-1}``, and the last state (dead) holds
``1 - S_{N-1}``. Where an earlier curve exceeds a later one (PFS above OS, which parametric
extrapolations can produce) it is capped at the later curve, and the number of cycles and samples
affected is reported in ``Cohort.report``, so state shares always sum to 1 and are never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hta.engine.cohort import Cohort
from hta.errors import HtaError


@dataclass(eq=False)
class Crossing:
    """Uncapped excess of one curve over the next, per sample: ``largest_gap`` ``(n,)`` (survival
    proportion; <= 0 when the curve never rises above ``later``) at time index ``time_index``
    ``(n,)``. Compares equal by value (arrays element by element); ``rec["largest_gap"]`` works too."""

    later: str
    largest_gap: np.ndarray
    time_index: np.ndarray

    @classmethod
    def of(cls, earlier: np.ndarray, later: np.ndarray, later_name: str) -> "Crossing":
        """From two ``(n, T+1)`` curves (before any capping)."""
        gap = earlier - later
        at = np.argmax(gap, axis=1)
        return cls(later_name, gap[np.arange(gap.shape[0]), at], at)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Crossing) and self.later == other.later
                and np.array_equal(self.largest_gap, other.largest_gap) and np.array_equal(self.time_index, other.time_index))


def cohort(
    survival: Sequence[np.ndarray],
    *,
    states: Sequence[str] | None = None,
    strategy: str = "",
    endpoint_names: Sequence[str] | None = None,
) -> Cohort:
    """Partition a cohort by survival curves evaluated on the cycle grid.

    Parameters
    ----------
    survival : sequence of N-1 arrays, each (n, T + 1) or (T + 1,)
        Survival probabilities at the grid's time points, earliest endpoint first (PFS, OS).
        Values must be in [0, 1]; ``S(0)`` is normally 1. They are copied (see
        :func:`cohort_from_stack` to write the curves in place and skip the copy).
    states : sequence of N str, optional
        Default: ``("progression-free", "progressed", "dead")`` for two curves.
    strategy : str
        Strategy name for messages.
    endpoint_names : sequence of N-1 str, optional
        Names of the curves (default ``PFS``, ``OS`` for two curves), used in the report.

    Returns
    -------
    Cohort
        ``trace`` (n, T + 1, N); ``events["death"]`` (fall in the last curve per cycle) and
        ``events["pfs_event"]`` (fall in the first curve per cycle, progression or death);
        ``report["capped"]`` maps each capped curve to the number of (cycle, sample) points,
        cycles and samples affected; ``report["crossing"]`` maps each curve but the last to
        its uncapped excess over the next one, per sample (a :class:`Crossing`: ``largest_gap``
        and ``time_index``, ``(n,)`` arrays; summarised by :func:`crossing_summary`).
    """
    curves = [np.atleast_2d(np.asarray(s, dtype=float)) for s in survival]
    if len(curves) < 1:
        raise HtaError(f"strategy '{strategy}': a partitioned-survival model needs at least one survival curve")
    states, endpoint_names = _names(len(curves), states, endpoint_names, strategy)
    shapes = {c.shape[1] for c in curves}
    if len(shapes) != 1:
        raise HtaError(f"strategy '{strategy}': survival curves must share the time grid; found lengths {sorted(shapes)}")
    n = max(c.shape[0] for c in curves)
    T1 = shapes.pop()
    if any(c.ndim != 2 or c.shape[0] not in (1, n) for c in curves):
        # Curves that cannot share one array: their values are checked first (as always), then
        # the copy below fails.
        for name, c in zip(endpoint_names, curves):
            _check_range(c, strategy, name)
    # The curves go into one (N-1, n, T+1) array: hta.engine.outcomes.account integrates them with one
    # stacked product, without copying them together again. The range is checked on the copy, block
    # by block (_partition); a curve outside [0, 1] is reported from the curves as given.
    stacked = np.empty((len(curves), n, T1))
    for i, c in enumerate(curves):
        stacked[i] = c
    return _partition(stacked, states, endpoint_names, strategy, given=curves)


def cohort_from_stack(
    stacked: np.ndarray,
    *,
    states: Sequence[str] | None = None,
    strategy: str = "",
    endpoint_names: Sequence[str] | None = None,
) -> Cohort:
    """:func:`cohort` from curves already stored in one array ``(N-1, n, T + 1)``; no copy.

    ``stacked[i]`` is curve ``i`` (earliest endpoint first), each a contiguous ``(n, T + 1)``
    block. The array becomes the cohort's storage and is **capped in place** (each curve at the
    later one; values within 1e-12 of [0, 1] clipped), so a model that fills it, e.g. with
    ``curve.survival(t, out=stacked[i])``, pays for no copy of its largest arrays. The cohort is
    the same, bit for bit, as ``cohort([stacked[0], stacked[1], ...])``, and so is the error for a
    curve outside [0, 1]; the array is then left partly capped (the blocks of rows before the one
    where the bad value was found).
    """
    S = stacked
    if not isinstance(S, np.ndarray) or S.dtype != np.float64 or S.ndim != 3 or not S.flags.c_contiguous or not S.flags.writeable:
        found = f"{type(S).__name__}" if not isinstance(S, np.ndarray) else f"{S.dtype} array of shape {S.shape}"
        raise HtaError(f"strategy '{strategy}': stacked survival curves must be a writeable, C-contiguous float64 array "
                       f"(curves, n, time points); found {found}")
    states, endpoint_names = _names(S.shape[0], states, endpoint_names, strategy)
    return _partition(S, states, endpoint_names, strategy)


def _names(m: int, states, endpoint_names, strategy: str):
    n_states = m + 1
    if states is None:
        states = ("progression-free", "progressed", "dead") if n_states == 3 else tuple(f"S{i}" for i in range(n_states))
    states = tuple(states)
    if len(states) != n_states:
        raise HtaError(f"strategy '{strategy}': {m} curves need {n_states} state names; found {len(states)}")
    if endpoint_names is None:
        endpoint_names = ("PFS", "OS") if m == 2 else tuple(f"curve {i + 1}" for i in range(m))
    return states, tuple(endpoint_names)


#: Rows per block of the one pass over the curves in :func:`_partition`: 256 KiB of each curve, so
#: a block is read from memory once (by the range check) and its other operations (clip, gap, its
#: maximum, the cap) read it from the core's cache. Every operation is row by row or an exact
#: reduction (min, max, counts, logical or), so the results do not depend on the block size; the
#: one exception, as before the fusion, is the sign of a zero where both curves are zero with
#: different signs (np.minimum takes the later curve's), which follows the blocks that are capped.
_BLOCK_BYTES = 256 * 2**10

#: Tolerance of the range check: values within it of [0, 1] are clipped, others rejected.
_TOL = 1e-12
#: The bits of 1.0 as an unsigned integer: a float's bits are at most this exactly when it is in
#: [+0, 1] (not NaN, not negative, not -0.0).
_ONE_BITS = int(np.float64(1.0).view(np.uint64))


def _row_blocks(n: int, T1: int) -> list[slice]:
    rows = max(1, _BLOCK_BYTES // (8 * max(T1, 1)))
    return [slice(a, min(a + rows, n)) for a in range(0, n, rows)]


def _check_range(c: np.ndarray, strategy: str, name: str) -> None:
    """Reject values of one curve outside [0, 1] (tolerance 1e-12) and NaN, whole curve at once:
    the check :func:`_partition` makes block by block, for the curves as given (its errors, and
    curves that cannot share one array in :func:`cohort`)."""
    # min/max propagate NaN, so they also reject NaN and infinities.
    if not (c.min() >= -_TOL and c.max() <= 1 + _TOL):
        _range_error(strategy, name, np.nanmin(c), np.nanmax(c))


def _range_error(strategy: str, name: str, lo, hi):
    raise HtaError(f"strategy '{strategy}', {name}: survival must be in [0, 1]; found values from {lo:.6g} to {hi:.6g}")


def _partition(S: np.ndarray, states, endpoint_names, strategy: str, given=None) -> Cohort:
    """Check, clip and cap the curves ``S`` (N-1, n, T+1) in place; the cohort keeps ``S``.

    One pass over blocks of rows (:func:`_row_blocks`); within a block, as for the whole array:
    check every curve's range (values within 1e-12 of [0, 1] are clipped, others and NaN
    rejected), clip the curves that need it, then cap each curve at the next (later) one, working
    back from the last. A curve outside [0, 1] raises the error that a whole-curve check of each
    curve in turn gives (the first bad curve; its smallest and largest values ignoring NaN): from
    ``given`` (the curves as given, when ``S`` is their copy), or else rebuilt from what each earlier
    block held before it was capped (:func:`_raise_first_bad`).
    """
    m, n, T1 = S.shape
    if S.size == 0:
        for i in range(m):   # as the whole-curve check: empty curves fail in numpy's reduction
            _check_range(S[i], strategy, endpoint_names[i])
        blocks = []
    else:
        blocks = _row_blocks(n, T1)
    nb = len(blocks)
    # Per block and curve: the largest value's bits (as uint64, values in [+0, 1] sort as their bits,
    # and everything else -- negatives, -0.0, above 1, NaN -- sorts above 1.0: one pass checks a
    # block); for a block not wholly in [+0, 1], its float minimum and maximum before clipping; the
    # smallest value of the rows capped in a block in [+0, 1], before capping (for the error path).
    top = np.empty((nb, m), dtype=np.uint64)
    lo = np.full((nb, m), np.nan)
    hi = np.full((nb, m), np.nan)
    slow = [False] * nb
    capped_min = np.full((nb, m), np.inf)
    gaps = {i: (np.empty(n), np.empty(n, dtype=np.intp)) for i in range(m - 1)}
    overs = {i: [] for i in range(m - 1)}   # per block with a crossing: (crossing rows, T+1) c > later
    width = blocks[0].stop - blocks[0].start if blocks else 0
    gap_buf = np.empty((width, T1))
    row_index = np.arange(width)
    bits = S.view(np.uint64)
    for j, rows in enumerate(blocks):
        block = S[:, rows]
        np.max(bits[:, rows], axis=(1, 2), out=top[j])
        fast = max(top[j].tolist()) <= _ONE_BITS
        if not fast:
            slow[j] = True
            np.min(block, axis=(1, 2), out=lo[j])
            np.max(block, axis=(1, 2), out=hi[j])
            lo_j, hi_j = lo[j].tolist(), hi[j].tolist()
            if not all(a >= -_TOL and b <= 1 + _TOL for a, b in zip(lo_j, hi_j)):   # False for NaN too
                _raise_first_bad(S, blocks, j, (top, lo, hi, slow, capped_min), gaps, given, endpoint_names, strategy)
            for i in range(m):
                if lo_j[i] < 0.0 or hi_j[i] > 1.0:   # values within the tolerance of [0, 1]
                    np.clip(block[i], 0.0, 1.0, out=block[i])
        gap = gap_buf[:rows.stop - rows.start]
        for i in range(m - 2, -1, -1):
            c, later = block[i], block[i + 1]
            # Uncapped crossing, per sample: the largest excess of the earlier curve over the later
            # one (<= 0 when it never crosses) and the time index where it occurs (crossing_summary).
            np.subtract(c, later, out=gap)
            at = gaps[i][1][rows]
            np.argmax(gap, axis=1, out=at)
            largest = gaps[i][0][rows]
            largest[:] = gap[row_index[:gap.shape[0]], at]
            # c > later exactly where c - later > 0 (finite values): the samples that cross are those
            # whose largest gap is > 0, and only their rows are counted.
            sel = (largest > 0.0).nonzero()[0]
            if sel.size:
                earlier, below = c[sel], later[sel]
                overs[i].append(earlier > below)   # counted after the loop
                if fast:
                    # No -0.0 in the block: np.minimum leaves the other rows' bits as they are, so
                    # only the crossing rows are capped.
                    capped_min[j, i] = earlier.min()
                    c[sel] = np.minimum(earlier, below, out=earlier)
                else:
                    # Where both are zero, np.minimum takes ``later``'s zero, whose sign may differ:
                    # every row is capped, as by the whole array.
                    np.minimum(c, later, out=c)
    report = {"capped": {}, "crossing": {}}
    for i in range(m - 2, -1, -1):
        report["crossing"][endpoint_names[i]] = Crossing(endpoint_names[i + 1], gaps[i][0], gaps[i][1])
        if overs[i]:   # a row in overs crosses somewhere: at least one point
            over = np.concatenate(overs[i])
            cycles_over = over.any(axis=0)
            report["capped"][endpoint_names[i]] = {
                "points": int(np.count_nonzero(over)),
                "cycles": int(cycles_over.sum()),
                "samples": over.shape[0],
                "first_time_index": int(np.argmax(cycles_over)),
            }
    # The trace and the events are built from the capped curves only when asked for
    # (hta.engine.outcomes.account integrates the curves directly).
    return Cohort(strategy=strategy, states=states, report=report, dead_states=(states[-1],),
                  partition=[S[i] for i in range(m)], partition_stack=S)


def _raise_first_bad(S, blocks, j, records, gaps, given, endpoint_names, strategy):
    """Raise the range error of the first curve outside [0, 1] anywhere (found in block ``j``).

    Blocks before ``j`` passed the check (no NaN) and have been clipped and capped: a block not
    wholly in [+0, 1] gives its recorded minimum and maximum; a block in [+0, 1] (never clipped)
    its recorded largest value, and its smallest from the rows not capped and the recorded minimum
    of the capped rows. Blocks from ``j`` on are as given. (One difference can remain: where a
    curve's smallest or largest value is a zero held as both +0.0 and -0.0, the message's sign of
    that zero follows numpy's reduction order, over these parts rather than the whole curve.)
    """
    if given is not None:
        for name, c in zip(endpoint_names, given):
            _check_range(c, strategy, name)
        raise AssertionError("a block failed the range check but no curve did")   # pragma: no cover
    top, lo, hi, slow, capped_min = records
    m, start = S.shape[0], blocks[j].start
    for i, name in enumerate(endpoint_names):
        rest = S[i, start:]
        if rest.min() >= -_TOL and rest.max() <= 1 + _TOL:
            continue
        lows, highs = [], []
        for k in range(j):
            rows = blocks[k]
            if slow[k]:
                lows.append(lo[k, i])
                highs.append(hi[k, i])
                continue
            highs.append(top[k:k + 1, i].view(np.float64)[0])
            kept = S[i, rows]
            if i < m - 1:
                crossed = gaps[i][0][rows] > 0.0
                kept = kept[~crossed]
                if crossed.any():
                    lows.append(capped_min[k, i])
            if kept.size:
                lows.append(kept.min())
        flat = rest.ravel()
        _range_error(strategy, name, np.nanmin(np.concatenate([lows, flat])), np.nanmax(np.concatenate([highs, flat])))
    raise AssertionError("a block failed the range check but no curve did")   # pragma: no cover


def crossing_summary(reports, threshold: float = 0.01, times=None):
    """Share of samples whose uncapped earlier curve rises above the later one, from cohort reports.

    ``reports``: ``{strategy: Cohort.report}`` (a partitioned-survival cohort's report, or a
    :class:`hta.engine.outcomes.StrategyOutcome`'s ``report``, which carries it); reports without a
    ``"crossing"`` entry (state-transition cohorts: OS follows from PFS, so no crossing) are
    skipped. ``threshold``: a crossing counts when the earlier curve exceeds the later by more
    than this (survival proportion). ``times`` (optional, ``(T+1,)``, e.g. grid times in years)
    gives the time of the largest gap. One row per (strategy, earlier curve): ``draws``,
    ``n_over`` and ``share_over`` (samples above the threshold), ``largest_gap`` (over all
    samples; <= 0 when no sample crosses), ``sample`` (its row) and ``time_index`` / ``time``.
    """
    import pandas as pd

    rows = []
    for strategy, report in reports.items():
        for earlier, rec in ((report or {}).get("crossing") or {}).items():
            gap = np.asarray(rec["largest_gap"], dtype=float)
            worst = int(np.argmax(gap))
            idx = int(np.asarray(rec["time_index"])[worst])
            rows.append({"strategy": strategy, "earlier": earlier, "later": rec["later"], "draws": int(gap.size),
                         "threshold": float(threshold), "n_over": int(np.count_nonzero(gap > threshold)),
                         "share_over": float(np.mean(gap > threshold)), "largest_gap": float(gap[worst]),
                         "sample": worst, "time_index": idx,
                         "time": float(np.asarray(times)[idx]) if times is not None else np.nan})
    return pd.DataFrame(rows, columns=["strategy", "earlier", "later", "draws", "threshold", "n_over", "share_over",
                                       "largest_gap", "sample", "time_index", "time"])


def crossing_lines(table) -> list:
    """One console line per row of a :func:`crossing_summary` table (with an optional ``batch``
    column), e.g. ``"PSA, eqcel: PFS above OS by > 0.01 in 13 of 2,000 samples (0.65%); largest
    gap 0.0282 at 0.333 years"``."""
    out = []
    for row in table.to_dict("records"):
        where = f" at {row['time']:.3g} years" if row.get("time") == row.get("time") else ""   # NaN-safe
        head = f"{row['batch']}, " if "batch" in row else ""
        gap = (f"largest gap {row['largest_gap']:.3g}{where}" if row["largest_gap"] > 0
               else "never above")
        out.append(f"{head}{row['strategy']}: {row['earlier']} above {row['later']} by > {row['threshold']:g} in "
                   f"{row['n_over']:,} of {row['draws']:,} samples ({row['share_over']:.2%}); {gap}")
    return out


def on_treatment(time_on_treatment: np.ndarray, overall_survival: np.ndarray) -> np.ndarray:
    """Proportion of the cohort on treatment: time-on-treatment capped at OS, shape (n, T + 1).

    Time on treatment (TTD) drives drug costs separately from PFS; patients cannot be treated
    after death, so the curve is capped at OS.
    """
    ttd = np.atleast_2d(np.asarray(time_on_treatment, dtype=float))
    os_ = np.atleast_2d(np.asarray(overall_survival, dtype=float))
    return np.minimum(ttd, os_)
