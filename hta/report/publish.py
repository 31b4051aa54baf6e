"""Writing :class:`hta.analysis.plan.Results`: the console table, the results workbook and figures.

Everything is computed before anything is written; figures go to a temporary folder and the
workbook to a temporary file, and both are moved into place only when all of them succeeded, so
an error never leaves partial output.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from hta import __version__
from hta.errors import HtaError

MONEY, QALY = "money", "qaly"


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(start: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=start,
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "not available"


def run_info(results, input_files, *, seed, started: _dt.datetime, elapsed: float) -> pd.DataFrame:
    """The Run info sheet: versions, input hashes, seed, settings, timestamp, elapsed time."""
    rows = [("hta version", __version__),
            ("git commit", git_commit(Path(__file__).resolve().parent)),
            ("Python", platform.python_version()),
            ("numpy", np.__version__),
            ("pandas", pd.__version__),
            ("platform", platform.platform()),
            ("scenario", results.name),
            ("model", getattr(results.model, "name", "")),
            ("structure", getattr(results.model, "structure", "")),
            ("seed", seed),
            ("started (UTC)", started.strftime("%Y-%m-%d %H:%M:%S")),
            ("elapsed (s)", round(elapsed, 3))]
    for f in input_files:
        rows.append((f"SHA-256 of {Path(f).name}", sha256(f)))
    settings = results.model.settings
    for f in dataclasses.fields(settings):
        if f.name == "sources":
            continue
        value = getattr(settings, f.name)
        if f.name == "wtp":
            for label, v in value:
                rows.append((f"setting: WTP {label}", v))
        else:
            rows.append((f"setting: {f.name}", value))
    for key, value in results.run_info.items():
        rows.append((key, value))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def console_table(results) -> str:
    """A concise base-case table for the terminal."""
    lines = [results.title, ""]
    s = results.summary
    inc = results.incremental
    wtp = results.model.settings.wtp
    for structure, block in s.groupby("structure", sort=False):
        lines.append(f"{structure}")
        lines.append(f"  {'strategy':<26}{'cost (HK$)':>14}{'QALYs':>9}{'LYs':>9}")
        for _, r in block.iterrows():
            lines.append(f"  {r['label']:<26}{r['cost']:>14,.0f}{r['qalys']:>9.3f}{r['lys']:>9.3f}")
        for _, r in inc[inc["structure"] == structure].iterrows():
            if r["status"] == "frontier" and not np.isnan(r["icer"]):
                lines.append(f"  {r['label']} vs {results.model.strategy_labels.get(r['comparator'], r['comparator'])}: "
                             f"incremental cost HK${r['inc_cost']:,.0f}, QALYs {r['inc_qalys']:.3f}, "
                             f"ICER HK${r['icer']:,.0f} per QALY")
            elif r["status"] != "frontier":
                lines.append(f"  {r['label']}: {r['status']} ({r['note']})")
        nmb = results.nmb[results.nmb["structure"] == structure]
        for label, value in wtp:
            col = f"inc NMB at {label} (HK${value:,.0f}/QALY)"
            last = nmb.iloc[-1]
            lines.append(f"  incremental NMB of {last['label']} at {label} (HK${value:,.0f}/QALY): HK${last[col]:,.0f}")
        lines.append("")
    order = ["threshold", "psa", "tornado", "scenarios", "sobol", "bia"]
    for name in sorted(results.analyses, key=lambda k: order.index(k) if k in order else len(order)):
        analysis = results.analyses[name]
        text = analysis.get("console")
        if text:
            lines.append(text)
            lines.append("")
    for note in results.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines).rstrip() + "\n"


def _sheets(results, info: pd.DataFrame):
    from hta.excel.writer import Chart, Sheet

    money_cols = {c: MONEY for c in ("cost", "cost_undiscounted", "inc_cost", "icer")}
    qaly_cols = {c: QALY for c in ("qalys", "qalys_undiscounted", "lys", "lys_undiscounted", "inc_qalys")}
    wtp = results.model.settings.wtp
    st = results.model.settings
    notes = [f"WTP: {label} = HK${v:,.0f} per QALY" for label, v in wtp]
    notes.append(f"Settings: horizon {st.horizon_years:g} years; cycle {st.cycle}; discounting {st.discount_costs:.1%} costs, "
                 f"{st.discount_outcomes:.1%} outcomes ({st.discount_method}); {st.within_cycle} correction; start age "
                 f"{st.start_age:g}, {st.male_share:.1%} male; life table {st.life_table}; currency {st.currency}")
    notes += list(results.notes)
    def only(frame, formats):
        return {k: v for k, v in formats.items() if k in frame.columns}

    sheets = [
        Sheet("Summary", results.summary, only(results.summary, {**money_cols, **qaly_cols})
              | {c: MONEY for c in results.summary.columns if "NMB" in c}, title=results.title, notes=notes),
        Sheet("Incremental", results.incremental, only(results.incremental, {**money_cols, **qaly_cols}),
              title="Incremental analysis (sorted by cost; dominance and extended dominance as in docs/cea.md)"),
        Sheet("NMB", results.nmb, {c: MONEY for c in results.nmb.columns if "NMB" in c},
              title="Net monetary benefit = WTP x QALYs - costs"),
        Sheet("Disaggregated", results.disaggregated, {"discounted": "float", "undiscounted": "float"},
              title="Base case by measure, category and state (costs in HK$, LYs and QALYs in years)"),
    ]
    surv_cols = [c for c in results.survival.columns if c != "time_years"]
    sheets.append(Sheet("Survival", results.survival, {c: "prob" for c in surv_cols} | {"time_years": "float"},
                        charts=[Chart("line", "Survival curves used in the model (after the general-population floor)",
                                      "time_years", surv_cols, "Years", "Survival", y_min=0, y_max=1, x_number_format="0")],
                        title="Base-case survival at the model's time points"))
    sheets.append(Sheet("Survival models", results.survival_specs, {"median": "float"},
                        title="Parametric curves: distribution, coefficients (flexsurv parameterisation), median in the curve's time unit, source"))
    trace_cols = [c for c in results.trace.columns if c != "time_years"]
    charts = []
    for s in results.model.strategies:
        label = results.model.strategy_labels.get(s, s)
        cols = [c for c in trace_cols if c.startswith(f"{label}:")]
        if cols:
            charts.append(Chart("line", f"State occupancy: {label}", "time_years", cols, "Years", "Proportion of cohort",
                                y_min=0, y_max=1, x_number_format="0"))
    sheets.append(Sheet("Trace", results.trace, {c: "prob" for c in trace_cols} | {"time_years": "float"},
                        charts=charts, title=f"Base-case cohort trace ({getattr(results.model, 'structure', '')})"))
    for name, analysis in results.analyses.items():
        for sheet in analysis.get("sheets", []):
            sheets.append(sheet)
    sheets.append(Sheet("Inputs", results.inputs, {}, title="Every parameter with its distribution and source"))
    sheets.append(Sheet("Run info", info, {}, title="Reproducibility: versions, input hashes, seed, settings"))
    return sheets


def write(results, out_dir, *, input_files=(), seed=None, started=None, elapsed=0.0, figures=True) -> list[Path]:
    """Write the workbook (and figures) of ``results`` into ``out_dir``; return the paths written."""
    from hta.excel.writer import write_workbook

    out_dir = Path(out_dir)
    started = started or _dt.datetime.now(_dt.timezone.utc)
    info = run_info(results, input_files, seed=seed, started=started, elapsed=elapsed)
    sheets = _sheets(results, info)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".hta-", dir=out_dir.parent if out_dir.parent.exists() else None))
    except OSError as err:
        raise HtaError(f"output folder '{out_dir}': expected a writable location; found {err.strerror}") from None
    try:
        written = []
        if figures:
            for fig_name, make in _figure_makers(results).items():
                make(staging / f"{results.name}_{fig_name}.png")
        workbook_tmp = write_workbook(staging / f"{results.name}.xlsx", sheets)
        about = {k: v for k, v in zip(info["item"], info["value"])
                 if k in ("hta version", "git commit", "scenario", "started (UTC)") or k.startswith("SHA-256")}
        for analysis in results.analyses.values():
            for file_name, make in analysis.get("files", {}).items():
                make(staging / f"{results.name}_{file_name}", about)
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted(staging.iterdir()):
            if f.suffix == ".png" or (f != workbook_tmp and f.suffix == ".xlsx"):
                target = out_dir / f.name
                shutil.move(str(f), target)
                written.append(target)
        target = out_dir / workbook_tmp.name
        shutil.move(str(workbook_tmp), target)
        written.append(target)
        return written
    except OSError as err:
        raise HtaError(f"output folder '{out_dir}': could not write the results ({err})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _figure_makers(results) -> dict:
    """name -> function(path) drawing one PNG."""
    makers = {}
    try:
        from hta.report import figures as plots
    except ImportError:  # plotting module not available
        return makers
    if hasattr(plots, "survival_curves_plot"):
        t = results.survival["time_years"].to_numpy()
        curves = {c: (t, results.survival[c].to_numpy()) for c in results.survival.columns if c != "time_years"}
        makers["survival"] = lambda p: plots.survival_curves_plot(curves, p)
    if hasattr(plots, "trace_plot"):
        makers["trace"] = lambda p: plots.trace_plot(results.trace, p)
    for name, analysis in results.analyses.items():
        for fig_name, make in analysis.get("figures", {}).items():
            makers[fig_name] = make
    return makers
