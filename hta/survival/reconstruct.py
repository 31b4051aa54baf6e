"""Reconstruct individual patient data (IPD) from a digitised Kaplan-Meier curve.

Implements the algorithm of Guyot P, Ades AE, Ouwens MJNM, Welton NJ. Enhanced secondary analysis
of survival data: reconstructing the data from published Kaplan-Meier survival curves. BMC Med Res
Methodol 2012;12:9. See docs/reconstruction.md for the algorithm, the three modes, the cleaning
rules and the accuracy report.

Usage::

    ipd = reconstruct_ipd(km_points, at_risk_table, total_events=None)
    ipd.attrs["report"]          # ReconstructionReport: cleaning actions, accuracy, intervals
    print(ipd.attrs["report"])   # readable summary

``km_points``: DataFrame with columns ``time`` and ``survival`` (proportion or percent).
``at_risk``: DataFrame with columns ``time`` and ``n_at_risk`` (first row at time 0), or a
single integer (the initial number at risk only). Time is in the unit of the published plot.
The result has columns ``time`` and ``event`` (1 = event, 0 = censored), one row per patient,
sorted by time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.survival.km import kaplan_meier, km_survival_at

MAX_ITERATIONS = 1000
#: Digitisation tolerances (docs/reconstruction.md, "Cleaning rules"). A digitised time below 0
#: by at most this share of the curve's last time is read as 0; a rise in survival of at most
#: this much (absolute, 0-1 scale) is removed, as is a start below 1 by at most this much.
#: Anything larger is refused: it is not digitisation error but a wrong axis or a second curve.
NEGATIVE_TIME_TOLERANCE = 0.02
RISE_TOLERANCE = 0.05


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in np.asarray(values, dtype=float).ravel()) + "]"
PERCENT_THRESHOLD = 1.5  # any survival value above this means the curve is in percent


@dataclass(eq=False)  # compared by identity: pandas compares attrs when concatenating frames
class ReconstructionReport:
    """What was done to the digitised curve and how well the reconstruction reproduces it.

    ``cleaning`` lists each cleaning or alignment action in words; ``max_abs_diff`` and
    ``rms_abs_diff`` compare the KM re-estimated from the IPD with the cleaned digitised points;
    ``intervals`` has one row per at-risk interval (published vs reconstructed numbers at risk,
    reconstructed events and censorings, events implied by the table and the curve);
    ``warnings`` lists targets the algorithm could not meet exactly.
    """

    mode: str
    cleaning: list[str]
    n_patients: int
    n_events: int
    n_censored: int
    max_abs_diff: float
    rms_abs_diff: float
    intervals: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"IPD reconstruction (Guyot et al. 2012), mode: {self.mode}",
            f"  patients {self.n_patients}, events {self.n_events}, censored {self.n_censored}",
            f"  KM of reconstructed IPD vs digitised points: max |diff| {self.max_abs_diff:.4f}, "
            f"RMS {self.rms_abs_diff:.4f}",
        ]
        lines += [f"  cleaning: {c}" for c in self.cleaning] or ["  cleaning: none needed"]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(self.intervals.to_string(index=False))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Cleaning of digitised points
# --------------------------------------------------------------------------------------------


def clean_digitised_curve(km: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Tidy digitised (time, survival) points into a non-increasing curve starting at (0, 1).

    Returns the cleaned points and a list describing each action taken. Rules, in order:
    rows with a missing value are dropped; negative times down to ``NEGATIVE_TIME_TOLERANCE``
    of the last time are set to 0; survival in percent (any value > 1.5) is divided by 100;
    points are sorted by time; survival is clipped to [0, 1]; points sharing a time are merged
    into one at their lowest survival (the bottom of a vertical drop); rises of at most
    ``RISE_TOLERANCE`` are removed by carrying the running minimum forward; a survival at time
    0 below 1 by at most ``RISE_TOLERANCE`` is set to 1, and a (0, 1) start is added when
    missing. HtaError for fewer than 2 points, a negative time or a rise beyond its tolerance.
    """
    if not isinstance(km, pd.DataFrame) or not {"time", "survival"} <= set(km.columns):
        found = list(km.columns) if isinstance(km, pd.DataFrame) else type(km).__name__
        raise HtaError(
            f"digitised KM curve: expected a DataFrame with columns 'time' and 'survival'; found {found}"
        )
    time = pd.to_numeric(km["time"], errors="coerce").to_numpy(float)
    surv = pd.to_numeric(km["survival"], errors="coerce").to_numpy(float)
    actions: list[str] = []

    missing = ~(np.isfinite(time) & np.isfinite(surv))
    if missing.any():
        actions.append(f"dropped {missing.sum()} point(s) with a missing or non-numeric time or survival")
        time, surv = time[~missing], surv[~missing]
    if time.size < 2:
        raise HtaError(f"digitised KM curve: expected at least 2 points; found {time.size}")
    negative = time < 0
    if negative.any():
        limit = NEGATIVE_TIME_TOLERANCE * max(float(time.max()), 0.0)
        if time.min() < -limit:
            raise HtaError(
                f"digitised KM curve: expected times >= 0 (times down to -{limit:g}, "
                f"{NEGATIVE_TIME_TOLERANCE:.0%} of the last time, are read as 0); found "
                f"{negative.sum()} negative time(s), the smallest {time.min():g} "
                "(re-digitise with the axis origin at 0)"
            )
        actions.append(
            f"set {negative.sum()} negative time(s) to 0 (smallest {time.min():g}; tolerance "
            f"-{limit:g}, {NEGATIVE_TIME_TOLERANCE:.0%} of the last time)"
        )
        time = np.where(negative, 0.0, time)
    if surv.max() > PERCENT_THRESHOLD:
        actions.append(f"survival read as percent (maximum {surv.max():g}); divided by 100")
        surv = surv / 100.0

    if np.any(np.diff(time) < 0):
        n_out = int(np.sum(np.diff(time) < 0))
        actions.append(f"sorted points by time ({n_out} point(s) were out of order)")
    order = np.lexsort((-surv, time))  # by time; at equal times the higher survival first
    time, surv = time[order], surv[order]

    outside = (surv < 0) | (surv > 1)
    if outside.any():
        actions.append(
            f"clipped {outside.sum()} survival value(s) outside [0, 1] "
            f"(range found {surv.min():.4g} to {surv.max():.4g})"
        )
        surv = np.clip(surv, 0.0, 1.0)

    unique_times, first_index = np.unique(time, return_index=True)
    if unique_times.size < time.size:
        actions.append(
            f"merged {time.size - unique_times.size} point(s) sharing a time with another "
            "(kept the lowest survival at each time)"
        )
        surv = np.minimum.reduceat(surv, first_index)
        time = unique_times

    running_min = np.minimum.accumulate(surv)
    rises = surv > running_min
    if rises.any():
        excess = surv - running_min
        worst = int(np.argmax(excess))
        if excess[worst] > RISE_TOLERANCE:
            raise HtaError(
                f"digitised KM curve: expected survival that never rises by more than "
                f"{RISE_TOLERANCE:g} (digitisation error); found a rise of {excess[worst]:.4g} to "
                f"{surv[worst]:.4g} at time {time[worst]:g} (are two curves mixed, or the axis wrong?)"
            )
        actions.append(
            f"removed {rises.sum()} rise(s) in survival (largest {excess[worst]:.4g}, tolerance "
            f"{RISE_TOLERANCE:g}) by carrying the running minimum forward"
        )
        surv = running_min

    if time[0] == 0 and 1.0 - RISE_TOLERANCE <= surv[0] < 1.0:
        actions.append(f"set the survival at time 0 to 1 (digitised {surv[0]:.4g}; tolerance {RISE_TOLERANCE:g})")
        surv = np.concatenate([[1.0], surv[1:]])
    if not (time[0] == 0 and surv[0] == 1):
        actions.append(f"added the start point (0, 1) (first point was ({time[0]:g}, {surv[0]:.4g}))")
        time = np.concatenate([[0.0], time])
        surv = np.concatenate([[1.0], surv])
    return pd.DataFrame({"time": time, "survival": surv}), actions


