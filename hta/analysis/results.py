"""What a run produced: the base case and each analysis's typed result, as data (no files).

:func:`base_case` evaluates the model and its structural alternatives on the base-case batch
(n = 1) and builds the deterministic tables; :class:`Results` carries them with the results of
every analysis of the plan (``results.analyses``: key -> result object, in plan order). The
report (:mod:`hta.report`) renders a :class:`Results`; nothing here formats or writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.analysis.cea import incremental
from hta.engine.outcomes import Outcomes, StrategyOutcome
from hta.protocol import capabilities, model_grid, strategy_labels

#: Labels of the structure codes of :class:`hta.protocol.HasStructure`.
STRUCTURE_LABELS = {"psm": "partitioned survival", "stm": "state-transition (TSD 19)"}


@dataclass
class Results:
    """Everything a run produced, as data frames and typed results (no files).

    Money in the model's currency, QALYs and LYs in (discounted) years; undiscounted totals in
    the ``*_undiscounted`` columns; time in years since the model's start.
    """

    name: str
    title: str
    model: object
    summary: pd.DataFrame                   # per structure and strategy: costs, QALYs, LYs, increments, NMB
    incremental: pd.DataFrame               # incremental analysis per structure
    nmb: pd.DataFrame                       # NMB per strategy at each WTP
    disaggregated: pd.DataFrame             # by state and cost category (base case)
    trace: pd.DataFrame                     # base-case state occupancy over time
    survival: pd.DataFrame                  # base-case survival curves over time (years)
    survival_specs: pd.DataFrame            # the curves used, with coefficients and sources
    inputs: pd.DataFrame                    # every parameter with its source
    structure_label: str = "model"
    analyses: dict = field(default_factory=dict)   # key -> typed result, in plan order
    run_info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def structure_label(model) -> str:
    code = getattr(model, "structure", "") if capabilities(model).structure else ""
    return STRUCTURE_LABELS.get(code, code or "model")


def as_outcomes(out, strategies) -> Outcomes:
    """``out`` as :class:`hta.engine.outcomes.Outcomes`: a model may return any object with
    ``costs``, ``qalys`` and ``lys`` arrays ``(n, S)`` (and optionally ``*_undiscounted``, else
    taken equal); its totals become one line per measure (category "total", no state)."""
    if isinstance(out, Outcomes):
        return out
    arrays = {}
    for measure, attr in (("cost", "costs"), ("qaly", "qalys"), ("ly", "lys")):
        discounted = np.asarray(getattr(out, attr), dtype=float)
        undiscounted = np.asarray(getattr(out, f"{attr}_undiscounted", discounted), dtype=float)
        arrays[measure] = (discounted, undiscounted)
    results = []
    for j, s in enumerate(strategies):
        lines = {(m, "total", ""): np.stack([d[:, j], u[:, j]]) for m, (d, u) in arrays.items()}
        results.append(StrategyOutcome(strategy=s, states=(), n=arrays["cost"][0].shape[0], lines=lines))
    return Outcomes.from_list(results)


def _summary_rows(model, outcomes, label: str) -> pd.DataFrame:
    labels = strategy_labels(model)
    rows = []
    for s in model.strategies:
        r = outcomes[s]
        rows.append({"structure": label, "strategy": s, "label": labels[s],
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


def wtp_column(label: str, value: float, settings=None) -> str:
    """Name of the NMB column at one WTP, e.g. ``NMB at 1x GDP (HK$406,000/QALY)``."""
    symbol = getattr(settings, "currency_symbol", "HK$")
    effect = getattr(settings, "effect", "QALY")
    return f"NMB at {label} ({symbol}{value:,.0f}/{effect})"


def _nmb(summary: pd.DataFrame, wtp, settings=None) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        row = {"structure": r["structure"], "strategy": r["strategy"], "label": r["label"]}
        for label, value in wtp:
            row[wtp_column(label, value, settings)] = value * r["qalys"] - r["cost"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    # incremental NMB against the comparator (first strategy) of each structure
    for col in [c for c in frame.columns if c.startswith("NMB at")]:
        frame["inc " + col] = frame[col] - frame.groupby("structure")[col].transform("first")
    return frame


def _trace_frame(model, outcomes, grid) -> pd.DataFrame:
    if grid is None:
        return pd.DataFrame({"time_years": []})
    frame = pd.DataFrame({"time_years": grid.times})
    labels = strategy_labels(model)
    for s in model.strategies:
        c = outcomes[s].cohort
        if c is None:
            continue
        for k, state in enumerate(c.states):
            frame[f"{labels[s]}: {state}"] = c.trace[0, :, k]
    return frame


def _median(spec) -> float:
    from hta.survival.curves import make_curve

    return float(make_curve(spec.distribution, spec.coef).quantile(0.5)[0])


def base_case(model, *, name: str, title: str, wtp, alternatives: dict | None = None) -> Results:
    """Evaluate ``model`` and each alternative on the base case; the deterministic tables."""
    caps = capabilities(model)
    params = model.parameters
    base = params.base()
    base_out = as_outcomes(model.evaluate(base, keep_cohort=True) if caps.keeps_cohort else model.evaluate(base),
                           model.strategies)
    label = structure_label(model)
    summaries = [_summary_rows(model, base_out, label)]
    for alt_label, alt in (alternatives or {}).items():
        summaries.append(_summary_rows(alt, as_outcomes(alt.evaluate(alt.parameters.base()), alt.strategies), alt_label))
    summary = pd.concat(summaries, ignore_index=True)
    grid = model_grid(model)
    labels = strategy_labels(model)

    survival = pd.DataFrame({"time_years": grid.times if grid is not None else []})
    if caps.survival_curves:
        for (s, e), values in model.survival_curves(base).items():
            survival[f"{labels.get(s, s)}: {e}"] = values[0]

    specs = []
    for (s, e), spec in (model.survival.items() if caps.survival_specs else ()):
        specs.append({"strategy": s, "endpoint": e, "distribution": spec.distribution, "time_unit": spec.time_unit,
                      "coefficients": ", ".join(f"{n} = {v:.6g}" for n, v in zip(spec.coef_names, spec.coef)),
                      "median": float(_median(spec)), "source": spec.source})

    dis = base_out.disaggregated(0)
    dis.insert(1, "label", dis["strategy"].map(lambda s: labels.get(s, s)))

    inc = _incremental(summary)
    nmb = _nmb(summary, wtp, model.settings)
    keys = ["structure", "strategy"]
    summary = (summary.merge(inc[keys + ["inc_cost", "inc_qalys", "icer", "status"]], on=keys, how="left")
               .merge(nmb.drop(columns=["label"]), on=keys, how="left"))
    undiscounted = [c for c in summary.columns if c.endswith("_undiscounted")]
    summary = summary[[c for c in summary.columns if c not in undiscounted] + undiscounted]
    results = Results(
        name=name, title=title or name, model=model, summary=summary, incremental=inc,
        nmb=nmb, disaggregated=dis, trace=_trace_frame(model, base_out, grid),
        survival=survival, survival_specs=pd.DataFrame(specs), inputs=params.to_frame(),
        structure_label=label,
    )
    outside = getattr(params, "outside_range", None)
    results.notes.extend(outside() if callable(outside) else [])
    for st in model.strategies:
        cohort = base_out[st].cohort
        capped = cohort.report.get("capped") if cohort is not None else None
        if capped:
            results.notes.append(f"{labels.get(st, st)}: PFS above OS was capped at OS: {capped}")
    return results
