"""Presenters of the probabilistic analyses: PSA (CEAC, CEAF, EVPI, EVPPI) and Sobol indices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.excel.writer import Chart, Sheet
from hta.report import figures as plots
from hta.report.labels import Labeller
from hta.report.section import Section, money


def psa(r, results) -> Section:
    res, names, wtp, n, seed = r.result, r.names, r.wtp, r.n, r.seed
    draws = pd.DataFrame({"draw": np.arange(n)})
    for j, x in enumerate(names):
        draws[f"cost: {x}"] = res.costs[:, j]
        draws[f"QALYs: {x}"] = res.qalys[:, j]
    draws["incremental QALYs"] = res.qalys[:, -1] - res.qalys[:, 0]
    draws["incremental cost"] = res.costs[:, -1] - res.costs[:, 0]
    # WTP lines of the CE plane (two points each: cost = WTP x QALYs over the plotted QALY range)
    q = draws["incremental QALYs"].to_numpy(float)
    ends = np.array([min(0.0, float(q.min())), max(0.0, float(q.max()))])
    line_x = np.full(n, np.nan)
    line_x[:2] = ends
    draws["WTP line: incremental QALYs"] = line_x
    lines = []
    for label, k in wtp:
        y = np.full(n, np.nan)
        y[:2] = k * ends
        draws[f"WTP {label} (HK${k:,.0f}/QALY)"] = y
        lines.append(("WTP line: incremental QALYs", f"WTP {label} (HK${k:,.0f}/QALY)"))
    ceac_sheet = r.ceac.reset_index()
    evpi_curve = r.evpi_curve
    evpi_sheet = evpi_curve.reset_index() if "wtp" not in evpi_curve.columns else evpi_curve
    sheets = [
        Sheet("PSA summary", r.summary, {}, title=f"Probabilistic sensitivity analysis: {n:,} draws, seed {seed} "
                                                   f"(means and 95% intervals)"),
        Sheet("PSA incremental", r.incremental, {}, title=f"Incremental results vs {names[0]} over the PSA draws"),
        Sheet("EVPI", r.evpi, {"wtp": "money", "evpi_per_patient": "money", "evpi_population": "money"},
              title="Expected value of perfect information per patient and for the population "
                    "(annual population x years, discounted)"),
        Sheet("EVPI curve", evpi_sheet, {c: "money" for c in evpi_sheet.columns},
              charts=[Chart("line", "EVPI per patient", evpi_sheet.columns[0], [evpi_sheet.columns[1]],
                            "WTP (HK$ per QALY)", "EVPI per patient (HK$)")],
              title="Per-patient EVPI over a range of WTP values"),
        Sheet("CEAF", r.ceaf.reset_index(), {"wtp": "money", "probability": "prob", "expected_nmb": "money"},
              title="Cost-effectiveness acceptability frontier: the strategy with the highest expected NMB "
                    "and its probability of being cost-effective"),
        Sheet("CEAC", ceac_sheet, {c: "prob" for c in names} | {"wtp": "money"},
              charts=[Chart("line", "Cost-effectiveness acceptability curves", "wtp", names, "WTP (HK$ per QALY)",
                            "Probability cost-effective", y_min=0, y_max=1)],
              title="Probability that each strategy has the highest net monetary benefit"),
        Sheet("PSA draws", draws, {c: "money" for c in draws.columns if "cost" in c or c.startswith("WTP ")}
              | {c: "qaly" for c in draws.columns if "QALYs" in c},
              charts=[Chart("scatter", f"Cost-effectiveness plane: {names[-1]} vs {names[0]}", "incremental QALYs",
                            ["incremental cost"], "Incremental QALYs gained", "Incremental cost (HK$)",
                            lines=lines)],
              title="Per-draw costs and QALYs (reproducible from the seed)"),
    ]
    ceac, ceaf = r.ceac, r.ceaf
    figures = {
        "ce_plane": lambda p: plots.ce_plane(draws["incremental cost"], draws["incremental QALYs"], p, wtp=wtp,
                                             label=f"{names[-1]} vs {names[0]}"),
        "ceac": lambda p: plots.ceac_plot(ceac, p, wtp=wtp),
        "ceaf": lambda p: plots.ceaf_plot(ceaf, p, wtp=wtp),
        "evpi": lambda p: plots.evpi_plot(evpi_curve, p, wtp=wtp),
        "psa_convergence": lambda p: plots.convergence_plot(
            np.column_stack([draws["incremental cost"], draws["incremental QALYs"]]), p,
            names=["incremental cost", "incremental QALYs"]),
    }
    lines = [f"PSA ({n:,} draws, seed {seed}, {res.elapsed:.2f} s): mean incremental cost "
             f"{money(draws['incremental cost'].mean())}, QALYs {draws['incremental QALYs'].mean():.3f}"]
    for (label, k), row in zip(wtp, r.evpi.to_dict("records")):
        p_ce = float((k * draws["incremental QALYs"] - draws["incremental cost"] > 0).mean())
        lines.append(f"  at {label}: P({names[-1]} cost-effective) = {p_ce:.1%}; EVPI {money(row['evpi_per_patient'])} "
                     f"per patient, {money(row['evpi_population'])} for the population")
    if r.evppi is not None:
        sheet, fig, text = _evppi(r.evppi, wtp[0], Labeller(results.model))
        sheets.append(sheet)
        figures["evppi"] = fig
        lines.append(text)
    return Section(sheets=sheets, figures=figures, console="\n".join(lines), console_rank=1)


def _evppi(frame: pd.DataFrame, wtp_item, human: Labeller):
    label, k = wtp_item
    top = frame.head(20)
    sheet = Sheet("EVPPI", frame, {"evppi": "money", "share_of_evpi": "pct"},
                  charts=[Chart("bar", f"EVPPI per patient at {label}", "name", ["evppi"], " ", "HK$ per patient",
                                width_cm=24, height_cm=20)],
                  title=f"Expected value of partial perfect information per patient at {label} (HK${k:,.0f}/QALY): "
                        "regression method of Strong, Oakley & Brennan (2014); GAM for <= 4 parameters, GP above")
    fig = lambda p: plots.evppi_bars(top.assign(name=[human.text(x) for x in top["name"]]), p,  # noqa: E731
                                     title=f"EVPPI per patient at {label}")
    lines = [f"  EVPPI at {label} (largest):"] + [f"    {human.text(r['name']):<50} {money(r['evppi'])}" for _, r in frame.head(5).iterrows()]
    return sheet, fig, "\n".join(lines)


def sobol(r, results) -> Section:
    frame, label = r.table, r.wtp_label
    sheet = Sheet("Sobol", frame, {c: "float" for c in ("S1", "S1_conf", "ST", "ST_conf")},
                  charts=[Chart("bar", f"Sobol total-order indices, incremental NMB at {label}", "factor", ["ST"], " ",
                                "ST", width_cm=24, height_cm=14)],
                  title=f"Sobol indices of incremental NMB at {label} ({frame.attrs.get('n_evaluations', 0):,} model "
                        "runs; SALib; correlated blocks as groups)")
    lines = [f"Sobol total-order indices at {label} (largest):"] + [
        f"  {Labeller(results.model).text(row['factor']):<50} ST {row['ST']:.3f} (S1 {row['S1']:.3f})"
        for _, row in frame.head(5).iterrows()]
    human = Labeller(results.model)
    labelled = frame.assign(factor=[human.text(x) for x in frame["factor"]])
    return Section(sheets=[sheet], figures={"sobol": lambda p: plots.sobol_bars(labelled, p)}, console="\n".join(lines),
                   console_rank=4)
