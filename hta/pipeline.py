"""The analyses a scenario script asks for, run on one model, gathered into a :class:`Results`.

``analyse(model, ...)`` runs the base case (a batch of one), the structural alternatives, and the
requested sensitivity analyses (each one batch, or chunks of one), and returns plain data frames
for the console, the results workbook and the figures. It never writes files: see
:mod:`hta.report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.cea import incremental
from hta.errors import HtaError


@dataclass
class Results:
    """Everything a run produced, as data frames and small dicts (no files)."""

    name: str
    title: str
    model: object
    summary: pd.DataFrame                   # per structure and strategy: costs, QALYs, LYs
    incremental: pd.DataFrame               # incremental analysis per structure
    nmb: pd.DataFrame                       # NMB per strategy at each WTP
    disaggregated: pd.DataFrame             # by state and cost category (base case)
    trace: pd.DataFrame                     # base-case state occupancy over time
    survival: pd.DataFrame                  # base-case survival curves over time (years)
    survival_specs: pd.DataFrame            # the curves used, with coefficients and sources
    inputs: pd.DataFrame                    # every parameter with its source
    analyses: dict = field(default_factory=dict)   # name -> dict of frames and scalars
    run_info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _labels(model) -> dict:
    return dict(getattr(model, "strategy_labels", {}) or {})


def _summary_rows(model, outcomes, structure_label: str) -> pd.DataFrame:
    labels = _labels(model)
    rows = []
    for s in model.strategies:
        r = outcomes[s]
        rows.append({"structure": structure_label, "strategy": s, "label": labels.get(s, s),
                     "cost": float(r.costs[0]), "qalys": float(r.qalys[0]), "lys": float(r.lys[0]),
                     "cost_undiscounted": float(r.costs_undiscounted[0]),
                     "qalys_undiscounted": float(r.qalys_undiscounted[0]),
                     "lys_undiscounted": float(r.lys_undiscounted[0])})
    return pd.DataFrame(rows)


def _incremental(summary: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for structure, block in summary.groupby("structure", sort=False):
        table = block[["strategy", "label", "cost", "qalys", "lys"]].rename(columns={"qalys": "effect"})
        inc = incremental(table)
        inc.insert(0, "structure", structure)
        parts.append(inc.rename(columns={"effect": "qalys", "inc_effect": "inc_qalys"}))
    return pd.concat(parts, ignore_index=True)


def _nmb(summary: pd.DataFrame, wtp) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        row = {"structure": r["structure"], "strategy": r["strategy"], "label": r["label"]}
        for label, value in wtp:
            row[f"NMB at {label} (HK${value:,.0f}/QALY)"] = value * r["qalys"] - r["cost"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    # incremental NMB against the comparator (first strategy) of each structure
    for col in [c for c in frame.columns if c.startswith("NMB at")]:
        frame["inc " + col] = frame[col] - frame.groupby("structure")[col].transform("first")
    return frame


def _trace_frame(model, outcomes, grid) -> pd.DataFrame:
    frame = pd.DataFrame({"time_years": grid.times})
    labels = _labels(model)
    for s in model.strategies:
        c = outcomes[s].cohort
        if c is None:
            continue
        for k, state in enumerate(c.states):
            frame[f"{labels.get(s, s)}: {state}"] = c.trace[0, :, k]
    return frame


def analyse(model, *, name: str, title: str = "", alternatives: dict | None = None,
            tornado: bool = False, threshold: dict | None = None, psa: dict | None = None,
            scenarios: list | None = None, sobol: dict | None = None, seed: int | None = None,
            progress: bool = False) -> Results:
    """Run the base case and the requested analyses of ``model``.

    Parameters
    ----------
    model : a model following the protocol of ``docs/architecture.md``
    name, title : str
        File stem and human title of the results.
    alternatives : dict label -> model, optional
        Structural alternatives reported beside the base case (e.g. the state-transition model).
    tornado : bool
        One-way analysis of every parameter between its low and high values.
    threshold : dict, optional
        ``{"parameter": "c_eqcel_price", "lower": 0, "upper": 10e6}``: the value at which the ICER
        equals each WTP, and (with ``psa``) the value at which the probability of being
        cost-effective reaches 50%.
    psa : dict, optional
        ``{"draws": 5000, "chunk_size": 2000, "evppi": True, "workers": None, "scheduler": None}``.
    scenarios : list of hta.scenario_analysis.Scenario, optional
    sobol : dict, optional
        ``{"n_base": 1024}``.
    seed : int, optional
        PSA seed (default: the workbook's ``seed`` setting, else 1).
    """
    t0 = time.perf_counter()
    settings = model.settings
    wtp = list(settings.wtp)
    if not wtp:
        raise HtaError("settings: expected at least one WTP (wtp_1); found none")
    seed = seed if seed is not None else (settings.seed if getattr(settings, "seed", None) is not None else 1)

    params = model.parameters
    base = params.base()
    base_out = model.evaluate(base, keep_cohort=True)
    structure_label = {"psm": "partitioned survival", "stm": "state-transition (TSD 19)"}.get(
        getattr(model, "structure", ""), getattr(model, "structure", "model"))
    summaries = [_summary_rows(model, base_out, structure_label)]
    for label, alt in (alternatives or {}).items():
        summaries.append(_summary_rows(alt, alt.evaluate(alt.parameters.base()), label))
    summary = pd.concat(summaries, ignore_index=True)
    grid = model.grid

    survival = pd.DataFrame({"time_years": grid.times})
    if hasattr(model, "survival_curves"):
        labels = _labels(model)
        for (s, e), values in model.survival_curves(base).items():
            survival[f"{labels.get(s, s)}: {e}"] = values[0]

    specs = []
    for (s, e), spec in getattr(model, "survival", {}).items():
        specs.append({"strategy": s, "endpoint": e, "distribution": spec.distribution, "time_unit": spec.time_unit,
                      "coefficients": ", ".join(f"{n} = {v:.6g}" for n, v in zip(spec.coef_names, spec.coef)),
                      "median": float(_median(spec)), "source": spec.source})

    dis = base_out.disaggregated(0)
    labels = _labels(model)
    dis.insert(1, "label", dis["strategy"].map(lambda s: labels.get(s, s)))

    inc = _incremental(summary)
    nmb = _nmb(summary, wtp)
    keys = ["structure", "strategy"]
    summary = (summary.merge(inc[keys + ["inc_cost", "inc_qalys", "icer", "status"]], on=keys, how="left")
               .merge(nmb.drop(columns=["label"]), on=keys, how="left"))
    undiscounted = [c for c in summary.columns if c.endswith("_undiscounted")]
    summary = summary[[c for c in summary.columns if c not in undiscounted] + undiscounted]
    results = Results(
        name=name, title=title or name, model=model, summary=summary, incremental=inc,
        nmb=nmb, disaggregated=dis, trace=_trace_frame(model, base_out, grid),
        survival=survival, survival_specs=pd.DataFrame(specs), inputs=params.to_frame(),
    )
    for st in model.strategies:
        capped = base_out[st].cohort.report.get("capped") if base_out[st].cohort is not None else None
        if capped:
            results.notes.append(f"{labels.get(st, st)}: PFS above OS was capped at OS: {capped}")

    _run_analyses(results, model, wtp=wtp, tornado=tornado, threshold=threshold, psa=psa,
                  scenarios=scenarios, sobol=sobol, seed=seed, progress=progress)
    results.run_info.update({"seed": seed, "elapsed_seconds": time.perf_counter() - t0})
    return results


def _median(spec) -> float:
    from hta.survival.curves import make_curve

    return float(make_curve(spec.distribution, spec.coef).quantile(0.5)[0])


def _run_analyses(results, model, *, wtp, tornado, threshold, psa, scenarios, sobol, seed, progress):
    """Hook for the sensitivity analyses (one-way, threshold, PSA, VOI, scenarios, Sobol)."""
    return None
