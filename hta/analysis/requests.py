"""The analyses a plan can request, each with its typed result.

Every request is a frozen dataclass with a ``key`` and ``run(state) -> result``; every result is
a dataclass of data frames and numbers (no sheets, no text). A new analysis is one request and
one result here (its computation in its own module of :mod:`hta.analysis` when it is new
mathematics) and one presenter in :mod:`hta.report.sections`.

Units: money in the model's currency (HK$ for the flagship), QALYs and LYs in years, WTP per
QALY; ``wtp`` items are ``(label, value)`` pairs from the model's settings, first = reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hta.analysis.evaluate import PsaResult
from hta.errors import HtaError
from hta.protocol import capabilities, model_label, strategy_labels

__all__ = [
    "OneWay", "OneWayResult", "Threshold", "ThresholdResult", "Psa", "PsaAnalysis", "Scenarios", "ScenariosResult",
    "Sobol", "SobolResult", "TwoWay", "TwoWayResult", "BudgetImpact", "BudgetImpactResult", "SurvivalSelection",
    "SurvivalSelectionResult", "FormulaWorkbook", "FormulaWorkbookResult", "Verification", "VerificationResult",
    "Cheers", "CheersResult",
]


def _count(name: str, value, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum):
        raise HtaError(f"{name}: expected a whole number >= {minimum}; found {value!r}")


# -- one-way ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneWay:
    """One-way analysis of every parameter between its low and high values, at the first WTP."""

    key = "tornado"

    def run(self, state) -> "OneWayResult":
        from hta.analysis import dsa

        label, k = state.wtp[0]
        ow = dsa.one_way(state.model, wtp=k)
        return OneWayResult(one_way=ow, tornado=dsa.tornado(ow, "inmb"), tornado_icer=dsa.tornado(ow, "icer"),
                            tornado_cost=dsa.tornado(ow, "inc_cost"), tornado_qaly=dsa.tornado(ow, "inc_qaly"),
                            wtp_label=label, wtp=k)


@dataclass
class OneWayResult:
    one_way: pd.DataFrame      # every parameter at low and high: increments, ICER, incremental NMB
    tornado: pd.DataFrame      # incremental NMB at the first WTP, widest swing first
    tornado_icer: pd.DataFrame
    tornado_cost: pd.DataFrame
    tornado_qaly: pd.DataFrame
    wtp_label: str
    wtp: float


# -- threshold --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """The value of ``parameter`` at which the ICER equals each WTP (bracketing root-finding in
    ``[lower, upper]``; ``upper`` defaults to 10 x the base value).

    ``curve_multiples`` (multiples of the first WTP) or ``curve_wtp`` (values) add the threshold
    over a WTP grid for the model and every alternative structure. When the plan also has a PSA,
    the value at which P(cost-effective) reaches ``level`` is found with ``probabilistic_draws``
    draws of the same seed (2,000 by default; stated in the output).
    """

    parameter: str
    lower: float = 0.0
    upper: float | None = None
    curve_multiples: tuple | None = None
    curve_wtp: tuple | None = None
    level: float = 0.5
    probabilistic_draws: int = 2000
    key = "threshold"

    def __post_init__(self):
        _count("Threshold probabilistic_draws", self.probabilistic_draws, 2)
        if not 0 < self.level < 1:
            raise HtaError(f"Threshold level: expected a probability between 0 and 1; found {self.level!r}")
        if self.curve_multiples is not None and self.curve_wtp is not None:
            raise HtaError("Threshold: give curve_multiples or curve_wtp, not both")

    def _upper(self, model) -> float:
        return float(self.upper if self.upper is not None else (10 * abs(model.parameters[self.parameter].base) or 1.0))

    def run(self, state) -> "ThresholdResult":
        from hta.analysis import dsa

        model, wtp, parameter = state.model, state.wtp, self.parameter
        table = model.parameters
        if parameter not in table:
            raise HtaError(f"threshold analysis: no parameter named '{parameter}'")
        lower, upper = float(self.lower), self._upper(model)
        curve = frame = None
        if self.curve_multiples or self.curve_wtp:
            curve, frame = self._curve(state, lower)  # with the table at the settings' WTPs (shared model calls)
        if frame is None:
            frame = dsa.threshold_table(model, parameter, wtps=wtp, lower=lower, upper=upper)
        probabilistic = None
        if "psa" in state.planned:
            # one evaluation of the draws at each parameter value serves every WTP
            probabilistic = dsa.probabilistic_thresholds(model, parameter, [k for _, k in wtp], level=self.level,
                                                         n=self.probabilistic_draws, seed=state.seed,
                                                         lower=lower, upper=upper, workers=state.execution.workers)
        return ThresholdResult(parameter=parameter, table=frame, base_value=table[parameter].base, lower=lower,
                               upper=upper, probabilistic=probabilistic, level=self.level,
                               probabilistic_draws=self.probabilistic_draws, curve=curve, wtp=wtp)

    def _curve(self, state, lower: float) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The curve and the model's threshold table at the settings' WTPs (found with the
        model's curve, sharing its scan and model calls; None if the model is not among the
        structures)."""
        from hta.analysis import dsa

        wtp = state.wtp
        unit_label, unit = wtp[0]
        if self.curve_wtp is not None:
            values = [float(v) for v in self.curve_wtp]
            multiples = [v / unit for v in values]
        else:
            multiples = [float(m) for m in self.curve_multiples]
            values = [m * unit for m in multiples]
        if not values or any(not np.isfinite(v) or v <= 0 for v in values):
            raise HtaError(f"threshold curve: expected WTP values > 0; found {values}")
        basis = unit_label[3:] if unit_label.startswith("1x ") else unit_label  # "HK GDP per capita"
        grid = [(f"{m:g}x {basis}", v) for m, v in zip(multiples, values)]
        frame = pd.DataFrame({"multiple": multiples, "wtp": values})
        structures = {state.results.structure_label: state.model, **state.alternatives}
        own = None
        for label, m in structures.items():
            if own is None and m is state.model:
                own, table = dsa.threshold_tables(m, self.parameter, [state.wtp, grid], lower=lower,
                                                  upper=self._upper(m))
            else:
                table = dsa.threshold_table(m, self.parameter, wtps=grid, lower=lower, upper=self._upper(m))
            frame[label] = table["threshold"].where(table["found"]).to_numpy(float)
        frame.attrs["basis"] = basis
        return frame, own


