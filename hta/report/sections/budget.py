"""Presenter of the budget impact analysis (``docs/bia.md``)."""

from __future__ import annotations

import pandas as pd

from hta.excel.writer import Chart, Sheet
from hta.protocol import strategy_labels
from hta.report import figures as plots
from hta.report.labels import Labeller, span
from hta.report.section import Section, money


def budget_impact(r, results) -> Section:
    inputs, out = r.inputs, r.frames
    H = inputs.horizon_years
    years = f"{inputs.calendar_years[0]}-{inputs.calendar_years[-1]}"
    labels = strategy_labels(results.model)
    new_label = labels.get(inputs.new_strategy, inputs.new_strategy)
    yearly = out["yearly"].copy()
    yearly.insert(0, "label", [str(int(y)) for y in yearly["calendar_year"]])
    money_formats = {c: "money" for c in ("budget_without", "budget_with", "net_impact", "cumulative_net_impact")}
    notes = [f"Net budget impact over {H} years ({years}): {money(out['net_total'])} "
             f"(undiscounted, HA perspective; ISPOR BIA good practice, Sullivan et al. 2014)",
             f"Per-patient costs by year since start are the model's undiscounted cost lines by category; "
             f"entry {inputs.entry}; uptake {inputs.uptake_curve}; eligible share "
             f"{r.eligible_share:.4g} of new cases; docs/bia.md"]
    year_cols = [str(int(y)) for y in inputs.calendar_years]
    ow = out["one_way"]
    tornado = ow.copy()
    human = Labeller(results.model)
    if {"item", "description"} <= set(out["inputs"].columns):
        human.learn(dict(zip(out["inputs"]["item"], out["inputs"]["description"])))
    tornado.insert(0, "label", [f"{human.text(f)} {span(lo, hi)}" for f, lo, hi in
                                zip(tornado["factor"], tornado["low_value"], tornado["high_value"])])
    sheets = [
        Sheet("BIA", yearly, money_formats | {"patients_starting": "0.0", "patients_on_new_drug": "0.0"},
              charts=[Chart("line", f"Budget with and without {new_label} (HK$, undiscounted)", "calendar_year",
                            ["budget_without", "budget_with"], "Calendar year", "Budget (HK$)",
                            x_number_format="0", x_min=float(inputs.calendar_years[0]),
                            x_max=float(inputs.calendar_years[-1]), y_min=0),
                      Chart("bar", f"Net budget impact of {new_label} by year (HK$)", "label", ["net_impact"], " ",
                            "Net budget impact (HK$)")],
              title=f"Budget impact of {new_label}: HA budget by year, worlds without and with the new drug",
              notes=notes),
        Sheet("BIA by category", out["by_category"], {c: "money" for c in year_cols + ["total"]},
              title="Budget by cost category (all strategies) in each world, and the net impact (HK$, undiscounted)"),
        Sheet("BIA detail", out["categories"], {"cost": "money"},
              title="Budget by world, strategy, cost category and calendar year (HK$, undiscounted)"),
        Sheet("BIA population", out["population"], {c: "0.0" for c in out["population"].columns
                                                   if c not in ("year", "calendar_year")},
              title="Eligible population: new cases (population x incidence) through each eligibility step; "
                    "patients starting treatment each year"),
        Sheet("BIA shares", pd.concat([out["shares"].assign(measure="market share"),
                                       out["patients"].drop(columns="total").assign(measure="patients starting")],
                                      ignore_index=True),
              {c: "0.0" for c in year_cols},
              title="Market shares and patients starting each strategy, by world and calendar year"),
        Sheet("BIA sensitivity", tornado, {"base": "money", "at_low": "money", "at_high": "money", "swing": "money"},
              charts=[Chart("bar", f"One-way sensitivity: net budget impact over {H} years", "label",
                            ["at_low", "at_high"], " ", "Net budget impact (HK$)",
                            base_value=float(out["net_total"]), width_cm=24, height_cm=12)] if len(tornado) else [],
              title=f"One-way sensitivity of the {H}-year net budget impact (population, uptake, price)"),
    ]
    scen = out["scenarios"]
    if len(out["inputs"]):
        sheets.append(Sheet("BIA inputs", out["inputs"], {},
                            title="Budget impact inputs: every item with its one-way range and source"))
    sheets.append(Sheet("BIA scenarios", scen, {c: "money" for c in scen.columns if c.startswith("net")}
                        | {"patients on new drug": "0.0"},
                        title="Budget impact scenarios: net impact by year and in total"))
    lines = [f"Budget impact of {new_label} ({years}, undiscounted, HK$):"]
    for _, r in out["yearly"].iterrows():
        lines.append(f"  {int(r['calendar_year'])}: {r['patients_starting']:6.1f} eligible, "
                     f"{r.get('patients_on_new_drug', float('nan')):5.1f} on {new_label}; "
                     f"without {money(r['budget_without'])}, with {money(r['budget_with'])}, "
                     f"net {money(r['net_impact'])}")
    lines.append(f"  net budget impact over {H} years: {money(out['net_total'])}")
    for _, r in ow.head(3).iterrows():
        lines.append(f"  one-way {human.text(r['factor'])}: {money(r['at_low'])} to {money(r['at_high'])}")
    for _, r in scen.iloc[1:].iterrows():
        lines.append(f"  scenario {r['scenario']}: {money(r[f'net over {H} years'])}")
    figures = {"bia": lambda p: plots.budget_impact_plot(out["yearly"], p, title=f"Budget impact of {new_label}")}
    if len(ow):
        figures["bia_tornado"] = lambda p: plots.budget_tornado(ow.assign(factor=[human.text(f) for f in ow["factor"]]), p,
                                                                title=f"Net budget impact over {H} years")
    return Section(sheets=sheets, figures=figures, console="\n".join(lines), console_rank=5)
