"""Kaplan-Meier estimation with Greenwood standard errors, as R's ``survival::survfit`` does it.

Conventions
-----------
* ``time`` is in whatever unit the data use (days, months, years); it must be >= 0.
* ``event`` is 1 (or True) for an observed event and 0 (or False) for a right-censored time.
  (R's ``lung`` data code status 1 = censored, 2 = dead: pass ``status - 1``.)
* Ties: events at a time are counted before censorings at the same time (the usual KM
  convention; censored subjects are at risk at their censoring time).
* The curve is right-continuous: ``survival`` in a row is S(t) for ``time <= t < next time``.
* ``se`` is the Greenwood standard error of S(t) (as printed by ``summary(survfit)``):
  ``se = S(t) * sqrt(sum d / (n (n - d)))``. The standard error of log S(t) (R's
  ``survfit$std.err``) is ``se / S``.
* Confidence intervals (``ci``), with z the normal quantile for ``conf_level`` and
  ``sigma = se / S`` (standard error of the cumulative hazard -log S):

  - ``"log"`` (R's default ``conf.type="log"``): ``S exp(-+ z sigma)``, upper capped at 1;
  - ``"log-log"`` (lifelines' and SAS's default, "exponential Greenwood"):
    ``S ** exp(+- z sigma / log S)``;
  - ``"plain"``: ``S -+ z se``, clipped to [0, 1].

  Where S = 1 every interval is (1, 1); where S = 0 the interval is undefined (NaN), as in R.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.errors import HtaError

CI_TYPES = ("log", "log-log", "plain")
_QUANTILE_TOL = np.sqrt(np.finfo(float).eps)  # R's quantile.survfit default tolerance

KM_COLUMNS = ["time", "n_at_risk", "n_events", "n_censored", "survival", "se", "lower", "upper"]


def _check_data(time, event) -> tuple[np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float).ravel()
    event_raw = np.asarray(event).ravel()
    if time.size == 0:
        raise HtaError("Kaplan-Meier: expected at least one observation; found an empty 'time'")
    if event_raw.shape != time.shape:
        raise HtaError(
            f"Kaplan-Meier: expected 'event' of the same length as 'time' ({time.size}); "
            f"found length {event_raw.size}"
        )
    if not np.all(np.isfinite(time)):
        raise HtaError("Kaplan-Meier: expected finite times; found NaN or infinite values in 'time'")
    if np.any(time < 0):
        raise HtaError(f"Kaplan-Meier: expected times >= 0; found minimum time {time.min():g}")
    try:
        event_num = event_raw.astype(float)
    except (TypeError, ValueError) as exc:
        raise HtaError("Kaplan-Meier: expected 'event' coded 0 (censored) / 1 (event)") from exc
    bad = ~np.isin(event_num, (0.0, 1.0))
    if bad.any():
        found = np.unique(event_raw[bad])[:5]
        raise HtaError(
            "Kaplan-Meier: expected 'event' coded 0 (censored) / 1 (event); "
            f"found values {list(found)} (R's lung data code 1/2: pass status - 1)"
        )
    return time, event_num.astype(int)


def _confidence_bounds(surv, sigma_log, z, ci):
    """Pointwise bounds for S given sigma = se(log S); see the module docstring."""
    surv = np.asarray(surv, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ci == "log":
            lower = surv * np.exp(-z * sigma_log)
            upper = np.minimum(surv * np.exp(z * sigma_log), 1.0)
        elif ci == "log-log":
            log_s = np.log(surv)
            lower = surv ** np.exp(-z * sigma_log / log_s)
            upper = surv ** np.exp(z * sigma_log / log_s)
        elif ci == "plain":
            se = surv * sigma_log
            lower = np.clip(surv - z * se, 0.0, 1.0)
            upper = np.clip(surv + z * se, 0.0, 1.0)
        else:
            raise HtaError(f"Kaplan-Meier: expected ci in {CI_TYPES}; found {ci!r}")
    at_one = surv >= 1.0
    lower = np.where(at_one, 1.0, lower)
    upper = np.where(at_one, 1.0, upper)
    at_zero = surv <= 0.0
    lower = np.where(at_zero, np.nan, lower)
    upper = np.where(at_zero, np.nan, upper)
    return lower, upper


def kaplan_meier(time, event, conf_level: float = 0.95, ci: str = "log", weights=None) -> pd.DataFrame:
    """Kaplan-Meier estimate of S(t) with Greenwood standard errors and pointwise intervals.

    Returns a DataFrame with columns ``time, n_at_risk, n_events, n_censored, survival, se,
    lower, upper``: one row per distinct observed time (events or censorings), preceded by a
    row at time 0 (which also holds any events or censorings at time 0). ``n_at_risk`` counts
    subjects with time >= the row's time. See the module docstring for the CI types.

    ``weights`` (optional, ``(N,)`` non-negative, e.g. MAIC weights) gives the weighted
    product-limit estimator: the counts are sums of weights (floats), and the standard error is
    Greenwood's formula on the weighted counts, which treats the weights as frequencies; scale
    them to sum to the effective sample size for an approximate standard error
    (:mod:`hta.survival.maic`). Integer weights give the estimate of the replicated data.
    """
    if ci not in CI_TYPES:
        raise HtaError(f"Kaplan-Meier: expected ci in {CI_TYPES}; found {ci!r}")
    if not 0 < conf_level < 1:
        raise HtaError(f"Kaplan-Meier: expected 0 < conf_level < 1; found {conf_level!r}")
    time, event = _check_data(time, event)
    if weights is None:
        w = None
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != time.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise HtaError(f"Kaplan-Meier weights: expected {time.size} finite non-negative values, not all 0; "
                           f"found shape {w.shape}" + ("" if w.shape != time.shape else
                                                       f", minimum {np.nanmin(w):g}, sum {np.nansum(w):g}"))

    grid = np.unique(np.concatenate([[0.0], time]))
    idx = np.searchsorted(grid, time)
    if w is None:
        n_events = np.bincount(idx, weights=event, minlength=grid.size).astype(int)
        n_total = np.bincount(idx, minlength=grid.size)
        n_at_risk = time.size - np.concatenate([[0], np.cumsum(n_total)[:-1]])
    else:
        n_events = np.bincount(idx, weights=w * event, minlength=grid.size)
        n_total = np.bincount(idx, weights=w, minlength=grid.size)
        n_at_risk = w.sum() - np.concatenate([[0.0], np.cumsum(n_total)[:-1]])
        n_at_risk = np.where(np.abs(n_at_risk) < 1e-9 * w.sum(), 0.0, n_at_risk)  # round-off at the end
    n_censored = n_total - n_events

    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_events / n_at_risk)
        # Greenwood: var(log S) = sum d / (n (n - d)); infinite once n == d (S = 0).
        increments = np.where(n_events > 0, n_events / (n_at_risk * (n_at_risk - n_events)), 0.0)
        var_log = np.cumsum(increments)
        sigma_log = np.sqrt(var_log)
        se = np.where(surv > 0, surv * sigma_log, np.nan)

    from scipy.stats import norm  # here, not at import: scipy.stats takes 0.2-0.3 s to import

    z = norm.ppf(0.5 + conf_level / 2.0)
    lower, upper = _confidence_bounds(surv, sigma_log, z, ci)
    return pd.DataFrame(
        {
            "time": grid,
            "n_at_risk": n_at_risk.astype(int) if w is None else n_at_risk,
            "n_events": n_events,
            "n_censored": n_censored.astype(int) if w is None else n_censored,
            "survival": surv,
            "se": se,
            "lower": lower,
            "upper": upper,
        }
    )


def _first_crossing(times, surv, p, last_time, tol=_QUANTILE_TOL) -> float:
    """Time at which the step curve first reaches 1 - p, by R's quantile.survfit rule.

    The curve is reduced to the points where its value changes. The quantile is the first time
    the cumulative distribution F = 1 - S reaches p; when F equals p (within ``tol``) on a flat
    stretch, the midpoint of that stretch is returned (its end being the next change, or the last
    follow-up time if the curve never changes again). NaN when the curve never reaches 1 - p.
    """
    keep = np.isfinite(surv)
    times, cdf = np.asarray(times)[keep], 1.0 - np.asarray(surv)[keep]
    if cdf.size == 0 or cdf.max() + tol < p:
        return float("nan")
    changes = np.concatenate([[True], np.diff(cdf) != 0])
    times, cdf = times[changes], cdf[changes]
    reached_loose = np.nonzero(cdf + tol >= p)[0]
    first = reached_loose[0]
    if abs(cdf[first] - p) >= tol:
        return float(times[first])
    end = times[first + 1] if first + 1 < times.size else last_time
    return float((times[first] + end) / 2.0)


def km_quantile(km_frame: pd.DataFrame, p: float = 0.5) -> tuple[float, float, float]:
    """Time by which a fraction ``p`` has had the event, with its confidence limits.

    Returns ``(estimate, lower, upper)`` read from the ``survival``, ``lower`` and ``upper``
    columns of a :func:`kaplan_meier` frame (Brookmeyer-Crowley style, as R's survfit does:
    the limits are where the pointwise confidence band crosses 1 - p). NaN where not reached.
    """
    if not 0 < p < 1:
        raise HtaError(f"km_quantile: expected 0 < p < 1; found {p!r}")
    times = km_frame["time"].to_numpy(float)
    last = times[-1]
    return (
        _first_crossing(times, km_frame["survival"].to_numpy(float), p, last),
        _first_crossing(times, km_frame["lower"].to_numpy(float), p, last),
        _first_crossing(times, km_frame["upper"].to_numpy(float), p, last),
    )


def km_median(time, event, conf_level: float = 0.95, ci: str = "log") -> tuple[float, float, float]:
    """Median time to event and its confidence interval ``(median, lower, upper)``.

    Matches ``summary(survfit(...))$table[c("median", "0.95LCL", "0.95UCL")]`` in R for the same
    ``conf.type``; NaN where the curve (or a confidence limit) never falls to 0.5.
    """
    return km_quantile(kaplan_meier(time, event, conf_level=conf_level, ci=ci), 0.5)


def km_survival_at(km_frame: pd.DataFrame, t, column: str = "survival") -> np.ndarray:
    """Evaluate a KM step function (right-continuous) at times ``t``.

    ``column`` may be ``survival``, ``lower``, ``upper`` or ``se``. Times before the first row
    take the first row's value (1 for a curve starting at 0 with no time-0 events); times after
    the last row take the last row's value (the curve is undefined beyond follow-up: callers
    who need NaN there should mask ``t > km_frame.time.max()`` themselves).
    """
    if column not in km_frame.columns:
        raise HtaError(f"km_survival_at: expected a column of the KM frame; found {column!r}")
    times = km_frame["time"].to_numpy(float)
    values = km_frame[column].to_numpy(float)
    t = np.asarray(t, dtype=float)
    pos = np.searchsorted(times, t, side="right") - 1
    return values[np.clip(pos, 0, None)]


def number_at_risk(time, event, at_times) -> pd.DataFrame:
    """Numbers at risk (time >= t) at each of ``at_times``, as printed under a KM plot.

    Returns a DataFrame with columns ``time``, ``n_at_risk``, ``n_events_before`` (events with
    time < t) and ``n_censored_before`` (censorings with time < t).
    """
    time, event = _check_data(time, event)
    at = np.asarray(at_times, dtype=float).ravel()
    order = np.argsort(time, kind="stable")
    sorted_time, sorted_event = time[order], event[order]
    n_before = np.searchsorted(sorted_time, at, side="left")
    events_cum = np.concatenate([[0], np.cumsum(sorted_event)])
    events_before = events_cum[n_before]
    return pd.DataFrame(
        {
            "time": at,
            "n_at_risk": time.size - n_before,
            "n_events_before": events_before.astype(int),
            "n_censored_before": (n_before - events_before).astype(int),
        }
    )
