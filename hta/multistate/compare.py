"""NICE DSU TSD 19 comparison: partitioned survival, cohort state transition, individual level.

TSD 19 (Woods et al. 2017) asks that a partitioned-survival model (PSM) be checked against a
state-transition model whose transitions are estimated from the same patient data. Each method's
result for a strategy becomes a :class:`MethodResult` (state occupancy on a time grid, mean years
in each state, life-years, discounted costs and QALYs, all per patient, years); the functions
below put them side by side:

* :func:`comparison_table` — one row per (method, strategy) with the restricted mean years in each
  state, life-years, costs, QALYs, and the incremental costs, QALYs and ICER of each method's
  comparator against its reference strategy;
* :func:`occupancy_table` — long table of occupancy curves (method, strategy, time, state,
  probability), optionally with the Aalen-Johansen estimate from the data;
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.engine.psm import cohort as psm_engine
from hta.errors import HtaError
from hta.multistate.cohort import outcomes

__all__ = [
    "MethodResult",
    "comparison_table",
    "from_cohort",
    "from_simulation",
    "occupancy_table",
    "psm_cohort",
]


@dataclass
class MethodResult:
    """One method's result for one strategy (means over PSA draws when there are several).

    ``grid`` (G,) years; ``occupancy`` (G, S); ``years`` state -> mean years within the horizon;
    ``life_years``, ``costs``, ``qalys`` per patient (costs and QALYs discounted);
    ``se_life_years``, ``se_costs``, ``se_qalys``: Monte Carlo standard errors of an
    individual-level result (mean over draws of the per-draw errors; NaN for cohorts).
    """

    method: str
    strategy: str
    states: tuple
    grid: np.ndarray
    occupancy: np.ndarray
    years: dict
    life_years: float
    costs: float
    qalys: float
    se_life_years: float = float("nan")
    se_costs: float = float("nan")
    se_qalys: float = float("nan")


def psm_cohort(pfs, os, *, cycle: float, horizon: float, strategy: str = ""):
    """Partitioned-survival cohort (``hta.engine.psm``) from PFS and OS curves (objects with
    ``survival(t)`` returning (n, T), e.g. ``FittedModel.curve(arm)``), in years."""
    T = round(horizon / cycle)
    t = np.arange(T + 1) * cycle
    return psm_engine([pfs.survival(t), os.survival(t)], strategy=strategy,
                      states=("progression-free", "progressed", "dead"))


def from_cohort(method: str, cohort, *, cycle: float, grid, **values) -> MethodResult:
    """A cohort (Markov, semi-Markov or PSM) summarised: occupancy at ``grid`` (linear
    interpolation between cycles), years and outcomes by :func:`hta.multistate.cohort.outcomes`
    (``values``: state_costs, state_utilities, event_costs, event_qalys, discount rates)."""
    out = outcomes(cohort, cycle=cycle, **values)
    trace = cohort.trace.mean(axis=0)
    t = np.arange(trace.shape[0]) * cycle
    grid = np.asarray(grid, dtype=float)
    if grid.max() > t[-1] + 1e-9:
        raise HtaError(f"grid: expected times within the horizon ({t[-1]:g} years); found {grid.max():g}")
    occ = np.column_stack([np.interp(grid, t, trace[:, s]) for s in range(trace.shape[1])])
    return MethodResult(method, cohort.strategy, tuple(cohort.states), grid, occ,
                        {s: float(out[f"years:{s}"].mean()) for s in cohort.states},
                        float(out["life_years"].mean()), float(out["costs"].mean()), float(out["qalys"].mean()))


def from_simulation(method: str, strategy: str, result) -> MethodResult:
    """An individual-level :class:`hta.multistate.simulate.SimulationResult` summarised (absorbing
    states accrue no years in a simulation; the table leaves dead states out)."""
    years = result.time_in_state.mean(axis=0)
    return MethodResult(method, strategy, tuple(result.states), result.grid, result.occupancy.mean(axis=0),
                        {s: float(years[i]) for i, s in enumerate(result.states)},
                        float(result.life_years.mean()), float(result.costs.mean()), float(result.qalys.mean()),
                        float(result.se_life_years.mean()), float(result.se_costs.mean()),
                        float(result.se_qalys.mean()))


def comparison_table(results: Sequence[MethodResult], *, reference: str, comparator: str) -> pd.DataFrame:
    """One row per (method, strategy): years per state, life-years, costs, QALYs (with the Monte
    Carlo standard errors of individual-level results); the comparator rows also carry
    incremental costs, QALYs and the ICER against the same method's reference."""
    rows = []
    by_key = {(r.method, r.strategy): r for r in results}
    for r in results:
        row = {"method": r.method, "strategy": r.strategy}
        row.update({f"years {s}": v for s, v in r.years.items() if "dead" not in s.lower()})
        row.update({"life_years": r.life_years, "costs": r.costs, "qalys": r.qalys,
                    "mc_se_life_years": r.se_life_years, "mc_se_qalys": r.se_qalys})
        if r.strategy == comparator and (r.method, reference) in by_key:
            ref = by_key[(r.method, reference)]
            dc, dq = r.costs - ref.costs, r.qalys - ref.qalys
            row.update({"inc_costs": dc, "inc_qalys": dq, "icer": dc / dq if dq != 0 else np.nan})
        rows.append(row)
    return pd.DataFrame(rows)


def occupancy_table(results: Sequence[MethodResult], observed: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Long table ``method, strategy, time, state, probability``; ``observed`` maps a strategy to
    an Aalen-Johansen table (``hta.multistate.aalen_johansen``), added as method ``Aalen-Johansen``."""
    parts = []
    for r in results:
        for s, name in enumerate(r.states):
            parts.append(pd.DataFrame({"method": r.method, "strategy": r.strategy, "time": r.grid,
                                       "state": name, "probability": r.occupancy[:, s]}))
    for strategy, table in (observed or {}).items():
        for name in table.columns:
            parts.append(pd.DataFrame({"method": "Aalen-Johansen", "strategy": strategy,
                                       "time": table.index.to_numpy(float), "state": name,
                                       "probability": table[name].to_numpy(float)}))
    return pd.concat(parts, ignore_index=True)
