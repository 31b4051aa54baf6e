"""Plausibility warnings a reviewer needs before trusting a run (printed and on the dashboard).

* an input far from its base or documented range: a scenario or budget-impact override more
  than :data:`FAR_FACTOR` times the parameter's base case (or less than 1/5 of it), or outside
  its documented low-high range;
* an ICER beyond :data:`ICER_FACTOR` times the highest WTP (a result no decision rests on);
* PFS above OS in many PSA draws (uncapped crossing of the partitioned-survival curves in more
  than :data:`CROSSING_SHARE` of the draws, from the engine's crossing report);
* a PSA whose running mean has not settled: over the last :data:`SETTLE_TAIL` of the draws, the
  running mean of incremental costs or QALYs moves by more than :data:`SETTLE_TOLERANCE` of its
  final value (or of a tenth of its standard deviation, when the mean is near zero).
"""

from __future__ import annotations

import numpy as np

from hta.analysis import requests as R
from hta.report.dashboard import first
from hta.report.section import money

FAR_FACTOR = 5.0
ICER_FACTOR = 10.0
CROSSING_SHARE = 0.05
CROSSING_GAP = 0.01
SETTLE_TAIL = 0.2
SETTLE_TOLERANCE = 0.01
CROSSING_DRAWS = 1000


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def override_warnings(parameters, overrides: dict, where: str, labeller=None) -> list[str]:
    """Warnings for ``overrides`` ({parameter: value}) far from the base or outside low-high."""
    out = []
    names = set(parameters.names)
    for name, value in overrides.items():
        if name not in names or not np.isscalar(value):
            continue
        p = parameters[name]
        label = labeller.param(name) if labeller is not None else name
        base, value = float(p.base), float(value)
        lo, hi = getattr(p, "low", None), getattr(p, "high", None)
        if base != 0 and (abs(value / base) > FAR_FACTOR or abs(value / base) < 1 / FAR_FACTOR):
            out.append(f"{where}: {label} = {_num(value)} is {abs(value / base):.3g} times its base case "
                       f"{_num(base)} (more than {FAR_FACTOR:g}x away)")
        elif (lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and lo < hi
              and not lo <= value <= hi):
            out.append(f"{where}: {label} = {_num(value)} is outside its documented range {_num(lo)} to {_num(hi)}")
    return out


def running_mean_unsettled(x: np.ndarray, tail: float = SETTLE_TAIL, tolerance: float = SETTLE_TOLERANCE) -> float:
    """Largest move of the running mean of ``x`` over its last ``tail`` share, relative to
    max(|final mean|, SD/10); the PSA has settled when this is at most ``tolerance``."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 10:
        return np.inf
    running = np.cumsum(x) / np.arange(1, n + 1)
    start = int(n * (1 - tail))
    scale = max(abs(running[-1]), float(np.std(x)) / 10, 1e-300)
    return float(np.max(np.abs(running[start:] - running[-1])) / scale)


def psa_crossing(model, psa, draws: int = CROSSING_DRAWS):
    """The engine's crossing table for the first ``draws`` PSA draws of ``model`` (None when the
    model's outcomes carry no crossing report, e.g. a Markov model)."""
    try:
        batch = model.parameters.sample(min(draws, psa.n), psa.seed)
        outcomes = model.evaluate(batch)
    except Exception:  # noqa: BLE001 - a model that cannot be re-evaluated here: no crossing warning
        return None
    crossing = getattr(outcomes, "crossing", None)
    return crossing(CROSSING_GAP) if callable(crossing) else None


def warnings_of(results, labeller=None) -> list[str]:
    """Every plausibility warning of ``results`` (empty when nothing looks implausible)."""
    out: list[str] = []
    model = results.model
    params = getattr(model, "parameters", None)
    scen = first(results, R.ScenariosResult)
    for scenario in (scen.scenarios if isinstance(scen, R.ScenariosResult) else ()):
        if params is not None:
            out += override_warnings(params, dict(getattr(scenario, "overrides", {}) or {}),
                                     f"scenario '{scenario.name}'", labeller)
    bia = first(results, R.BudgetImpactResult)
    if isinstance(bia, R.BudgetImpactResult) and params is not None:
        for scenario in getattr(bia, "scenarios", ()) or ():
            if isinstance(scenario, dict):
                out += override_warnings(params, dict(scenario.get("parameters", {}) or {}),
                                         f"budget scenario '{scenario.get('name', '')}'", labeller)
    wtp_max = max((v for _, v in results.model.settings.wtp), default=np.nan)
    inc = results.incremental
    for _, row in inc.iterrows():
        icer = row.get("icer", np.nan)
        if np.isfinite(icer) and np.isfinite(wtp_max) and icer > ICER_FACTOR * wtp_max:
            out.append(f"{row['structure']}: ICER of {row['label']} {money(icer)} per QALY is more than "
                       f"{ICER_FACTOR:g} times the highest WTP ({money(wtp_max)})")
    psa = first(results, R.PsaAnalysis)
    if isinstance(psa, R.PsaAnalysis):
        d_cost, d_qaly = psa.incremental_draws()
        for what, x in (("incremental costs", d_cost), ("incremental QALYs", d_qaly)):
            move = running_mean_unsettled(x)
            if move > SETTLE_TOLERANCE:
                out.append(f"PSA: the running mean of {what} has not settled ({move:.1%} move over the last "
                           f"{SETTLE_TAIL:.0%} of {psa.n:,} draws; more than {SETTLE_TOLERANCE:.0%}): run more draws")
        table = psa_crossing(model, psa)
        if table is not None:
            for _, row in table.iterrows():
                if row["share_over"] > CROSSING_SHARE:
                    who = labeller.strategies.get(row["strategy"], row["strategy"]) if labeller else row["strategy"]
                    out.append(f"PSA: {who} {row['earlier']} above {row['later']} (by more than {CROSSING_GAP:g}) "
                               f"in {row['share_over']:.1%} of {row['draws']:,} draws (more than "
                               f"{CROSSING_SHARE:.0%}); the curves are capped, check the survival inputs")
    return out
