"""Survival model selection as NICE DSU TSD 14 asks: every candidate family side by side.

For each endpoint, each candidate curve is reported with its fit to the evidence (AIC/BIC when it
was fitted to patient-level or reconstructed data; the largest miss of the published targets when
it was calibrated to summary statistics), its extrapolation (survival at landmark years and the
restricted mean over the horizon, after the model's general-population floor), its long-term
plausibility against general-population survival of the same cohort (relative survival
``S(t) / S_gp(t)``), and the cost-effectiveness result the model gives with it. Choosing among
them remains a judgement; the table and the figure show the consequences of each choice.

A candidate is a whole model variant (the base model with one curve replaced), so any model
offering ``survival_curves(batch)`` (curves on its grid, floored) and ``background_cumhaz()`` can
be compared this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.protocol import capabilities


@dataclass
class Candidate:
    """One candidate curve for one endpoint, as a model variant.

    ``targets`` are the published points ``(time in the curve's unit, survival)`` a calibrated
    curve should meet (empty for fits); ``aic``/``bic`` are given for fits to patient-level data.
    """

    strategy: str
    endpoint: str
    family: str
    model: object
    evidence: str
    targets: list = field(default_factory=list)
    time_unit_years: float = 1.0 / 12.0
    aic: float = float("nan")
    bic: float = float("nan")
    base_case: bool = False


_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz


def _icer(outcomes) -> float:
    c, q = outcomes.costs[0], outcomes.qalys[0]
    dq = q[-1] - q[0]
    return float((c[-1] - c[0]) / dq) if dq != 0 else float("nan")


def compare(candidates, years=(1, 2, 5, 10, 20)) -> pd.DataFrame:
    """One row per candidate: fit, extrapolation, plausibility and the ICER (last strategy vs first).

    Columns: strategy, endpoint, family, base_case, evidence, aic, bic, max_target_error,
    ``S_<y>y`` and ``gp_<y>y`` (general-population survival) at each landmark year,
    ``relative_<y>y`` at the last, ``mean_years`` (restricted to the horizon), icer.
    """
    candidates = list(candidates)
    if not candidates:
        raise HtaError("survival model selection: expected at least one candidate; found none")
    rows = []
    for c in candidates:
        model = c.model
        caps = capabilities(model)
        missing = [m for m, ok in (("survival_curves(batch)", caps.survival_curves),
                                   ("background_cumhaz()", caps.general_population)) if not ok]
        if missing:
            raise HtaError(f"survival model selection: candidate {c.strategy} {c.endpoint} {c.family}: the model has no "
                           f"{' or '.join(missing)}")
        base = model.parameters.base()
        curves = model.survival_curves(base)
        if (c.strategy, c.endpoint) not in curves:
            raise HtaError(f"survival model selection: the model has no curve for {c.strategy} {c.endpoint}")
        s = np.asarray(curves[(c.strategy, c.endpoint)])[0]
        t = model.grid.times
        gp = np.exp(-np.asarray(model.background_cumhaz()))
        row = {"strategy": c.strategy, "endpoint": c.endpoint, "family": c.family, "base_case": c.base_case,
               "evidence": c.evidence, "aic": c.aic, "bic": c.bic}
        if c.targets:
            # misses of the published points, on the curve before the population floor (the targets'
            # times are within follow-up, where the floor barely binds)
            tt = np.array([p[0] for p in c.targets], dtype=float) * c.time_unit_years
            miss = np.interp(tt, t, s) - np.array([p[1] for p in c.targets], dtype=float)
            row["max_target_error"] = float(np.max(np.abs(miss)))
        else:
            row["max_target_error"] = float("nan")
        for y in years:
            row[f"S_{y:g}y"] = float(np.interp(y, t, s)) if y <= t[-1] else float("nan")
            row[f"gp_{y:g}y"] = float(np.interp(y, t, gp)) if y <= t[-1] else float("nan")
        last = max(y for y in years if y <= t[-1])
        row[f"relative_{last:g}y"] = row[f"S_{last:g}y"] / row[f"gp_{last:g}y"] if row[f"gp_{last:g}y"] > 0 else float("nan")
        row["mean_years"] = float(_trapezoid(s, t))
        row["icer"] = _icer(model.evaluate(base))
        rows.append(row)
    return pd.DataFrame(rows)


def curves_for_plot(candidates, horizon_years: float | None = None) -> dict:
    """``{(strategy, endpoint): {"t": years, "curves": {family: S}, "gp": S_gp, "targets": [(years, S)]}}``."""
    out = {}
    for c in candidates:
        model = c.model
        t = model.grid.times
        keep = t <= (horizon_years if horizon_years is not None else t[-1]) + 1e-12
        s = np.asarray(model.survival_curves(model.parameters.base())[(c.strategy, c.endpoint)])[0]
        entry = out.setdefault((c.strategy, c.endpoint), {"t": t[keep], "curves": {}, "targets": [],
                                                          "gp": np.exp(-np.asarray(model.background_cumhaz()))[keep]})
        entry["curves"][c.family + (" (base case)" if c.base_case else "")] = s[keep]
        for p in c.targets:
            point = (float(p[0]) * c.time_unit_years, float(p[1]))
            if point not in entry["targets"]:
                entry["targets"].append(point)
    return out
