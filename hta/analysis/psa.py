"""Reductions of a probabilistic sensitivity analysis (PSA): CEAC, CEAF, EVPI and summaries.

Every function takes plain arrays with the PSA draw axis first: costs and effects of shape
``(n, S)`` (n draws, S strategies, columns in a fixed strategy order). Willingness to pay (WTP)
``wtp`` is a scalar or a vector ``(W,)`` in currency per unit of effect. Formulas and
conventions are stated in ``docs/cea.md``.

CEAC, CEAF and EVPI over a WTP grid are one kernel (:func:`wtp_curves`): the NMB of every
strategy, WTP and draw as ``(S, w, n)`` array operations on blocks of ``w`` WTP values (about
2 MiB of NMB per block, so a block stays in the processor's cache), no loop over draws or single
WTP values and no DataFrame until the end. The results are the same bit for bit as computing
the whole ``(W, n, S)`` NMB array at once (see ``docs/performance.md``).

Tie rule (CEAC): when several strategies share the highest net monetary benefit (NMB) in a
draw, that draw's probability mass is split equally between them, so the result does not
depend on the column order and the probabilities still sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.analysis.cea import _strategy_index, _wtp
from hta.errors import HtaError

__all__ = [
    "WtpCurves",
    "wtp_curves",
    "ceac",
    "ceaf",
    "ceaf_ranges",
    "evpi",
    "evpi_curve",
    "population_evpi",
    "summarise",
    "running_mean",
    "incremental_summary",
]

# Number of NMB values (strategies x WTPs x draws) computed at once: 2 MiB, so that a block's NMB,
# its maximum over strategies and the comparisons stay in the processor's cache (measured about
# 2x faster than one pass over a 16 MB grid; docs/performance.md).
_CHUNK_ELEMENTS = 262_144
# Switch points (pairwise NMB crossings) closer than this relative distance are one point.
_SWITCH_RTOL = 1e-9


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _psa_arrays(costs, effects) -> tuple[np.ndarray, np.ndarray]:
    costs = np.asarray(costs, dtype=float)
    effects = np.asarray(effects, dtype=float)
    if costs.ndim != 2 or effects.shape != costs.shape:
        raise HtaError(
            f"PSA results: expected costs and effects as arrays of the same shape "
            f"(n draws, S strategies); found costs {costs.shape} and effects {effects.shape}"
        )
    if costs.shape[0] == 0 or costs.shape[1] == 0:
        raise HtaError(
            f"PSA results: expected at least one draw and one strategy; found {costs.shape}"
        )
    for label, values in (("costs", costs), ("effects", effects)):
        if not np.all(np.isfinite(values)):
            draws = np.flatnonzero(~np.isfinite(values).all(axis=1))
            raise HtaError(
                f"PSA results: expected finite {label}; found NaN or infinite values in "
                f"draw(s) {', '.join(map(str, draws[:5]))}{' ...' if draws.size > 5 else ''}"
            )
    return costs, effects


def _strategy_names(strategies, n_strategies: int) -> list[str]:
    if strategies is None:
        return [f"strategy {i + 1}" for i in range(n_strategies)]
    names = [str(s) for s in strategies]
    if len(names) != n_strategies:
        raise HtaError(
            f"strategies: expected {n_strategies} names (one per column); found {len(names)}"
        )
    if len(set(names)) != len(names):
        raise HtaError(f"strategies: expected unique names; found {names}")
    return names


def _wtp_grid(wtp) -> np.ndarray:
    return np.atleast_1d(_wtp(wtp, positive=False))


# --------------------------------------------------------------------------------------------
# Acceptability curves
# --------------------------------------------------------------------------------------------


def _share_of_best(nmb: np.ndarray) -> np.ndarray:
    """Per WTP, the fraction of draws in which each strategy has the highest NMB; (w, S).

    Ties split the draw equally among the tied strategies.
    """
    is_best = nmb == nmb.max(axis=-1, keepdims=True)
    weight = is_best / is_best.sum(axis=-1, keepdims=True)
    return weight.mean(axis=1)


@dataclass(frozen=True)
class WtpCurves:
    """CEAC, CEAF and EVPI of one PSA over a WTP grid, as arrays (DataFrames on request).

    ``wtp`` ``(W,)``; ``strategies`` the S names; ``ceac`` ``(W, S)`` probability that each
    strategy has the highest NMB (ties split equally); ``expected_nmb`` ``(W, S)`` mean NMB
    (currency units); ``best`` ``(W,)`` index of the strategy with the highest expected NMB
    (first on ties: the CEAF's strategy); ``evpi`` ``(W,)`` per-patient EVPI (currency units).
    ``ceac`` or ``evpi`` is None when it was not asked for.
    """

    wtp: np.ndarray
    strategies: tuple
    ceac: np.ndarray | None
    expected_nmb: np.ndarray
    best: np.ndarray
    evpi: np.ndarray | None

    def _index(self) -> pd.Index:
        return pd.Index(self.wtp, name="wtp")

    def ceac_frame(self) -> pd.DataFrame:
        """As :func:`ceac`: index ``wtp``, one column per strategy."""
        return pd.DataFrame(self.ceac, index=self._index(), columns=list(self.strategies))

    def ceaf_frame(self) -> pd.DataFrame:
        """As :func:`ceaf`: index ``wtp``; ``strategy``, ``probability``, ``expected_nmb``."""
        rows = np.arange(self.wtp.size)
        return pd.DataFrame(
            {
                "strategy": [self.strategies[b] for b in self.best],
                "probability": self.ceac[rows, self.best],
                "expected_nmb": self.expected_nmb[rows, self.best],
            },
            index=self._index(),
        )

    def evpi_frame(self) -> pd.DataFrame:
        """As :func:`evpi_curve`: index ``wtp``, column ``evpi``."""
        return pd.DataFrame({"evpi": self.evpi}, index=self._index())


def _expected_nmb(costs: np.ndarray, effects: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``(W, S)``: ``k * mean effect - mean cost`` (the means over draws as numpy sums them)."""
    return k[:, None] * effects.mean(axis=0)[None] - costs.mean(axis=0)[None]


def _evpi_decision(costs, effects, k, expected) -> np.ndarray:
    """``(W,)``: the strategy with the highest mean NMB, as :func:`evpi` defines it.

    :func:`evpi` averages the NMB draws themselves (``nb.mean(axis=-2)``); ``expected`` is
    ``k * mean effect - mean cost``, the same number up to rounding: the two differ by at most
    ``2 (n + 2) u (k max_s mean|e_s| + max_s mean|c_s|)`` (u = 2^-53, sums of n terms). Where the
    two highest ``expected`` values are closer than twice that, the decision is taken the way
    :func:`evpi` takes it (that WTP's NMB averaged), so the EVPI is the same bit for bit.
    """
    n, s = costs.shape
    chosen = expected.argmax(axis=1)
    if s == 1:
        return chosen
    top2 = np.sort(expected, axis=1)[:, -2:]
    scale = k * np.abs(effects).mean(axis=0).max() + np.abs(costs).mean(axis=0).max()
    tol = 4.0 * (n + 2) * np.finfo(float).eps * scale
    for i in np.flatnonzero(top2[:, 1] - top2[:, 0] <= tol):  # rare: near a switch of decision
        chosen[i] = (k[i] * effects - costs).mean(axis=0).argmax()
    return chosen


def _kernel(costs, effects, k, want_ceac: bool = True, want_evpi: bool = True):
    """``(ceac (W, S) or None, expected NMB (W, S), best (W,), evpi (W,) or None)``.

    NMB ``k * effect - cost`` is computed as ``(S, w, n)`` blocks of ``w`` WTP values; per
    block: the maximum over strategies (elementwise over the S planes), the count of draws in
    which each strategy attains it (CEAC; a WTP with tied draws is recomputed with the
    tie-splitting formula, :func:`_share_of_best`), and the mean over draws of the maximum minus
    the decision's NMB (EVPI). Every number is what the whole ``(W, n, S)`` array gives, bit
    for bit: the same products and differences, exact maxima and counts, and the EVPI's mean
    over draws of the same ``(w, n)`` losses.
    """
    n, s = costs.shape
    W = k.size
    expected = _expected_nmb(costs, effects, k)
    best = expected.argmax(axis=1)
    ceac_out = np.empty((W, s)) if want_ceac else None
    evpi_out = np.empty(W) if want_evpi else None
    if not (want_ceac or want_evpi):
        return ceac_out, expected, best, evpi_out
    chosen = _evpi_decision(costs, effects, k, expected) if want_evpi else None
    c_t = np.ascontiguousarray(costs.T)    # (S, n)
    e_t = np.ascontiguousarray(effects.T)  # (S, n)
    rows = max(1, _CHUNK_ELEMENTS // max(1, n * s))
    for start in range(0, W, rows):
        kk = k[start : start + rows]
        w = kk.size
        part = slice(start, start + w)
        planes = kk[None, :, None] * e_t[:, None, :]  # (S, w, n): k * effect ...
        planes -= c_t[:, None, :]                     # ... - cost
        top = planes.max(axis=0) if s > 1 else planes[0].copy()  # (w, n)
        if want_ceac:
            if s == 1:
                ceac_out[part] = 1.0
            else:
                wins = np.count_nonzero(planes == top, axis=2)  # (S, w) draws where s attains the max
                ceac_out[part] = wins.T / n
                tied = np.flatnonzero(wins.sum(axis=0) != n)   # WTPs with tied draws
                if tied.size:
                    ceac_out[start + tied] = _share_of_best(
                        np.ascontiguousarray(planes[:, tied, :].transpose(1, 2, 0)))
        if want_evpi:
            np.subtract(top, planes[chosen[part], np.arange(w)], out=top)  # opportunity loss (w, n)
            evpi_out[part] = top.mean(axis=1)
    return ceac_out, expected, best, evpi_out


def wtp_curves(costs, effects, wtp, strategies: Sequence[str] | None = None, *, ceac: bool = True,
               evpi: bool = True) -> WtpCurves:
    """CEAC, CEAF (decision and expected NMB) and EVPI over a WTP grid in one pass over the NMB.

    ``costs``, ``effects`` ``(n, S)``; ``wtp`` scalar or ``(W,)`` (>= 0, currency per unit of
    effect); ``strategies`` the S names. ``ceac=False`` or ``evpi=False`` skips that curve.
    Definitions as in :func:`ceac`, :func:`ceaf` and :func:`evpi_curve`, whose results it
    equals bit for bit. Returns a :class:`WtpCurves` (arrays; ``.ceac_frame()`` etc.).
    """
    costs, effects = _psa_arrays(costs, effects)
    names = _strategy_names(strategies, costs.shape[1])
    k = _wtp_grid(wtp)
    curves, expected, best, values = _kernel(costs, effects, k, want_ceac=ceac, want_evpi=evpi)
    return WtpCurves(k, tuple(names), curves, expected, best, values)


def ceac(costs, effects, wtp, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost-effectiveness acceptability curves.

    For each WTP ``k`` and strategy ``s``: the fraction of PSA draws in which ``s`` has the
    highest net monetary benefit ``k * effect - cost``. Draws where several strategies tie
    for the highest NMB count ``1 / (number tied)`` for each of them, so each row sums to 1.

    Parameters
    ----------
    costs, effects
        Arrays ``(n, S)``.
    wtp
        Scalar or vector ``(W,)`` of WTP values (>= 0).
    strategies
        Names of the S columns (default ``"strategy 1"``, ...).

    Returns
    -------
    DataFrame
        Index ``wtp`` (W rows), one column per strategy, probabilities in [0, 1].
    """
    return wtp_curves(costs, effects, wtp, strategies, evpi=False).ceac_frame()


def ceaf(costs, effects, wtp, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost-effectiveness acceptability frontier.

    For each WTP: the strategy with the highest *expected* NMB (the decision under current
    information; ties go to the first strategy in column order) and the probability that this
    strategy is cost-effective (its CEAC value).

    Returns
    -------
    DataFrame
        Index ``wtp``; columns ``strategy`` (name), ``probability`` (CEAC value of that
        strategy) and ``expected_nmb`` (its mean NMB, currency units).
    """
    return wtp_curves(costs, effects, wtp, strategies, evpi=False).ceaf_frame()

def ceaf_ranges(costs, effects, strategies: Sequence[str] | None = None, wtp_min: float = 0.0,
                wtp_max: float = np.inf) -> pd.DataFrame:
    """Which strategy is optimal over which WTP range, with exact switch points.

    The decision under current information at WTP ``k`` is the strategy with the highest
    expected NMB, ``k * E[effect_s] - E[cost_s]``: the upper envelope of S straight lines in
    ``k``. A switch point is where the lines of two consecutive optimal strategies cross,
    ``k = (E[c_j] - E[c_i]) / (E[e_j] - E[e_i])``, i.e. the ICER between neighbours on the
    cost-effectiveness frontier of the mean costs and effects. Computed exactly (no WTP grid):
    every pairwise crossing inside ``[wtp_min, wtp_max]`` is a candidate boundary, and the
    optimum on each interval between candidates is read off at its midpoint (beyond the last
    candidate: the largest mean effect, then the lower cost). Intervals of zero width (three
    lines through one point) are dropped; equal expected NMB on a whole interval (identical
    means) goes to the first strategy in column order, as in :func:`ceaf`.

    Parameters
    ----------
    costs, effects
        PSA draws ``(n, S)`` (currency; effect units), or mean values as ``(1, S)``.
    strategies
        Names of the S columns (default ``strategy 1`` ...).
    wtp_min, wtp_max
        The WTP range summarised (currency per unit effect); ``wtp_max`` may be ``inf``.

    Returns
    -------
    DataFrame
        One row per range, in increasing WTP: ``strategy``, ``from_wtp``, ``to_wtp``
        (``from_wtp`` of each row after the first is a switch point; ``to_wtp`` of the last row
        is ``wtp_max``). Consecutive rows always name different strategies.
    """
    costs, effects = _psa_arrays(costs, effects)
    names = _strategy_names(strategies, costs.shape[1])
    lo = float(wtp_min)
    hi = float(wtp_max)
    if not np.isfinite(lo) or np.isnan(hi) or not lo < hi:
        raise HtaError(f"WTP range: expected a finite wtp_min below wtp_max; found [{wtp_min}, {wtp_max}]")
    c = costs.mean(axis=0)
    e = effects.mean(axis=0)
    # pairwise crossings k_ij = (c_j - c_i) / (e_j - e_i) for lines that are not parallel
    de = e[None, :] - e[:, None]
    dc = c[None, :] - c[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(de != 0.0, dc / de, np.nan)
    cross = cross[np.triu_indices(c.size, 1)]
    # crossings that agree to a relative 1e-9 are one point (collinear strategies give the same
    # ICER from different pairs, up to rounding), so no interval of rounding width is reported
    tol = _SWITCH_RTOL * np.maximum(1.0, np.abs(cross))
    inside = np.sort(cross[np.isfinite(cross) & (cross - lo > tol) & (hi - cross > tol)])
    if inside.size:
        inside = inside[np.concatenate([[True], np.diff(inside) > _SWITCH_RTOL * np.maximum(1.0, np.abs(inside[1:]))])]
    bounds = np.concatenate([[lo], inside, [hi]])
    left, right = bounds[:-1], bounds[1:]
    mid = np.where(np.isfinite(right), 0.5 * (left + right), np.nan)
    best = (mid[:, None] * e[None, :] - c[None, :]).argmax(axis=1)
    if not np.isfinite(right[-1]):
        # beyond every crossing the order of the lines is the order of their slopes
        best[-1] = np.lexsort((np.arange(c.size), c, -e))[0]
    keep = np.concatenate([[True], best[1:] != best[:-1]])
    starts = left[keep]
    ends = np.append(starts[1:], hi)
    return pd.DataFrame({"strategy": [names[b] for b in best[keep]], "from_wtp": starts, "to_wtp": ends})


# --------------------------------------------------------------------------------------------
# Expected value of perfect information
# --------------------------------------------------------------------------------------------


def evpi(nb) -> float | np.ndarray:
    """Per-patient expected value of perfect information.

    ``EVPI = E_draws[max_s nb] - max_s E_draws[nb]``, in the units of ``nb`` (NMB in
    currency, or NHB in effect units). Always >= 0, and exactly 0 when the strategy with the
    highest mean is best in every draw.

    Parameters
    ----------
    nb
        Net benefit, shape ``(n, S)``; or ``(W, n, S)`` for several WTPs at once.

    Returns
    -------
    float for ``(n, S)``; ndarray ``(W,)`` for ``(W, n, S)``.
    """
    nb = np.asarray(nb, dtype=float)
    if nb.ndim not in (2, 3) or nb.shape[-2] == 0 or nb.shape[-1] == 0:
        raise HtaError(
            f"EVPI: expected net benefits of shape (n draws, S strategies) or (W, n, S); "
            f"found {nb.shape}"
        )
    if not np.all(np.isfinite(nb)):
        raise HtaError("EVPI: expected finite net benefits; found NaN or infinite values")
    # Computed as the mean opportunity loss of the decision under current information,
    # E[max_s nb - nb_{s*}] with s* = argmax_s E[nb]: algebraically the same as the formula
    # above, but every term is >= 0 in floating point, so the result is never negative and is
    # exactly 0 when s* is best in every draw.
    chosen = nb.mean(axis=-2).argmax(axis=-1)
    nb_chosen = np.take_along_axis(nb, chosen[..., None, None], axis=-1)[..., 0]
    value = (nb.max(axis=-1) - nb_chosen).mean(axis=-1)
    return float(value) if nb.ndim == 2 else value


def evpi_curve(costs, effects, wtp) -> pd.DataFrame:
    """Per-patient EVPI (currency units, from NMB) at each WTP; DataFrame indexed by ``wtp``
    with one column ``evpi``. The same numbers as :func:`evpi` of each WTP's NMB, bit for bit."""
    return wtp_curves(costs, effects, wtp, ceac=False).evpi_frame()

def population_evpi(per_patient, annual_population, years: int, discount_rate: float):
    """Population EVPI over the decision's lifetime.

    ``population EVPI = per_patient * sum_{y=0}^{years-1} annual_population / (1 + r)^y``:
    the cohort treated in the first year is not discounted, the cohort of year ``y`` is
    discounted by ``(1 + r)^-y`` (discrete, per annum).

    Parameters
    ----------
    per_patient
        Per-patient EVPI: scalar or array (e.g. the ``evpi`` column of :func:`evpi_curve`).
    annual_population
        Patients facing the decision each year (>= 0).
    years
        Decision lifetime in whole years (>= 1).
    discount_rate
        Annual discount rate r (>= 0), e.g. 0.03.

    Returns
    -------
    float for scalar ``per_patient``, otherwise an array of its shape.
    """
    if isinstance(years, bool) or not float(years).is_integer() or years < 1:
        raise HtaError(f"population EVPI: expected years as a whole number >= 1; found {years!r}")
    if not np.isfinite(annual_population) or annual_population < 0:
        raise HtaError(
            f"population EVPI: expected annual population >= 0; found {annual_population!r}"
        )
    if not np.isfinite(discount_rate) or discount_rate < 0:
        raise HtaError(f"population EVPI: expected discount rate >= 0; found {discount_rate!r}")
    per_patient_arr = np.asarray(per_patient, dtype=float)
    y = np.arange(int(years))
    patients = float(annual_population) * np.sum((1.0 + discount_rate) ** -y)
    result = per_patient_arr * patients
    return float(result) if result.ndim == 0 else result


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def _level_bounds(level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise HtaError(f"interval level: expected a number between 0 and 1; found {level!r}")
    tail = (1.0 - level) / 2.0
    return tail, 1.0 - tail


def summarise(values, names: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Mean, standard deviation and equal-tailed percentile interval of each column.

    Parameters
    ----------
    values
        ``(n,)`` or ``(n, k)`` PSA values (one column per quantity).
    names
        The k column names.
    level
        Coverage of the interval; 0.95 gives the 2.5th and 97.5th percentiles.

    Returns
    -------
    DataFrame
        Index = names; columns ``mean``, ``sd`` (sample SD, ddof = 1; NaN for one draw),
        ``median``, ``lower``, ``upper`` (numpy's default linear-interpolation quantiles, the
        same as R's ``quantile`` type 7).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] == 0:
        raise HtaError(
            f"summarise: expected values of shape (n,) or (n, k) with n >= 1; "
            f"found {values.shape}"
        )
    names = [str(x) for x in names]
    if len(names) != values.shape[1]:
        raise HtaError(
            f"summarise: expected {values.shape[1]} names (one per column); found {len(names)}"
        )
    if not np.all(np.isfinite(values)):
        raise HtaError("summarise: expected finite values; found NaN or infinite values")
    lo, hi = _level_bounds(level)
    n = values.shape[0]
    sd = values.std(axis=0, ddof=1) if n > 1 else np.full(values.shape[1], np.nan)
    q = np.quantile(values, [0.5, lo, hi], axis=0)
    return pd.DataFrame(
        {"mean": values.mean(axis=0), "sd": sd, "median": q[0], "lower": q[1], "upper": q[2]},
        index=pd.Index(names, name="name"),
    )


def running_mean(values) -> np.ndarray:
    """Cumulative mean over draws, for convergence plots: ``out[i] = mean(values[:i+1])``.

    Shape ``(n, k) -> (n, k)`` (or ``(n,) -> (n,)``).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim not in (1, 2) or values.shape[0] == 0:
        raise HtaError(
            f"running mean: expected values of shape (n,) or (n, k); found {values.shape}"
        )
    counts = np.arange(1, values.shape[0] + 1, dtype=float)
    if values.ndim == 2:
        counts = counts[:, None]
    return np.cumsum(values, axis=0) / counts


def _quadrant(inc_cost: float, inc_effect: float) -> str:
    if inc_effect > 0 and inc_cost <= 0:
        return "dominant (less or equally costly, more effective)"
    if inc_effect <= 0 and inc_cost > 0:
        return "dominated (more costly, not more effective)"
    if inc_effect > 0:
        return "more costly, more effective"
    if inc_effect < 0:
        return "less costly, less effective"
    return "equally effective, not more costly"


def incremental_summary(
    costs,
    effects,
    strategies: Sequence[str],
    reference,
    wtp,
    level: float = 0.95,
) -> pd.DataFrame:
    """Pairwise comparison of every strategy with a reference strategy over the PSA.

    Parameters
    ----------
    costs, effects
        Arrays ``(n, S)``.
    strategies
        Names of the S columns.
    reference
        Name (or column index) of the reference strategy.
    wtp
        Scalar or vector of WTP values.
    level
        Coverage of the percentile intervals (default 95%).

    Returns
    -------
    DataFrame
        One row per non-reference strategy (index ``strategy``) with ``comparator``,
        ``inc_cost``, ``inc_cost_lower``, ``inc_cost_upper``, ``inc_effect``,
        ``inc_effect_lower``, ``inc_effect_upper`` (means and percentile intervals of the
        per-draw differences), ``icer`` (ratio of the mean differences, NaN when the mean
        incremental effect is 0), ``quadrant`` (how to read the ICER) and, per WTP ``k``,
        ``p_ce_<k>``: the probability that the strategy's NMB exceeds the reference's
        (incremental NMB > 0; ties count 1/2, as in :func:`ceac` for two strategies).
    """
    costs, effects = _psa_arrays(costs, effects)
    names = _strategy_names(strategies, costs.shape[1])
    ref = _strategy_index(reference, names, len(names))
    k = _wtp_grid(wtp)
    lo, hi = _level_bounds(level)

    d_cost = costs - costs[:, ref : ref + 1]
    d_effect = effects - effects[:, ref : ref + 1]
    others = [j for j in range(len(names)) if j != ref]
    mean_c = d_cost.mean(axis=0)
    mean_e = d_effect.mean(axis=0)
    q_c = np.quantile(d_cost, [lo, hi], axis=0)
    q_e = np.quantile(d_effect, [lo, hi], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        icer = np.where(mean_e != 0, mean_c / np.where(mean_e != 0, mean_e, 1.0), np.nan)

    table = pd.DataFrame(
        {
            "comparator": names[ref],
            "inc_cost": mean_c[others],
            "inc_cost_lower": q_c[0, others],
            "inc_cost_upper": q_c[1, others],
            "inc_effect": mean_e[others],
            "inc_effect_lower": q_e[0, others],
            "inc_effect_upper": q_e[1, others],
            "icer": icer[others],
            "quadrant": [_quadrant(mean_c[j], mean_e[j]) for j in others],
        },
        index=pd.Index([names[j] for j in others], name="strategy"),
    )
    for kk in k:
        inmb = kk * d_effect[:, others] - d_cost[:, others]
        label = str(int(kk)) if float(kk).is_integer() else f"{kk:g}"
        table[f"p_ce_{label}"] = (inmb > 0).mean(axis=0) + 0.5 * (inmb == 0).mean(axis=0)
    return table
