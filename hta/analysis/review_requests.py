"""Analyses a review group asks for: the PFS/OS crossing report, the PSA with structural
uncertainty, and the TSD 19 multi-state comparison (issues 21 and 23).

Each request is a frozen dataclass with ``key`` and ``run(state) -> result`` (as
:mod:`hta.analysis.requests`); the presenters are in :mod:`hta.report.sections.review`.

Units: money in the model's currency, QALYs in years, WTP per QALY; survival gaps are
proportions of the cohort and times are years since the model's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.protocol import strategy_labels

__all__ = ["CrossingReport", "CrossingResult", "StructuralPsa", "StructuralPsaResult", "MultiStateComparison",
           "MultiStateComparisonResult"]

BATCHES = ("base case", "one-way", "PSA", "Sobol")


def _count(name: str, value, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum):
        raise HtaError(f"{name}: expected a whole number >= {minimum}; found {value!r}")


# -- crossing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossingReport:
    """PFS above OS (uncapped, before the engine's cap) in every batch of the run: the base case,
    the one-way parameter sets, the PSA draws and the Sobol design (:mod:`hta.analysis.crossing`).

    Put it after ``Psa`` and ``Sobol`` in the plan: it then counts the very draws they evaluated
    (same seed and size; the Sobol design of their ``n_base``). Without them in the plan the PSA
    batch has ``psa_draws`` draws (default: the settings' ``psa_draws``, else 1,000) and the Sobol
    batch is left out unless ``sobol_n_base`` is given. ``threshold``: a draw counts when PFS
    exceeds OS by more than this proportion of the cohort (default 0.01).
    """

    threshold: float = 0.01
    batches: tuple = BATCHES
    psa_draws: int | None = None
    sobol_n_base: int | None = None
    sobol_groups: Any = "blocks"
    key = "crossing"

    def __post_init__(self):
        _count("CrossingReport psa_draws", self.psa_draws, 1)
        _count("CrossingReport sobol_n_base", self.sobol_n_base, 2)
        unknown = [b for b in self.batches if b not in BATCHES]
        if unknown or not self.batches:
            raise HtaError(f"CrossingReport batches: expected some of {', '.join(BATCHES)}; found {list(self.batches)}")
        if not (isinstance(self.threshold, (int, float)) and np.isfinite(self.threshold) and self.threshold >= 0):
            raise HtaError(f"CrossingReport threshold: expected a survival proportion >= 0; found {self.threshold!r}")

    def batch_sizes(self, state) -> dict:
        """{batch name: (draws, seed)} of the PSA and {"Sobol": n_base} as this run uses them."""
        psa = state.earlier("psa")
        n = psa.n if psa is not None else int(self.psa_draws or getattr(state.model.settings, "psa_draws", None)
                                               or 1000)
        sobol = state.earlier("sobol")
        n_base = self.sobol_n_base or (int(sobol.table.attrs.get("n_base", 0)) if sobol is not None else 0)
        return {"PSA": n, "Sobol": n_base}

    def _records_of_earlier(self, state, name: str, sizes: dict):
        """The crossing records an earlier analysis of this run kept for batch ``name`` (the PSA's
        draws, the Sobol design), when it is the batch this report counts; else None."""
        if name == "PSA":
            psa = state.earlier("psa")
            if psa is not None and psa.result.n == sizes["PSA"] and psa.seed == state.seed:
                return psa.result.crossing
        if name == "Sobol" and sizes["Sobol"]:
            sobol = state.earlier("sobol")
            if (sobol is not None and int(sobol.table.attrs.get("n_base", 0)) == sizes["Sobol"]
                    and sobol.groups == self.sobol_groups):
                return sobol.crossing
        return None

    def run(self, state) -> "CrossingResult":
        from hta.analysis.crossing import COLUMNS, run_crossing
        from hta.engine.psm import crossing_summary

        model, table = state.model, state.model.parameters
        sizes = self.batch_sizes(state)
        batches, counted = {}, {}
        for name in self.batches:
            records = self._records_of_earlier(state, name, sizes)
            if records is not None:   # the batch this run already evaluated: its records, not a second evaluation
                counted[name] = crossing_summary(records, float(self.threshold), times=model.grid.times)
                batches[name] = None
            elif name == "base case":
                batches[name] = table.base()
            elif name == "one-way":
                batches[name] = table.one_way()[0]
            elif name == "PSA":
                batches[name] = table.sample(sizes["PSA"], state.seed)   # the run's PSA draws (chunk-invariant)
            elif name == "Sobol" and sizes["Sobol"]:
                from hta.analysis.gsa import sobol_design

                _, u = sobol_design(model, sizes["Sobol"], state.seed, groups=self.sobol_groups)
                batches[name] = table.from_unit(np.clip(u, 1e-12, 1.0 - 1e-12))
        evaluate = {name: b for name, b in batches.items() if b is not None}
        frame = run_crossing(model, evaluate, float(self.threshold), times=model.grid.times,  # analyse() needs a grid
                             workers=state.execution.workers)
        if counted:
            parts = [counted[name].assign(batch=name) if name in counted else frame[frame["batch"] == name]
                     for name in batches]
            frame = pd.concat([p for p in parts if len(p)], ignore_index=True)[COLUMNS] if any(len(p) for p in parts) \
                else pd.DataFrame(columns=COLUMNS)
        labels = strategy_labels(model)
        frame.insert(2, "label", frame["strategy"].map(lambda s: labels.get(s, s)))
        return CrossingResult(table=frame, threshold=float(self.threshold), batches=tuple(batches),
                              seed=state.seed)


@dataclass
class CrossingResult:
    table: pd.DataFrame      # one row per (batch, strategy, earlier curve): draws, n_over, share_over, largest_gap, time
    threshold: float         # survival proportion
    batches: tuple           # the batches counted, in order
    seed: Any


# -- structural uncertainty in the PSA --------------------------------------------------------


@dataclass(frozen=True)
class StructuralPsa:
    """The PSA with and without structural uncertainty, side by side (model averaging,
    :func:`hta.analysis.structural.model_average`; Bojke et al. 2009).

    ``alternatives``: {name: model}, the structural alternatives (e.g. OS source x PSM/STM);
    ``weights``: {name: weight}, labelled inputs (normalised to sum 1). ``base``: the name of the
    alternative that is the run's own model, the PSA "without"; when the plan's ``Psa`` ran
    before with the same draws, its draws are reused for that alternative (the same seed gives
    the same parameter draws), so only the other alternatives are evaluated. ``draws``: default
    the plan's PSA size, else the settings' ``psa_draws``, else 1,000; every alternative uses
    the run's seed. P(cost-effective) and EVPI at each of the settings' WTPs and over the PSA's
    WTP grid (0 to 1.5 x the highest WTP, 61 points).
    """

    alternatives: Mapping
    weights: Mapping
    base: str | None = None
    draws: int | None = None
    chunk_size: int | None = None   # None: sized from memory (hta.analysis.evaluate); never changes a result
    key = "structural_psa"

    def __post_init__(self):
        _count("StructuralPsa draws", self.draws, 2)
        _count("StructuralPsa chunk_size", self.chunk_size, 1)
        names = list(self.alternatives)
        if not names:
            raise HtaError("StructuralPsa alternatives: expected {name: model}; found none")
        base = self.base if self.base is not None else names[0]
        if base not in self.alternatives:
            raise HtaError(f"StructuralPsa base: expected one of {', '.join(names)}; found {base!r}")
        if set(self.weights) != set(names):
            raise HtaError(f"StructuralPsa weights: expected one weight per alternative ({', '.join(names)}); "
                           f"found weights for {', '.join(map(str, self.weights))}")

    def run(self, state) -> "StructuralPsaResult":
        from hta.analysis.evaluate import run_psa
        from hta.analysis.psa import population_evpi
        from hta.analysis.structural import model_average

        model, ex, seed = state.model, state.execution, state.seed
        names = list(self.alternatives)
        base = self.base if self.base is not None else names[0]
        psa = state.earlier("psa")
        n = int(self.draws or (psa.n if psa is not None else 0) or getattr(model.settings, "psa_draws", None) or 1000)
        arrays, reused, elapsed = {}, None, {}
        for name, alt in self.alternatives.items():
            if name == base and psa is not None and psa.n == n and psa.seed == seed:
                arrays[name] = (psa.result.costs, psa.result.qalys)
                reused, elapsed[name] = name, 0.0
                continue
            res = run_psa(alt, n, seed, chunk_size=self.chunk_size, scheduler=ex.scheduler, workers=ex.workers)
            arrays[name] = (res.costs, res.qalys)
            elapsed[name] = res.elapsed
        labels = strategy_labels(model)
        strategies = list(model.strategies)
        wtp = state.wtp
        values = np.array([v for _, v in wtp], dtype=float)
        grid = np.linspace(0, 1.5 * values.max(), 61)
        weights = {k: float(self.weights[k]) for k in names}
        runs = {"without structural uncertainty": ({base: arrays[base]}, {base: 1.0}),
                "with structural uncertainty": (arrays, weights)}
        s = model.settings
        rows, curves, means = [], [], []
        for analysis, (alts, w) in runs.items():
            at = model_average(alts, w, values, strategies)
            curve = model_average(alts, w, grid, strategies)
            for i, (label, k) in enumerate(wtp):
                per = float(at.table["evpi"].iloc[i])
                pop = (float(population_evpi(per, s.annual_population, int(s.population_years), s.discount_outcomes))
                       if getattr(s, "annual_population", None) and getattr(s, "population_years", None) else np.nan)
                mix = at.means.iloc[-1]
                rows.append({"analysis": analysis, "wtp_label": label, "wtp": float(k),
                             **{f"P(CE) {labels[x]}": float(at.table[f"p_ce_{x}"].iloc[i]) for x in strategies},
                             "evpi_per_patient": per, "evpi_population": pop,
                             "inc_cost": float(mix[f"cost_{strategies[-1]}"] - mix[f"cost_{strategies[0]}"]),
                             "inc_qalys": float(mix[f"effect_{strategies[-1]}"] - mix[f"effect_{strategies[0]}"]),
                             "draws": int(at.means["draws"].iloc[-1])})
            curves.append(curve.table.assign(analysis=analysis))
            means.append(at.means.assign(analysis=analysis))
        return StructuralPsaResult(summary=pd.DataFrame(rows), curve=pd.concat(curves, ignore_index=True),
                                   means=pd.concat(means, ignore_index=True), weights=weights, base=base,
                                   draws=n, seed=seed, reused=reused, elapsed=elapsed,
                                   names=[labels[x] for x in strategies], strategies=strategies)


@dataclass
class StructuralPsaResult:
    summary: pd.DataFrame    # per analysis (without / with) and settings WTP: P(CE) per strategy, EVPI, increments
    curve: pd.DataFrame      # per analysis and WTP of the grid: p_ce_<strategy>, evpi (per patient)
    means: pd.DataFrame      # per analysis and alternative: weight, draws, mean cost_<s> and effect_<s>
    weights: dict            # normalised weights of the alternatives (labelled inputs)
    base: str                # the alternative that is the run's model
    draws: int               # PSA draws per alternative
    seed: Any
    reused: str | None       # the alternative whose draws came from the plan's PSA
    elapsed: dict            # seconds per alternative's PSA (0 when reused)
    names: list              # strategy labels in strategy order
    strategies: list


# -- TSD 19 multi-state comparison ------------------------------------------------------------


@dataclass(frozen=True)
class MultiStateComparison:
    """NICE DSU TSD 19: partitioned survival, cohort state-transition and individual-level
    multi-state results of one patient data set side by side (:mod:`hta.multistate.compare`).

    ``results``: the methods' :class:`hta.multistate.compare.MethodResult` (one per method and
    strategy); ``observed``: {strategy: Aalen-Johansen occupancy table} (the data's reference);
    ``fits``: the fit table (transition, family, log-likelihood, AIC, BIC) or None;
    ``reference`` / ``comparator``: the strategies of the ICER; ``figure_horizon``: years drawn;
    ``currency``: label of the money columns.
    """

    results: tuple
    observed: Mapping
    reference: str
    comparator: str
    fits: Any = None
    figure_horizon: float = 6.0
    currency: str = "GBP"
    key = "multistate_comparison"

    def __post_init__(self):
        strategies = {r.strategy for r in self.results}
        for s in (self.reference, self.comparator):
            if s not in strategies:
                raise HtaError(f"MultiStateComparison: expected strategy {s!r} among the results; "
                               f"found {', '.join(sorted(strategies)) or 'none'}")

    def run(self, state) -> "MultiStateComparisonResult":
        from hta.multistate import compare as cmp

        table = cmp.comparison_table(list(self.results), reference=self.reference, comparator=self.comparator)
        occupancy = cmp.occupancy_table(list(self.results), dict(self.observed))
        return MultiStateComparisonResult(table=table, occupancy=occupancy, fits=self.fits,
                                          states=tuple(self.results[0].states), figure_horizon=float(self.figure_horizon),
                                          reference=self.reference, comparator=self.comparator, currency=self.currency)


@dataclass
class MultiStateComparisonResult:
    table: pd.DataFrame      # per method and strategy: years per state, life-years, costs, QALYs, increments, ICER
    occupancy: pd.DataFrame  # long: method, strategy, time (years), state, probability (with Aalen-Johansen)
    fits: pd.DataFrame | None
    states: tuple
    figure_horizon: float
    reference: str
    comparator: str
    currency: str