@dataclass
class ThresholdResult:
    parameter: str
    table: pd.DataFrame          # per WTP: threshold, found, roots, message
    base_value: float
    lower: float
    upper: float
    probabilistic: list | None   # dsa.ProbabilisticThreshold per WTP (with a PSA in the plan)
    level: float
    probabilistic_draws: int
    curve: pd.DataFrame | None   # multiple, wtp, one column per structure
    wtp: list


# -- PSA --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Psa:
    """Probabilistic sensitivity analysis: ``draws`` (default: the settings' psa_draws, else
    1,000) of one seeded PSA in chunks of ``chunk_size``; CEAC, CEAF, EVPI over a WTP grid of
    0 to 1.5 x the highest WTP (61 points); ``evppi=True`` adds EVPPI per parameter and group at
    the first WTP (regression method of Strong et al. 2014)."""

    draws: int | None = None
    chunk_size: int | None = None  # None: sized from memory (hta.analysis.evaluate); never changes a result
    evppi: bool = False
    key = "psa"

    def __post_init__(self):
        _count("Psa draws", self.draws, 2)
        _count("Psa chunk_size", self.chunk_size, 1)

    def run(self, state) -> "PsaAnalysis":
        from hta.analysis import psa as psa_mod
        from hta.analysis.evaluate import run_psa

        model, wtp, ex = state.model, state.wtp, state.execution
        n = int(self.draws or getattr(model.settings, "psa_draws", None) or 1000)
        res = run_psa(model, n, state.seed, chunk_size=self.chunk_size, scheduler=ex.scheduler,
                      workers=ex.workers, progress=ex.progress)
        strategies = list(model.strategies)
        labels = strategy_labels(model)
        names = [labels[s] for s in strategies]
        wtp_values = [v for _, v in wtp]
        summary = pd.concat([
            psa_mod.summarise(res.costs, [f"cost: {x}" for x in names]),
            psa_mod.summarise(res.qalys, [f"QALYs: {x}" for x in names]),
            psa_mod.summarise(res.lys, [f"LYs: {x}" for x in names]),
        ])
        summary = summary.reset_index() if summary.index.name else summary
        inc = psa_mod.incremental_summary(res.costs, res.qalys, strategies, strategies[0], wtp_values)
        grid = np.linspace(0, 1.5 * max(wtp_values), 61)
        s = model.settings
        evpi_rows = []
        for label, k in wtp:
            nb = k * res.qalys - res.costs
            per = float(psa_mod.evpi(nb))
            pop = (float(psa_mod.population_evpi(per, s.annual_population, int(s.population_years),
                                                 s.discount_outcomes))
                   if s.annual_population and s.population_years else np.nan)
            evpi_rows.append({"wtp_label": label, "wtp": k, "evpi_per_patient": per, "evpi_population": pop,
                              "annual_population": s.annual_population, "population_years": s.population_years})
        curves = psa_mod.wtp_curves(res.costs, res.qalys, grid, strategies=names)  # one pass over the NMB
        # The EVPPI table (the longest part of this step) is read by the report only: it is computed
        # beside the next analyses where a helper process can be forked (RunState.in_background).
        evppi = state.in_background(lambda workers: _evppi(model, res, wtp[0], workers), "EVPPI") if self.evppi else None
        return PsaAnalysis(result=res, names=names, summary=summary, incremental=inc,
                           ceac=curves.ceac_frame(), ceaf=curves.ceaf_frame(),
                           evpi=pd.DataFrame(evpi_rows), evpi_curve=curves.evpi_frame(),
                           evppi=evppi, wtp=wtp, seed=state.seed)


