"""Deterministic sensitivity analysis: one-way, tornado, two-way and threshold analyses.

Conventions (``docs/sensitivity.md``):

* **Comparator.** Increments are each strategy minus the comparator, which is the first strategy
  of ``model.strategies`` unless ``comparator=`` names another. With more than two strategies
  every non-comparator strategy gets its own rows (pairwise versus the comparator, not a
  frontier analysis: run :func:`hta.analysis.cea.incremental` for that).
* **Incremental net monetary benefit** at willingness to pay ``k``:
  ``INMB = k * dQALY - dCost`` (currency). ``INMB > 0`` is the same as ``ICER < k`` when
  ``dQALY > 0``; it stays defined when ``dQALY = 0`` or the strategy is dominated, so the tornado
  and the threshold use it.
* **ICER** ``= dCost / dQALY``; ``inf``/``-inf``/``nan`` where ``dQALY = 0``.
* Effects are QALYs unless ``effect="lys"``.

Every analysis builds one batch and calls ``model.evaluate`` once per batch; the threshold's
root finder evaluates one row per search and iteration, and searches of the same model and
range (several WTPs, strategy pairs) share each call (:func:`threshold_search`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hta.analysis.evaluate import evaluate, evaluate_all, model_parameters
from hta.analysis.roots import brent_steps, lockstep
from hta.errors import HtaError
from hta.params import Batch

__all__ = [
    "one_way",
    "tornado",
    "two_way",
    "threshold",
    "threshold_table",
    "threshold_search",
    "threshold_tables",
    "probabilistic_threshold",
    "probabilistic_thresholds",
    "ThresholdResult",
    "ProbabilisticThreshold",
    "wtp_list",
]

_OUTCOMES = {"inmb": "incremental NMB", "icer": "ICER", "inc_cost": "incremental cost",
             "inc_qaly": "incremental QALYs"}


# --------------------------------------------------------------------------------------------
# Shared helpers


def _strategies(model) -> list[str]:
    return [str(s) for s in model.strategies]


def _strategy_position(model, name, what: str) -> int:
    names = _strategies(model)
    if name not in names:
        raise HtaError(f"{what}: expected one of the model's strategies ({', '.join(names)}); found {name!r}")
    return names.index(name)


def _pairs(model, strategy=None, comparator=None) -> list[tuple[int, int]]:
    """(strategy index, comparator index) pairs: each non-comparator vs the comparator."""
    names = _strategies(model)
    if len(names) < 2:
        raise HtaError(f"model {getattr(model, 'name', '')!r}: needs at least two strategies; found {len(names)}")
    ref = 0 if comparator is None else _strategy_position(model, comparator, "comparator")
    if strategy is not None:
        s = _strategy_position(model, strategy, "strategy")
        if s == ref:
            raise HtaError(f"strategy and comparator must differ; found '{strategy}' for both")
        return [(s, ref)]
    return [(s, ref) for s in range(len(names)) if s != ref]


def _check_wtp(wtp, what: str = "willingness to pay") -> float:
    try:
        k = float(wtp)
    except (TypeError, ValueError):
        raise HtaError(f"{what}: expected a number (currency per QALY); found {wtp!r}") from None
    if not np.isfinite(k) or k < 0:
        raise HtaError(f"{what}: expected a finite number >= 0; found {wtp!r}")
    return k


def wtp_list(wtps, model=None) -> list[tuple[str, float]]:
    """Normalise WTPs to ``[(label, value)]``.

    Accepts a number, a sequence of numbers or of ``(label, value)`` pairs, a mapping
    ``label -> value``, or ``None`` for ``model.settings.wtp``.
    """
    if wtps is None:
        wtps = getattr(getattr(model, "settings", None), "wtp", None)
        if wtps is None:
            raise HtaError("willingness to pay: none given and the model's settings have no 'wtp' list")
    if isinstance(wtps, Mapping):
        items = list(wtps.items())
    elif np.ndim(wtps) == 0 and not isinstance(wtps, (tuple, list)):
        items = [(None, wtps)]
    else:
        items = [tuple(w) if isinstance(w, (tuple, list)) else (None, w) for w in wtps]
    out = []
    for item in items:
        if len(item) != 2:
            raise HtaError(f"willingness to pay: expected (label, value) pairs; found {item!r}")
        label, value = item
        k = _check_wtp(value)
        out.append((str(label) if label is not None else f"WTP {k:,.0f}", k))
    if not out:
        raise HtaError("willingness to pay: expected at least one value; found none")
    return out


def _increments(costs, effects, pairs, wtp):
    """dC, dE, ICER, INMB of shape (n, len(pairs))."""
    s = [p[0] for p in pairs]
    r = [p[1] for p in pairs]
    dc = costs[:, s] - costs[:, r]
    de = effects[:, s] - effects[:, r]
    with np.errstate(divide="ignore", invalid="ignore"):
        icer = dc / de
    return dc, de, icer, wtp * de - dc


def _label(model, strategy: str) -> str:
    labels = getattr(model, "strategy_labels", None) or {}
    return str(labels.get(strategy, strategy))


def _fmt(x: float) -> str:
    if x == 0 or 1e-3 <= abs(x) < 1e15:
        return f"{x:,.6g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:.4g}"


# --------------------------------------------------------------------------------------------
# One-way and tornado


def one_way(model, names: Sequence[str] | None = None, wtp: Any = None, comparator: str | None = None,
            effect: str = "qalys", workers: int | None = None) -> pd.DataFrame:
    """One-way sensitivity analysis over the parameters' low/high values.

    Evaluates one batch: the base case followed by ``ParameterTable.one_way(names)`` (2 rows per
    parameter: low, then high; ``names=None`` takes every parameter whose low and high differ).
    ``wtp`` defaults to the first WTP of ``model.settings.wtp``.

    Returns one row per parameter and non-comparator strategy with columns ``parameter``,
    ``strategy``, ``comparator``, ``wtp``, ``base_value``, ``low_value``, ``high_value`` and, for
    each outcome ``inc_cost``, ``inc_qaly``, ``icer``, ``inmb``: ``base_<outcome>``,
    ``<outcome>_low`` and ``<outcome>_high`` (outcome when the parameter is at its low / high
    value). Rows keep the table's parameter order; sort with :func:`tornado`. ``workers``: threads
    for the batch's chunks (:func:`hta.analysis.evaluate.evaluate_all`; default every core, the same results).
    """
    k = wtp_list(wtp, model)[0][1] if wtp is None else _check_wtp(wtp)
    table = model_parameters(model)
    ow_batch, design = table.one_way(names)
    if ow_batch.n == 0:
        raise HtaError("one-way analysis: no parameter has distinct low and high values; name the parameters to vary")
    batch = Batch.concat([table.base(), ow_batch])
    costs, effects = evaluate(model, batch, effect=effect, workers=workers)
    pairs = _pairs(model, comparator=comparator)
    dc, de, icer, inmb = _increments(costs, effects, pairs, k)
    strategies = _strategies(model)
    rows = []
    params = list(design["parameter"][::2])
    for i, name in enumerate(params):
        lo, hi = 1 + 2 * i, 2 + 2 * i
        for j, (s, r) in enumerate(pairs):
            row = {"parameter": name, "strategy": strategies[s], "comparator": strategies[r], "wtp": k,
                   "base_value": table[name].base, "low_value": design["value"].iloc[2 * i],
                   "high_value": design["value"].iloc[2 * i + 1]}
            for key, values in (("inc_cost", dc), ("inc_qaly", de), ("icer", icer), ("inmb", inmb)):
                row[f"base_{key}"] = values[0, j]
                row[f"{key}_low"] = values[lo, j]
                row[f"{key}_high"] = values[hi, j]
            rows.append(row)
    return pd.DataFrame(rows)


def tornado(one_way_frame: pd.DataFrame, outcome: str = "inmb", top: int | None = None,
            strategy: str | None = None) -> pd.DataFrame:
    """Tornado table from :func:`one_way`, widest swing first.

    ``swing = |outcome at high - outcome at low|``. Rows whose swing is not finite (an ICER
    through ``dQALY = 0``) sort last. Columns: ``parameter``, ``strategy``, ``low_value``,
    ``high_value``, ``base`` (the base-case outcome), ``at_low``, ``at_high``, ``swing``,
    ``outcome``. ``top`` keeps the first ``top`` rows (per strategy); ``strategy`` selects one
    strategy when the model has several.
    """
    if outcome not in _OUTCOMES:
        raise HtaError(f"tornado outcome: expected one of {', '.join(_OUTCOMES)}; found {outcome!r}")
    needed = {"parameter", "strategy", f"{outcome}_low", f"{outcome}_high", f"base_{outcome}"}
    missing = needed - set(one_way_frame.columns)
    if missing:
        raise HtaError(f"tornado: expected a frame from hta.analysis.dsa.one_way; missing columns {sorted(missing)}")
    frame = one_way_frame
    if strategy is not None:
        if strategy not in set(frame["strategy"]):
            raise HtaError(f"tornado strategy: expected one of {sorted(set(frame['strategy']))}; found {strategy!r}")
        frame = frame[frame["strategy"] == strategy]
    out = pd.DataFrame({
        "parameter": frame["parameter"].to_numpy(),
        "strategy": frame["strategy"].to_numpy(),
        "low_value": frame["low_value"].to_numpy(),
        "high_value": frame["high_value"].to_numpy(),
        "base": frame[f"base_{outcome}"].to_numpy(),
        "at_low": frame[f"{outcome}_low"].to_numpy(),
        "at_high": frame[f"{outcome}_high"].to_numpy(),
    })
    with np.errstate(invalid="ignore"):
        out["swing"] = np.abs(out["at_high"] - out["at_low"])
    out["outcome"] = outcome
    key = out["swing"].where(np.isfinite(out["swing"]), -1.0)
    out = out.assign(_key=key).sort_values(["strategy", "_key"], ascending=[True, False], kind="stable")
    out = out.drop(columns="_key")
    if top is not None:
        out = out.groupby("strategy", sort=False).head(int(top))
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Two-way


def two_way(model, p1: str, values1, p2: str, values2, wtp: Any = None, comparator: str | None = None,
            effect: str = "qalys", workers: int | None = None) -> pd.DataFrame:
    """Two-way analysis on a grid: one batch of ``len(values1) * len(values2)`` rows.

    Every other parameter stays at base (members of a Dirichlet block are *not* rescaled here:
    vary block members with care). Returns a long frame: ``p1``'s and ``p2``'s values (columns
    named after them), ``strategy``, ``comparator``, ``inc_cost``, ``inc_qaly``, ``icer``,
    ``inmb`` (at ``wtp``; default the model's first WTP) and ``wtp``.
    """
    k = wtp_list(wtp, model)[0][1] if wtp is None else _check_wtp(wtp)
    table = model_parameters(model)
    if p1 == p2:
        raise HtaError(f"two-way analysis: expected two different parameters; found '{p1}' twice")
    v1 = np.atleast_1d(np.asarray(values1, dtype=float))
    v2 = np.atleast_1d(np.asarray(values2, dtype=float))
    for name, v in ((p1, v1), (p2, v2)):
        table[name]  # raises for an unknown parameter
        if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
            raise HtaError(f"two-way analysis: values of '{name}' must be a non-empty list of finite numbers")
    g1, g2 = np.meshgrid(v1, v2, indexing="ij")
    batch = table.base().with_values({p1: g1.ravel(), p2: g2.ravel()})
    costs, effects = evaluate(model, batch, effect=effect, workers=workers)
    pairs = _pairs(model, comparator=comparator)
    dc, de, icer, inmb = _increments(costs, effects, pairs, k)
    strategies = _strategies(model)
    frames = []
    for j, (s, r) in enumerate(pairs):
        frames.append(pd.DataFrame({p1: g1.ravel(), p2: g2.ravel(), "strategy": strategies[s],
                                    "comparator": strategies[r], "inc_cost": dc[:, j], "inc_qaly": de[:, j],
                                    "icer": icer[:, j], "inmb": inmb[:, j], "wtp": k}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Threshold


@dataclass
class ThresholdResult:
    """Where incremental NMB = 0 (ICER = WTP) as ``parameter`` moves over ``[lower, upper]``.

    ``value`` is the root nearest to ``lower`` (``nan`` when ``found`` is False); ``roots`` all
    roots found in range (one per sign change of the scan grid). ``inmb_lower``/``inmb_upper``
    are the incremental NMB at the ends of the range. ``message`` states the result in words.
    """

    parameter: str
    strategy: str
    comparator: str
    wtp: float
    lower: float
    upper: float
    found: bool
    value: float
    roots: tuple
    inmb_lower: float
    inmb_upper: float
    message: str
    evaluations: int = 0


def _check_range(parameter: str, lower, upper) -> tuple[float, float]:
    try:
        lo, hi = float(lower), float(upper)
    except (TypeError, ValueError):
        raise HtaError(f"threshold range of '{parameter}': expected numbers; found {lower!r}, {upper!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise HtaError(f"threshold range of '{parameter}': expected finite lower < upper; found [{lower}, {upper}]")
    return lo, hi


def threshold(model, parameter: str, wtp: float, lower: float, upper: float, strategy: str | None = None,
              comparator: str | None = None, xtol: float | None = None, grid: int = 21,
              effect: str = "qalys") -> ThresholdResult:
    """The value of ``parameter`` at which ``strategy`` vs ``comparator`` has ICER = ``wtp``.

    Method: incremental NMB is evaluated on ``grid`` evenly spaced values of ``[lower, upper]``
    in one batch; every sign change is refined with Brent's method (``scipy.optimize.brentq``,
    as :func:`hta.analysis.roots.brent_steps`, one row per iteration) to ``xtol`` (default
    ``1e-12 * max(|lower|, |upper|, 1)``). Roots between two grid points where the sign does
    not change (a double root, or two roots within one grid step) are not detected; raise
    ``grid`` if that matters. Every other parameter stays at its base value. ``strategy``
    defaults to the first non-comparator strategy, ``comparator`` to the first strategy.
    """
    k = _check_wtp(wtp)
    pair = _pairs(model, strategy, comparator)[0]
    return threshold_search(model, parameter, [(k, pair)], lower, upper, xtol=xtol, grid=grid, effect=effect)[0]


def threshold_search(model, parameter: str, targets, lower: float, upper: float, xtol: float | None = None,
                     grid: int = 21, effect: str = "qalys", base_row: bool = False):
    """:func:`threshold` for several ``targets`` ``[(wtp, (strategy index, comparator index))]``
    of one model and range, sharing the model's calls; a list of :class:`ThresholdResult`.

    The scan grid does not depend on the WTP or the pair, so it is evaluated once for all
    targets (with the base case as its first row when ``base_row``: then the result is
    ``(results, (costs, qalys, lys))`` with the base case's ``(S,)`` totals); the Brent searches of
    every sign change of every target then run side by side (:func:`hta.analysis.roots.lockstep`),
    one batch per round instead of one call per point. A model evaluates every row alike
    whatever the batch it is in, so each result is that of :func:`threshold` bit for bit
    (``evaluations`` counts the points as a search of its own would have: the grid once, and
    every point of its Brent searches, their two ends included).
    """
    lo, hi = _check_range(parameter, lower, upper)
    table = model_parameters(model)
    table[parameter]
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise HtaError(f"threshold grid: expected a whole number >= 2; found {grid!r}")
    if effect not in ("qalys", "lys"):
        raise HtaError(f"effect: expected one of qalys, lys; found {effect!r}")
    names = _strategies(model)
    tol = 1e-12 * max(abs(lo), abs(hi), 1.0) if xtol is None else float(xtol)
    base = table.base()
    xs = np.linspace(lo, hi, int(grid))
    sweep = base.with_values({parameter: xs})
    if base_row:
        try:
            costs, qalys, lys = evaluate_all(model, Batch.concat([base, sweep]))
        except HtaError:  # name the failing row as the separate evaluations do
            evaluate_all(model, base)
            evaluate_all(model, sweep)
            raise
        base_totals = (costs[0], qalys[0], lys[0])
        costs, qalys, lys = costs[1:], qalys[1:], lys[1:]
    else:
        costs, qalys, lys = evaluate_all(model, sweep)
    effects = qalys if effect == "qalys" else lys
    asked, targets = list(targets), list(dict.fromkeys(targets))  # a target asked twice is searched once
    scans, searches, owners = [], [], []
    for t, (k, pair) in enumerate(targets):
        ys = _increments(costs, effects, [pair], k)[3][:, 0]
        if not np.all(np.isfinite(ys)):
            bad = xs[~np.isfinite(ys)][0]
            raise HtaError(f"threshold of '{parameter}': the model gives a non-finite incremental NMB at {bad:g}")
        scans.append(ys)
        for i in range(len(xs) - 1):
            if ys[i] * ys[i + 1] < 0:
                searches.append(brent_steps(xs[i], xs[i + 1], ys[i], ys[i + 1], tol, 4 * np.finfo(float).eps))
                owners.append(t)
    points = [2] * len(searches)  # a search of its own evaluates both ends first

    def inmb_at(pending):
        values = np.array([x for _, x in pending])
        batch = base.with_values({parameter: values})
        try:
            c, e = evaluate(model, batch, effect=effect)
        except HtaError:  # name the failing point as a search of its own does
            for j in range(len(pending)):
                evaluate(model, batch.take(j), effect=effect)
            raise
        out = []
        for j, (i, _) in enumerate(pending):
            k, pair = targets[owners[i]]
            out.append(float(_increments(c[j:j + 1], e[j:j + 1], [pair], k)[3][0, 0]))
            points[i] += 1
        return out

    found_roots = lockstep(searches, inmb_at)
    results = []
    for t, ((k, pair), ys) in enumerate(zip(targets, scans)):
        roots = [float(x) for x, y in zip(xs, ys) if y == 0.0]
        mine = [i for i, owner in enumerate(owners) if owner == t]
        roots += [float(found_roots[i]) for i in mine]
        roots = tuple(sorted(roots))
        s_label, c_label = _label(model, names[pair[0]]), _label(model, names[pair[1]])
        where = f"{parameter} in [{_fmt(lo)}, {_fmt(hi)}] at WTP {_fmt(k)}"
        if roots:
            found, value = True, roots[0]
            message = (f"{s_label} vs {c_label}: ICER = WTP {_fmt(k)} at {parameter} = {_fmt(value)}"
                       + (f" (roots in range: {', '.join(_fmt(r) for r in roots)})" if len(roots) > 1 else ""))
        else:
            found, value = False, float("nan")
            if np.all(ys > 0):
                message = f"{s_label} is cost-effective vs {c_label} at every value of {where}"
            else:
                message = f"{s_label} is not cost-effective vs {c_label} at any value of {where}"
        results.append(ThresholdResult(parameter, names[pair[0]], names[pair[1]], k, lo, hi, found, value, roots,
                                       float(ys[0]), float(ys[-1]), message, 1 + sum(points[i] for i in mine)))
    results = [results[targets.index(target)] for target in asked]
    return (results, base_totals) if base_row else results


def threshold_table(model, parameter: str, wtps=None, lower: float = 0.0, upper: float | None = None,
                    strategy: str | None = None, comparator: str | None = None, **kwargs) -> pd.DataFrame:
    """:func:`threshold` at several WTPs (default ``model.settings.wtp``): one row per WTP
    (the WTPs share their model calls: :func:`threshold_search`).

    ``upper`` defaults to 10 x the parameter's base value (``lower`` to 0), which suits a price.
    Columns: ``wtp_label``, ``wtp``, ``parameter``, ``strategy``, ``comparator``, ``threshold``,
    ``found``, ``roots``, ``message``.
    """
    return threshold_tables(model, parameter, [wtps], lower, upper, strategy, comparator, **kwargs)[0]


def threshold_tables(model, parameter: str, wtp_lists: Sequence, lower: float = 0.0, upper: float | None = None,
                     strategy: str | None = None, comparator: str | None = None, **kwargs) -> list[pd.DataFrame]:
    """:func:`threshold_table` for each WTP list of ``wtp_lists`` (e.g. the settings' WTPs and a
    curve's grid), all of one model and range, with one scan and one Brent search per root
    between them all (:func:`threshold_search`); the frames are those of separate calls."""
    table = model_parameters(model)
    if upper is None:
        upper = 10.0 * abs(table[parameter].base) or 1.0
    lists = [wtp_list(wtps, model) for wtps in wtp_lists]
    pair = _pairs(model, strategy, comparator)[0]
    targets = [(k, pair) for items in lists for _, k in items]
    found = iter(threshold_search(model, parameter, targets, lower, upper, **kwargs))
    frames = []
    for items in lists:
        rows = []
        for label, k in items:
            r = next(found)
            rows.append({"wtp_label": label, "wtp": k, "parameter": parameter, "strategy": r.strategy,
                         "comparator": r.comparator, "threshold": r.value, "found": r.found,
                         "roots": r.roots, "message": r.message})
        frames.append(pd.DataFrame(rows))
    return frames


# --------------------------------------------------------------------------------------------
# Probabilistic threshold


@dataclass
class ProbabilisticThreshold:
    """Where the probability that ``strategy`` is cost-effective vs ``comparator`` reaches ``level``.

    Over ``n`` PSA draws (the same draws at every value: common random numbers) with
    ``parameter`` set to a common value ``x``, ``P(x)`` is the share of draws with incremental
    NMB > 0. ``value`` is the first point of ``[lower, upper]`` (scanning upwards) at which
    ``P(x) >= level`` switches on or off: for a price, the highest price at which eque-cel is
    cost-effective with probability ``level``. ``method`` is ``"exact"`` (incremental NMB linear
    in the parameter: per-draw roots, no further model runs) or ``"bracket"``.
    """

    parameter: str
    strategy: str
    comparator: str
    wtp: float
    level: float
    lower: float
    upper: float
    found: bool
    value: float
    probability_lower: float
    probability_upper: float
    method: str
    n: int
    message: str
    draw_thresholds: np.ndarray | None = field(default=None, repr=False)


def _probability_exact(a, b, x):
    """Share of draws with a + b*x > 0 at each x (vectorised over x; O((n + m) log n))."""
    x = np.atleast_1d(x)
    n = a.size
    neg, pos, flat = b < 0, b > 0, b == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = -a / b
    r_neg = np.sort(roots[neg])  # CE iff x < root
    r_pos = np.sort(roots[pos])  # CE iff x > root
    count = (r_neg.size - np.searchsorted(r_neg, x, side="right")) + np.searchsorted(r_pos, x, side="left")
    return (count + np.count_nonzero(a[flat] > 0)) / n


def probabilistic_threshold(model, parameter: str, wtp: float, level: float = 0.5, n: int = 1000,
                            seed: Any = 1, lower: float = 0.0, upper: float | None = None,
                            strategy: str | None = None, comparator: str | None = None,
                            chunk_size: int | None = None, method: str = "auto", xtol: float | None = None,
                            effect: str = "qalys", workers: int | None = None) -> ProbabilisticThreshold:
    """The value of ``parameter`` at which P(cost-effective) over the PSA reaches ``level``.

    ``method="auto"`` checks numerically whether incremental NMB is linear in the parameter
    (evaluations at ``lower``, the midpoint and ``upper``: the midpoint must equal the mean of
    the ends to 1e-9 relative in every draw); if so each draw's root is exact and ``P(x)`` is a
    step function read off the sorted roots (``"exact"``); otherwise ``P(x) - level`` is
    bracketed on a grid of 11 values and bisected to ``xtol`` (``"bracket"``, one batch of
    ``n`` rows per step). ``upper`` defaults to 10 x the parameter's base value.
    """
    return probabilistic_thresholds(model, parameter, [wtp], level, n, seed, lower, upper, strategy, comparator,
                                    chunk_size, method, xtol, effect, workers)[0]


def probabilistic_thresholds(model, parameter: str, wtps: Sequence[float], level: float = 0.5, n: int = 1000,
                             seed: Any = 1, lower: float = 0.0, upper: float | None = None,
                             strategy: str | None = None, comparator: str | None = None,
                             chunk_size: int | None = None, method: str = "auto", xtol: float | None = None,
                             effect: str = "qalys", workers: int | None = None) -> list[ProbabilisticThreshold]:
    """:func:`probabilistic_threshold` at each WTP of ``wtps`` (currency per QALY), one result each.

    The WTPs share the model's evaluations: the same ``n`` draws with the parameter at the same
    value give the same costs and effects whatever the WTP, so each value of the parameter is
    evaluated once (``lower``, the midpoint and ``upper`` for every WTP; the bisection's points
    per WTP). The results are those of :func:`probabilistic_threshold` at each WTP, bit for bit
    (every row is evaluated alike whatever the batch it is in).
    """
    ks = [_check_wtp(w) for w in wtps]
    if not 0.0 < float(level) < 1.0:
        raise HtaError(f"probabilistic threshold level: expected a probability in (0, 1); found {level!r}")
    level = float(level)
    if method not in ("auto", "exact", "bracket"):
        raise HtaError(f"probabilistic threshold method: expected 'auto', 'exact' or 'bracket'; found {method!r}")
    table = model_parameters(model)
    table[parameter]
    if upper is None:
        upper = 10.0 * abs(table[parameter].base) or 1.0
    lo, hi = _check_range(parameter, lower, upper)
    pair = _pairs(model, strategy, comparator)[0]
    draws = table.sample(n, seed)
    evaluated = {}  # parameter value -> (costs, effects) of the n draws, (n, S) each

    def outcomes_at(values):
        """Evaluate the values not seen yet, all in one batch (the parameter at each value for every draw)."""
        todo = list(dict.fromkeys(v for v in values if v not in evaluated))
        if todo:
            rep = Batch.concat([draws] * len(todo)).with_values({parameter: np.repeat(np.asarray(todo, float), n)})
            costs, effects = evaluate(model, rep, chunk_size=chunk_size, effect=effect, workers=workers)
            for i, v in enumerate(todo):
                evaluated[v] = (costs[i * n:(i + 1) * n], effects[i * n:(i + 1) * n])

    def inmb_function(k):
        def inmb_at(values):
            """INMB (len(values), n) with the parameter at each value for every draw."""
            values = [float(v) for v in np.atleast_1d(np.asarray(values, dtype=float))]
            outcomes_at(values)
            costs = np.concatenate([evaluated[v][0] for v in values])
            effects = np.concatenate([evaluated[v][1] for v in values])
            return _increments(costs, effects, [pair], k)[3][:, 0].reshape(len(values), n)

        return inmb_at

    outcomes_at([lo, 0.5 * (lo + hi), hi])  # the points every WTP needs, in one batch
    return [_probabilistic(model, parameter, k, level, n, lo, hi, pair, method, xtol, inmb_function(k)) for k in ks]


def _probabilistic(model, parameter, k, level, n, lo, hi, pair, method, xtol, inmb_at) -> ProbabilisticThreshold:
    """:func:`probabilistic_threshold` at one WTP ``k``, given ``inmb_at(values) -> (len(values), n)``."""
    names = _strategies(model)
    mid = 0.5 * (lo + hi)
    y = inmb_at([lo, mid, hi])
    scale = np.maximum(np.abs(y).max(axis=0), 1e-300)
    linear = bool(np.all(np.abs(y[1] - 0.5 * (y[0] + y[2])) <= 1e-9 * scale))
    if method == "exact" and not linear:
        raise HtaError(f"probabilistic threshold of '{parameter}': method 'exact' needs incremental NMB linear in it; "
                       "found it non-linear (use method='bracket')")
    use_exact = linear and method != "bracket"
    draw_roots = None
    if use_exact:
        slope = (y[2] - y[0]) / (hi - lo)
        intercept = y[0] - slope * lo
        with np.errstate(divide="ignore", invalid="ignore"):
            draw_roots = np.where(slope != 0, -intercept / slope, np.nan)
        prob = lambda x: _probability_exact(intercept, slope, x)  # noqa: E731
        candidates = np.unique(np.concatenate([[lo, hi], draw_roots[(draw_roots > lo) & (draw_roots < hi)]]))
        # P is constant strictly between consecutive candidates and may differ at them, so
        # look at every candidate and every midpoint, in order, for the first switch.
        points = np.empty(2 * candidates.size - 1)
        points[0::2] = candidates
        points[1::2] = 0.5 * (candidates[1:] + candidates[:-1])
        on = prob(points) >= level
        p_lo, p_hi = float(prob(lo)[0]), float(prob(hi)[0])
        change = np.flatnonzero(on[1:] != on[:-1])
        value = float("nan")
        if change.size:
            i = int(change[0])
            # switch between a candidate and the next midpoint: at the candidate; between a
            # midpoint and the next candidate: at that candidate.
            value = float(points[i] if i % 2 == 0 else points[i + 1])
        method_used = "exact"
    else:
        xs = np.linspace(lo, hi, 11)
        ps = (inmb_at(xs) > 0).mean(axis=1)
        on = ps >= level
        p_lo, p_hi = float(ps[0]), float(ps[-1])
        change = np.flatnonzero(on[1:] != on[:-1])
        value = float("nan")
        if change.size:
            a, b = xs[change[0]], xs[change[0] + 1]
            state_a = on[change[0]]
            tol = 1e-9 * max(abs(lo), abs(hi), 1.0) if xtol is None else float(xtol)
            while b - a > tol:
                m = 0.5 * (a + b)
                if ((inmb_at([m]) > 0).mean() >= level) == state_a:
                    a = m
                else:
                    b = m
            value = float(b)
        method_used = "bracket"
    s_label, c_label = _label(model, names[pair[0]]), _label(model, names[pair[1]])
    where = f"{parameter} in [{_fmt(lo)}, {_fmt(hi)}] at WTP {_fmt(k)}"
    found = bool(np.isfinite(value))
    if found:
        message = (f"{s_label} vs {c_label}: P(cost-effective) crosses {level:.0%} at {parameter} = {_fmt(value)} "
                   f"({n} draws, {method_used})")
    else:
        side = "at least" if p_lo >= level else "below"
        message = f"P(cost-effective) of {s_label} vs {c_label} stays {side} {level:.0%} for every value of {where}"
    return ProbabilisticThreshold(parameter, names[pair[0]], names[pair[1]], k, level, lo, hi, found, value,
                                  p_lo, p_hi, method_used, int(n), message, draw_roots)
