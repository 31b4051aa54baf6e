"""Presenter of the base case: Summary, Incremental, NMB, Disaggregated, and, when the model has
them, Survival, Survival models and Trace; the survival and trace figures."""

from __future__ import annotations

from hta.excel.writer import Chart, Sheet
from hta.protocol import strategy_labels
from hta.report import figures as plots
from hta.report.section import Section

MONEY, QALY = "money", "qaly"


def _only(frame, formats):
    return {k: v for k, v in formats.items() if k in frame.columns}


def base_case(results) -> Section:
    money_cols = {c: MONEY for c in ("cost", "cost_undiscounted", "inc_cost", "icer")}
    qaly_cols = {c: QALY for c in ("qalys", "qalys_undiscounted", "lys", "lys_undiscounted", "inc_qalys")}
    model = results.model
    st = model.settings
    symbol, effect = getattr(st, "currency_symbol", "HK$"), getattr(st, "effect", "QALY")
    notes = [f"WTP: {label} = {symbol}{v:,.0f} per {effect}" for label, v in st.wtp]
    cohort = (f"start age {st.start_age:g}, {st.male_share:.1%} male; life table {st.life_table}; "
              if st.start_age is not None and st.male_share is not None else "")
    notes.append(f"Settings: horizon {st.horizon_years:g} years; cycle {st.cycle}; discounting {st.discount_costs:.1%} costs, "
                 f"{st.discount_outcomes:.1%} outcomes ({st.discount_method}); {st.within_cycle} correction; "
                 f"{cohort}currency {st.currency}")
    if effect != "QALY":
        notes.append(f"Effect: {effect}s (the columns named qalys hold {effect}s); ICER and NMB per {effect}")
    notes += list(results.notes)
    sheets = [
        Sheet("Summary", results.summary, _only(results.summary, {**money_cols, **qaly_cols})
              | {c: MONEY for c in results.summary.columns if "NMB" in c}, title=results.title, notes=notes),
        Sheet("Incremental", results.incremental, _only(results.incremental, {**money_cols, **qaly_cols}),
              title="Incremental analysis (sorted by cost; dominance and extended dominance as in docs/cea.md)"),
        Sheet("NMB", results.nmb, {c: MONEY for c in results.nmb.columns if "NMB" in c},
              title="Net monetary benefit = WTP x QALYs - costs"),
        Sheet("Disaggregated", results.disaggregated, {"discounted": "float", "undiscounted": "float"},
              title="Base case by measure, category and state (costs in HK$, LYs and QALYs in years)"),
    ]
    figures = {}
    surv_cols = [c for c in results.survival.columns if c != "time_years"]
    if surv_cols:
        sheets.append(Sheet("Survival", results.survival, {c: "prob" for c in surv_cols} | {"time_years": "float"},
                            charts=[Chart("line", "Survival curves used in the model (after the general-population floor)",
                                          "time_years", surv_cols, "Years", "Survival", y_min=0, y_max=1,
                                          x_number_format="0")],
                            title="Base-case survival at the model's time points"))
        t = results.survival["time_years"].to_numpy()
        curves = {c: (t, results.survival[c].to_numpy()) for c in surv_cols}
        figures["survival"] = lambda p: plots.survival_curves_plot(curves, p)
    if len(results.survival_specs):
        specs = results.survival_specs.copy()
        if "coefficients" in specs.columns:
            specs["coefficients"] = specs["coefficients"].map(lambda t: str(t).replace("_", " "))
        sheets.append(Sheet("Survival models", specs, {"median": "float"},
                            title="Parametric curves: distribution, coefficients (flexsurv parameterisation), median in "
                                  "the curve's time unit, source"))
    trace_cols = [c for c in results.trace.columns if c != "time_years"]
    if trace_cols:
        labels = strategy_labels(model)
        charts = []
        for s in model.strategies:
            cols = [c for c in trace_cols if c.startswith(f"{labels[s]}:")]
            if cols:
                charts.append(Chart("line", f"State occupancy: {labels[s]}", "time_years", cols, "Years",
                                    "Proportion of cohort", y_min=0, y_max=1, x_number_format="0"))
        sheets.append(Sheet("Trace", results.trace, {c: "prob" for c in trace_cols} | {"time_years": "float"},
                            charts=charts, title=f"Base-case cohort trace ({results.structure_label})"))
        figures["trace"] = lambda p: plots.trace_plot(results.trace, p)
    return Section(sheets=sheets, figures=figures)


def closing_sheets(results, info) -> list:
    """The last sheets of every results workbook: Inputs and Run info."""
    return [Sheet("Inputs", results.inputs, {}, title="Every parameter with its distribution and source"),
            Sheet("Run info", info, {}, title="Reproducibility: versions, input hashes, seed, settings")]
