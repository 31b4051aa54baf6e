"""Adjustments that wrap survival curves and expose the same methods, so they compose.

Every adjustment is itself a :class:`~hta.survival.curves.SurvivalCurve`: ``survival``,
``cumhaz``, ``hazard`` take ``t`` of shape ``(T,)`` or ``(n, T)`` and return ``(n, T)``;
``rmst`` and ``quantile`` return ``(n,)``. Any adjustment can wrap another, e.g.
``GeneralPopulationFloor(MixtureCure(Weibull(...), 0.2, gp), gp)``.

Time unit: ``t`` is in the unit of the wrapped curves (the unit of the data they were fitted
to). Only :class:`GeneralPopulation` touches calendar years, through ``years_per_unit``
(1 when the curve's unit is years, 1/12 when months). The model's time is years
(``docs/architecture.md``).

Two adjustments are defined on an evaluation grid rather than pointwise:
:class:`GeneralPopulationFloor` and :class:`Waning` accumulate cumulative-hazard increments over
the intervals between consecutive times in ``t`` (from 0 to ``t[0]``, then ``t[0]`` to ``t[1]``,
...). Pass the model's cycle grid, sorted ascending; a finer grid gives the continuous-time limit.
"""

from __future__ import annotations

import numpy as np

from hta.errors import HtaError
from hta.survival.curves import SurvivalCurve, as_param, broadcast_n

__all__ = [
    "ProportionalHazards",
    "AcceleratedFailure",
    "StepCurve",
    "Piecewise",
    "GeneralPopulation",
    "MixtureCure",
    "GeneralPopulationFloor",
    "Waning",
]


def _take_curve(curve: SurvivalCurve, idx) -> SurvivalCurve:
    return curve if curve.n == 1 else curve.take(idx)


def _take_arr(arr: np.ndarray, idx) -> np.ndarray:
    return arr if len(arr) == 1 else np.atleast_1d(arr[idx])


def _check_curve(curve, what: str) -> SurvivalCurve:
    if not isinstance(curve, SurvivalCurve):
        raise HtaError(f"{what}: expected a survival curve; found {type(curve).__name__}")
    return curve


def _increments(curve: SurvivalCurve, t: np.ndarray) -> np.ndarray:
    """Cumulative-hazard increments over [0, t0], [t0, t1], ... ; ``(n, T)``."""
    start = np.zeros((t.shape[0], 1))
    h = curve.cumhaz(np.concatenate([start, t], axis=1))
    with np.errstate(invalid="ignore"):
        d = np.subtract(h[:, 1:], h[:, :-1])  # np.diff(h, axis=1)
    nan = np.isnan(d)
    if nan.any():
        d[nan] = 0.0  # inf - inf after death: nothing more to accumulate
    return d


def _check_sorted(t: np.ndarray, owner: str) -> None:
    if (np.diff(t, axis=1) < 0).any():
        raise HtaError(f"{owner}: expected times sorted ascending (the model's cycle grid); "
                       f"found a decreasing step")


