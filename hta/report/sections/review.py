"""Presenters of the review analyses (:mod:`hta.analysis.review_requests`): the PFS and OS
crossing report, the PSA with and without structural uncertainty, and the NICE DSU TSD 19
multi-state comparison (sheets, figures and console lines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hta.excel.writer import Chart, Sheet
from hta.report.figures import literal_text
from hta.report.section import Section, money


def _save(fig, path) -> Path:
    from hta.report.figures import save_png

    return save_png(fig, path)


# -- crossing ---------------------------------------------------------------------------------

_CROSSING_HEADERS = {"batch": "Batch", "label": "Strategy", "earlier": "Earlier curve", "later": "Later curve",
                     "draws": "Parameter sets", "threshold": "Threshold (proportion)",
                     "n_over": "Sets above threshold", "share_over": "Share above threshold",
                     "largest_gap": "Largest gap (proportion)", "time": "Time of largest gap (years)",
                     "sample": "Set with largest gap (row)"}


def crossing_lines(table: pd.DataFrame) -> list:
    """One console line per batch, strategy and curve that rises above the later curve; one line
    per strategy and curve that never does, in any batch."""
    out = []
    key = ["label", "earlier", "later"]
    never = table.groupby(key, sort=False)["largest_gap"].transform("max") <= 0
    for (label, earlier, later), g in table[never].groupby(key, sort=False):
        out.append(f"  {label}: {earlier} never above {later} in any batch ({', '.join(g['batch'])}: "
                   f"{int(g['draws'].sum()):,} parameter sets)")
    for r in table[~never].to_dict("records"):
        where = f" at {r['time']:.3g} years" if np.isfinite(r["time"]) else ""
        gap = f"largest gap {r['largest_gap']:.4f}{where}" if r["largest_gap"] > 0 else "never above"
        out.append(f"  {r['batch']}, {r['label']}: {r['earlier']} above {r['later']} by > {r['threshold']:g} in "
                   f"{r['n_over']:,} of {r['draws']:,} parameter sets ({r['share_over']:.2%}); {gap}")
    return out


def crossing(r, results) -> Section:
    table = r.table
    frame = table[list(_CROSSING_HEADERS)].rename(columns=_CROSSING_HEADERS)
    formats = {"Parameter sets": "int", "Threshold (proportion)": "prob", "Sets above threshold": "int",
               "Share above threshold": "0.00%", "Largest gap (proportion)": "float",
               "Time of largest gap (years)": "0.000", "Set with largest gap (row)": "int"}
    notes = ["The engine caps PFS at OS where PFS rises above it (the progressed state cannot be negative); this "
             "sheet counts, before the cap, the parameter sets in which PFS exceeds OS by more than the threshold "
             "at some time, and the largest excess.",
             f"Batches: {', '.join(r.batches)} (the PSA and Sobol batches are the run's own draws, seed {r.seed}).",
             "A state-transition structure has no rows: its OS follows from PFS, so the curves cannot cross."]
    sheet = Sheet("PFS and OS crossing", frame, formats, notes=notes,
                  title=f"PFS and OS crossing in every batch of the run: share of parameter sets with PFS above OS "
                        f"by more than {r.threshold:g}, and the largest gap")
    if table.empty:
        console = "PFS and OS crossing: no partitioned-survival curves in this model (nothing to cap)"
    else:
        console = "\n".join(["PFS and OS crossing (uncapped, before the engine's cap):"] + crossing_lines(table))
    return Section(sheets=[sheet], console=console, console_rank=2)


# -- structural uncertainty -------------------------------------------------------------------


def structural_psa(r, results) -> Section:
    names, strategies = r.names, r.strategies
    new = names[-1]
    s = r.summary
    headers = {"analysis": "Analysis", "wtp_label": "WTP", "wtp": "WTP per QALY",
               **{f"P(CE) {x}": f"P({x} cost-effective)" for x in names},
               "evpi_per_patient": "EVPI per patient", "evpi_population": "EVPI, population",
               "inc_cost": f"Incremental cost, {new}", "inc_qalys": f"Incremental QALYs, {new}",
               "draws": "Draws"}
    summary = s[list(headers)].rename(columns=headers)
    formats = {"WTP per QALY": "money", "EVPI per patient": "money", "EVPI, population": "money",
               f"Incremental cost, {new}": "money", f"Incremental QALYs, {new}": "qaly", "Draws": "int",
               **{f"P({x} cost-effective)": "prob" for x in names}}
    means = r.means.rename(columns={"analysis": "Analysis", "alternative": "Structural alternative",
                                    "weight": "Weight", "draws": "Draws",
                                    **{f"cost_{x}": f"Mean cost, {n}" for x, n in zip(strategies, names)},
                                    **{f"effect_{x}": f"Mean QALYs, {n}" for x, n in zip(strategies, names)}})
    means = means[["Analysis"] + [c for c in means.columns if c != "Analysis"]]
    mean_formats = {"Weight": "prob", "Draws": "int", **{c: "money" for c in means.columns if c.startswith("Mean cost")},
                    **{c: "qaly" for c in means.columns if c.startswith("Mean QALYs")}}
    # CEAC and EVPI over the WTP grid, without and with, side by side
    wide = None
    for analysis, g in r.curve.groupby("analysis", sort=False):
        short = "without" if analysis.startswith("without") else "with"
        part = g[["wtp", f"p_ce_{strategies[-1]}", "evpi"]].rename(
            columns={"wtp": "WTP per QALY", f"p_ce_{strategies[-1]}": f"P({new} cost-effective), {short}",
                     "evpi": f"EVPI per patient, {short}"}).reset_index(drop=True)
        wide = part if wide is None else wide.merge(part, on="WTP per QALY")
    p_cols = [c for c in wide.columns if c.startswith("P(")]
    e_cols = [c for c in wide.columns if c.startswith("EVPI")]
    reused = (f"The alternative '{r.reused}' reuses the plan's PSA draws." if r.reused else
              "Every alternative ran its own PSA.")
    notes = [f"Model averaging (Bojke et al. 2009): each alternative's PSA ({r.draws:,} draws, seed {r.seed}) weighted "
             "by the structural weights below (labelled inputs); P(cost-effective) and EVPI of the mixture are "
             "computed without sampling the structure.",
             f"Without structural uncertainty: the base structure '{r.base}' alone. {reused}",
             "Weights: " + "; ".join(f"{k} {v:.3f}" for k, v in r.weights.items())]
    sheets = [
        Sheet("PSA structural", summary, formats, notes=notes,
              title="The PSA without and with structural uncertainty: P(cost-effective) and EVPI at each WTP"),
        Sheet("PSA structural CEAC", wide, {"WTP per QALY": "money", **{c: "prob" for c in p_cols},
                                            **{c: "money" for c in e_cols}},
              charts=[Chart("line", f"P({new} cost-effective) without and with structural uncertainty",
                            "WTP per QALY", p_cols, "WTP per QALY", "Probability cost-effective", y_min=0, y_max=1)],
              title="CEAC and per-patient EVPI over a range of WTP values, without and with structural uncertainty"),
        Sheet("PSA structural means", means, mean_formats,
              title="Mean costs and QALYs of each structural alternative and of the model average"),
    ]
    curve = wide

    @literal_text
    def draw(path):
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for c in p_cols:
            ax[0].plot(curve["WTP per QALY"], curve[c], label=c.split(", ")[-1] + " structural uncertainty")
        for c in e_cols:
            ax[1].plot(curve["WTP per QALY"], curve[c], label=c.split(", ")[-1] + " structural uncertainty")
        for a, y in ((ax[0], "P(cost-effective)"), (ax[1], "EVPI per patient")):
            a.set_xlabel("WTP per QALY")
            a.set_ylabel(y)
            a.grid(alpha=0.3)
            for label, k in results.model.settings.wtp:
                a.axvline(k, color="grey", lw=0.8, ls=":")
        from matplotlib.ticker import FuncFormatter

        for a in ax:
            a.xaxis.set_major_formatter(FuncFormatter(lambda x, _p=None: f"{x:,.0f}"))
            a.tick_params(axis="x", labelrotation=30)
        ax[1].yaxis.set_major_formatter(FuncFormatter(lambda x, _p=None: f"{x:,.0f}"))
        ax[0].set_ylim(0, 1)
        ax[0].set_title(f"{new}: CEAC")
        ax[1].set_title("EVPI")
        ax[0].legend(fontsize=8)
        fig.tight_layout()
        return _save(fig, path)

    lines = [f"PSA with structural uncertainty (model averaging over {len(r.weights)} structures, {r.draws:,} draws "
             "each):"]
    for row in s.to_dict("records"):
        lines.append(f"  {row['analysis']:<31} at {row['wtp_label']}: P({new} cost-effective) = "
                     f"{row[f'P(CE) {new}']:.1%}; EVPI {money(row['evpi_per_patient'])} per patient")
    return Section(sheets=sheets, figures={"psa_structural": draw}, console="\n".join(lines), console_rank=1)


# -- TSD 19 multi-state comparison ------------------------------------------------------------


def multistate_comparison(r, results) -> Section:
    cur = r.currency
    t = r.table.copy()
    states = [c for c in t.columns if c.startswith("years ")]
    headers = {"method": "Method", "strategy": "Strategy",
               **{c: f"Mean years {c[len('years '):]}" for c in states},
               "life_years": "Life-years", "costs": f"Costs ({cur}, discounted)", "qalys": "QALYs (discounted)",
               "mc_se_life_years": "Monte Carlo SE, life-years", "mc_se_qalys": "Monte Carlo SE, QALYs",
               "inc_costs": f"Incremental costs ({cur})", "inc_qalys": "Incremental QALYs",
               "icer": f"ICER ({cur} per QALY)"}
    frame = t[[c for c in headers if c in t.columns]].rename(columns=headers)
    cash = f'"{cur} "#,##0'  # the result's own currency (the workbook's "money" format is HK$)
    formats = {**{headers[c]: "ly" for c in states}, "Life-years": "ly", f"Costs ({cur}, discounted)": cash,
               "QALYs (discounted)": "qaly", "Monte Carlo SE, life-years": "float", "Monte Carlo SE, QALYs": "float",
               f"Incremental costs ({cur})": cash, "Incremental QALYs": "qaly", f"ICER ({cur} per QALY)": cash}
    horizon = results.model.settings.horizon_years
    sheets = [Sheet("TSD 19 comparison", frame, {k: v for k, v in formats.items() if k in frame.columns},
                    title=f"NICE DSU TSD 19: partitioned survival, cohort state-transition and individual-level "
                          f"multi-state results side by side (per patient, within {horizon:g} years)",
                    notes=["Restricted mean years in each state and life-years are undiscounted; costs and QALYs "
                           "discounted. Individual-level rows carry the Monte Carlo standard error of the simulated "
                           f"mean. The ICER is {r.comparator} vs {r.reference} within each method."])]
    if r.fits is not None:
        fits = r.fits.rename(columns={"clock": "Clock", "trans": "Transition number", "transition": "Transition",
                                      "distribution": "Family", "loglik": "Log-likelihood", "aic": "AIC",
                                      "bic": "BIC", "converged": "Converged"})
        sheets.append(Sheet("Multi-state fits", fits, {"Transition number": "int", "Log-likelihood": "0.000",
                                                        "AIC": "0.0", "BIC": "0.0"},
                            title="Parametric fits per transition and clock (arm covariate on the location parameter): "
                                  "log-likelihood, AIC, BIC"))
    occ = r.occupancy.rename(columns={"method": "Method", "strategy": "Strategy", "time": "Time (years)",
                                      "state": "State", "probability": "Proportion of cohort"})
    sheets.append(Sheet("Multi-state occupancy", occ, {"Time (years)": "0.00", "Proportion of cohort": "prob"},
                        title="State occupancy by method and the Aalen-Johansen estimate from the patient data"))
    occupancy, states_all, horizon_fig = r.occupancy, list(r.states), r.figure_horizon

    @literal_text
    def draw(path):
        from hta.report.figures import multistate_occupancy_figure as comparison_figure

        fig = comparison_figure(occupancy[occupancy["time"] <= horizon_fig], states=states_all)
        return _save(fig, path)

    lines = ["TSD 19 comparison (per patient; ICER within each method):"]
    for row in t.to_dict("records"):
        if row["strategy"] == r.comparator:
            lines.append(f"  {row['method']:<34} life-years {row['life_years']:.3f}, QALYs {row['qalys']:.3f}; "
                         f"ICER {cur} {row['icer']:,.0f} per QALY")
    return Section(sheets=sheets, figures={"multistate_occupancy": draw}, console="\n".join(lines), console_rank=1)
