"""Diagnostics for choosing and checking survival extrapolations (NICE DSU TSD 14 and 21).

Figures (matplotlib, Agg backend, PNG):

* :func:`plot_fits` -- Kaplan-Meier with its 95% band and every fitted curve over the model
  horizon (optionally the general-population curve);
* :func:`plot_hazards` -- empirical hazard (piecewise-constant in intervals with equal numbers
  of events, and an Epanechnikov kernel-smoothed Nelson-Aalen estimate) against fitted hazards;
* :func:`plot_log_cumhaz` -- log cumulative hazard against log time (straight line = Weibull;
  parallel lines = proportional hazards).

Tables:

* :func:`landmark_table` -- survival at landmark times, median, mean and restricted mean;
* :func:`general_population_flags` -- where a curve implies survival above (or a hazard below)
  the general population of the same age and sex: the key plausibility check.

``fits`` is a mapping name -> curve-like: a :class:`~hta.survival.curves.SurvivalCurve`
(n = 1) or any object with a ``curve()`` method (``hta.survival.fit.FittedModel``,
``FittedSpline``, ``CureFit``, ``CalibrationResult``); a ``FitResult`` works as it is.
Times are in the data's unit throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hta.errors import HtaError  # noqa: E402
from hta.survival.curves import SurvivalCurve  # noqa: E402
from hta.survival.km import kaplan_meier  # noqa: E402

__all__ = ["plot_fits", "plot_hazards", "plot_log_cumhaz", "landmark_table",
           "general_population_flags", "empirical_hazard", "smoothed_hazard", "as_curve"]


def as_curve(obj, name: str = "curve") -> SurvivalCurve:
    """A curve (n = 1) from a curve or a fitted object with ``curve()``."""
    if isinstance(obj, SurvivalCurve):
        curve = obj.curve() if hasattr(obj, "coef") and hasattr(obj, "curve") else obj
    elif callable(getattr(obj, "curve", None)):
        curve = obj.curve()
    else:
        raise HtaError(f"fit '{name}': expected a survival curve or a fitted model; found "
                       f"{type(obj).__name__}")
    if curve.n != 1:
        raise HtaError(f"fit '{name}': expected a single curve (n = 1) for diagnostics; found "
                       f"n = {curve.n}")
    return curve


def _curves(fits) -> dict[str, SurvivalCurve]:
    if not isinstance(fits, Mapping) or len(fits) == 0:
        raise HtaError("fits: expected a non-empty mapping name -> fitted curve; found "
                       f"{type(fits).__name__}")
    return {str(k): as_curve(v, str(k)) for k, v in fits.items()}


def _data(km_or_data):
    """(km frame, time, event) from a KM frame or a (time, event) pair."""
    if isinstance(km_or_data, pd.DataFrame):
        return km_or_data, None, None
    try:
        time, event = km_or_data
    except (TypeError, ValueError) as exc:
        raise HtaError("data: expected a Kaplan-Meier frame or a (time, event) pair") from exc
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    return kaplan_meier(time, event), time, event


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


_STYLES = ["-", "--", "-.", ":"]


_COLOURS = [plt.cm.tab10(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + [plt.cm.Dark2(i) for i in range(8)]


def _style(i):
    """Distinct colours (no grey: grey and black are kept for the data)."""
    n = len(_COLOURS)
    return dict(color=_COLOURS[i % n], linestyle=_STYLES[(i // n) % 4], linewidth=1.6)


def plot_fits(km_or_data, fits, horizon: float, path, background: SurvivalCurve | None = None,
              *, time_label: str = "time", title: str = "Kaplan-Meier and fitted curves") -> Path:
    """KM (step, 95% band) and every fitted curve from 0 to ``horizon``; saves a PNG at ``path``."""
    km, _, _ = _data(km_or_data)
    curves = _curves(fits)
    if not horizon > 0:
        raise HtaError(f"horizon: expected a positive time; found {horizon!r}")
    grid = np.linspace(0.0, float(horizon), 600)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.step(km["time"], km["survival"], where="post", color="black", linewidth=2, label="Kaplan-Meier")
    ax.fill_between(km["time"], km["lower"].fillna(0), km["upper"].fillna(0), step="post",
                    color="grey", alpha=0.25, label="KM 95% CI")
    for i, (name, curve) in enumerate(curves.items()):
        ax.plot(grid, curve.survival(grid)[0], label=name, **_style(i))
    if background is not None:
        ax.plot(grid, as_curve(background, "background").survival(grid)[0], color="black",
                linestyle=":", linewidth=2, label="general population")
    ax.axvline(km["time"].max(), color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(time_label)
    ax.set_ylabel("survival")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def empirical_hazard(time, event, n_intervals: int = 8) -> pd.DataFrame:
    """Piecewise-constant hazard: events / person-time in ``n_intervals`` equal-width intervals
    of the follow-up (fewer when there are under 5 events per interval).

    Returns columns ``start``, ``end``, ``events``, ``person_time``, ``hazard`` (per time unit).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    ev_times = np.sort(time[event == 1])
    if ev_times.size == 0:
        raise HtaError("empirical hazard: expected at least one event; found none")
    n_int = int(max(1, min(n_intervals, ev_times.size // 5 or 1)))
    edges = np.linspace(0.0, time.max(), n_int + 1)
    start, end = edges[:-1], edges[1:]
    exposure = np.clip(time[:, None], start[None, :], end[None, :]) - start[None, :]
    person_time = exposure.sum(axis=0)
    idx = np.clip(np.searchsorted(end, time, side="left"), 0, len(end) - 1)
    events = np.bincount(idx, weights=event, minlength=len(end))
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(person_time > 0, events / person_time, np.nan)
    return pd.DataFrame({"start": start, "end": end, "events": events,
                         "person_time": person_time, "hazard": hazard})


def smoothed_hazard(time, event, grid, bandwidth: float | None = None) -> np.ndarray:
    """Epanechnikov kernel smoothing of the Nelson-Aalen increments (Ramlau-Hansen 1983).

    h(t) = sum_j K((t - t_j)/b) dN_j / Y_j / b. ``bandwidth`` defaults to a quarter of the range
    of the event times. No boundary correction: values within b of 0 or of the last time are
    biased downwards (shown, but read with care).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    ev = np.unique(time[event == 1])
    if ev.size == 0:
        raise HtaError("smoothed hazard: expected at least one event; found none")
    d = np.array([np.sum((time == u) & (event == 1)) for u in ev], dtype=float)
    at_risk = np.array([np.sum(time >= u) for u in ev], dtype=float)
    b = float(bandwidth) if bandwidth else max(np.ptp(ev) / 4.0, 1e-12)
    u = (np.asarray(grid, float)[:, None] - ev[None, :]) / b
    kern = np.where(np.abs(u) <= 1, 0.75 * (1 - u * u), 0.0)
    return kern @ (d / at_risk) / b


def plot_hazards(time, event, fits, path, *, horizon: float | None = None,
                 time_label: str = "time", n_intervals: int = 8) -> Path:
    """Empirical hazards (intervals and kernel-smoothed) against the fitted hazards."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    curves = _curves(fits)
    tmax = float(horizon) if horizon else float(time.max())
    grid = np.linspace(tmax / 400, tmax, 400)
    emp = empirical_hazard(time, event, n_intervals)
    inside = grid <= time.max()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.hlines(emp["hazard"], emp["start"], emp["end"], color="black", linewidth=2.5,
              label="empirical (events / person-time)")
    smooth = smoothed_hazard(time, event, grid[inside])
    ax.plot(grid[inside], smooth, color="black", linestyle="--", linewidth=2,
            label="kernel-smoothed Nelson-Aalen")
    top = 1.6 * max(np.nanmax(emp["hazard"]), np.nanmax(smooth))
    for i, (name, curve) in enumerate(curves.items()):
        ax.plot(grid, curve.hazard(grid)[0], label=name, **_style(i))
    ax.set_ylim(0, top)
    ax.set_xlim(0, tmax)
    ax.set_xlabel(time_label)
    ax.set_ylabel("hazard (per unit of time)")
    ax.set_title("Empirical and fitted hazards")
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_log_cumhaz(time, event, fits, path, *, time_label: str = "time") -> Path:
    """log(-log KM) against log time, with each fit's log H(t) over the follow-up."""
    km, _, _ = _data((time, event))
    curves = _curves(fits)
    keep = (km["time"] > 0) & (km["survival"] < 1) & (km["survival"] > 0)
    x = np.log(km.loc[keep, "time"].to_numpy())
    y = np.log(-np.log(km.loc[keep, "survival"].to_numpy()))
    grid = np.exp(np.linspace(max(x.min(), np.log(0.01 * km["time"].max())) - 0.5, x.max() + 0.3, 300))
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.step(x, y, where="post", color="black", linewidth=2, label="Kaplan-Meier")
    for i, (name, curve) in enumerate(curves.items()):
        with np.errstate(divide="ignore"):
            ax.plot(np.log(grid), np.log(curve.cumhaz(grid)[0]), label=name, **_style(i))
    ax.set_ylim(y.min() - 1.0, y.max() + 1.0)
    ax.set_xlim(max(x.min(), np.log(0.01 * km["time"].max())) - 0.3, x.max() + 0.3)
    ax.set_xlabel(f"log {time_label}")
    ax.set_ylabel("log cumulative hazard")
    ax.set_title("Log cumulative hazard (straight line = Weibull)")
    ax.legend(fontsize=8, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def landmark_table(fits, times=(1, 2, 5, 10, 20), tmax: float = 20.0,
                   mean_horizon: float | None = None) -> pd.DataFrame:
    """Survival at ``times``, median, mean and restricted mean, one row per model.

    ``times`` and ``tmax`` are in the data's unit (pass (12, 24, 60, 120, 240) for 1-20 years
    when the data are in months). ``rmst`` is the restricted mean to ``tmax``; ``mean`` is the
    restricted mean to ``mean_horizon`` (default 10 x ``tmax``, a stand-in for the lifetime
    mean) and ``s_at_mean_horizon`` the survival left there: a value above ~0.001 means the mean
    is truncated (e.g. a cure plateau without background mortality).
    """
    curves = _curves(fits)
    times = np.asarray(times, dtype=float)
    horizon = float(mean_horizon) if mean_horizon else 10.0 * float(tmax)
    rows = {}
    for name, curve in curves.items():
        s = curve.survival(times)[0]
        row = {f"S({t:g})": v for t, v in zip(times, s)}
        row["median"] = float(curve.median()[0])
        row["rmst"] = float(curve.rmst(tmax)[0])
        row["mean"] = float(curve.rmst(horizon)[0])
        row["s_at_mean_horizon"] = float(curve.survival([horizon])[0, 0])
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    table.attrs["rmst_horizon"] = float(tmax)
    table.attrs["mean_horizon"] = horizon
    return table


def general_population_flags(fits, background: SurvivalCurve, times) -> pd.DataFrame:
    """Flag every model and time where survival exceeds the general population's.

    ``background`` is the general-population curve of the same start age and sex mix in the
    data's time unit (``hta.survival.adjust.GeneralPopulation`` with ``years_per_unit``).
    Returns one row per (model, time): ``survival``, ``gp_survival``, ``above_gp`` (the flag),
    ``hazard``, ``gp_hazard`` and ``hazard_below_gp`` (a softer warning: the disease-specific
    hazard is then implicitly negative; apply ``GeneralPopulationFloor``).
    """
    curves = _curves(fits)
    bg = as_curve(background, "background")
    times = np.asarray(times, dtype=float)
    gp_s = bg.survival(times)[0]
    gp_h = bg.hazard(times)[0]
    frames = []
    for name, curve in curves.items():
        s = curve.survival(times)[0]
        h = curve.hazard(times)[0]
        frames.append(pd.DataFrame({"model": name, "time": times, "survival": s,
                                    "gp_survival": gp_s, "above_gp": s > gp_s + 1e-12,
                                    "hazard": h, "gp_hazard": gp_h,
                                    "hazard_below_gp": h < gp_h}))
    return pd.concat(frames, ignore_index=True)
