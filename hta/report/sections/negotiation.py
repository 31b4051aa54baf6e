"""Presenters of the negotiation analyses (issue 22; ``docs/agreements.md``, ``docs/bia.md``):
results by payer, the price-negotiation grid, the budget impact with capacity, and EVSI.

Plain :class:`hta.excel.writer.Sheet` tables with human column headers and a number format for
every numeric column (money in HK$, shares as percentages, probabilities to 3 decimals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.excel.writer import Chart, Sheet
from hta.report.section import Section, money

__all__ = ["capacity_budget", "evsi", "payers", "price_negotiation"]


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.1%}"


# -- results by payer -------------------------------------------------------------------------


def payers(r, results) -> Section:
    t = r.table.reset_index().rename(columns={"index": "Strategy"})
    payer_cols = {p: f"{p[:1].upper() + p[1:]} (HK$)" for p in r.payers}
    t = t.rename(columns=payer_cols | {"HA perspective": "HA perspective (HK$)",
                                       "health system perspective": "Health-system perspective (HK$)",
                                       "HA share of increment": "HA share of the incremental cost"})
    money_cols = list(payer_cols.values()) + ["HA perspective (HK$)", "Health-system perspective (HK$)"]
    notes = [f"HA share of the incremental cost: {_pct(r.ha_share)} ({money(r.inc_cost_ha)} of {money(r.inc_cost_total)} "
             f"per patient, discounted). ICER from the HA's side (HA costs only): {money(r.icer_ha)} per QALY; "
             f"health system (every payer): {money(r.icer_total)} per QALY.",
             "Payers: HA; SF/CCF = Samaritan Fund / Community Care Fund (means-tested safety net of self-financed "
             "items); patient. Shares per cost line from the workbook's Payers sheet (with their sources); a line "
             "'not infused: X' is paid like X."]
    by = r.by_category.rename(columns={"strategy": "Strategy", "category": "Cost line", "total": "Total (HK$)"}
                              | payer_cols)
    sheets = [
        Sheet("Results by payer", t, {c: "money" for c in money_cols} | {"HA share of the incremental cost": "pct"},
              title="Discounted cost per patient by payer, base case (HK$), and the increment against the comparator",
              notes=notes),
        Sheet("Costs by payer and line", by, {c: "money" for c in ["Total (HK$)"] + list(payer_cols.values())},
              title="Discounted cost per patient by cost line and payer, base case (HK$)"),
    ]
    shares = ", ".join(f"{p} {money(r.table.iloc[-1][p])}" for p in r.payers)
    console = (f"Results by payer (base case, discounted, per patient): incremental cost {money(r.inc_cost_total)} = "
               f"{shares}; HA share {_pct(r.ha_share)}\n"
               f"  ICER HA perspective {money(r.icer_ha)}/QALY; health-system perspective {money(r.icer_total)}/QALY")
    return Section(sheets=sheets, console=console, console_rank=6)


# -- price negotiation ------------------------------------------------------------------------


def price_negotiation(r, results) -> Section:
    grid = r.grid
    wtp = r.wtp
    short = dict(zip(r.schemes["scheme"], r.schemes["short"]))
    discounts = sorted(grid["discount"].unique())
    wide = pd.DataFrame({"Discount off the list price": discounts})
    formats = {"Discount off the list price": "pct"}
    chart_cols = []
    for scheme, block in grid.groupby("scheme", sort=False):
        name = short.get(scheme, scheme)
        first = block.drop_duplicates("discount").set_index("discount").reindex(discounts)
        cols = {f"{name}: expected payment per patient (HK$)": first["payment"].to_numpy(),
                f"{name}: ICER (HK$/QALY)": first["icer"].to_numpy()}
        for label, k in wtp:
            at = block[np.isclose(block["wtp"], k)].set_index("discount").reindex(discounts)
            cols[f"{name}: incremental NMB at {label} (HK$)"] = at["inmb"].to_numpy()
            cols[f"{name}: P(cost-effective) at {label}"] = at["p_ce"].to_numpy()
        for c, v in cols.items():
            wide[c] = v
            formats[c] = "prob" if "P(cost-effective)" in c else "money"
        chart_cols.append(f"{name}: incremental NMB at {wtp[0][0]} (HK$)")
    thr = r.thresholds.pivot_table(index="scheme", columns="wtp", values="threshold_discount", sort=False)
    thr_frame = pd.DataFrame({"Scheme": [short.get(s, s) for s in thr.index], "Terms": list(thr.index)})
    thr_formats = {}
    for label, k in wtp:
        col = f"Threshold discount at {label} (HK${k:,.0f}/QALY)"
        thr_frame[col] = [float(thr.loc[s, k]) if k in thr.columns else np.nan for s in thr.index]
        thr_formats[col] = "pct"
    info = r.schemes.set_index("scheme")
    thr_frame["Billed"] = [info.loc[s, "billed"] for s in thr.index]
    thr_frame["Expected share of the net price paid"] = [float(info.loc[s, "mean payment factor"]) for s in thr.index]
    thr_formats["Expected share of the net price paid"] = "pct"
    notes = [f"{r.new} vs {r.comparator}; list price HK${r.list_price:,.0f} per patient; means and P(cost-effective) over "
             f"the first {r.draws:,} PSA draws (same seed), re-evaluated for the acquisition line and the survival curves.",
             "Expected payment per patient = (1 - discount) x list x the scheme's expected, discounted share of the price "
             "(outcome-based instalments paid only if the condition holds in each draw's own curves; docs/agreements.md).",
             "A negative threshold discount is a premium the price could bear at that WTP."]
    if r.patients_note:
        notes.append(f"Price-volume schemes count the patients {r.patients_note}.")
    sheets = [
        Sheet("Price negotiation", wide, formats,
              charts=[Chart("line", f"Incremental NMB at {wtp[0][0]} by discount and scheme (HK$; 0 at the threshold "
                            "discount)", "Discount off the list price", chart_cols, "Discount off the list price",
                            "Incremental NMB (HK$)", x_number_format="pct", width_cm=22, height_cm=11)],
              title=f"Price negotiation: {r.new} under each managed-entry scheme and confidential discount", notes=notes),
        Sheet("Threshold discounts", thr_frame, thr_formats,
              title="Discount off the list price at which the ICER equals each WTP, by scheme", wrap=["Terms"]),
    ]
    lines = [f"Price negotiation ({r.new}; list HK${r.list_price:,.0f}; {r.draws:,} PSA draws): threshold discount"]
    for _, row in thr_frame.iterrows():
        parts = "; ".join(f"{label} {_pct(row[f'Threshold discount at {label} (HK${k:,.0f}/QALY)'])}" for label, k in wtp)
        lines.append(f"  {row['Scheme']:<24} {parts}")
    label, k = wtp[0]
    for scheme, block in grid[np.isclose(grid["wtp"], k)].groupby("scheme", sort=False):
        at = block.set_index("discount")
        d = 0.5 if 0.5 in at.index else at.index[len(at) // 2]
        lines.append(f"  {short.get(scheme, scheme):<24} at {d:.0%} off: payment {money(at.loc[d, 'payment'])}, "
                     f"ICER {money(at.loc[d, 'icer'])}/QALY, P(CE) at {label} {at.loc[d, 'p_ce']:.3f}")
    return Section(sheets=sheets, console="\n".join(lines), console_rank=7)


# -- budget impact with capacity --------------------------------------------------------------


def capacity_budget(r, results) -> Section:
    y = r.yearly.copy()
    y.insert(0, "Year", [int(v) for v in y.pop("calendar year")])
    names = {"demand": "Patients wanting eque-cel (no limit)", "treated": "Patients treated within capacity",
             "died waiting": "Died while waiting", "progressed waiting": "Progressed beyond eligibility while waiting",
             "waiting at year end": "On the waiting list at year end",
             "net impact without limit": "Net budget impact without the limit (HK$)",
             "fixed centre costs": "Fixed centre costs (HK$)",
             "net impact with limit": "Net budget impact with the limit (HK$)",
             "HA net impact without limit": "HA net budget impact without the limit (HK$)",
             "HA net impact with limit": "HA net budget impact with the limit (HK$)"}
    y = y.rename(columns=names)
    formats = {"Year": "0"} | {c: ("money" if "(HK$)" in c else "0.0") for c in y.columns if c != "Year"}
    t = r.terms
    H = r.horizon_years
    flows = r.yearly
    notes = [f"Net budget impact over {H} years: {money(r.net_without)} without the capacity limit, {money(r.net_with)} "
             f"with it (undiscounted; with = fewer patients treated + fixed centre costs).",
             f"Capacity: {t.slots_per_year:g} treatment slots a year; on the list each month {t.p_death_month:.1%} die and "
             f"{t.p_progression_month:.1%} progress beyond eligibility; fixed centre costs HK${t.fixed_cost_per_year:,.0f} a "
             f"year; {t.initial_waiting:g} waiting at listing (sheet Capacity, with sources).",
             f"Over {H} years: {flows['demand'].sum():.1f} patients want eque-cel, {flows['treated'].sum():.1f} are treated, "
             f"{flows['died waiting'].sum():.1f} die and {flows['progressed waiting'].sum():.1f} progress while waiting, "
             f"{flows['waiting at year end'].iloc[-1]:.1f} still wait at the end; those not treated stay on current "
             "therapies in the budget (docs/bia.md)."]
    if r.note:
        notes.append(f"HA columns: the HA's share of each cost line (sheet Payers); {r.note}.")
    money_y = [names["net impact without limit"], names["net impact with limit"]]
    sheet = Sheet("Budget impact with capacity", y, formats,
                  charts=[Chart("line", "Net budget impact with and without the capacity limit (HK$, undiscounted)",
                                "Year", money_y, "Calendar year", "Net budget impact (HK$)", x_number_format="0")],
                  title=f"{H}-year budget impact with and without the capacity limit, with the waiting list", notes=notes)
    lines = [f"Budget impact with capacity ({t.slots_per_year:g} slots a year): over {H} years "
             f"{money(r.net_without)} without the limit, {money(r.net_with)} with it (incl. fixed centre costs)"]
    for _, row in flows.iterrows():
        lines.append(f"  {row['calendar year']}: {row['demand']:5.1f} want it, {row['treated']:5.1f} treated, "
                     f"{row['died waiting'] + row['progressed waiting']:4.1f} left the list, "
                     f"{row['waiting at year end']:4.1f} waiting; net {money(row['net impact with limit'])}")
    return Section(sheets=[sheet], console="\n".join(lines), console_rank=8)


# -- EVSI -------------------------------------------------------------------------------------


def evsi(r, results) -> Section:
    t = r.table.rename(columns={
        "price": "Price", "months": "Further follow-up (months)", "wtp_label": "WTP", "wtp": "WTP (HK$/QALY)",
        "evsi": "EVSI per patient (HK$)", "evsi_sd": "EVSI Monte Carlo SD (HK$)",
        "evppi_os": "EVPPI of the OS parameters per patient (HK$)", "evpi": "EVPI per patient (HK$)",
        "population_evsi": "Population EVSI (HK$)", "population_evppi_os": "Population EVPPI of OS (HK$)",
        "population_evpi": "Population EVPI (HK$)"})
    formats = {c: "money" for c in t.columns if "(HK$" in c} | {"Further follow-up (months)": "0"}
    patients = "" if r.patients is None else ", ".join(f"{v:.1f}" for v in r.patients)
    notes = [f"Study: further follow-up of {r.endpoint}: {r.enrolled} patients followed a median {r.current_followup:g} "
             f"months; {r.at_risk} alive then under the base-case curve (S = {r.survival_now:.3f}) are followed 12, 24 or "
             f"36 more months; summary = deaths and person-time in the extra follow-up (hta.analysis.evsi.SurvivalFollowUp).",
             f"EVSI by regression on the {r.draws:,}-draw PSA (Strong et al. 2015, method '{r.method}', as R's voi::evsi); "
             f"mean over {len(r.seeds)} simulated studies (SD = Monte Carlo error). EVPPI: the OS coefficients "
             f"({', '.join(r.parameters)}).",
             f"Population values x {r.discounted_patients:.1f} discounted patients: those {r.patients_note} "
             f"({patients} a year), discounted at the outcome rate (year 1 undiscounted).",
             "At the model's price the decision at 1x GDP per capita is almost certain (little value in waiting); at the "
             "plain discount's threshold price it is most uncertain, which bounds what further OS data can be worth."]
    sheet = Sheet("EVSI", t, formats, title=f"Value of further {r.endpoint} follow-up: EVSI beside the EVPPI of the OS "
                  "parameters and the EVPI, per patient and for the population", notes=notes)
    lines = [f"EVSI of further {r.endpoint} follow-up ({r.at_risk} at risk; population x {r.discounted_patients:.1f} "
             "discounted patients):"]
    for (price, wl), block in r.table.groupby(["price", "wtp_label"], sort=False):
        vals = ", ".join(f"{m:g} mo {money(v)}" for m, v in zip(block["months"], block["evsi"]))
        first = block.iloc[0]
        lines.append(f"  {price}, {wl}: EVSI per patient {vals}; EVPPI(OS) {money(first['evppi_os'])}; "
                     f"EVPI {money(first['evpi'])}; population EVSI at {block['months'].iloc[-1]:g} mo "
                     f"{money(block['population_evsi'].iloc[-1])}")
    return Section(sheets=[sheet], console="\n".join(lines), console_rank=9)
