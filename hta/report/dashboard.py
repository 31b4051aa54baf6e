"""The decision dashboard: the first sheet of a results workbook, one A4 landscape page.

Per model structure the costs, QALYs, life-years, increments and ICER; the incremental NMB at
each WTP; and, each only when its analysis ran, the threshold price at each WTP, P(cost-effective)
and EVPI, the net budget impact, the five widest one-way swings, a CEAC (else the tornado) as a
native chart, and the plausibility warnings (:mod:`hta.report.plausibility`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.analysis import negotiation_requests as N
from hta.analysis import requests as R
from hta.analysis.results import wtp_column
from hta.excel.writer import Block, Chart, Sheet
from hta.protocol import strategy_labels
from hta.report.labels import span
from hta.report.section import money
from hta.report.section import money as _money

NAME = "Decision"


def first(results, kind):
    """The first analysis result of type ``kind`` in ``results`` (None when that analysis did not run)."""
    return next((r for r in results.analyses.values() if isinstance(r, kind)), None)


def headline(results) -> list[str]:
    """Sentences a committee reads first: the base-case ICER, the threshold price, the budget impact."""
    lines = []
    settings = results.model.settings
    symbol = getattr(settings, "currency_symbol", "HK$")
    effect = getattr(settings, "effect", "QALY")

    def money(x):
        return _money(x, symbol)

    inc = results.incremental
    base = inc["structure"].iloc[0]
    for _, r in inc[inc["structure"] == base].iterrows():
        if r["status"] == "frontier" and np.isfinite(r["icer"]):
            comp = strategy_labels(results.model).get(r["comparator"], r["comparator"])
            lines.append(f"Base case ({base}): {r['label']} costs {money(r['inc_cost'])} more than {comp} and gains "
                         f"{r['inc_qalys']:.3f} {effect}s: ICER {money(r['icer'])} per {effect} gained.")
        elif r["status"] not in ("frontier",):
            lines.append(f"Base case ({base}): {r['label']} is {r['status']} ({r['note']}).")
    thr = first(results, R.ThresholdResult)
    if isinstance(thr, R.ThresholdResult):
        parts = [f"{money(row['threshold'])} at {row['wtp_label']}" if row["found"] else
                 f"none at {row['wtp_label']}" for _, row in thr.table.iterrows()]
        lines.append(f"Threshold price (ICER = WTP): {'; '.join(parts)} (base-case price {money(thr.base_value)}).")
    psa = first(results, R.PsaAnalysis)
    if isinstance(psa, R.PsaAnalysis):
        d_cost, d_qaly = psa.incremental_draws()
        parts = [f"{float(np.mean(k * d_qaly - d_cost > 0)):.1%} at {label}" for label, k in psa.wtp]
        lines.append(f"Probability that {psa.names[-1]} is cost-effective ({psa.n:,} PSA draws): {'; '.join(parts)}.")
    bia = first(results, R.BudgetImpactResult)
    if isinstance(bia, R.BudgetImpactResult):
        years = bia.inputs.calendar_years
        lines.append(f"Net budget impact over {bia.inputs.horizon_years} years ({years[0]}-{years[-1]}, undiscounted): "
                     f"{money(bia.net_total)}.")
    cap = first(results, N.CapacityBudgetResult)
    if isinstance(cap, N.CapacityBudgetResult):
        lines.append(f"With the treatment capacity of {cap.terms.slots_per_year:g} patients a year and the waiting list: "
                     f"{money(cap.net_with)} over {cap.horizon_years} years ({money(cap.net_without)} without the limit).")
    payers = first(results, N.PayerResultsResult)
    if isinstance(payers, N.PayerResultsResult):
        lines.append(f"Who pays: the HA bears {payers.ha_share:.1%} of the incremental cost ({money(payers.inc_cost_ha)} "
                     f"of {money(payers.inc_cost_total)} per patient, discounted); ICER on HA costs alone "
                     f"{money(payers.icer_ha)} per QALY gained.")
    return lines


def dashboard(results, warnings: list[str], labeller) -> Sheet:
    """The Decision sheet of ``results`` (``warnings``: plausibility warnings to show)."""
    wtp = list(results.model.settings.wtp)
    blocks = [Block("Decision in brief", lines=headline(results))]
    inc = results.incremental
    summary = results.summary
    rows = []
    for _, r in summary.iterrows():
        i = inc[(inc["structure"] == r["structure"]) & (inc["strategy"] == r["strategy"])]
        i = i.iloc[0] if len(i) else None
        icer = np.nan
        if i is not None and np.isfinite(i["icer"]):
            icer = float(i["icer"])
        elif i is not None and i["status"] != "frontier":
            icer = str(i["status"])
        rows.append({"Model structure": r["structure"], "Strategy": r["label"], "Costs (HK$)": r["cost"],
                     "QALYs": r["qalys"], "Life-years": r["lys"],
                     "Incremental costs (HK$)": r.get("inc_cost", np.nan),
                     "Incremental QALYs": r.get("inc_qalys", np.nan),
                     "ICER (HK$ per QALY gained)": icer})
    frame = pd.DataFrame(rows)
    blocks.append(Block("Base-case results (discounted)", frame,
                        {"Costs (HK$)": "money", "QALYs": "qaly", "Life-years": "ly", "Incremental costs (HK$)": "money",
                         "Incremental QALYs": "qaly", "ICER (HK$ per QALY gained)": "money"}))
    nmb = results.nmb
    new_rows = nmb.groupby("structure", sort=False).tail(1)
    settings = results.model.settings
    symbol = getattr(settings, "currency_symbol", "HK$")
    cols = {"inc " + wtp_column(label, v, settings): f"Incremental NMB at {label} ({symbol})" for label, v in wtp}
    table = new_rows[["structure", "label", *cols]].rename(columns={"structure": "Model structure",
                                                                   "label": "Strategy", **cols})
    blocks.append(Block("Net monetary benefit vs the comparator (WTP x incremental QALYs - incremental costs)", table,
                        {c: "money" for c in cols.values()}))
    thr = first(results, R.ThresholdResult)
    if isinstance(thr, R.ThresholdResult):
        t = pd.DataFrame({"Willingness to pay": thr.table["wtp_label"],
                          "WTP (HK$ per QALY)": thr.table["wtp"].astype(float),
                          "Threshold price (HK$)": [
                              float(v) if f else np.nan for v, f in zip(thr.table["threshold"], thr.table["found"])]})
        blocks.append(Block(f"Threshold price: the {labeller.param(thr.parameter)} at which the ICER equals the WTP "
                            f"(base case {money(thr.base_value)})", t, {c: "money" for c in t.columns[1:]}))
    psa = first(results, R.PsaAnalysis)
    chart_frame, charts = pd.DataFrame(), []
    if isinstance(psa, R.PsaAnalysis):
        d_cost, d_qaly = psa.incremental_draws()
        t = pd.DataFrame({"Willingness to pay": [label for label, _ in psa.wtp],
                          f"P({psa.names[-1]} cost-effective)": [float(np.mean(k * d_qaly - d_cost > 0))
                                                                  for _, k in psa.wtp],
                          "EVPI per patient (HK$)": psa.evpi["evpi_per_patient"].to_numpy(float),
                          "EVPI for the population (HK$)": psa.evpi["evpi_population"].to_numpy(float)})
        blocks.append(Block(f"Uncertainty: probabilistic analysis of {psa.n:,} draws", t,
                            {t.columns[1]: "pct", "EVPI per patient (HK$)": "money",
                             "EVPI for the population (HK$)": "money"}))
        ceac = psa.ceac.reset_index()
        chart_frame = pd.DataFrame({"WTP (HK$ per QALY)": ceac["wtp"].astype(float),
                                    **{n: ceac[n].astype(float) for n in psa.names}})
        charts.append(Chart("line", "Cost-effectiveness acceptability curves", "WTP (HK$ per QALY)", list(psa.names),
                            "Willingness to pay (HK$ per QALY)", "Probability cost-effective", y_min=0, y_max=1,
                            y_number_format="0%", x_number_format="money", anchor="J3", width_cm=16, height_cm=11))
    bia = first(results, R.BudgetImpactResult)
    if isinstance(bia, R.BudgetImpactResult):
        yearly = bia.frames["yearly"]
        t = pd.DataFrame([{**{str(int(y)): float(v) for y, v in zip(yearly["calendar_year"], yearly["net_impact"])},
                           f"Total over {bia.inputs.horizon_years} years": float(bia.net_total)}])
        t.insert(0, "HK$, undiscounted", "Net budget impact")
        blocks.append(Block("Budget impact (HA perspective)", t, {c: "money" for c in t.columns[1:]}))
    ow = first(results, R.OneWayResult)
    if isinstance(ow, R.OneWayResult) and len(ow.tornado):
        top = ow.tornado.head(5)
        t = pd.DataFrame({"Parameter (low to high value)": [f"{labeller.param(p)} {span(lo, hi)}" for p, lo, hi
                                                            in zip(top["parameter"], top["low_value"], top["high_value"])],
                          "Incremental NMB at the low value (HK$)": top["at_low"].astype(float).to_numpy(),
                          "Incremental NMB at the high value (HK$)": top["at_high"].astype(float).to_numpy()})
        blocks.append(Block(f"Main drivers: the five widest one-way swings of incremental NMB at {ow.wtp_label}", t,
                            {c: "money" for c in t.columns[1:]}))
        if not charts:
            chart_frame = t.set_axis(["Parameter", "At the low value (HK$)", "At the high value (HK$)"], axis=1)
            charts.append(Chart("bar", f"Tornado: incremental NMB at {ow.wtp_label} (HK$)", "Parameter",
                                list(chart_frame.columns[1:]), " ", "Incremental NMB (HK$)",
                                base_value=float(top["base"].iloc[0]), anchor="J3", width_cm=16, height_cm=11))
    blocks.append(Block("Warnings", lines=list(warnings) or ["None: every plausibility check passed."]))
    return Sheet(NAME, chart_frame, charts=charts, title=f"Decision summary: {results.title}", blocks=blocks,
                 formats={c: ("money" if "HK$" in c or c in ("WTP (HK$ per QALY)",) else "pct")
                          for c in chart_frame.columns if c not in ("Parameter",)})
