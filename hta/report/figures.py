"""Matplotlib figures of the analyses, written as PNG files.

Every function takes data frames or arrays (the outputs of ``hta.analysis.dsa``, ``hta.analysis.psa``,
``hta.analysis.gsa``, ``hta.analysis.evaluate``) and a path, writes one PNG (non-interactive Agg backend, created
directories as needed) and returns the path. Money axes use thousands separators with the
currency prefix (default ``"HK$"``); willingness to pay is in currency per QALY.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = [
    "tornado_chart",
    "ce_plane",
    "ceac_plot",
    "ceaf_plot",
    "evpi_plot",
    "convergence_plot",
    "sobol_bars",
    "two_way_heatmap",
    "survival_plot",
    "trace_plot",
    "budget_impact_plot",
    "budget_tornado",
    "survival_curves_plot",
]

_OUTCOME_LABELS = {"inmb": "Incremental net monetary benefit", "icer": "ICER (per QALY gained)",
                   "inc_cost": "Incremental cost", "inc_qaly": "Incremental QALYs",
                   "net_budget_impact": "Net budget impact"}
_MONEY_OUTCOMES = {"inmb", "icer", "inc_cost", "net_budget_impact"}


def load_pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use; the
    publisher loads it before forking its helper process, so the import is paid once)."""
    return _pyplot()


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def literal_text(draw):
    """Draw the figure with every text taken literally: "$" is a character, not the start of
    matplotlib's maths notation (labels such as "price (HK$ per patient) (HK$)" would otherwise
    be set in italics between the two signs, their spaces lost)."""

    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return drawn


def _money(prefix: str):
    from matplotlib.ticker import FuncFormatter

    def fmt(x, _pos=None):
        sign = "-" if x < 0 else ""
        return f"{sign}{prefix}{abs(x):,.0f}"

    return FuncFormatter(fmt)


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos=None: f"{x:,.0f}" if abs(x) >= 1000 or x == int(x) else f"{x:,.3g}")


#: Resolution of the PNG figures (dots per inch).
DPI = 150
#: zlib level of the PNG files: 3 takes about a third less CPU time than PIL's default (6) for
#: files about 7% larger (the base case's 17 figures: 1.98 MB against 1.86 MB); the pixels are
#: the same at any level.
PNG_COMPRESS_LEVEL = 3


