"""The model protocol: what every decision model offers, and what a model may also offer.

A decision model is a function of a parameter batch. :class:`Model` is the required surface;
every analysis works on any object that has it. The small optional protocols below name what a
model *may* also do (traces on request, survival curves, other settings, a formula-live Excel
form, ...). :func:`capabilities` inspects a model once and returns a :class:`Capabilities`
record; analyses and the report ask that record, never the model, what it can do, and
:func:`check_model` refuses an object that is not a model with one message naming what is
missing.

Conventions (``docs/architecture.md``): strategies are named, comparator first; ``evaluate``
returns per-sample totals ``costs``, ``qalys`` and ``lys`` of shape ``(n, S)`` in strategy order
(discounted; costs in the model's currency, QALYs and LYs in years); the cycle grid is in years.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError

__all__ = ["Model", "Capabilities", "capabilities", "check_model", "model_label", "strategy_labels",
           "KeepsCohort", "Reconfigurable", "HasSurvivalCurves", "HasSurvivalSpecs", "HasStructure",
           "HasFormulaWorkbook", "HasIdenticalEfficacy", "HasGeneralPopulation", "HasTransitionMatrices",
           "HasParameterRoles", "HasInputsPath", "HasCrossing", "HasGrid", "model_grid"]


@runtime_checkable
class Model(Protocol):
    """Required: a name, strategies, settings, a parameter table and ``evaluate(batch)``.

    ``settings`` is a :class:`hta.inputs.Settings` (horizon, cycle, discounting, WTP, seed, ...);
    ``parameters`` a :class:`hta.params.ParameterTable` built once (analyses read it many times);
    ``evaluate(batch)`` returns an object with ``costs``, ``qalys`` and ``lys`` arrays ``(n, S)``
    (e.g. :class:`hta.engine.outcomes.Outcomes`).
    """

    name: str
    strategies: tuple
    settings: Any
    parameters: Any

    def evaluate(self, batch): ...


@runtime_checkable
class Reconfigurable(Protocol):
    """``with_settings(**changes)`` returns a copy with settings changed (budget impact, checks)."""

    def with_settings(self, **changes): ...


@runtime_checkable
class HasSurvivalCurves(Protocol):
    """``survival_curves(batch)`` -> {(strategy, endpoint): (n, T+1) survival at the grid's times}."""

    def survival_curves(self, batch) -> dict: ...


@runtime_checkable
class HasSurvivalSpecs(Protocol):
    """``survival``: {(strategy, endpoint): spec with distribution, coef, coef_names, time_unit, source}."""

    survival: Mapping


@runtime_checkable
class HasStructure(Protocol):
    """``structure``: a short code of the model structure (``"psm"``, ``"stm"``, ...)."""

    structure: str


@runtime_checkable
class HasFormulaWorkbook(Protocol):
    """``excel_book()``: the base case as a formula-live workbook (``docs/excel_model.md``)."""

    def excel_book(self): ...


@runtime_checkable
class HasIdenticalEfficacy(Protocol):
    """``with_identical_efficacy()``: every strategy with the comparator's efficacy (a check)."""

    def with_identical_efficacy(self): ...


@runtime_checkable
class HasGeneralPopulation(Protocol):
    """``background_cumhaz()``: general-population cumulative hazard at the grid's times."""

    def background_cumhaz(self): ...


@runtime_checkable
class HasTransitionMatrices(Protocol):
    """``transition_matrices(batch)``: per-cycle transition matrices of a Markov model."""

    def transition_matrices(self, batch): ...


@runtime_checkable
class HasParameterRoles(Protocol):
    """``parameter_roles``: {parameter name: role} for the verification checks."""

    parameter_roles: Mapping


@runtime_checkable
class HasInputsPath(Protocol):
    """``inputs_path``: the input workbook the model was built from (hashed in provenance)."""

    inputs_path: Any


@runtime_checkable
class HasCrossing(Protocol):
    """``crossing(batch, threshold)``: the uncapped crossing of the model's partitioned-survival
    curves in ``batch``, a :func:`hta.engine.psm.crossing_summary` frame (no rows when the
    structure has no partitioned curves)."""

    def crossing(self, batch, threshold: float = 0.01): ...


class KeepsCohort:
    """A model whose ``evaluate(batch, keep_cohort=True)`` also returns the cohorts (traces).

    Not a structural protocol: the keyword is detected from ``evaluate``'s signature, once, by
    :func:`capabilities`.
    """


@dataclass(frozen=True)
class Capabilities:
    """What a model offers beyond the required protocol, decided once by :func:`capabilities`."""

    keeps_cohort: bool
    reconfigurable: bool
    survival_curves: bool
    survival_specs: bool
    structure: bool
    formula_workbook: bool
    identical_efficacy: bool
    general_population: bool
    transition_matrices: bool
    parameter_roles: bool
    inputs_path: bool
    crossing: bool = False


def _accepts_keep_cohort(model) -> bool:
    try:
        sig = inspect.signature(model.evaluate)
    except (TypeError, ValueError):
        return False
    return "keep_cohort" in sig.parameters or any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def check_model(model) -> None:
    """Raise :class:`HtaError` naming every required member ``model`` lacks."""
    missing = [name for name in ("name", "strategies", "settings", "parameters") if not hasattr(model, name)]
    if not callable(getattr(model, "evaluate", None)):
        missing.append("evaluate(batch)")
    if missing:
        raise HtaError(f"model {type(model).__name__}: expected the model protocol (docs/architecture.md); "
                       f"missing {', '.join(missing)}")
    if len(tuple(model.strategies)) < 1:
        raise HtaError(f"model {model.name!r}: expected at least one strategy; found none")


def capabilities(model) -> Capabilities:
    """The optional protocols ``model`` follows (checks the required protocol first)."""
    check_model(model)
    return Capabilities(
        keeps_cohort=_accepts_keep_cohort(model),
        reconfigurable=isinstance(model, Reconfigurable),
        survival_curves=isinstance(model, HasSurvivalCurves),
        survival_specs=isinstance(getattr(model, "survival", None), Mapping),
        structure=isinstance(getattr(model, "structure", None), str),
        formula_workbook=isinstance(model, HasFormulaWorkbook),
        identical_efficacy=isinstance(model, HasIdenticalEfficacy),
        general_population=isinstance(model, HasGeneralPopulation),
        transition_matrices=isinstance(model, HasTransitionMatrices),
        parameter_roles=isinstance(getattr(model, "parameter_roles", None), Mapping),
        inputs_path=bool(getattr(model, "inputs_path", "")),
        crossing=isinstance(model, HasCrossing),
    )


@runtime_checkable
class HasGrid(Protocol):
    """``grid``: the model's cycle grid (:class:`hta.engine.timegrid.CycleGrid`, times in years)."""

    grid: Any


def model_grid(model):
    """The model's cycle grid: ``model.grid``, else the grid of ``settings.horizon_years`` and
    ``settings.cycle`` (:meth:`CycleGrid.from_horizon`), else None (e.g. a FunctionModel without
    settings: the report then has no time axis for traces or curves)."""
    if isinstance(model, HasGrid) and model.grid is not None:
        return model.grid
    settings = getattr(model, "settings", None)
    if settings is None or getattr(settings, "horizon_years", None) is None:
        return None
    return CycleGrid.from_horizon(settings.horizon_years, settings.cycle)


def strategy_labels(model) -> dict:
    """``{strategy: label}`` for every strategy (the name where the model gives no label)."""
    given = getattr(model, "strategy_labels", None) or {}
    return {s: given.get(s, s) for s in model.strategies}


def model_label(model) -> str:
    """The model's structure code, else its name (used to title verification reports)."""
    return getattr(model, "structure", "") or getattr(model, "name", "model")