def _evppi(model, res: PsaResult, wtp_item, workers: int | None = None) -> pd.DataFrame:
    from hta.analysis.voi import evppi_table

    _, k = wtp_item
    nb = k * res.qalys - res.costs
    inputs = res.inputs
    varying = [c for c in inputs.columns if np.ptp(inputs[c].to_numpy()) > 0]
    groups = {}
    for g, members in model.parameters.groups.items():
        members = [m for m in members if m in varying]
        if len(members) > 1:
            groups[f"group: {g}"] = members
    items = {name: name for name in varying} | groups
    frame = evppi_table(nb, inputs, items, workers=workers)
    frame["parameters"] = frame["parameters"].map(lambda v: ", ".join(v) if isinstance(v, (list, tuple)) else v)
    return frame


@dataclass
class PsaAnalysis:
    result: PsaResult            # per-draw costs, QALYs, LYs (n, S) and the drawn inputs
    names: list                  # strategy labels in strategy order
    summary: pd.DataFrame
    incremental: pd.DataFrame
    ceac: pd.DataFrame
    ceaf: pd.DataFrame
    evpi: pd.DataFrame           # per WTP of the settings: per patient and population
    evpi_curve: pd.DataFrame
    evppi: Any                   # DataFrame at the first WTP, or None (a Pending while the plan runs)
    wtp: list
    seed: Any

    @property
    def n(self) -> int:
        return self.result.n

    def incremental_draws(self) -> tuple[np.ndarray, np.ndarray]:
        """(incremental cost, incremental QALYs) of the last strategy vs the first, per draw."""
        r = self.result
        return r.costs[:, -1] - r.costs[:, 0], r.qalys[:, -1] - r.qalys[:, 0]


# -- scenarios, Sobol, two-way ----------------------------------------------------------------


