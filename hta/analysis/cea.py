"""Incremental cost-effectiveness analysis: dominance, extended dominance, ICERs, NMB and NHB.

Conventions (full statement with references in ``docs/cea.md``):

* Costs are in currency units (e.g. HK$), effects in health units (QALYs or life-years); a
  willingness-to-pay (WTP) threshold is in currency per unit of effect (HK$/QALY).
* ``incremental`` works on one table of mean costs and effects (one row per strategy). It follows
  the algorithm of dampack's ``calculate_icers`` (Alarid-Escudero, Enns et al., DARTH): strong
  dominance first, then extended dominance repeated until the ICERs along the frontier no longer
  fall. Equal ICERs along the frontier (collinear strategies) are *not* extended dominance, as in
  dampack, so the middle strategy stays on the frontier.
* The array functions (``nmb``, ``nhb``, ``incremental_nmb``) take costs and effects of shape
  ``(n, S)`` (n PSA draws, S strategies) or ``(S,)`` and a WTP that is a scalar or a vector
  ``(W,)``; a vector WTP adds a leading axis, giving ``(W, n, S)`` or ``(W, S)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = [
    "FRONTIER",
    "DOMINATED",
    "EXTENDEDLY_DOMINATED",
    "incremental",
    "nmb",
    "nhb",
    "incremental_nmb",
]

FRONTIER = "frontier"
DOMINATED = "dominated"
EXTENDEDLY_DOMINATED = "extendedly dominated"

_REQUIRED = ("strategy", "cost", "effect")
_ADDED = ("inc_cost", "inc_effect", "icer", "status", "comparator", "note")

# Two frontier ICERs that agree to this relative tolerance are "equal" (collinear strategies),
# so rounding in the last digits cannot decide whether a strategy is extendedly dominated.
ICER_RTOL = 1e-9


# --------------------------------------------------------------------------------------------
# Incremental analysis of a table of strategies
# --------------------------------------------------------------------------------------------


def incremental(table: pd.DataFrame) -> pd.DataFrame:
    """Full incremental analysis of mutually exclusive strategies.

    Parameters
    ----------
    table
        One row per strategy with columns ``strategy`` (unique names; converted to text),
        ``cost`` (currency) and ``effect`` (e.g. QALYs). Other columns are carried through.

    Returns
    -------
    DataFrame
        The input rows sorted by cost, then by effect (highest first), then by strategy name,
        with the index reset and these columns added:

        ``status``
            ``"frontier"``, ``"dominated"`` or ``"extendedly dominated"``.
        ``comparator``
            For every strategy except the first (cheapest) frontier strategy: the previous
            frontier strategy in the sorted order, i.e. the frontier strategy against which the
            increments are reported. ``None`` for the first frontier strategy.
        ``inc_cost``, ``inc_effect``
            Cost and effect minus those of ``comparator`` (NaN for the first frontier strategy).
            For dominated and extendedly dominated strategies they are reported against the
            previous frontier strategy by cost as information only; the incremental effect of a
            dominated strategy can therefore be zero or negative.
        ``icer``
            ``inc_cost / inc_effect`` for frontier strategies after the first; NaN otherwise.
            Frontier ICERs are positive and non-decreasing.
        ``note``
            Why a strategy is off the frontier (``"dominated by X"``, ``"duplicate of X
            (identical cost and effect)"``, ``"extendedly dominated by X and Y"``); empty for
            frontier strategies.

    Rules
    -----
    * Strong dominance: a strategy is dominated if another costs no more and is at least as
      effective, one of the two strictly. Hence with equal costs the less effective is
      dominated, and with equal effects the costlier is dominated.
    * Duplicates (identical cost and effect): the first by strategy name stays (it may still
      be dominated by a third strategy) and the others are labelled dominated with the note
      ``"duplicate of <first>"``.
    * Extended dominance: among the remaining strategies, sorted by cost, a strategy whose ICER
      against the previous one exceeds the ICER of the next one against it is extendedly
      dominated (a mix of its neighbours gives more effect for the same cost). This is
      repeated until no such strategy remains. ICERs equal to within a relative ``1e-9`` are
      treated as equal and do not cause extended dominance (dampack's rule), so collinear
      strategies all stay on the frontier.

    Raises
    ------
    HtaError
        If the table is empty, a required column is missing, a cost or effect is missing,
        non-numeric or infinite, strategy names are repeated, or an input column clashes with
        one of the output columns.
    """
    data = _validated_table(table)
    order = np.lexsort(
        (data["strategy"].to_numpy(), -data["effect"].to_numpy(), data["cost"].to_numpy())
    )
    data = data.iloc[order].reset_index(drop=True)
    names = data["strategy"].tolist()
    cost = data["cost"].to_numpy(dtype=float)
    effect = data["effect"].to_numpy(dtype=float)
    n = len(data)

    status = [FRONTIER] * n
    note = [""] * n
    _mark_strongly_dominated(cost, effect, names, status, note)
    _mark_extendedly_dominated(cost, effect, names, status, note)

    inc_cost = np.full(n, np.nan)
    inc_effect = np.full(n, np.nan)
    icer = np.full(n, np.nan)
    comparator: list[str | None] = [None] * n
    previous_frontier: int | None = None
    for i in range(n):
        if previous_frontier is not None:
            comparator[i] = names[previous_frontier]
            inc_cost[i] = cost[i] - cost[previous_frontier]
            inc_effect[i] = effect[i] - effect[previous_frontier]
            if status[i] == FRONTIER:
                icer[i] = inc_cost[i] / inc_effect[i]
        if status[i] == FRONTIER:
            previous_frontier = i

    data["inc_cost"] = inc_cost
    data["inc_effect"] = inc_effect
    data["icer"] = icer
    data["status"] = status
    data["comparator"] = pd.Series(comparator, dtype=object)
    data["note"] = note
    return data


def _validated_table(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise HtaError(
            f"incremental analysis: expected a pandas DataFrame with columns strategy, cost, "
            f"effect; found {type(table).__name__}"
        )
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise HtaError(
            f"incremental analysis: expected columns strategy, cost, effect; missing "
            f"{', '.join(missing)} (found columns: {', '.join(map(str, table.columns)) or 'none'})"
        )
    clashing = [c for c in _ADDED if c in table.columns]
    if clashing:
        raise HtaError(
            f"incremental analysis: input column(s) {', '.join(clashing)} would be overwritten "
            f"by the results; rename or drop them"
        )
    if len(table) == 0:
        raise HtaError("incremental analysis: expected at least one strategy; found an empty table")

    data = table.copy()
    if data["strategy"].isna().any():
        rows = [str(i) for i in data.index[data["strategy"].isna()]]
        raise HtaError(f"incremental analysis: strategy name missing in row(s) {', '.join(rows)}")
    data["strategy"] = data["strategy"].astype(str)
    repeated = sorted(set(data["strategy"][data["strategy"].duplicated()]))
    if repeated:
        raise HtaError(
            f"incremental analysis: expected unique strategy names; found repeated "
            f"{', '.join(repr(r) for r in repeated)}"
        )
    for column in ("cost", "effect"):
        values = pd.to_numeric(data[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            where = ", ".join(
                f"{s!r} ({data[column].iloc[k]!r})"
                for k, s in enumerate(data["strategy"])
                if bad[k]
            )
            raise HtaError(
                f"incremental analysis: expected a finite number for {column} of every "
                f"strategy; found {where}"
            )
        data[column] = values.astype(float)
    return data


def _mark_strongly_dominated(cost, effect, names, status, note) -> None:
    """Label strong dominance and duplicates in a table sorted by (cost, -effect, name).

    In that order a strategy is dominated exactly when an earlier one is at least as effective:
    the earlier one costs no more, and if it also costs the same it is strictly more effective
    (or identical, which is the duplicate case).
    """
    best = 0  # the first, hence cheapest, strategy holding the highest effect seen so far
    for i in range(1, len(names)):
        if effect[i] > effect[best]:
            best = i
        elif effect[i] == effect[best] and cost[i] == cost[best]:
            status[i] = DOMINATED
            note[i] = f"duplicate of {names[best]} (identical cost and effect)"
        else:
            status[i] = DOMINATED
            note[i] = f"dominated by {names[best]}"


def _mark_extendedly_dominated(cost, effect, names, status, note) -> None:
    """Remove interior strategies whose ICER exceeds the next one's, until none is left.

    All offending strategies of a pass are removed together (as in dampack); a strategy whose
    ICER is above the next one's lies above the chord joining its neighbours, so it can never
    be on the frontier and removing them together is safe.
    """
    frontier = [i for i, s in enumerate(status) if s == FRONTIER]
    while len(frontier) > 2:
        idx = np.asarray(frontier)
        icers = np.diff(cost[idx]) / np.diff(effect[idx])  # ICER of frontier[k+1] vs frontier[k]
        this, following = icers[:-1], icers[1:]
        falls = this - following > ICER_RTOL * np.abs(following)
        if not falls.any():
            break
        removed = {frontier[k + 1] for k in np.flatnonzero(falls)}
        for i in removed:
            status[i] = EXTENDEDLY_DOMINATED
        frontier = [i for i in frontier if i not in removed]

    # Name the frontier neighbours that bracket each extendedly dominated strategy.
    for i, s in enumerate(status):
        if s == EXTENDEDLY_DOMINATED:
            lower = max(j for j in frontier if j < i)
            upper = min(j for j in frontier if j > i)
            note[i] = f"extendedly dominated by {names[lower]} and {names[upper]}"


# --------------------------------------------------------------------------------------------
# Net benefit over PSA arrays
# --------------------------------------------------------------------------------------------


def nmb(cost, effect, wtp) -> np.ndarray:
    """Net monetary benefit ``NMB = wtp * effect - cost`` (currency units).

    Parameters
    ----------
    cost, effect
        Arrays of shape ``(n, S)`` (PSA draws by strategies) or ``(S,)``; they broadcast
        against each other (e.g. ``(1, S)`` with ``(n, S)``).
    wtp
        Willingness to pay per unit of effect: a scalar, or a vector ``(W,)``.

    Returns
    -------
    ndarray
        Shape of ``cost``/``effect`` broadcast, with a leading WTP axis ``(W, ...)`` when
        ``wtp`` is a vector (even of length 1).
    """
    cost, effect = _cost_effect(cost, effect)
    k = _wtp(wtp, positive=False)
    if k.ndim == 0:
        return k * effect - cost
    shape = (-1,) + (1,) * effect.ndim
    return k.reshape(shape) * effect - cost


def nhb(cost, effect, wtp) -> np.ndarray:
    """Net health benefit ``NHB = effect - cost / wtp`` (units of effect).

    Shapes as in :func:`nmb`; ``wtp`` must be strictly positive. ``NHB = NMB / wtp``.
    """
    cost, effect = _cost_effect(cost, effect)
    k = _wtp(wtp, positive=True)
    if k.ndim == 0:
        return effect - cost / k
    shape = (-1,) + (1,) * effect.ndim
    return effect - cost / k.reshape(shape)


def incremental_nmb(cost, effect, wtp, reference=0, strategies=None) -> np.ndarray:
    """NMB of every strategy minus the NMB of a reference strategy (same draw, same WTP).

    ``reference`` is a column index, or a strategy name when ``strategies`` (the names of the
    S columns) is given. Shapes as in :func:`nmb`; the reference column is identically 0.
    """
    values = nmb(cost, effect, wtp)
    n_strategies = values.shape[-1]
    column = _strategy_index(reference, strategies, n_strategies)
    return values - values[..., column : column + 1]


def _cost_effect(cost, effect) -> tuple[np.ndarray, np.ndarray]:
    cost = np.asarray(cost, dtype=float)
    effect = np.asarray(effect, dtype=float)
    try:
        shape = np.broadcast_shapes(cost.shape, effect.shape)
    except ValueError:
        raise HtaError(
            f"net benefit: costs and effects must have matching shapes (n, S) or (S,); "
            f"found costs {cost.shape} and effects {effect.shape}"
        ) from None
    if len(shape) not in (1, 2):
        raise HtaError(
            f"net benefit: expected costs and effects of shape (n, S) or (S,); found {shape}"
        )
    for label, values in (("costs", cost), ("effects", effect)):
        if not np.all(np.isfinite(values)):
            raise HtaError(f"net benefit: expected finite {label}; found NaN or infinite values")
    return np.broadcast_to(cost, shape), np.broadcast_to(effect, shape)


def _wtp(wtp, positive: bool) -> np.ndarray:
    k = np.asarray(wtp, dtype=float)
    if k.ndim > 1:
        raise HtaError(f"willingness to pay: expected a number or a vector; found shape {k.shape}")
    if k.ndim == 1 and k.size == 0:
        raise HtaError("willingness to pay: expected at least one value; found an empty vector")
    if not np.all(np.isfinite(k)):
        raise HtaError("willingness to pay: expected finite values; found NaN or infinite")
    if positive and np.any(k <= 0):
        raise HtaError(
            f"willingness to pay: expected values > 0 (net health benefit divides by it); "
            f"found minimum {k.min():g}"
        )
    if not positive and np.any(k < 0):
        raise HtaError(f"willingness to pay: expected values >= 0; found minimum {k.min():g}")
    return k


def _strategy_index(reference, strategies, n_strategies: int) -> int:
    if strategies is not None:
        names = [str(s) for s in strategies]
        if len(names) != n_strategies:
            raise HtaError(
                f"strategies: expected {n_strategies} names (one per column); found {len(names)}"
            )
        if isinstance(reference, str):
            if reference not in names:
                raise HtaError(
                    f"reference strategy: expected one of {', '.join(names)}; found {reference!r}"
                )
            return names.index(reference)
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if -n_strategies <= reference < n_strategies:
            return int(reference) % n_strategies
        raise HtaError(
            f"reference strategy: expected a column index 0..{n_strategies - 1}; found {reference}"
        )
    raise HtaError(
        f"reference strategy: expected a column index or (with strategy names) a name; "
        f"found {reference!r}"
    )
