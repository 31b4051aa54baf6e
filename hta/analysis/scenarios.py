"""Scenario analysis: the base case under alternative assumptions, side by side.

A :class:`Scenario` changes the base model in up to three ways, applied in this order:

1. ``model``: another model object, or a function ``base_model -> model`` (for the flagship:
   ``lambda m: m.with_structure("stm")`` or ``lambda m: m.with_survival(...)``);
2. ``settings``: passed to ``model.with_settings(**settings)`` (horizon, cycle, discounting...);
3. ``overrides``: ``{parameter: value}`` fixes parameters at new values (a distribution instead
   of a number replaces the parameter's PSA distribution), through
   ``ParameterTable.with_overrides``.

:func:`compare` evaluates every scenario's base case (one row per scenario, in the same batch as
its threshold scan when a threshold is asked for) and returns one table: totals per strategy,
increments versus the comparator (first strategy), ICER, incremental NMB at each WTP and, on
request, the threshold value of a parameter (e.g. the price at which ICER = WTP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hta.analysis.dsa import _pairs, _strategies, threshold_search, wtp_list
from hta.analysis.evaluate import evaluate_all, model_parameters
from hta.errors import HtaError

__all__ = ["Scenario", "ScenarioModel", "compare"]


class ScenarioModel:
    """A model with a scenario's parameter table; everything else is the wrapped model's.

    Follows the model protocol, so every analysis (PSA, tornado, threshold) runs on a scenario.
    """

    def __init__(self, model, parameters, scenario_name: str = ""):
        self._model = model
        self._parameters = parameters
        self.scenario_name = scenario_name

    @property
    def parameters(self):
        return self._parameters

    def evaluate(self, batch, **kwargs):
        return self._model.evaluate(batch, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("_"):  # keeps pickling and copying away from the delegation
            raise AttributeError(name)
        return getattr(self._model, name)

    def __repr__(self) -> str:
        return f"ScenarioModel({self.scenario_name!r}, {self._model!r})"


@dataclass
class Scenario:
    """One scenario: a name, a description and the changes it makes to the base model."""

    name: str
    description: str = ""
    model: Any = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, base_model):
        """The scenario's model (follows the model protocol)."""
        model = base_model
        if self.model is not None:
            if hasattr(self.model, "evaluate"):
                model = self.model
            elif callable(self.model):
                model = self.model(base_model)
            else:
                raise HtaError(f"scenario '{self.name}': model must be a model or a function of the base model; "
                               f"found {type(self.model).__name__}")
            if not hasattr(model, "evaluate"):
                raise HtaError(f"scenario '{self.name}': the model function must return a model; found {type(model).__name__}")
        if self.settings:
            if not hasattr(model, "with_settings"):
                raise HtaError(f"scenario '{self.name}': the model has no with_settings(); cannot change "
                               f"{', '.join(self.settings)}")
            model = model.with_settings(**dict(self.settings))
        if self.overrides:
            table = model_parameters(model).with_overrides(dict(self.overrides))
            model = ScenarioModel(model, table, self.name)
        return model


def compare(base_model, scenarios: Sequence[Scenario], wtps=None, include_base: bool = True,
            threshold_parameter: str | None = None, threshold_range: tuple[float, float] | None = None,
            comparator: str | None = None) -> pd.DataFrame:
    """Deterministic results of each scenario in one table.

    One row per scenario and non-comparator strategy (the base case first, named "base case",
    when ``include_base``). Columns: ``scenario``, ``description``, ``strategy``, ``comparator``;
    per strategy ``s``: ``cost_<s>``, ``qalys_<s>``, ``lys_<s>`` (discounted totals); then
    ``inc_cost``, ``inc_qalys``, ``inc_lys``, ``icer``; per WTP (label ``L``, default the model's
    WTP list): ``inmb [L]`` and, when ``threshold_parameter`` is given, ``threshold [L]``: the value
    of that parameter at which ICER = WTP in ``threshold_range`` (default 0 to 10 x its base;
    ``nan`` when none). ICER is ``dCost / dQALY``.
    """
    items = list(scenarios)
    for s in items:
        if not isinstance(s, Scenario):
            raise HtaError(f"scenarios: expected Scenario objects; found {type(s).__name__}")
    names = [s.name for s in items]
    if len(set(names)) != len(names):
        raise HtaError(f"scenarios: names must be unique; found {names}")
    if include_base:
        items = [Scenario("base case", "base-case assumptions")] + items
    wtps = wtp_list(wtps, base_model)
    rows = []
    for scenario in items:
        model = scenario.apply(base_model)
        strategies = _strategies(model)
        table = model_parameters(model)
        pairs = _pairs(model, comparator=comparator)
        thresholds = {}
        if threshold_parameter is None:
            costs, qalys, lys = (a[0] for a in evaluate_all(model, table.base()))
        else:
            # the base case, the threshold scan and the Brent searches of every pair and WTP share
            # their model calls (the same numbers as one evaluation and one threshold() each)
            base = table[threshold_parameter].base
            lo, hi = threshold_range if threshold_range is not None else (0.0, 10.0 * abs(base) or 1.0)
            targets = [(k, pair) for pair in pairs for _, k in wtps]
            found, (costs, qalys, lys) = threshold_search(model, threshold_parameter, targets, lo, hi, base_row=True)
            thresholds = {(pair, k): r.value for (k, pair), r in zip(targets, found)}
        for s, r in pairs:
            row: dict[str, Any] = {"scenario": scenario.name, "description": scenario.description,
                                   "strategy": strategies[s], "comparator": strategies[r]}
            for j, name in enumerate(strategies):
                row[f"cost_{name}"] = costs[j]
                row[f"qalys_{name}"] = qalys[j]
                row[f"lys_{name}"] = lys[j]
            dc, dq = costs[s] - costs[r], qalys[s] - qalys[r]
            row.update(inc_cost=dc, inc_qalys=dq, inc_lys=lys[s] - lys[r])
            with np.errstate(divide="ignore", invalid="ignore"):
                row["icer"] = float(np.float64(dc) / np.float64(dq))
            for label, k in wtps:
                row[f"inmb [{label}]"] = k * dq - dc
            if threshold_parameter is not None:
                for label, k in wtps:
                    row[f"threshold [{label}]"] = thresholds[((s, r), k)]
            rows.append(row)
    return pd.DataFrame(rows)