@dataclass(frozen=True)
class Scenarios:
    """Deterministic results of each :class:`hta.analysis.scenarios.Scenario` (and, with a
    threshold request in the plan, its threshold value)."""

    scenarios: tuple
    key = "scenarios"

    def run(self, state) -> "ScenariosResult":
        from hta.analysis.scenarios import compare

        threshold = next((r for r in (state.earlier("threshold"),) if r is not None), None)
        parameter = rng = None
        if threshold is not None:
            parameter, rng = threshold.parameter, (threshold.lower, threshold.upper)
        frame = compare(state.model, list(self.scenarios), wtps=state.wtp, threshold_parameter=parameter,
                        threshold_range=rng)
        return ScenariosResult(table=frame, parameter=parameter, wtp=state.wtp, scenarios=tuple(self.scenarios))


@dataclass
class ScenariosResult:
    table: pd.DataFrame
    parameter: str | None
    wtp: list
    scenarios: tuple = ()        # the Scenario definitions (for the plausibility warnings of the report)


@dataclass(frozen=True)
class Sobol:
    """Sobol first-order and total indices of incremental NMB at the first WTP (SALib; Saltelli
    design of ``n_base`` x (D + 2) model runs; correlated blocks as groups by default)."""

    n_base: int = 1024
    groups: Any = "blocks"
    key = "sobol"

    def __post_init__(self):
        _count("Sobol n_base", self.n_base, 2)

    def run(self, state) -> "SobolResult":
        from hta.analysis.gsa import sobol_run

        label, k = state.wtp[0]
        ex = state.execution
        frame, totals = sobol_run(state.model, n_base=int(self.n_base), wtp=k, seed=state.seed, groups=self.groups,
                                  scheduler=ex.scheduler, workers=ex.workers)
        return SobolResult(table=frame, wtp_label=label, crossing=totals.crossing, groups=self.groups)


@dataclass
class SobolResult:
    table: pd.DataFrame
    wtp_label: str
    crossing: dict | None = None   # the design's crossing records (hta.analysis.evaluate.crossing_records)
    groups: Any = None             # the design's groups (the crossing report reuses the records of the same design)


@dataclass(frozen=True)
class TwoWay:
    """Incremental NMB (first WTP) and ICER over a grid of two parameters."""

    p1: str
    values1: tuple
    p2: str
    values2: tuple
    key = "two_way"

    def run(self, state) -> "TwoWayResult":
        from hta.analysis import dsa

        label, k = state.wtp[0]
        frame = dsa.two_way(state.model, self.p1, list(self.values1), self.p2, list(self.values2), wtp=k)
        return TwoWayResult(table=frame, p1=self.p1, p2=self.p2, wtp_label=label, wtp=k)


@dataclass
class TwoWayResult:
    table: pd.DataFrame
    p1: str
    p2: str
    wtp_label: str
    wtp: float


# -- budget impact, survival selection --------------------------------------------------------


@dataclass(frozen=True)
class BudgetImpact:
    """Budget impact (ISPOR 2014; ``docs/bia.md``) of the workbook's budget inputs, with
    scenarios ``[{"name", "description", "budget": {item: value}, "parameters": {name: value}}]``."""

    inputs: Any
    scenarios: tuple = ()
    key = "bia"

    def run(self, state) -> "BudgetImpactResult":
        from hta.analysis import bia as bia_mod
        from hta.inputs import BudgetInputs

        if not isinstance(self.inputs, BudgetInputs):
            raise HtaError("budget impact: expected the budget inputs of a workbook (Budget and BudgetShares sheets); "
                           f"found {type(self.inputs).__name__}")
        out = bia_mod.analyse(state.model, self.inputs, list(self.scenarios))
        return BudgetImpactResult(inputs=self.inputs, frames=out, net_total=float(out["net_total"]),
                                  eligible_share=bia_mod.eligible_share(self.inputs), scenarios=tuple(self.scenarios))


@dataclass
class BudgetImpactResult:
    inputs: Any                  # hta.inputs.BudgetInputs
    frames: dict                 # yearly, by_category, categories, population, shares, patients, one_way, scenarios, inputs
    net_total: float             # net budget impact over the horizon (undiscounted)
    eligible_share: float
    scenarios: tuple = ()        # the scenario definitions (dicts), for the report's plausibility warnings


