"""Presenters of the deterministic analyses: one-way (tornado), threshold, scenarios, two-way."""

from __future__ import annotations

import pandas as pd

from hta.excel.writer import Chart, Sheet
from hta.protocol import strategy_labels
from hta.report import figures as plots
from hta.report.labels import Labeller, span
from hta.report.section import Section, money


def _factor_labels(frame: pd.DataFrame, labeller: Labeller | None = None) -> pd.DataFrame:
    """A tornado frame with a leading ``factor`` column: "description (unit) (low to high)"."""
    out = frame.copy()
    name = labeller.param if labeller is not None else str
    out.insert(0, "factor", [f"{name(p)} {span(lo, hi)}" for p, lo, hi in
                             zip(out["parameter"], out["low_value"], out["high_value"])])
    return out


def one_way(r, results) -> Section:
    label, k = r.wtp_label, r.wtp
    ow, t_nmb, t_icer = r.one_way, r.tornado, r.tornado_icer
    labels = strategy_labels(results.model)
    human = Labeller(results.model)
    top = _factor_labels(t_nmb.head(15), human)
    base = float(top["base"].iloc[0]) if len(top) else 0.0
    tornado_money = {"base": "money", "at_low": "money", "at_high": "money", "swing": "money"}
    sheets = [
        Sheet("Tornado", top, tornado_money,
              charts=[Chart("bar", f"Tornado: incremental NMB at {label} (HK${k:,.0f}/QALY)", "factor",
                            ["at_low", "at_high"], " ", "Incremental NMB (HK$)", base_value=base,
                            width_cm=24, height_cm=16)],
              title=f"One-way analysis: incremental NMB at {label}, parameters between their low and high values "
                    f"(default 2.5th and 97.5th percentiles), widest swing first"),
        Sheet("Tornado ICER", _factor_labels(t_icer.head(15), human), tornado_money,
              charts=[Chart("bar", "Tornado: ICER (HK$ per QALY)", "factor", ["at_low", "at_high"], " ",
                            "ICER (HK$/QALY)", base_value=float(t_icer["base"].iloc[0]) if len(t_icer) else 0.0,
                            width_cm=24, height_cm=16)],
              title="One-way analysis: ICER at each parameter's low and high values, widest swing first"),
        Sheet("Tornado costs QALYs", pd.concat([r.tornado_cost, r.tornado_qaly], ignore_index=True), {},
              title="One-way analysis: incremental costs (HK$) and incremental QALYs, widest swing first"),
        Sheet("One-way", ow, {c: "money" for c in ow.columns if "cost" in c or "inmb" in c or "icer" in c},
              title="One-way analysis, every parameter: incremental cost, QALYs, ICER and NMB at low and high values"),
    ]
    lines = [f"One-way analysis: widest swings in incremental NMB at {label}:"]
    for _, row in t_nmb.head(5).iterrows():
        lines.append(f"  {human.param(row['parameter']):<50} {money(row['at_low'])} to {money(row['at_high'])}")
    figures = {"tornado": lambda p: plots.tornado_chart(t_nmb.head(15), p, labels={**labels, **human.params},
                                                        title=f"Incremental NMB at {label} (HK${k:,.0f}/QALY)")}
    return Section(sheets=sheets, figures=figures, console="\n".join(lines), console_rank=2)


