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
            scenarios: list | None = None, sobol: dict | None = None, two_way: dict | None = None,
            bia=None, verify: bool | dict = False, cheers: dict | None = None, seed: int | None = None,
            progress: bool = False, survival_selection: list | None = None, excel_model: bool = False) -> Results:
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
        cost-effective reaches 50%. ``"curve": {"multiples": [0.5, 1, 2, 3]}`` (multiples of the
        first WTP) or ``{"wtp": [...]}`` adds the threshold at each of those WTPs for the model and
        every alternative structure (sheet ``Threshold curve``, a chart and a figure).
    psa : dict, optional
        ``{"draws": 5000, "chunk_size": None, "evppi": True, "workers": None, "scheduler": None}``
        (``chunk_size`` None: from memory; ``workers`` None: every core).
    scenarios : list of hta.scenario_analysis.Scenario, optional
    sobol : dict, optional
        ``{"n_base": 1024}``.
    two_way : dict, optional
        ``{"p1": name, "values1": [...], "p2": name, "values2": [...]}``: a grid of two parameters
        (incremental NMB at the first WTP, and the ICER).
    bia : hta.bia.BudgetInputs or dict, optional
        Budget impact analysis: the workbook's budget inputs (``read_inputs(path).budget``), or
        ``{"inputs": BudgetInputs, "scenarios": [{"name", "description", "budget": {item: value},
        "parameters": {name: value}}, ...]}``. Per-patient costs by year come from the model's own
        undiscounted cost lines (see :mod:`hta.bia` and ``docs/bia.md``).
    verify : bool or dict
        Run the model verification checks of :mod:`hta.verify` on the model and each
        alternative (``{"psa_draws": 2000}`` sets the draws of its PSA check): a ``Verification``
        sheet, and a console summary. A failed check is reported, not raised.
    cheers : dict, optional
        ``{item number: where it is reported}`` for the CHEERS 2022 items the run cannot answer
        itself (see :func:`hta.cheers.checklist`): adds a ``CHEERS 2022`` sheet, filled in after
        every other analysis.
    seed : int, optional
        PSA seed (default: the workbook's ``seed`` setting, else 1).
    survival_selection : list of hta.survival.selection.Candidate, optional
        Every candidate family per endpoint (NICE DSU TSD 14): fit, extrapolated survival against
        the general population, restricted mean and the ICER with each (sheet ``Survival
        selection`` and a figure per endpoint).
    excel_model : bool
        Also write the base case as a formula-live Excel model, ``<name>_model.xlsx`` beside the
        results workbook (``hta export-excel``, ``docs/excel_model.md``); the model needs ``excel_book()``.
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

    if psa is not None and psa is not False:
        psa = dict(psa) if isinstance(psa, dict) else {}
    _run_analyses(results, model, wtp=wtp, tornado=tornado, threshold=threshold, psa=psa,
                  scenarios=scenarios, sobol=sobol, seed=seed, progress=progress, alternatives=alternatives)
    if two_way:
        results.analyses["two_way"] = _two_way(model, wtp, two_way)
    if bia is not None:
        results.analyses["bia"] = _bia(model, bia)
    if survival_selection:
        results.analyses["survival_selection"] = _survival_selection(model, survival_selection)
    if excel_model:
        results.analyses["excel_model"] = _excel_model(model, name)
    if verify:
        models = {structure_label: model, **(alternatives or {})}
        results.analyses["verification"] = verification(models, verify if isinstance(verify, dict) else {}, seed)
    if cheers is not None:
        results.analyses["cheers"] = _cheers(results, cheers)
    results.run_info.update({"seed": seed, "elapsed_seconds": time.perf_counter() - t0})
    return results


def _cheers(results, statements):
    from hta.cheers import NOT_REPORTED, PARTLY, REPORTED, checklist
    from hta.excel.writer import STATUS_FILLS, Sheet

    table = checklist(results, statements)
    counts = table["status"].value_counts()
    fills = {REPORTED: STATUS_FILLS["pass"], PARTLY: "FFEB9C", NOT_REPORTED: STATUS_FILLS["fail"]}
    sheet = Sheet("CHEERS 2022", table, {}, wrap=["topic", "where"], fills={"status": fills},
                  title="CHEERS 2022 checklist (Husereau et al., Value Health 2022;25:3-9): where each item is "
                        "reported, in this workbook or the submission's documents")
    console = (f"CHEERS 2022 (sheet 'CHEERS 2022'): {counts.get(REPORTED, 0)} items reported, "
               f"{counts.get(PARTLY, 0)} partly, {counts.get(NOT_REPORTED, 0)} not reported")
    return {"table": table, "sheets": [sheet], "console": console}


def _median(spec) -> float:
    from hta.survival.curves import make_curve

    return float(make_curve(spec.distribution, spec.coef).quantile(0.5)[0])


def _money(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"HK${x:,.0f}"


def _run_analyses(results, model, *, wtp, tornado, threshold, psa, scenarios, sobol, seed, progress,
                  alternatives=None):
    """Run the requested analyses; each adds frames, sheets, figures and console text."""
    if tornado:
        results.analyses["tornado"] = _tornado(model, wtp)
    psa_result = None
    if psa:
        psa_result = _psa(results, model, wtp, psa, seed, progress)
    if threshold:
        results.analyses["threshold"] = _threshold(model, wtp, threshold, psa, seed)
        if threshold.get("curve"):
            structures = {results.summary["structure"].iloc[0]: model, **(alternatives or {})}
            _add_threshold_curve(results.analyses["threshold"], structures, wtp, threshold)
    if scenarios:
        results.analyses["scenarios"] = _scenarios(model, wtp, scenarios, threshold)
    if sobol:
        results.analyses["sobol"] = _sobol(model, wtp, sobol, seed)
    return psa_result


def _tornado(model, wtp):
    from hta import dsa, plots
    from hta.excel.writer import Chart, Sheet

    label, k = wtp[0]
    ow = dsa.one_way(model, wtp=k)
    t_nmb = dsa.tornado(ow, "inmb")
    t_icer = dsa.tornado(ow, "icer")
    labels = dict(getattr(model, "strategy_labels", {}) or {})
    top = _factor_labels(t_nmb.head(15))
    base = float(top["base"].iloc[0]) if len(top) else 0.0
    sheets = [
        Sheet("Tornado", top, {"base": "money", "at_low": "money", "at_high": "money", "swing": "money"},
              charts=[Chart("bar", f"Tornado: incremental NMB at {label} (HK${k:,.0f}/QALY)", "factor",
                            ["at_low", "at_high"], " ", "Incremental NMB (HK$)", base_value=base,
                            width_cm=24, height_cm=16)],
              title=f"One-way analysis: incremental NMB at {label}, parameters between their low and high values "
                    f"(default 2.5th and 97.5th percentiles), widest swing first"),
        Sheet("Tornado ICER", _factor_labels(t_icer.head(15)), {"base": "money", "at_low": "money", "at_high": "money",
                                                               "swing": "money"},
              charts=[Chart("bar", "Tornado: ICER (HK$ per QALY)", "factor", ["at_low", "at_high"], " ",
                            "ICER (HK$/QALY)", base_value=float(t_icer["base"].iloc[0]) if len(t_icer) else 0.0,
                            width_cm=24, height_cm=16)],
              title="One-way analysis: ICER at each parameter's low and high values, widest swing first"),
        Sheet("Tornado costs QALYs", pd.concat([dsa.tornado(ow, "inc_cost"), dsa.tornado(ow, "inc_qaly")],
                                               ignore_index=True), {},
              title="One-way analysis: incremental costs (HK$) and incremental QALYs, widest swing first"),
        Sheet("One-way", ow, {c: "money" for c in ow.columns if "cost" in c or "inmb" in c or "icer" in c},
              title="One-way analysis, every parameter: incremental cost, QALYs, ICER and NMB at low and high values"),
    ]
    lines = [f"One-way analysis: widest swings in incremental NMB at {label}:"]
    for _, r in t_nmb.head(5).iterrows():
        lines.append(f"  {r['parameter']:<28} {_money(r['at_low'])} to {_money(r['at_high'])}")
    figures = {"tornado": lambda p: plots.tornado_chart(t_nmb.head(15), p, labels=labels,
                                                        title=f"Incremental NMB at {label} (HK${k:,.0f}/QALY)")}
    return {"one_way": ow, "tornado": t_nmb, "tornado_icer": t_icer, "sheets": sheets, "figures": figures,
            "console": "\n".join(lines)}


def _factor_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A tornado frame with a leading ``factor`` column: "name (low to high)"."""
    out = frame.copy()
    out.insert(0, "factor", [f"{p} ({lo:,.4g} to {hi:,.4g})" for p, lo, hi in
                             zip(out["parameter"], out["low_value"], out["high_value"])])
    return out


def _threshold(model, wtp, spec, psa, seed):
    from hta import dsa
    from hta.excel.writer import Sheet

    parameter = spec.get("parameter")
    table = model.parameters
    if parameter not in table:
        raise HtaError(f"threshold analysis: no parameter named '{parameter}'")
    lower = float(spec.get("lower", 0.0))
    upper = float(spec.get("upper", 10 * abs(table[parameter].base) or 1.0))
    frame = dsa.threshold_table(model, parameter, wtps=wtp, lower=lower, upper=upper)
    frame["roots"] = frame["roots"].map(lambda r: ", ".join(f"{v:,.0f}" for v in r))
    lines = [f"Threshold {parameter} (ICER = WTP; base case {_money(table[parameter].base)}):"]
    for _, r in frame.iterrows():
        lines.append(f"  at {r['wtp_label']} (HK${r['wtp']:,.0f}/QALY): "
                     + (_money(r["threshold"]) if r["found"] else r["message"]))
    if psa:
        level = float(spec.get("level", 0.5))
        n = int(spec.get("draws", min(int(psa.get("draws", 1000)), 2000)))
        probs = []
        for label, k in wtp:
            r = dsa.probabilistic_threshold(model, parameter, k, level=level, n=n, seed=seed, lower=lower, upper=upper)
            probs.append(r.value if r.found else np.nan)
            lines.append(f"  {parameter} at which P(cost-effective) = {level:.0%} at {label}: "
                         + (_money(r.value) if r.found else r.message) + f" ({n:,} PSA draws)")
        frame[f"probabilistic threshold (P = {level:.0%})"] = probs
    sheets = [Sheet("Threshold price", frame, {"wtp": "money", "threshold": "money"}
                    | {c: "money" for c in frame.columns if c.startswith("probabilistic")},
                    title=f"Threshold analysis of {parameter}: the value at which the ICER equals each WTP "
                          f"(bracketing root-finding in [{lower:,.0f}, {upper:,.0f}])")]
    return {"table": frame, "sheets": sheets, "console": "\n".join(lines)}


def _add_threshold_curve(out, structures, wtp, spec):
    """The threshold of ``spec["parameter"]`` over a grid of WTPs, for every structure.

    ``spec["curve"]`` is ``{"multiples": [0.5, ..., 3]}`` (multiples of the first WTP, e.g. GDP
    per capita) or ``{"wtp": [values]}``. Adds a sheet with a native line chart, a figure and a
    console line to the threshold analysis ``out``.
    """
    from hta import dsa, plots
    from hta.excel.writer import Chart, Sheet

    curve = spec["curve"]
    parameter = spec["parameter"]
    unit_label, unit = wtp[0]
    if "wtp" in curve:
        values = [float(v) for v in curve["wtp"]]
        multiples = [v / unit for v in values]
    else:
        multiples = [float(m) for m in curve.get("multiples", (0.5, 1, 1.5, 2, 2.5, 3))]
        values = [m * unit for m in multiples]
    if not values or any(not np.isfinite(v) or v <= 0 for v in values):
        raise HtaError(f"threshold curve: expected WTP values > 0; found {values}")
    basis = unit_label[3:] if unit_label.startswith("1x ") else unit_label  # "HK GDP per capita"
    grid = [(f"{m:g}x {basis}", v) for m, v in zip(multiples, values)]
    lower = float(spec.get("lower", 0.0))
    frame = pd.DataFrame({"multiple": multiples, "wtp": values})
    for label, m in structures.items():
        upper = float(spec.get("upper", 10 * abs(m.parameters[parameter].base) or 1.0))
        table = dsa.threshold_table(m, parameter, wtps=grid, lower=lower, upper=upper)
        frame[label] = table["threshold"].where(table["found"]).to_numpy(float)
    columns = [c for c in frame.columns if c not in ("multiple", "wtp")]
    sheet = Sheet("Threshold curve", frame, {"wtp": "money", "multiple": "float"} | {c: "money" for c in columns},
                  charts=[Chart("line", f"Threshold {parameter} by willingness to pay", "wtp", columns,
                                "Willingness to pay (HK$ per QALY)", f"Threshold {parameter} (HK$)")],
                  title=f"Threshold {parameter} (ICER = WTP) at {min(multiples):g}x to {max(multiples):g}x "
                        f"{basis}, per model structure. Which multiple the HA applies is a judgement, not data: "
                        "the curve shows them all")
    out["curve"] = frame
    out["sheets"].append(sheet)
    out.setdefault("figures", {})["threshold_curve"] = (
        lambda p: plots.threshold_curve_plot(frame, p, parameter, wtp=wtp))
    first = columns[0]
    out["console"] += "\n  threshold curve (" + first + "): " + ", ".join(
        f"{m:g}x {_money(v)}" for m, v in zip(frame["multiple"], frame[first]))


def _psa(results, model, wtp, spec, seed, progress):
    from hta import plots, psa as psa_mod
    from hta.excel.writer import Chart, Sheet
    from hta.runner import run_psa

    n = int(spec.get("draws", getattr(model.settings, "psa_draws", None) or 1000))
    chunk = spec.get("chunk_size")  # None: sized from memory (hta.runner.auto_chunk_size)
    res = run_psa(model, n, seed, chunk_size=None if chunk is None else int(chunk), scheduler=spec.get("scheduler"),
                  workers=spec.get("workers"), progress=progress)
    strategies = list(model.strategies)
    labels = dict(getattr(model, "strategy_labels", {}) or {})
    names = [labels.get(s, s) for s in strategies]
    wtp_values = [v for _, v in wtp]
    summary = pd.concat([
        psa_mod.summarise(res.costs, [f"cost: {x}" for x in names]),
        psa_mod.summarise(res.qalys, [f"QALYs: {x}" for x in names]),
        psa_mod.summarise(res.lys, [f"LYs: {x}" for x in names]),
    ])
    summary = summary.reset_index() if summary.index.name else summary
    inc = psa_mod.incremental_summary(res.costs, res.qalys, strategies, strategies[0], wtp_values)
    grid = np.linspace(0, 1.5 * max(wtp_values), 61)
    ceac = psa_mod.ceac(res.costs, res.qalys, grid, strategies=names)
    ceaf = psa_mod.ceaf(res.costs, res.qalys, grid, strategies=names)
    evpi_curve = psa_mod.evpi_curve(res.costs, res.qalys, grid)
    s = model.settings
    evpi_rows = []
    for label, k in wtp:
        nb = k * res.qalys - res.costs
        per = float(psa_mod.evpi(nb))
        pop = (float(psa_mod.population_evpi(per, s.annual_population, int(s.population_years), s.discount_outcomes))
               if s.annual_population and s.population_years else np.nan)
        evpi_rows.append({"wtp_label": label, "wtp": k, "evpi_per_patient": per, "evpi_population": pop,
                          "annual_population": s.annual_population, "population_years": s.population_years})
    evpi_table = pd.DataFrame(evpi_rows)
    draws = pd.DataFrame({"draw": np.arange(n)})
    for j, x in enumerate(names):
        draws[f"cost: {x}"] = res.costs[:, j]
        draws[f"QALYs: {x}"] = res.qalys[:, j]
    draws["incremental QALYs"] = res.qalys[:, -1] - res.qalys[:, 0]
    draws["incremental cost"] = res.costs[:, -1] - res.costs[:, 0]
    ceac_sheet = ceac.reset_index()
    evpi_sheet = evpi_curve.reset_index() if "wtp" not in evpi_curve.columns else evpi_curve
    out = {"result": res, "summary": summary, "incremental": inc, "ceac": ceac, "ceaf": ceaf, "evpi": evpi_table,
           "evpi_curve": evpi_curve}
    sheets = [
        Sheet("PSA summary", summary, {}, title=f"Probabilistic sensitivity analysis: {n:,} draws, seed {seed} "
                                                 f"(means and 95% intervals)"),
        Sheet("PSA incremental", inc, {}, title=f"Incremental results vs {names[0]} over the PSA draws"),
        Sheet("EVPI", evpi_table, {"wtp": "money", "evpi_per_patient": "money", "evpi_population": "money"},
              title="Expected value of perfect information per patient and for the population "
                    "(annual population x years, discounted)"),
        Sheet("EVPI curve", evpi_sheet, {c: "money" for c in evpi_sheet.columns},
              charts=[Chart("line", "EVPI per patient", evpi_sheet.columns[0], [evpi_sheet.columns[1]],
                            "WTP (HK$ per QALY)", "EVPI per patient (HK$)")],
              title="Per-patient EVPI over a range of WTP values"),
        Sheet("CEAF", ceaf.reset_index(), {"wtp": "money", "probability": "prob", "expected_nmb": "money"},
              title="Cost-effectiveness acceptability frontier: the strategy with the highest expected NMB "
                    "and its probability of being cost-effective"),
        Sheet("CEAC", ceac_sheet, {c: "prob" for c in names} | {"wtp": "money"},
              charts=[Chart("line", "Cost-effectiveness acceptability curves", "wtp", names, "WTP (HK$ per QALY)",
                            "Probability cost-effective", y_min=0, y_max=1)],
              title="Probability that each strategy has the highest net monetary benefit"),
        Sheet("PSA draws", draws, {c: "money" for c in draws.columns if "cost" in c}
              | {c: "qaly" for c in draws.columns if "QALYs" in c},
              charts=[Chart("scatter", f"Cost-effectiveness plane: {names[-1]} vs {names[0]}", "incremental QALYs",
                            ["incremental cost"], "Incremental QALYs", "Incremental cost (HK$)")],
              title="Per-draw costs and QALYs (reproducible from the seed)"),
    ]
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
             f"{_money(draws['incremental cost'].mean())}, QALYs {draws['incremental QALYs'].mean():.3f}"]
    for (label, k), r in zip(wtp, evpi_rows):
        p_ce = float((k * draws["incremental QALYs"] - draws["incremental cost"] > 0).mean())
        lines.append(f"  at {label}: P({names[-1]} cost-effective) = {p_ce:.1%}; EVPI {_money(r['evpi_per_patient'])} "
                     f"per patient, {_money(r['evpi_population'])} for the population")
    if spec.get("evppi", False):
        out["evppi"], evppi_sheet, fig, text = _evppi(model, res, wtp[0], spec)
        sheets.append(evppi_sheet)
        figures["evppi"] = fig
        lines.append(text)
    out.update(sheets=sheets, figures=figures, console="\n".join(lines))
    results.analyses["psa"] = out
    return res


def _evppi(model, res, wtp_item, spec):
    from hta import plots
    from hta.excel.writer import Chart, Sheet
    from hta.voi import evppi_table

    label, k = wtp_item
    nb = k * res.qalys - res.costs
    inputs = res.inputs
    varying = [c for c in inputs.columns if np.ptp(inputs[c].to_numpy()) > 0]
    table = model.parameters
    groups = {}
    for g, members in table.groups.items():
        members = [m for m in members if m in varying]
        if len(members) > 1:
            groups[f"group: {g}"] = members
    items = {name: name for name in varying} | groups
    frame = evppi_table(nb, inputs, items)
    frame["parameters"] = frame["parameters"].map(lambda v: ", ".join(v) if isinstance(v, (list, tuple)) else v)
    top = frame.head(20)
    sheet = Sheet("EVPPI", frame, {"evppi": "money", "share_of_evpi": "pct"},
                  charts=[Chart("bar", f"EVPPI per patient at {label}", "name", ["evppi"], " ", "HK$ per patient",
                                width_cm=24, height_cm=20)],
                  title=f"Expected value of partial perfect information per patient at {label} (HK${k:,.0f}/QALY): "
                        "regression method of Strong, Oakley & Brennan (2014); GAM for <= 4 parameters, GP above")
    fig = lambda p: plots.evppi_bars(top, p, title=f"EVPPI per patient at {label}")  # noqa: E731
    lines = [f"  EVPPI at {label} (largest):"] + [f"    {r['name']:<40} {_money(r['evppi'])}" for _, r in frame.head(5).iterrows()]
    return frame, sheet, fig, "\n".join(lines)


def _excel_model(model, name):
    """The formula-live workbook as a file the report writes with the results (built there)."""
    if not callable(getattr(model, "excel_book", None)):
        raise HtaError(f"excel_model: model '{getattr(model, 'name', type(model).__name__)}' has no excel_book() "
                       "(docs/excel_model.md); found none")
    from hta.excel.formula_model import export

    return {"files": {"model.xlsx": lambda path, info: export(model, path, run_info=info)},
            "console": f"Formula-live Excel model of the base case: {name}_model.xlsx (Check sheet compares it "
                       "with these results; docs/excel_model.md)"}


def _survival_selection(model, candidates):
    from hta import plots
    from hta.excel.writer import Sheet
    from hta.survival.selection import compare, curves_for_plot

    frame = compare(candidates)
    labels = _labels(model)
    frame.insert(1, "label", frame["strategy"].map(lambda s: labels.get(s, s)))
    fmt = {c: "prob" for c in frame.columns if c.startswith(("S_", "gp_", "relative_"))}
    fmt |= {"icer": "money", "mean_years": "float", "max_target_error": "float", "aic": "float", "bic": "float"}
    last = [c for c in frame.columns if c.startswith("relative_")][0]
    sheet = Sheet("Survival selection", frame, fmt, wrap=["evidence"],
                  title="Survival model selection (NICE DSU TSD 14): every family per endpoint",
                  notes=["Fit: AIC/BIC for fits to patient-level or reconstructed data (blank for curves calibrated "
                         "to published statistics, whose largest miss of the targets is max_target_error).",
                         "Extrapolation: S_<y>y is survival at y years after the general-population floor; gp_<y>y "
                         f"the general-population survival of the same cohort; {last} = S / S_gp; mean_years the "
                         "mean restricted to the horizon; icer the ICER (last strategy vs first) with that curve."])
    lines = ["Survival model selection (ICER with each family; mean years; " + last.replace("_", " at ") + "):"]
    for (st, e), group in frame.groupby(["strategy", "endpoint"], sort=False):
        cells = [f"{r['family']}{'*' if r['base_case'] else ''} {_money(r['icer'])} ({r['mean_years']:.1f} y; "
                 f"{r[last]:.3f})" for _, r in group.iterrows()]
        lines.append(f"  {labels.get(st, st)} {e}: " + ", ".join(cells))
    lines.append("  (* base case)")
    plot_data = curves_for_plot(candidates, horizon_years=20.0)
    figures = {}
    for (st, e), data in plot_data.items():
        if len(data["curves"]) < 2:
            continue
        figures[f"survival_selection_{st}_{e.lower()}"] = (
            lambda p, d=data, st=st, e=e: plots.selection_plot(d, p, title=f"{labels.get(st, st)} {e}: candidate "
                                                                         "families (after the population floor)"))
    return {"table": frame, "sheets": [sheet], "console": "\n".join(lines), "figures": figures}


def _scenarios(model, wtp, scenarios, threshold):
    from hta.excel.writer import Sheet
    from hta.scenario_analysis import compare

    parameter = (threshold or {}).get("parameter")
    rng = None
    if threshold:
        rng = (float(threshold.get("lower", 0.0)), float(threshold.get("upper", 10 * abs(model.parameters[parameter].base))))
    frame = compare(model, scenarios, wtps=wtp, threshold_parameter=parameter, threshold_range=rng)
    fmt = {c: "money" for c in frame.columns if c.startswith(("cost", "inc_cost", "icer", "inmb", "threshold"))}
    fmt |= {c: "qaly" for c in frame.columns if c.startswith(("qalys", "lys", "inc_qalys", "inc_lys"))}
    lines = ["Scenario analysis (ICER, HK$ per QALY" + (f"; threshold {parameter} at {wtp[0][0]}" if parameter else "") + "):"]
    tcol = f"threshold [{wtp[0][0]}]"
    for _, r in frame.iterrows():
        extra = f"; threshold {_money(r[tcol])}" if parameter and tcol in frame.columns else ""
        lines.append(f"  {r['scenario']:<40} {_money(r['icer'])}{extra}")
    sheets = [Sheet("Scenarios", frame, fmt, title="Scenario analysis: deterministic results of each scenario")]
    return {"table": frame, "sheets": sheets, "console": "\n".join(lines)}


def _sobol(model, wtp, spec, seed):
    from hta import plots
    from hta.excel.writer import Chart, Sheet
    from hta.gsa import sobol

    label, k = wtp[0]
    frame = sobol(model, n_base=int(spec.get("n_base", 1024)), wtp=k, seed=seed, groups=spec.get("groups", "blocks"),
                  scheduler=spec.get("scheduler"), workers=spec.get("workers"))
    sheet = Sheet("Sobol", frame, {c: "float" for c in ("S1", "S1_conf", "ST", "ST_conf")},
                  charts=[Chart("bar", f"Sobol total-order indices, incremental NMB at {label}", "factor", ["ST"], " ", "ST",
                                width_cm=24, height_cm=14)],
                  title=f"Sobol indices of incremental NMB at {label} ({frame.attrs.get('n_evaluations', 0):,} model runs; "
                        "SALib; correlated blocks as groups)")
    lines = [f"Sobol total-order indices at {label} (largest):"] + [
        f"  {r['factor']:<40} ST {r['ST']:.3f} (S1 {r['S1']:.3f})" for _, r in frame.head(5).iterrows()]
    return {"table": frame, "sheets": [sheet], "figures": {"sobol": lambda p: plots.sobol_bars(frame, p)},
            "console": "\n".join(lines)}


def verification(models: dict, spec: dict, seed) -> dict:
    """Verification reports of ``models`` (label -> model): frames, sheets and console text."""
    from hta.excel.writer import Sheet, verification_sheet
    from hta.verify import verify

    reports = {label: verify(m, psa_draws=int(spec.get("psa_draws", 2000)), seed=seed,
                             utility_min=float(spec.get("utility_min", 0.0)))
               for label, m in models.items()}
    tables = [r.table.assign(model=label)[["model", *r.table.columns]] for label, r in reports.items()]
    table = pd.concat(tables, ignore_index=True)
    notes = [f"{label}: {r.summary_line()}" for label, r in reports.items()]
    notes.append("Expected and observed values of each check; conventions and what each check compares in docs/verification.md. "
                 "A check a model cannot support is 'not applicable', with the reason.")
    roles = pd.concat([r.roles.assign(model=label)[["model", *r.roles.columns]] for label, r in reports.items()],
                      ignore_index=True)
    sheets = [verification_sheet(table, title="Model verification: black-box checks after TECH-VER "
                                              "(Büyükkaramikli et al., PharmacoEconomics 2019)", notes=notes),
              Sheet("Verification roles", roles, {}, title="Parameter roles used by the verification checks "
                                                           "(from names, units and groups; see docs/verification.md)")]
    lines = ["Model verification (hta check; Verification sheet):"]
    for label, r in reports.items():
        lines.append(f"  {label}: {r.summary_line()}")
        for c in r.failed:
            lines.append(f"    FAIL {c.check}: expected {c.expected}; observed {c.observed}; {c.detail}")
    console = "\n".join(lines)
    return {"reports": reports, "table": table, "sheets": sheets, "console": console,
            "failed": sum(len(r.failed) for r in reports.values())}


def _two_way(model, wtp, spec):
    from hta import dsa, plots
    from hta.excel.writer import Sheet

    label, k = wtp[0]
    p1, p2 = spec["p1"], spec["p2"]
    frame = dsa.two_way(model, p1, spec["values1"], p2, spec["values2"], wtp=k)
    grid = frame.pivot_table(index=p2, columns=p1, values="inmb", aggfunc="first")
    grid.columns = [f"{p1} = {v:,.4g}" for v in grid.columns]
    grid = grid.reset_index()
    sheets = [Sheet("Two-way", grid, {c: "money" for c in grid.columns if c != p2},
                    title=f"Two-way analysis: incremental NMB at {label} (HK${k:,.0f}/QALY) over {p1} (columns) "
                          f"and {p2} (rows); positive = cost-effective")]
    return {"table": frame, "sheets": sheets,
            "figures": {"two_way": lambda p: plots.two_way_heatmap(frame, p1, p2, p, title=f"Incremental NMB at {label}")}}


def _bia(model, spec):
    from hta import bia as bia_mod, plots
    from hta.excel.writer import Chart, Sheet

    if isinstance(spec, dict):
        inputs, scenarios = spec.get("inputs"), spec.get("scenarios", ())
    else:
        inputs, scenarios = spec, ()
    if not isinstance(inputs, bia_mod.BudgetInputs):
        raise HtaError("budget impact: expected the budget inputs of a workbook (Budget and BudgetShares sheets); "
                       f"found {type(inputs).__name__}")
    out = bia_mod.analyse(model, inputs, scenarios)
    H = inputs.horizon_years
    years = f"{inputs.calendar_years[0]}-{inputs.calendar_years[-1]}"
    labels = _labels(model)
    new_label = labels.get(inputs.new_strategy, inputs.new_strategy)
    yearly = out["yearly"].copy()
    yearly.insert(0, "label", [str(int(y)) for y in yearly["calendar_year"]])
    money = {c: "money" for c in ("budget_without", "budget_with", "net_impact", "cumulative_net_impact")}
    notes = [f"Net budget impact over {H} years ({years}): HK${out['net_total']:,.0f} "
             f"(undiscounted, HA perspective; ISPOR BIA good practice, Sullivan et al. 2014)",
             f"Per-patient costs by year since start are the model's undiscounted cost lines by category; "
             f"entry {inputs.entry}; uptake {inputs.uptake_curve}; eligible share "
             f"{bia_mod.eligible_share(inputs):.4g} of new cases; docs/bia.md"]
    year_cols = [str(int(y)) for y in inputs.calendar_years]
    ow = out["one_way"]
    tornado = ow.copy()
    tornado.insert(0, "label", [f"{f} ({lo:,.4g} to {hi:,.4g})" for f, lo, hi in
                                zip(tornado["factor"], tornado["low_value"], tornado["high_value"])])
    sheets = [
        Sheet("BIA", yearly, money | {"patients_starting": "float", "patients_on_new_drug": "float"},
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
        Sheet("BIA population", out["population"], {c: "float" for c in out["population"].columns
                                                     if c not in ("year", "calendar_year")},
              title="Eligible population: new cases (population x incidence) through each eligibility step; "
                    "patients starting treatment each year"),
        Sheet("BIA shares", pd.concat([out["shares"].assign(measure="market share"),
                                       out["patients"].drop(columns="total").assign(measure="patients starting")],
                                      ignore_index=True),
              {c: "float" for c in year_cols},
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
                        | {"patients on new drug": "float"},
                        title="Budget impact scenarios: net impact by year and in total"))
    lines = [f"Budget impact of {new_label} ({years}, undiscounted, HK$):"]
    for _, r in out["yearly"].iterrows():
        lines.append(f"  {int(r['calendar_year'])}: {r['patients_starting']:6.1f} eligible, "
                     f"{r.get('patients_on_new_drug', float('nan')):5.1f} on {new_label}; "
                     f"without {_money(r['budget_without'])}, with {_money(r['budget_with'])}, "
                     f"net {_money(r['net_impact'])}")
    lines.append(f"  net budget impact over {H} years: {_money(out['net_total'])}")
    for _, r in ow.head(3).iterrows():
        lines.append(f"  one-way {r['factor']}: {_money(r['at_low'])} to {_money(r['at_high'])}")
    for _, r in scen.iloc[1:].iterrows():
        lines.append(f"  scenario {r['scenario']}: {_money(r[f'net over {H} years'])}")
    figures = {"bia": lambda p: plots.budget_impact_plot(out["yearly"], p, title=f"Budget impact of {new_label}")}
    if len(ow):
        figures["bia_tornado"] = lambda p: plots.budget_tornado(ow, p, title=f"Net budget impact over {H} years")
    out.update(sheets=sheets, figures=figures, console="\n".join(lines))
    return out