def save_png(fig, path, *, dpi: int = DPI) -> Path:
    """Write ``fig`` to the PNG file ``path`` cut to its tight bounding box, pixel for pixel as
    ``fig.savefig(path, dpi=dpi, bbox_inches="tight")`` draws it, with one draw instead of two.

    savefig's ``"tight"`` draws the whole figure once (rendering switched off) to lay it out,
    measures the tight box, then draws it again into the cut image. Here the box is measured
    directly (``Figure.get_tightbbox`` lays out what it measures: ticks, titles, legends), padded
    by ``savefig.pad_inches`` as savefig pads it, at the dpi of the saved image, and savefig is
    given the box, so it draws once (tests/test_plots.py compares the two ways pixel by pixel).
    A figure with a layout engine keeps savefig's way (the engine runs in its first draw). The
    file is written beside ``path`` first and renamed over it; the figure is closed."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    if fig.get_layout_engine() is None:
        fig.set_dpi(dpi)  # as savefig sets it while it measures and draws
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    else:
        bbox = "tight"
    fig.savefig(tmp, dpi=dpi, bbox_inches=bbox, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    os.replace(tmp, path)
    plt.close(fig)
    return path


def _save(fig, path) -> Path:
    return save_png(fig, path)


def _short(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:,.3g}" if a < 100 else f"{x:,.1f}"
    return f"{x:.3g}"


def _wtps(wtp) -> list[tuple[str, float]]:
    if wtp is None:
        return []
    if isinstance(wtp, Mapping):
        return [(str(k), float(v)) for k, v in wtp.items()]
    if np.ndim(wtp) == 0 and not isinstance(wtp, (list, tuple)):
        return [(None, float(wtp))]
    return [(str(w[0]), float(w[1])) if isinstance(w, (list, tuple)) else (None, float(w)) for w in wtp]


# --------------------------------------------------------------------------------------------
# Deterministic


@literal_text
def tornado_chart(tornado_frame: pd.DataFrame, path, title: str | None = None, currency: str = "HK$",
                  labels: Mapping[str, str] | None = None) -> Path:
    """Tornado diagram from :func:`hta.analysis.dsa.tornado` (widest bar on top).

    Bars run from the base-case outcome to the outcome at the parameter's low (blue) and high
    (orange) values; the y labels show the parameter and its low-high range.
    """
    needed = {"parameter", "low_value", "high_value", "base", "at_low", "at_high", "outcome"}
    if not needed <= set(tornado_frame.columns):
        raise HtaError(f"tornado chart: expected a frame from hta.analysis.dsa.tornado; missing {sorted(needed - set(tornado_frame.columns))}")
    if tornado_frame.empty:
        raise HtaError("tornado chart: the tornado frame has no rows")
    if tornado_frame["strategy"].nunique() > 1:
        raise HtaError("tornado chart: expected one strategy; select one with hta.analysis.dsa.tornado(..., strategy=...)")
    plt = _pyplot()
    frame = tornado_frame.iloc[::-1].reset_index(drop=True)
    outcome = str(frame["outcome"].iloc[0])
    base = float(frame["base"].iloc[0])
    labels = labels or {}
    names = [f"{labels.get(p, p)}  ({_short(lo)} to {_short(hi)})"
             for p, lo, hi in zip(frame["parameter"], frame["low_value"], frame["high_value"])]
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(frame) + 1.6))
    lo = frame["at_low"].to_numpy(float)
    hi = frame["at_high"].to_numpy(float)
    ax.barh(y, lo - base, left=base, height=0.6, color="#4C72B0", label="parameter at low value")
    ax.barh(y, hi - base, left=base, height=0.6, color="#DD8452", label="parameter at high value")
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, names, fontsize=8)
    if outcome in _MONEY_OUTCOMES:
        ax.xaxis.set_major_formatter(_money(currency))
    base_text = _money(currency)(base) if outcome in _MONEY_OUTCOMES else _short(base)
    ax.set_xlabel(f"{_OUTCOME_LABELS.get(outcome, outcome)} (base case {base_text})")
    ax.set_title(title or f"Tornado diagram: {_OUTCOME_LABELS.get(outcome, outcome).lower()}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    for tick in ax.get_xticklabels():
        tick.set_rotation(20)
        tick.set_ha("right")
    return _save(fig, path)


@literal_text
def two_way_heatmap(two_way_frame: pd.DataFrame, p1: str, p2: str, path, value: str = "inmb",
                    title: str | None = None, currency: str = "HK$") -> Path:
    """Heat map of a :func:`hta.analysis.dsa.two_way` grid (``p1`` on x, ``p2`` on y) with the zero contour
    of incremental NMB (where ICER = WTP) when ``value="inmb"``."""
    if value not in two_way_frame.columns:
        raise HtaError(f"two-way heat map: expected column '{value}'; found {list(two_way_frame.columns)}")
    plt = _pyplot()
    grid = two_way_frame.pivot_table(index=p2, columns=p1, values=value, aggfunc="first")
    x, y, z = grid.columns.to_numpy(float), grid.index.to_numpy(float), grid.to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    vmax = np.nanmax(np.abs(z)) if value == "inmb" else None
    mesh = ax.pcolormesh(x, y, z, shading="nearest", cmap="RdBu" if value == "inmb" else "viridis",
                         vmin=-vmax if vmax else None, vmax=vmax)
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(_OUTCOME_LABELS.get(value, value))
    if value in _MONEY_OUTCOMES:
        bar.formatter = _money(currency)
        bar.update_ticks()
    if value == "inmb" and z.shape[0] > 1 and z.shape[1] > 1 and np.nanmin(z) < 0 < np.nanmax(z):
        cs = ax.contour(x, y, z, levels=[0.0], colors="black", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "ICER = WTP"}, fontsize=8)
    ax.xaxis.set_major_formatter(_thousands())
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_xlabel(p1)
    ax.set_ylabel(p2)
    wtp = two_way_frame["wtp"].iloc[0] if "wtp" in two_way_frame.columns else None
    ax.set_title(title or "Two-way sensitivity analysis" + (f" (WTP {currency}{wtp:,.0f}/QALY)" if wtp is not None else ""))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# Probabilistic


@literal_text
def ce_plane(inc_costs, inc_qalys, path, wtp=None, title: str | None = None, currency: str = "HK$",
             label: str = "intervention vs comparator", max_points: int = 5000) -> Path:
    """Cost-effectiveness plane: PSA draws of incremental QALYs (x) and costs (y), their mean,
    and a line through the origin for each WTP (a number, a list, or ``(label, value)`` pairs)."""
    dc = np.asarray(inc_costs, dtype=float).reshape(-1)
    dq = np.asarray(inc_qalys, dtype=float).reshape(-1)
    if dc.shape != dq.shape or dc.size == 0:
        raise HtaError(f"CE plane: expected incremental costs and QALYs of the same length; found {dc.size} and {dq.size}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    shown = np.linspace(0, dc.size - 1, min(dc.size, max_points)).astype(int)
    ax.scatter(dq[shown], dc[shown], s=5, alpha=0.25, color="#4C72B0", label=f"PSA draws ({dc.size:,})")
    ax.scatter([dq.mean()], [dc.mean()], s=60, color="#C44E52", edgecolor="black", zorder=3, label="mean")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    xlim = ax.get_xlim()
    xs = np.linspace(min(xlim[0], 0.0), max(xlim[1], 0.0), 2)
    for i, (name, k) in enumerate(_wtps(wtp)):
        text = f"WTP {currency}{k:,.0f}/QALY" + (f" ({name})" if name else "")
        ax.plot(xs, k * xs, ls="--", lw=1.2, color=f"C{i + 2}", label=text)
    ax.set_xlim(xs[0], xs[-1])
    ax.yaxis.set_major_formatter(_money(currency))
    ax.set_xlabel("Incremental QALYs")
    ax.set_ylabel(f"Incremental cost ({currency})")
    ax.set_title(title or f"Cost-effectiveness plane: {label}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _wtp_axis(ax, currency):
    ax.xaxis.set_major_formatter(_money(currency))
    ax.set_xlabel(f"Willingness to pay ({currency} per QALY gained)")
    for tick in ax.get_xticklabels():
        tick.set_rotation(20)
        tick.set_ha("right")


def _mark_wtps(ax, wtp, currency):
    for name, k in _wtps(wtp):
        ax.axvline(k, color="grey", ls=":", lw=1)
        ax.annotate(name or f"{currency}{k:,.0f}", (k, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=7, color="dimgrey", rotation=90, va="top",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})


@literal_text
def ceac_plot(ceac_frame: pd.DataFrame, path, labels: Mapping[str, str] | None = None, wtp=None,
              title: str | None = None, currency: str = "HK$") -> Path:
    """CEACs from :func:`hta.analysis.psa.ceac` (index = WTP, one column per strategy); optional vertical
    lines at the reference WTPs ``wtp``."""
    plt = _pyplot()
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for col in ceac_frame.columns:
        ax.plot(ceac_frame.index.to_numpy(float), ceac_frame[col].to_numpy(float), lw=2, label=labels.get(col, col))
    _mark_wtps(ax, wtp, currency)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Probability cost-effective")
    _wtp_axis(ax, currency)
    ax.set_title(title or "Cost-effectiveness acceptability curves")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def threshold_curve_plot(curve_frame: pd.DataFrame, path, parameter: str, wtp=None, title: str | None = None,
                         currency: str = "HK$") -> Path:
    """Threshold value of ``parameter`` (ICER = WTP) against WTP, one line per structure.

    ``curve_frame`` has a ``wtp`` column and one column per structure (NaN where no threshold
    lies in the searched range); ``wtp`` marks the reference WTPs.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    x = curve_frame["wtp"].to_numpy(float)
    for col in [c for c in curve_frame.columns if c not in ("wtp", "multiple")]:
        ax.plot(x, curve_frame[col].to_numpy(float), lw=2, marker="o", ms=3, label=col)
    _mark_wtps(ax, wtp, currency)
    ax.yaxis.set_major_formatter(_money(currency))
    # a parameter label that states its unit, e.g. "price (HK$ per patient)", is not given it twice
    ax.set_ylabel(f"Threshold {parameter}" if currency in parameter else f"Threshold {parameter} ({currency})")
    _wtp_axis(ax, currency)
    ax.set_title(title or f"Threshold {parameter} by willingness to pay")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def ceaf_plot(ceaf_frame: pd.DataFrame, path, labels: Mapping[str, str] | None = None, wtp=None,
              title: str | None = None, currency: str = "HK$") -> Path:
    """CEAF from :func:`hta.analysis.psa.ceaf`: probability that the strategy with the highest expected
    NMB is cost-effective, coloured by that strategy."""
    if not {"strategy", "probability"} <= set(ceaf_frame.columns):
        raise HtaError("CEAF plot: expected a frame from hta.analysis.psa.ceaf with columns strategy, probability")
    plt = _pyplot()
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(7.5, 5))
    k = ceaf_frame.index.to_numpy(float)
    p = ceaf_frame["probability"].to_numpy(float)
    s = ceaf_frame["strategy"].astype(str).to_numpy()
    ax.plot(k, p, color="lightgrey", lw=1, zorder=1)
    for i, name in enumerate(dict.fromkeys(s)):
        mask = s == name
        ax.scatter(k[mask], p[mask], s=12, color=f"C{i}", label=f"optimal: {labels.get(name, name)}", zorder=2)
    _mark_wtps(ax, wtp, currency)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Probability the optimal strategy is cost-effective")
    _wtp_axis(ax, currency)
    ax.set_title(title or "Cost-effectiveness acceptability frontier")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def evpi_plot(evpi_frame: pd.DataFrame, path, wtp=None, title: str | None = None, currency: str = "HK$",
              per: str = "per patient") -> Path:
    """EVPI curve from :func:`hta.analysis.psa.evpi_curve` (index = WTP, column ``evpi``)."""
    if "evpi" not in evpi_frame.columns:
        raise HtaError("EVPI plot: expected a frame from hta.analysis.psa.evpi_curve with column 'evpi'")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.plot(evpi_frame.index.to_numpy(float), evpi_frame["evpi"].to_numpy(float), lw=2, color="#8172B2")
    _mark_wtps(ax, wtp, currency)
    ax.yaxis.set_major_formatter(_money(currency))
    ax.set_ylabel(f"EVPI ({currency} {per})")
    _wtp_axis(ax, currency)
    ax.set_title(title or "Expected value of perfect information")
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def convergence_plot(values, path, names: Sequence[str] | None = None, title: str | None = None,
                     ylabel: str = "Running mean", currency: str | None = "HK$") -> Path:
    """Running mean of PSA outputs against the number of draws (one line per column of ``values``,
    shape ``(n,)`` or ``(n, k)``): a flat tail shows the PSA has converged."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] == 0:
        raise HtaError(f"convergence plot: expected values of shape (n,) or (n, k); found {np.shape(values)}")
    names = list(names) if names is not None else [f"output {i + 1}" for i in range(v.shape[1])]
    plt = _pyplot()
    draws = np.arange(1, v.shape[0] + 1)
    running = np.cumsum(v, axis=0) / draws[:, None]
    fig, axes = plt.subplots(v.shape[1], 1, figsize=(7.5, 2.4 * v.shape[1] + 0.6), sharex=True, squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(draws, running[:, j], lw=1.5)
        ax.axhline(running[-1, j], color="grey", ls=":", lw=1)
        ax.set_ylabel(names[j], fontsize=8)
        if currency:
            ax.yaxis.set_major_formatter(_money(currency))
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("Number of PSA draws")
    axes[-1, 0].xaxis.set_major_formatter(_thousands())
    fig.suptitle(title or f"PSA convergence: {ylabel.lower()}")
    return _save(fig, path)


@literal_text
def sobol_bars(sobol_frame: pd.DataFrame, path, top: int | None = 15, title: str | None = None) -> Path:
    """First-order (S1) and total (ST) Sobol indices with their confidence intervals."""
    if not {"factor", "S1", "ST"} <= set(sobol_frame.columns):
        raise HtaError("Sobol chart: expected a frame from hta.analysis.gsa.sobol (factor, S1, ST)")
    plt = _pyplot()
    frame = sobol_frame.sort_values("ST", ascending=False).head(top).iloc[::-1]
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(8.5, 0.4 * len(frame) + 1.6))
    ax.barh(y + 0.2, frame["ST"], height=0.4, xerr=frame.get("ST_conf"), color="#DD8452", label="total (ST)",
            error_kw={"lw": 0.8})
    ax.barh(y - 0.2, frame["S1"], height=0.4, xerr=frame.get("S1_conf"), color="#4C72B0", label="first order (S1)",
            error_kw={"lw": 0.8})
    ax.set_yticks(y, frame["factor"].astype(str), fontsize=8)
    ax.set_xlabel("Sobol index (share of output variance)")
    outcome = sobol_frame.attrs.get("outcome", "")
    ax.set_title(title or f"Sobol sensitivity indices{': ' + _OUTCOME_LABELS.get(outcome, outcome).lower() if outcome else ''}")
    ax.axvline(0, color="black", lw=0.8)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


@literal_text
def evppi_bars(evppi_frame: pd.DataFrame, path, top: int | None = 20, title: str | None = None,
               currency: str = "HK$") -> Path:
    """EVPPI tornado: per-patient EVPPI of each parameter and group (from hta.analysis.voi.evppi_table)."""
    if not {"name", "evppi"} <= set(evppi_frame.columns):
        raise HtaError("EVPPI chart: expected a frame from hta.analysis.voi.evppi_table (name, evppi)")
    plt = _pyplot()
    frame = evppi_frame.sort_values("evppi", ascending=False).head(top).iloc[::-1]
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(8.5, 0.35 * len(frame) + 1.6))
    ax.barh(y, frame["evppi"], color="#4C72B0")
    ax.set_yticks(y, frame["name"].astype(str), fontsize=8)
    ax.set_xlabel(f"EVPPI per patient ({currency})")
    ax.xaxis.set_major_formatter(_money(currency))
    ax.set_title(title or "Expected value of partial perfect information")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# Base case


@literal_text
def survival_plot(curves: Mapping[str, tuple], path, title: str | None = None, xlabel: str = "Years",
                  km: Mapping[str, tuple] | None = None) -> Path:
    """Survival curves ``name -> (t, S)`` (``S`` of shape ``(T,)`` or ``(1, T)``); optional
    Kaplan-Meier steps ``km`` in the same form."""
    if not curves:
        raise HtaError("survival plot: expected at least one curve; found none")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for i, (name, (t, s)) in enumerate(curves.items()):
        s = np.asarray(s, dtype=float).reshape(-1)
        ax.plot(np.asarray(t, dtype=float), s, lw=2, color=f"C{i}", label=str(name))
    for i, (name, (t, s)) in enumerate((km or {}).items()):
        ax.step(np.asarray(t, float), np.asarray(s, float).reshape(-1), where="post", lw=1, ls="--",
                color=f"C{i}", alpha=0.8, label=f"{name} (KM)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Proportion surviving")
    ax.set_title(title or "Survival curves (base case)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def selection_plot(data: Mapping, path, title: str | None = None) -> Path:
    """Candidate survival curves of one endpoint against general-population survival.

    ``data`` as :func:`hta.analysis.survival_selection.curves_for_plot` gives it: ``t`` (years), ``curves``
    (family -> S), ``gp`` (general-population survival) and ``targets`` ((years, S) published points).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    t = np.asarray(data["t"], dtype=float)
    for i, (name, s) in enumerate(data["curves"].items()):
        base = "base case" in name
        ax.plot(t, np.asarray(s, float), lw=2.6 if base else 1.4, color=f"C{i}", label=str(name), zorder=3 if base else 2)
    ax.plot(t, np.asarray(data["gp"], float), color="black", ls=":", lw=1.5, label="general population (HK life table)")
    if data.get("targets"):
        tx, sy = zip(*data["targets"])
        ax.scatter(tx, sy, color="black", marker="x", s=50, zorder=4, label="published targets")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, t[-1])
    ax.set_xlabel("Years")
    ax.set_ylabel("Proportion surviving")
    ax.set_title(title or "Candidate survival models")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