def threshold(r, results) -> Section:
    parameter, wtp = r.parameter, r.wtp
    frame = r.table.copy()
    frame["roots"] = frame["roots"].map(lambda v: len(v)).astype(int)
    frame = frame.rename(columns={"roots": "number of prices where ICER = WTP"})
    human = Labeller(results.model)
    lines = [f"Threshold {human.param(parameter)} (ICER = WTP; base case {money(r.base_value)}):"]
    for _, row in frame.iterrows():
        lines.append(f"  at {row['wtp_label']} (HK${row['wtp']:,.0f}/QALY): "
                     + (money(row["threshold"]) if row["found"] else row["message"]))
    if r.probabilistic is not None:
        level, n = r.level, r.probabilistic_draws
        probs = []
        for (label, _), p in zip(wtp, r.probabilistic):
            probs.append(p.value if p.found else float("nan"))
            lines.append(f"  {human.param(parameter)} at which P(cost-effective) = {level:.0%} at {label}: "
                         + (money(p.value) if p.found else p.message) + f" ({n:,} PSA draws)")
        frame[f"probabilistic threshold (P = {level:.0%})"] = probs
    sheets = [Sheet("Threshold price", frame, {"wtp": "money", "threshold": "money"}
                    | {c: "money" for c in frame.columns if c.startswith("probabilistic")}, wrap=["message"],
                    title=f"Threshold analysis of {parameter}: the value at which the ICER equals each WTP "
                          f"(bracketing root-finding in [{r.lower:,.0f}, {r.upper:,.0f}])")]
    figures = {}
    if r.curve is not None:
        curve = r.curve
        multiples = list(curve["multiple"])
        basis = curve.attrs.get("basis", "")
        columns = [c for c in curve.columns if c not in ("multiple", "wtp")]
        sheets.append(Sheet("Threshold curve", curve, {"wtp": "money", "multiple": "float"} | {c: "money" for c in columns},
                            charts=[Chart("line", f"Threshold {parameter} by willingness to pay", "wtp", columns,
                                          "Willingness to pay (HK$ per QALY)", f"Threshold {parameter} (HK$)")],
                            title=f"Threshold {parameter} (ICER = WTP) at {min(multiples):g}x to {max(multiples):g}x "
                                  f"{basis}, per model structure. Which multiple the HA applies is a judgement, not "
                                  "data: the curve shows them all"))
        figures["threshold_curve"] = lambda p: plots.threshold_curve_plot(curve, p, human.param(parameter), wtp=wtp)
        first = columns[0]
        lines.append("  threshold curve (" + first + "): " + ", ".join(
            f"{m:g}x {money(v)}" for m, v in zip(curve["multiple"], curve[first])))
    return Section(sheets=sheets, figures=figures, console="\n".join(lines), console_rank=0)


def scenarios(r, results) -> Section:
    frame, parameter, wtp = r.table, r.parameter, r.wtp
    fmt = {c: "money" for c in frame.columns if c.startswith(("cost", "inc_cost", "icer", "inmb", "threshold"))}
    fmt |= {c: "qaly" for c in frame.columns if c.startswith(("qalys", "lys", "inc_qalys", "inc_lys"))}
    lines = ["Scenario analysis (ICER, HK$ per QALY" + (f"; threshold {parameter} at {wtp[0][0]}" if parameter else "")
             + "):"]
    tcol = f"threshold [{wtp[0][0]}]"
    for _, row in frame.iterrows():
        extra = f"; threshold {money(row[tcol])}" if parameter and tcol in frame.columns else ""
        lines.append(f"  {row['scenario']:<40} {money(row['icer'])}{extra}")
    sheets = [Sheet("Scenarios", frame, fmt, title="Scenario analysis: deterministic results of each scenario")]
    return Section(sheets=sheets, console="\n".join(lines), console_rank=3)


def two_way(r, results) -> Section:
    frame, p1, p2, label, k = r.table, r.p1, r.p2, r.wtp_label, r.wtp
    human = Labeller(results.model)
    grid = frame.pivot_table(index=p2, columns=p1, values="inmb", aggfunc="first")
    grid.columns = [f"{human.param(p1)} = {v:,.0f}" if float(v).is_integer() else f"{human.param(p1)} = {v:,.4g}"
                    for v in grid.columns]
    grid = grid.reset_index()
    sheets = [Sheet("Two-way", grid, {c: "money" for c in grid.columns if c != p2} | {p2: "#,##0"},
                    title=f"Two-way analysis: incremental NMB at {label} (HK${k:,.0f}/QALY) over {p1} (columns) "
                          f"and {p2} (rows); positive = cost-effective")]
    return Section(sheets=sheets, figures={
        "two_way": lambda p: plots.two_way_heatmap(frame.rename(columns={p1: human.param(p1), p2: human.param(p2)}),
                                                   human.param(p1), human.param(p2), p,
                                                   title=f"Incremental NMB at {label}")})