# --------------------------------------------------------------------------------------------
# Input checks for the numbers at risk
# --------------------------------------------------------------------------------------------


def _read_at_risk(at_risk, curve_end: float) -> tuple[np.ndarray, np.ndarray]:
    if at_risk is None:
        raise HtaError(
            "numbers at risk: expected at least the initial number at risk (an integer or a "
            "table with columns 'time' and 'n_at_risk'); found none"
        )
    if np.isscalar(at_risk):
        table = pd.DataFrame({"time": [0.0], "n_at_risk": [at_risk]})
    elif isinstance(at_risk, pd.DataFrame) and {"time", "n_at_risk"} <= set(at_risk.columns):
        table = at_risk
    else:
        found = list(at_risk.columns) if isinstance(at_risk, pd.DataFrame) else type(at_risk).__name__
        raise HtaError(
            "numbers at risk: expected an integer or a DataFrame with columns 'time' and "
            f"'n_at_risk'; found {found}"
        )
    t = pd.to_numeric(table["time"], errors="coerce").to_numpy(float)
    n = pd.to_numeric(table["n_at_risk"], errors="coerce").to_numpy(float)
    if t.size == 0 or not (np.all(np.isfinite(t)) and np.all(np.isfinite(n))):
        raise HtaError(
            "numbers at risk: expected numeric 'time' and 'n_at_risk' in every row; found missing values"
        )
    bad = (n != np.round(n)) | (n < 0)
    if bad.any():
        raise HtaError(f"numbers at risk: expected whole numbers >= 0; found {_fmt(n[bad])}")
    if np.any(np.diff(t) <= 0):
        raise HtaError(f"numbers at risk: expected strictly increasing times; found {_fmt(t)}")
    if t[0] != 0:
        raise HtaError(f"numbers at risk: expected the first row at time 0; found time {t[0]:g}")
    if n[0] < 1:
        raise HtaError(f"numbers at risk: expected at least 1 patient at time 0; found {n[0]:g}")
    rising = np.nonzero(np.diff(n) > 0)[0]
    if rising.size:
        i = rising[0]
        raise HtaError(
            "numbers at risk: expected numbers that never rise over time; found "
            f"{int(n[i])} at time {t[i]:g} then {int(n[i + 1])} at time {t[i + 1]:g}"
        )
    beyond = t > curve_end
    if beyond.any():
        raise HtaError(
            f"numbers at risk: expected times within the curve's time range [0, {curve_end:g}]; "
            f"found time(s) {_fmt(t[beyond])} (drop those rows or digitise the curve further)"
        )
    return t, n.astype(int)