@dataclass(frozen=True)
class SurvivalSelection:
    """Every candidate family per endpoint (NICE DSU TSD 14): fit, extrapolation against the
    general population, restricted mean and the ICER with each (``hta.analysis.survival_selection``)."""

    candidates: tuple
    horizon_years: float = 20.0
    key = "survival_selection"

    def run(self, state) -> "SurvivalSelectionResult":
        from hta.analysis.survival_selection import compare, curves_for_plot

        frame = compare(list(self.candidates))
        labels = strategy_labels(state.model)
        frame.insert(1, "label", frame["strategy"].map(lambda s: labels.get(s, s)))
        return SurvivalSelectionResult(table=frame, plot_data=curves_for_plot(list(self.candidates),
                                                                              horizon_years=self.horizon_years))


@dataclass
class SurvivalSelectionResult:
    table: pd.DataFrame
    plot_data: dict


# -- formula workbook, verification, CHEERS ---------------------------------------------------


@dataclass(frozen=True)
class FormulaWorkbook:
    """Also write the base case as a formula-live Excel model, ``<name>_model.xlsx``
    (``docs/excel_model.md``); the model must offer ``excel_book()``."""

    key = "excel_model"

    def run(self, state) -> "FormulaWorkbookResult":
        model = state.model
        if not capabilities(model).formula_workbook:
            raise HtaError(f"excel_model: model '{model.name}' has no excel_book() (docs/excel_model.md); found none")
        return FormulaWorkbookResult(model=model, name=state.results.name)


@dataclass
class FormulaWorkbookResult:
    model: Any
    name: str


@dataclass(frozen=True)
class Verification:
    """The black-box verification checks (``hta.analysis.verify``; TECH-VER) on the model and
    every alternative; a failed check is reported, not raised."""

    psa_draws: int = 2000
    utility_min: float = 0.0
    key = "verification"

    def __post_init__(self):
        _count("Verification psa_draws", self.psa_draws, 2)

    def run(self, state) -> "VerificationResult":
        models = {state.results.structure_label: state.model, **state.alternatives}
        return verification(models, psa_draws=self.psa_draws, utility_min=self.utility_min, seed=state.seed,
                            workers=state.execution.workers)


def verification(models: dict, *, psa_draws: int = 2000, utility_min: float = 0.0, seed=None,
                 workers: int | None = None) -> "VerificationResult":
    """Verification reports of ``models`` ({label: model}); each PSA check evaluates its chunks on
    ``workers`` threads (default every core; ``workers=1`` one after another)."""
    from hta.analysis.verify import verify

    reports = {label: verify(m, psa_draws=int(psa_draws), seed=seed, utility_min=float(utility_min), workers=workers)
               for label, m in models.items()}
    return VerificationResult(reports=reports)


@dataclass
class VerificationResult:
    reports: dict                # label -> hta.analysis.verify.VerificationReport

    @property
    def failed(self) -> int:
        return sum(len(r.failed) for r in self.reports.values())

    def table(self) -> pd.DataFrame:
        return pd.concat([r.table.assign(model=label)[["model", *r.table.columns]] for label, r in self.reports.items()],
                         ignore_index=True)

    def roles(self) -> pd.DataFrame:
        return pd.concat([r.roles.assign(model=label)[["model", *r.roles.columns]] for label, r in self.reports.items()],
                         ignore_index=True)


@dataclass(frozen=True)
class Cheers:
    """The CHEERS 2022 checklist, filled in from the run; ``statements`` ({item: where}) answer
    the items a run cannot answer itself. Put it last: it looks at every other analysis."""

    statements: dict = field(default_factory=dict)
    key = "cheers"

    def run(self, state) -> "CheersResult":
        return CheersResult(statements=dict(self.statements))


@dataclass
class CheersResult:
    statements: dict


def label_of(model) -> str:
    """How a model is named in verification reports run on their own (``hta check``)."""
    return model_label(model)