@literal_text
def trace_plot(trace: pd.DataFrame, path, title: str | None = None, xlabel: str = "Years") -> Path:
    """Markov/PSM state trace as stacked areas of cohort proportions.

    ``trace``: index = time and one column per state; or a ``time_years`` column and columns
    named ``"<strategy>: <state>"`` (as in the pipeline's results), drawn one panel per strategy.
    """
    if not isinstance(trace, pd.DataFrame) or trace.empty:
        raise HtaError("trace plot: expected a non-empty DataFrame (index = time, one column per state)")
    frame = trace
    for time_column in ("time_years", "time"):
        if time_column in frame.columns:
            frame = frame.set_index(time_column)
            break
    panels: dict[str, list] = {}
    for col in frame.columns:
        strategy, sep, state = str(col).rpartition(": ")
        panels.setdefault(strategy if sep else "", []).append((col, state if sep else str(col)))
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels) + 1, 5), squeeze=False, sharey=True)
    t = frame.index.to_numpy(float)
    for ax, (strategy, columns) in zip(axes[0], panels.items()):
        values = frame[[c for c, _ in columns]].to_numpy(float).T
        ax.stackplot(t, values, labels=[name for _, name in columns], alpha=0.85)
        ax.set_ylim(0, 1)
        ax.set_xlim(t[0], t[-1])
        ax.set_xlabel(xlabel)
        if strategy:
            ax.set_title(strategy, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("Proportion of cohort")
    fig.suptitle(title or "State occupancy (base case)")
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# Budget impact


@literal_text
def budget_impact_plot(yearly: pd.DataFrame, path, title: str | None = None, currency: str = "HK$") -> Path:
    """Budget by calendar year without and with the new drug (bars) and the net impact (line).

    ``yearly``: the frame of :func:`hta.analysis.bia.yearly_table` (``calendar_year``, ``budget_without``,
    ``budget_with``, ``net_impact``); HK$, undiscounted.
    """
    needed = {"calendar_year", "budget_without", "budget_with", "net_impact"}
    if not isinstance(yearly, pd.DataFrame) or not needed <= set(yearly.columns) or yearly.empty:
        raise HtaError(f"budget impact plot: expected a frame with columns {sorted(needed)}")
    plt = _pyplot()
    years = yearly["calendar_year"].to_numpy(int)
    x = np.arange(len(years))
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.bar(x - 0.2, yearly["budget_without"], width=0.4, color="#4C72B0", label="without the new drug")
    ax.bar(x + 0.2, yearly["budget_with"], width=0.4, color="#DD8452", label="with the new drug")
    ax.plot(x, yearly["net_impact"], color="black", marker="o", lw=1.5, label="net budget impact")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(y) for y in years])
    ax.yaxis.set_major_formatter(_money(currency))
    ax.set_xlabel("Calendar year")
    ax.set_ylabel(f"Budget ({currency}, undiscounted)")
    total = float(yearly["net_impact"].sum())
    ax.set_title(title or "Budget impact")
    ax.text(0.01, 0.98, f"net impact over {len(years)} years: {_money(currency)(total)}", transform=ax.transAxes,
            va="top", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(0, 0.93), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


@literal_text
def budget_tornado(one_way: pd.DataFrame, path, title: str | None = None, currency: str = "HK$") -> Path:
    """Tornado of the net budget impact from ``hta.analysis.bia.analyse(...)["one_way"]`` (widest on top)."""
    needed = {"factor", "low_value", "high_value", "base", "at_low", "at_high"}
    if not isinstance(one_way, pd.DataFrame) or not needed <= set(one_way.columns) or one_way.empty:
        raise HtaError(f"budget tornado: expected a non-empty frame with columns {sorted(needed)}")
    frame = one_way.rename(columns={"factor": "parameter"}).assign(outcome="net_budget_impact", strategy="")
    return tornado_chart(frame, path, title=title or "Net budget impact: one-way sensitivity", currency=currency)


#: name used by hta.report.publish
survival_curves_plot = survival_plot


@literal_text
def multistate_occupancy_figure(occupancy: pd.DataFrame, *, states: Sequence[str] | None = None):
    """Occupancy curves by method: rows = strategies, columns = states (a matplotlib Figure).
    The Aalen-Johansen estimate, if present, is drawn as a black step function; methods whose
    name starts with "Individual" are dashed."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    strategies = list(dict.fromkeys(occupancy["strategy"]))
    states = list(states) if states is not None else list(dict.fromkeys(occupancy["state"]))
    fig, axes = plt.subplots(len(strategies), len(states), figsize=(4.2 * len(states), 3.2 * len(strategies)),
                             squeeze=False, sharex=True, sharey=True)
    for i, strategy in enumerate(strategies):
        for j, state in enumerate(states):
            ax = axes[i, j]
            sub = occupancy[(occupancy["strategy"] == strategy) & (occupancy["state"] == state)]
            for method, g in sub.groupby("method", sort=False):
                if method == "Aalen-Johansen":
                    ax.step(g["time"], g["probability"], where="post", color="black", lw=1.2, label=method)
                else:  # individual-level results dashed: they lie on their cohort counterparts
                    ax.plot(g["time"], g["probability"], lw=1.4, label=method,
                            ls="--" if method.lower().startswith("individual") else "-")
            ax.set_title(f"{strategy}: {state}", fontsize=9)
            ax.grid(alpha=0.3)
            if i == len(strategies) - 1:
                ax.set_xlabel("years")
            if j == 0:
                ax.set_ylabel("proportion of cohort")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