def _align_points(curve: pd.DataFrame, risk_times: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Add a point at each at-risk time (the step curve's value there) so intervals start on a point."""
    time = curve["time"].to_numpy(float)
    surv = curve["survival"].to_numpy(float)
    missing = risk_times[~np.isin(risk_times, time)]
    notes = []
    if missing.size:
        values = surv[np.searchsorted(time, missing, side="right") - 1]
        time = np.concatenate([time, missing])
        surv = np.concatenate([surv, values])
        order = np.argsort(time, kind="stable")
        time, surv = time[order], surv[order]
        notes.append(
            f"added {missing.size} point(s) at at-risk time(s) {_fmt(missing)} carrying the curve's "
            "value there (no events), so that each at-risk interval starts on a point"
        )
    return time, surv, notes


def _check_consistency(surv_before, risk_times, n_risk, lower) -> None:
    """Raise when the curve's fall in an interval needs more events than the table allows.

    With q the conditional probability of an event in the interval, the fewest events compatible
    with the curve arise when every censoring happens at the start: d_min = q n_next / (1 - q).
    Events plus censorings equal n_i - n_next, so d_min cannot exceed that (allowing 2 events or
    2% of n_i for digitisation error).
    """
    for i in range(len(n_risk) - 1):
        s0, s1 = surv_before[lower[i]], surv_before[lower[i + 1]]
        n_i, n_next = n_risk[i], n_risk[i + 1]
        if s0 <= 0:
            if n_next > 0:
                raise HtaError(
                    f"numbers at risk inconsistent with the curve: survival is 0 by time "
                    f"{risk_times[i]:g} but {n_next} patients are at risk at time {risk_times[i + 1]:g}"
                )
            continue
        q = 1.0 - s1 / s0
        with np.errstate(divide="ignore"):
            d_min = q * n_next / (1.0 - q) if q < 1 else (np.inf if n_next > 0 else n_i)
        allowed = n_i - n_next
        if d_min > allowed + max(2.0, 0.02 * n_i):
            raise HtaError(
                f"numbers at risk inconsistent with the curve between times {risk_times[i]:g} and "
                f"{risk_times[i + 1]:g}: the curve falls from {s0:.4g} to {s1:.4g}, implying at least "
                f"{d_min:.1f} events, but the numbers at risk ({n_i} -> {n_next}) allow at most {allowed}"
            )


# --------------------------------------------------------------------------------------------
# Guyot's algorithm
# --------------------------------------------------------------------------------------------


@dataclass
class _IntervalResult:
    events: np.ndarray  # events at each point of the interval
    censor_times: np.ndarray
    n_end: int  # number at risk just after the interval
    km_last: float  # reconstructed KM after the last point with an event


def _run_interval(time, surv, lo, hi, t_end, n_start, n_censor, km_last) -> _IntervalResult:
    """One pass of Guyot's step for points lo..hi given a number censored in the interval.

    Censorings are spread evenly over [time[lo], t_end]; events at each point are those that
    bring the reconstructed KM down to the digitised survival (inverted KM equation, rounded).
    """
    censor_times = time[lo] + (t_end - time[lo]) * np.arange(1, n_censor + 1) / (n_censor + 1)
    edges = np.append(time[lo : hi + 1], np.inf)
    censored_per_point = np.histogram(censor_times, bins=edges)[0] if n_censor else np.zeros(hi - lo + 1, int)
    events = np.zeros(hi - lo + 1, dtype=int)
    n_hat = n_start
    for j, k in enumerate(range(lo, hi + 1)):
        if n_hat > 0 and km_last > 0:
            d = int(np.round(n_hat * (1.0 - surv[k] / km_last)))
            d = min(max(d, 0), n_hat)
            if d > 0:
                km_last *= 1.0 - d / n_hat
            events[j] = d
        c = min(censored_per_point[j], n_hat - events[j])
        censored_per_point[j] = c
        n_hat -= events[j] + c
    if censor_times.size > censored_per_point.sum():
        # some censorings found no patient left at risk: keep the first ones in each step
        step = np.searchsorted(edges, censor_times, side="right") - 1
        rank = np.arange(censor_times.size) - np.searchsorted(step, step, side="left")
        censor_times = censor_times[rank < censored_per_point[step]]
    return _IntervalResult(events, censor_times, n_hat, km_last)


def _solve_censoring(run, target_of, n_censor0: int, n_max: int) -> tuple[_IntervalResult, int, bool]:
    """Adjust the number censored until ``target_of(result)`` (a signed miss) is 0.

    ``target_of`` returns by how much too many patients remain (positive: censor more).
    Iterates n_censor <- n_censor + miss (Guyot's update), bounded to [0, n_max]; stops when the
    miss is 0, when bounded out, or when the update cycles (then keeps the smallest miss).
    """
    n_censor = int(min(max(n_censor0, 0), n_max))
    seen: dict[int, tuple[int, _IntervalResult]] = {}
    for _ in range(MAX_ITERATIONS):
        result = run(n_censor)
        miss = target_of(result)
        seen[n_censor] = (miss, result)
        if miss == 0:
            return result, n_censor, True
        nxt = int(min(max(n_censor + miss, 0), n_max))
        if nxt in seen:
            break
        n_censor = nxt
    best = min(seen, key=lambda c: (abs(seen[c][0]), c))
    return seen[best][1], best, False


def reconstruct_ipd(km: pd.DataFrame, at_risk=None, total_events: int | None = None, *,
                    report: bool = True) -> pd.DataFrame:
    """Reconstruct IPD (``time``, ``event``) from digitised KM points (Guyot et al. 2012).

    Modes, by the information given:

    * ``at_risk`` table with 2+ rows (optionally ``total_events``): Guyot's full algorithm; the
      censoring in the last interval follows the average censoring rate of the earlier intervals,
      or is solved for so that the total number of events matches ``total_events``.
    * ``at_risk`` = initial number only (an int or a one-row table) and ``total_events``: the
      number censored over the whole curve is solved for so that the events total matches;
      censorings are spread evenly over the follow-up.
    * initial number only: no censoring is assumed before the last digitised time; patients still
      at risk there are censored at that time.

    In every mode, patients still at risk after the last point are censored at the last
    digitised time. The report (``ipd.attrs["report"]``, a :class:`ReconstructionReport`)
    lists the cleaning actions and the accuracy of the reconstruction; ``report=False`` skips
    the accuracy computation (the report then holds NaN for the differences).
    """
    curve, cleaning = clean_digitised_curve(km)
    risk_times, n_risk = _read_at_risk(at_risk, curve_end=float(curve["time"].iloc[-1]))
    if total_events is not None:
        try:
            whole = float(total_events).is_integer()
        except (TypeError, ValueError):
            whole = False
        if not whole or not 0 <= float(total_events) <= n_risk[0]:
            raise HtaError(
                f"total events: expected a whole number between 0 and the {n_risk[0]} patients at "
                f"risk at time 0; found {total_events}"
            )
        total_events = int(total_events)
    n_int = len(n_risk)
    mode = ("at-risk table" if n_int > 1 else "initial number at risk") + (
        " + total events" if total_events is not None else (" only" if n_int == 1 else "")
    )

    time, surv, notes = _align_points(curve, risk_times)
    lower = np.searchsorted(time, risk_times, side="left")
    upper = np.append(lower[1:] - 1, time.size - 1)
    surv_before = np.concatenate([[1.0], surv[:-1]])  # survival just before each point's drop
    _check_consistency(surv_before, risk_times, n_risk, lower)

    warnings: list[str] = []
    events = np.zeros(time.size, dtype=int)
    censor_times: list[np.ndarray] = []
    n_censored_int = np.zeros(n_int, dtype=int)
    km_last = 1.0
    n_start = n_risk[0]
    for i in range(n_int):
        lo, hi = lower[i], upper[i]
        last = i == n_int - 1
        t_end = time[hi] if last else time[lower[i + 1]]

        def run(nc, lo=lo, hi=hi, t_end=t_end, n_start=n_start, km_last=km_last):
            return _run_interval(time, surv, lo, hi, t_end, n_start, nc, km_last)

        if not last:
            s0 = surv[lo] if surv[lo] > 0 else 1.0
            guess = round(n_risk[i] * surv[lower[i + 1]] / s0 - n_risk[i + 1])
            result, nc, ok = _solve_censoring(run, lambda r, i=i: r.n_end - n_risk[i + 1], guess, n_start)
            if not ok:
                warnings.append(
                    f"interval {risk_times[i]:g}-{risk_times[i + 1]:g}: could not match "
                    f"{n_risk[i + 1]} at risk at time {risk_times[i + 1]:g} exactly "
                    f"(reconstructed {result.n_end})"
                )
        else:
            if n_int > 1:
                span = time[lo] - time[lower[0]]
                rate = n_censored_int[:-1].sum() / span if span > 0 else 0.0
                guess = int(min(round(rate * (time[hi] - time[lo])), n_start))
            else:
                guess = 0
            if total_events is None:
                result, nc = run(guess), guess
            else:
                events_before = int(events[:lo].sum())

                def miss(r, events_before=events_before):
                    return int(r.events.sum()) + events_before - total_events

                result, nc, ok = _solve_censoring(run, miss, guess, n_start)
                if not ok:
                    warnings.append(
                        f"could not match the total of {total_events} events exactly "
                        f"(reconstructed {events_before + int(result.events.sum())})"
                    )
        events[lo : hi + 1] = result.events
        censor_times.append(result.censor_times)
        n_censored_int[i] = result.censor_times.size
        km_last = result.km_last
        n_start = result.n_end  # equals n_risk[i + 1] unless a warning was recorded above

    ipd = _assemble_ipd(time, events, censor_times, n_risk[0])
    out = ReconstructionReport(
        mode=mode,
        cleaning=cleaning + notes,
        n_patients=int(len(ipd)),
        n_events=int(ipd["event"].sum()),
        n_censored=int(len(ipd) - ipd["event"].sum()),
        max_abs_diff=np.nan,
        rms_abs_diff=np.nan,
        intervals=_interval_table(ipd, risk_times, n_risk, surv_before, lower, total_events),
        warnings=warnings,
    )
    if report:
        refit = kaplan_meier(ipd["time"], ipd["event"])
        diff = km_survival_at(refit, curve["time"]) - curve["survival"].to_numpy()
        out.max_abs_diff = float(np.max(np.abs(diff)))
        out.rms_abs_diff = float(np.sqrt(np.mean(diff**2)))
    ipd.attrs["report"] = out
    return ipd


def _assemble_ipd(time, events, censor_times, n_patients) -> pd.DataFrame:
    event_times = np.repeat(time, events)
    cens = np.concatenate(censor_times) if censor_times else np.empty(0)
    n_left = n_patients - event_times.size - cens.size
    if n_left < 0:  # cannot happen: each step removes at most the patients it has left
        raise RuntimeError("reconstruction assigned more outcomes than patients")
    cens = np.concatenate([cens, np.full(n_left, time[-1])])
    ipd = pd.DataFrame(
        {
            "time": np.concatenate([event_times, cens]),
            "event": np.concatenate([np.ones(event_times.size, int), np.zeros(cens.size, int)]),
        }
    )
    return ipd.sort_values(["time", "event"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _interval_table(ipd, risk_times, n_risk, surv_before, lower, total_events) -> pd.DataFrame:
    """Per at-risk interval: published vs reconstructed at-risk numbers and events.

    ``events_implied`` is the life-table (actuarial) count implied by the table and the curve,
    q (n_i + n_next) / (2 - q), i.e. censoring spread evenly over the interval; NaN for the last
    interval unless the total events are known.
    """
    t = ipd["time"].to_numpy()
    e = ipd["event"].to_numpy()
    starts = risk_times
    ends = np.append(risk_times[1:], np.inf)
    rows = []
    for i, (a, b) in enumerate(zip(starts, ends)):
        inside = (t >= a) & (t < b) if np.isfinite(b) else (t >= a)
        implied = np.nan
        if i + 1 < len(n_risk) and surv_before[lower[i]] > 0:
            q = 1.0 - surv_before[lower[i + 1]] / surv_before[lower[i]]
            implied = q * (n_risk[i] + n_risk[i + 1]) / (2.0 - q)
        rows.append(
            {
                "start": a,
                "end": b,
                "n_at_risk_published": int(n_risk[i]),
                "n_at_risk_reconstructed": int(np.sum(t >= a)),
                "events_reconstructed": int(e[inside].sum()),
                "events_implied": implied,
                "censored_reconstructed": int((inside & (e == 0)).sum()),
            }
        )
    table = pd.DataFrame(rows)
    if total_events is not None:
        table.loc[table.index[-1], "events_implied"] = total_events - table["events_reconstructed"].iloc[:-1].sum()
    return table


def read_guyot_files(surv_path, nrisk_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the tab-separated input files of Guyot et al.'s R code into this module's layout.

    ``surv_path`` has columns (ID, time, survival); ``nrisk_path`` has (Interval, Time, Lower,
    Upper, nrisk). Returns ``(km_points, at_risk)`` with columns (time, survival) and
    (time, n_at_risk).
    """
    surv = pd.read_csv(surv_path, sep=r"\s+")
    nrisk = pd.read_csv(nrisk_path, sep=r"\s+")
    for frame, cols, path in ((surv, ["time", "survival"], surv_path), (nrisk, ["Time", "nrisk"], nrisk_path)):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise HtaError(f"{path}: expected columns {cols}; found {list(frame.columns)}")
    return (
        surv[["time", "survival"]].reset_index(drop=True),
        pd.DataFrame({"time": nrisk["Time"].astype(float), "n_at_risk": nrisk["nrisk"].astype(int)}),
    )