def _quantile_on_grid(curve: SurvivalCurve, p, n_points: int = 4001) -> np.ndarray:
    """Quantiles of a grid-defined curve, evaluated on a fine uniform grid [0, hi] per sample.

    ``hi`` doubles until survival there is at most 1 - p; the crossing is then located on
    ``n_points`` points and the cumulative hazard interpolated linearly within the interval.
    Returns ``inf`` where survival never reaches 1 - p (below ~1e300 time units).
    """
    p = np.atleast_1d(np.asarray(p, dtype=float))
    if ((p <= 0) | (p >= 1) | np.isnan(p)).any():
        raise HtaError(f"quantile: expected probabilities strictly between 0 and 1; found {p}")
    n = int(np.broadcast_shapes((curve.n,), p.shape)[0])
    target = np.broadcast_to(-np.log1p(-p), (n,))  # cumulative hazard at the quantile
    u = np.linspace(0.0, 1.0, n_points)
    hi = np.ones(n)
    for _ in range(1100):
        h_end = curve.cumhaz(hi[:, None] * u[None, :])[:, -1]
        short = h_end < target
        if not short.any() or np.all(hi[short] > 1e300):
            break
        hi = np.where(short, hi * 2.0, hi)
    grid = hi[:, None] * u[None, :]
    h = curve.cumhaz(grid)
    reached = h[:, -1] >= target
    k = np.argmax(h >= target[:, None], axis=1)  # first grid point at or past the target
    k = np.maximum(k, 1)
    rows = np.arange(n)
    h0, h1 = h[rows, k - 1], h[rows, k]
    t0, t1 = grid[rows, k - 1], grid[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(h1 > h0, (target - h0) / (h1 - h0), 1.0)
    frac = np.clip(np.nan_to_num(frac, nan=1.0), 0.0, 1.0)
    return np.where(reached, t0 + frac * (t1 - t0), np.inf)


class ProportionalHazards(SurvivalCurve):
    """h(t) = hr h0(t), so S(t) = S0(t)^hr. ``hr`` is a scalar or ``(n,)``, >= 0."""

    def __init__(self, curve: SurvivalCurve, hr):
        self.curve = _check_curve(curve, "ProportionalHazards curve")
        self.hr = as_param(hr, "hr")
        if (self.hr < 0).any():
            raise HtaError(f"parameter 'hr': expected hazard ratios >= 0; found {self.hr.min():g}")
        self.n = broadcast_n(curve.n, len(self.hr), owner="ProportionalHazards")

    def _cumhaz(self, t):
        return self.hr[:, None] * self.curve.cumhaz(t)

    def _hazard(self, t):
        return self.hr[:, None] * self.curve.hazard(t)

    def take(self, idx):
        return ProportionalHazards(_take_curve(self.curve, idx), _take_arr(self.hr, idx))


class AcceleratedFailure(SurvivalCurve):
    """S(t) = S0(t / af): an acceleration factor ``af`` > 1 stretches time and lengthens survival.

    Hazard h(t) = h0(t / af) / af; quantiles (e.g. the median) are multiplied by ``af``.
    """

    def __init__(self, curve: SurvivalCurve, af):
        self.curve = _check_curve(curve, "AcceleratedFailure curve")
        self.af = as_param(af, "af", positive=True)
        self.n = broadcast_n(curve.n, len(self.af), owner="AcceleratedFailure")

    def _cumhaz(self, t):
        return self.curve.cumhaz(t / self.af[:, None])

    def _hazard(self, t):
        af = self.af[:, None]
        return self.curve.hazard(t / af) / af

    def quantile(self, p):
        return self.curve.quantile(p) * self.af

    def take(self, idx):
        return AcceleratedFailure(_take_curve(self.curve, idx), _take_arr(self.af, idx))


class StepCurve(SurvivalCurve):
    """A right-continuous step function (e.g. a Kaplan-Meier curve) as a survival curve.

    S(t) = 1 for t < times[0] and S(t) = survival[k] for times[k] <= t < times[k+1]; after the
    last time S keeps its last value (KM curves are not defined there: attach a parametric tail
    with :class:`Piecewise`). ``times`` and ``survival`` are ``(m,)`` or ``(n, m)``.
    The hazard is 0 between steps; the drops are point masses carried by ``cumhaz``.
    """

    def __init__(self, times, survival):
        tau = np.atleast_2d(np.asarray(times, dtype=float))
        surv = np.atleast_2d(np.asarray(survival, dtype=float))
        if tau.ndim != 2 or surv.ndim != 2 or tau.shape[1] != surv.shape[1]:
            raise HtaError(f"StepCurve: expected times and survival of the same length; found "
                           f"shapes {np.shape(times)} and {np.shape(survival)}")
        if np.isnan(tau).any() or (tau < 0).any() or (np.diff(tau, axis=1) < 0).any():
            raise HtaError("StepCurve times: expected non-negative times sorted ascending")
        if np.isnan(surv).any() or (surv < 0).any() or (surv > 1).any():
            raise HtaError("StepCurve survival: expected proportions in [0, 1]")
        if (np.diff(surv, axis=1) > 0).any():
            raise HtaError("StepCurve survival: expected a non-increasing curve; found a rise")
        self.n = broadcast_n(tau.shape[0], surv.shape[0], owner="StepCurve")
        self.times, self.values = tau, surv

    def _survival(self, t):
        rows = broadcast_n(self.n, t.shape[0], owner="StepCurve")
        tau = np.broadcast_to(self.times, (rows, self.times.shape[1]))
        t = np.broadcast_to(t, (rows, t.shape[1]))
        padded = np.concatenate([np.ones((self.values.shape[0], 1)), self.values], axis=1)
        padded = np.broadcast_to(padded, (rows, padded.shape[1]))
        if rows == 1:
            count = np.searchsorted(tau[0], t[0], side="right")[None, :]
        else:
            # one searchsorted over all rows: shift row r by r * span so rows never overlap
            span = max(float(tau.max()), float(t.max())) + 1.0
            shift = np.arange(rows, dtype=float)[:, None] * span
            flat = np.searchsorted((tau + shift).ravel(), (t + shift).ravel(), side="right")
            count = flat.reshape(t.shape) - np.arange(rows)[:, None] * tau.shape[1]
        return np.take_along_axis(padded, count, axis=1)

    def _cumhaz(self, t):
        with np.errstate(divide="ignore"):
            return -np.log(self._survival(t))

    def _hazard(self, t):
        return np.zeros(np.broadcast_shapes((self.n, 1), t.shape))

    def rmst(self, tmax):
        """Exact area under the steps on ``[0, tmax]``, ``(n,)``."""
        tmax = np.atleast_1d(np.asarray(tmax, dtype=float))[:, None]
        edges = np.concatenate([np.zeros((self.times.shape[0], 1)), self.times,
                                np.full((self.times.shape[0], 1), np.inf)], axis=1)
        clipped = np.minimum(edges, tmax)
        levels = np.concatenate([np.ones((self.values.shape[0], 1)), self.values], axis=1)
        return np.sum(levels * np.diff(clipped, axis=1), axis=1)

    def take(self, idx):
        return StepCurve(_take_rows(self.times, idx), _take_rows(self.values, idx))


def _take_rows(a: np.ndarray, idx) -> np.ndarray:
    return a if a.shape[0] == 1 else np.atleast_2d(a[idx])


class Piecewise(SurvivalCurve):
    """``first`` up to ``cutoff``, then ``second``, continuous at the cut-off.

    * ``mode="conditional"``: S(t) = S1(c) S2(t) / S2(c) for t >= c (the second curve's hazard at
      the same time since start, e.g. a parametric tail fitted to all data after a KM curve);
    * ``mode="restart"``: S(t) = S1(c) S2(t - c) (the second curve's clock restarts at c).

    ``cutoff`` is a scalar or ``(n,)`` in the curves' time unit.
    """

    _MODES = ("conditional", "restart")

    def __init__(self, first: SurvivalCurve, second: SurvivalCurve, cutoff, mode="conditional"):
        self.first = _check_curve(first, "Piecewise first")
        self.second = _check_curve(second, "Piecewise second")
        self.cutoff = as_param(cutoff, "cutoff")
        if (self.cutoff < 0).any():
            raise HtaError(f"parameter 'cutoff': expected >= 0; found {self.cutoff.min():g}")
        if mode not in self._MODES:
            raise HtaError(f"Piecewise mode: expected one of {', '.join(self._MODES)}; "
                           f"found '{mode}'")
        self.mode = mode
        self.n = broadcast_n(first.n, second.n, len(self.cutoff), owner="Piecewise")

    def _cumhaz(self, t):
        c = self.cutoff[:, None]
        h1 = self.first.cumhaz(np.minimum(t, c))
        if self.mode == "conditional":
            h2 = self.second.cumhaz(np.maximum(t, c)) - self.second.cumhaz(np.broadcast_to(c, (len(c), 1)))
        else:
            h2 = self.second.cumhaz(np.maximum(t - c, 0.0))
        with np.errstate(invalid="ignore"):
            return h1 + np.where(np.isnan(h2), 0.0, h2)

    def _hazard(self, t):
        c = self.cutoff[:, None]
        h1 = self.first.hazard(np.minimum(t, c))
        if self.mode == "conditional":
            h2 = self.second.hazard(np.maximum(t, c))
        else:
            h2 = self.second.hazard(np.maximum(t - c, 0.0))
        return np.where(t < c, h1, h2)

    def take(self, idx):
        return Piecewise(_take_curve(self.first, idx), _take_curve(self.second, idx),
                         _take_arr(self.cutoff, idx), self.mode)


class GeneralPopulation(SurvivalCurve):
    """General-population survival of a cohort as a curve in the model's curve time unit.

    ``lifetable`` is a :class:`hta.population.lifetables.LifeTable`; ``start_age`` (years) and
    ``male_share`` are scalars or ``(n,)``. ``years_per_unit`` converts the curve's time unit to
    years: 1.0 for years, 1/12 for months, 7/365.25 for weeks. Hazards are per curve time unit.
    """

    def __init__(self, lifetable, start_age, male_share, years_per_unit: float = 1.0):
        self.lifetable = lifetable
        self.start_age = as_param(start_age, "start_age")
        self.male_share = as_param(male_share, "male_share")
        if not np.isscalar(years_per_unit) or not years_per_unit > 0:
            raise HtaError(f"years_per_unit: expected a positive number (1 for years, 1/12 for "
                           f"months); found {years_per_unit!r}")
        self.years_per_unit = float(years_per_unit)
        self.n = broadcast_n(len(self.start_age), len(self.male_share), owner="GeneralPopulation")

    def _cumhaz(self, t):
        return self.lifetable.cohort_cumhaz(t * self.years_per_unit, self.start_age, self.male_share)

    def _hazard(self, t):
        return self.years_per_unit * self.lifetable.cohort_hazard(
            t * self.years_per_unit, self.start_age, self.male_share)

    def take(self, idx):
        return GeneralPopulation(self.lifetable, _take_arr(self.start_age, idx),
                                 _take_arr(self.male_share, idx), self.years_per_unit)


class MixtureCure(SurvivalCurve):
    """Relative-survival mixture cure: S(t) = S_bg(t) (pi + (1 - pi) S_u(t)).

    A fraction ``cure_fraction`` (pi, scalar or ``(n,)`` in [0, 1]) is cured and has the
    background (general-population) mortality ``background``; the rest also has the excess
    mortality of ``uncured``. As t grows, S(t) -> pi S_bg(t). ``background=None`` gives the
    plain mixture cure S = pi + (1 - pi) S_u (no background mortality).
    Hazard: h = h_bg + (1 - pi) S_u h_u / (pi + (1 - pi) S_u).
    """

    def __init__(self, uncured: SurvivalCurve, cure_fraction, background: SurvivalCurve | None):
        self.uncured = _check_curve(uncured, "MixtureCure uncured")
        self.background = None if background is None else _check_curve(background, "MixtureCure background")
        self.cure_fraction = as_param(cure_fraction, "cure_fraction")
        pi = self.cure_fraction
        if ((pi < 0) | (pi > 1)).any():
            raise HtaError(f"parameter 'cure_fraction': expected a proportion in [0, 1]; "
                           f"found {pi[(pi < 0) | (pi > 1)][0]:g}")
        ns = [uncured.n, len(pi)] + ([] if background is None else [background.n])
        self.n = broadcast_n(*ns, owner="MixtureCure")

    def _log_mix(self, t):
        """log(pi + (1 - pi) S_u(t)) and log of the uncured share of survivors."""
        pi = self.cure_fraction[:, None]
        with np.errstate(divide="ignore"):
            log_uncured = np.log1p(-pi) - self.uncured.cumhaz(t)
            log_mix = np.logaddexp(np.log(pi), log_uncured)
        return log_mix, log_uncured - log_mix

    def _cumhaz(self, t):
        log_mix, _ = self._log_mix(t)
        h = -log_mix
        if self.background is not None:
            h = h + self.background.cumhaz(t)
        return np.maximum(h, 0.0)

    def _hazard(self, t):
        _, log_share = self._log_mix(t)
        with np.errstate(invalid="ignore"):
            h = np.exp(log_share) * self.uncured.hazard(t)
        h = np.where(np.isnan(h), 0.0, h)  # uncured share 0 and infinite hazard: no contribution
        if self.background is not None:
            h = h + self.background.hazard(t)
        return h

    def take(self, idx):
        bg = None if self.background is None else _take_curve(self.background, idx)
        return MixtureCure(_take_curve(self.uncured, idx), _take_arr(self.cure_fraction, idx), bg)


class GeneralPopulationFloor(SurvivalCurve):
    """The curve's hazard, but never below the background (general-population) hazard.

    Evaluated on the grid passed in (the model's cycle grid; ``t`` sorted ascending, not
    necessarily starting at 0): the cumulative-hazard increment over each interval, including
    [0, t[0]], is max(increment of ``curve``, increment of ``background``). The result therefore
    depends on the grid; it tends to the continuous max-of-hazards as the grid is refined
    (``rmst`` uses a fine quadrature grid). ``hazard(t)`` is the pointwise max.
    """

    def __init__(self, curve: SurvivalCurve, background: SurvivalCurve):
        self.curve = _check_curve(curve, "GeneralPopulationFloor curve")
        self.background = _check_curve(background, "GeneralPopulationFloor background")
        self.n = broadcast_n(curve.n, background.n, owner="GeneralPopulationFloor")

    def _cumhaz(self, t):
        _check_sorted(t, "GeneralPopulationFloor")
        d, floor = _increments(self.curve, t), _increments(self.background, t)
        if d.shape == np.broadcast_shapes(d.shape, floor.shape):
            np.maximum(d, floor, out=d)   # in place: the same values as a new array
        else:
            d = np.maximum(d, floor)
        return np.cumsum(d, axis=1, out=d)

    def _survival(self, t):
        s = self._cumhaz(t)          # a new array: exp(-H) computed in place
        np.negative(s, out=s)
        return np.exp(s, out=s)

    def _hazard(self, t):
        return np.maximum(self.curve.hazard(t), self.background.hazard(t))

    def quantile(self, p):
        """Quantile of the floored curve on a fine grid (the continuous-time limit), ``(n,)``."""
        return _quantile_on_grid(self, p)

    def take(self, idx):
        return GeneralPopulationFloor(_take_curve(self.curve, idx), _take_curve(self.background, idx))


class Waning(SurvivalCurve):
    """Treatment effect waning: the hazard moves linearly from ``treated`` to ``reference``.

    Weight w(t) = 0 before ``start``, rising linearly to 1 at ``end``, 1 afterwards; the hazard is
    (1 - w) h_treated + w h_reference. On the grid passed in (sorted ascending), the increment
    over each interval is (1 - w(mid)) dH_treated + w(mid) dH_reference with w at the interval
    midpoint, so the curve equals ``treated`` up to ``start`` and accumulates exactly the
    reference increments after ``end``. With ``treated = ProportionalHazards(reference, hr)`` the
    hazard ratio moves linearly from hr to 1. ``start``/``end`` are scalars or ``(n,)`` in the
    curves' time unit; ``start == end`` is an abrupt loss of effect.
    """

    def __init__(self, treated: SurvivalCurve, reference: SurvivalCurve, start, end):
        self.treated = _check_curve(treated, "Waning treated")
        self.reference = _check_curve(reference, "Waning reference")
        self.start = as_param(start, "start")
        self.end = as_param(end, "end")
        if (self.start < 0).any():
            raise HtaError(f"parameter 'start': expected >= 0; found {self.start.min():g}")
        if (np.broadcast_to(self.end, np.broadcast_shapes(self.end.shape, self.start.shape))
                < self.start).any():
            raise HtaError("Waning: expected 'end' >= 'start'; found end before start")
        self.n = broadcast_n(treated.n, reference.n, len(self.start), len(self.end), owner="Waning")

    def _weight(self, t):
        s, e = self.start[:, None], self.end[:, None]
        width = e - s
        ramp = np.clip((t - s) / np.where(width > 0, width, 1.0), 0.0, 1.0)
        return np.where(width > 0, ramp, (t >= s).astype(float))

    def _cumhaz(self, t):
        _check_sorted(t, "Waning")
        previous = np.concatenate([np.zeros((t.shape[0], 1)), t[:, :-1]], axis=1)
        w = self._weight(0.5 * (previous + t))
        d_treated = _increments(self.treated, t)
        d_reference = _increments(self.reference, t)
        # a zero weight must silence an infinite increment (0 * inf would be NaN)
        d = (np.where(w < 1.0, (1.0 - w) * np.where(w < 1.0, d_treated, 0.0), 0.0)
             + np.where(w > 0.0, w * np.where(w > 0.0, d_reference, 0.0), 0.0))
        return np.cumsum(d, axis=1)

    def _hazard(self, t):
        w = self._weight(t)
        with np.errstate(invalid="ignore"):
            h = (1.0 - w) * self.treated.hazard(t) + w * self.reference.hazard(t)
        return np.where(np.isnan(h), 0.0, h)

    def quantile(self, p):
        """Quantile of the waning curve on a fine grid (the continuous-time limit), ``(n,)``."""
        return _quantile_on_grid(self, p)

    def take(self, idx):
        return Waning(_take_curve(self.treated, idx), _take_curve(self.reference, idx),
                      _take_arr(self.start, idx), _take_arr(self.end, idx))
