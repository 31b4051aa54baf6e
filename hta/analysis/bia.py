"""Budget impact analysis (ISPOR good practice II, Sullivan et al., Value Health 2014;17:5-14).

The budget impact of listing a new drug is the difference, year by year, between the budget of
the world *with* the new drug and the world *without* it, for the eligible population of the
budget holder (the Hospital Authority). This module is the engine: pure numpy/pandas, no
Excel, plots or command line. ``docs/bia.md`` gives the method and conventions.

Conventions
-----------
* **Budget years** ``y = 1..H`` are calendar years ``start_year + y - 1``; the first is the year
  of listing. Arrays over budget years have length ``H``.
* **Per-patient cost profiles** are *undiscounted* (ISPOR: budgets are not discounted) costs of
  one patient who starts a strategy, by cost category, taken from the decision model's own
  outcome engine (:func:`cost_periods`): the model is evaluated at horizons of 1/m, 2/m, ...
  years (m = 2 half-years when the cycle allows) and the cumulative undiscounted cost lines are
  differenced, so the per-period costs sum exactly to the model's undiscounted totals and the
  BIA and the CEA cannot disagree. Model time is years since the patient's start.
* **Entry**: ``"mid-year"`` (default) places a cohort's start in the middle of its calendar
  year (patients start uniformly through the year, on average at mid-year): model half-year 1
  falls in the entry year, half-years 2-3 in the next year, and so on. ``"start"`` places the
  start on 1 January: model year k falls in calendar year entry + k - 1. One-off costs at model
  time 0 (a CAR-T infusion) always fall in the entry year.
* **Population**: patients are counts per calendar year (population, not per-patient); new
  cases = population x incidence, both projected from ``population_year`` with their own annual
  growth; eligible patients = new cases x the product of the ``eligible_*`` shares; an optional
  prevalent pool of already-eligible patients starts in budget year 1.
* **Market shares**: shares of the patients starting treatment in a year, per strategy, summing
  to 1 in each world. With the new drug its share is the uptake curve; the share it gains is
  taken from the comparators in proportion to displacement weights (by default their shares
  without the new drug).
* Every engine function takes arrays with a leading sample axis ``(n, ...)`` (n = 1 for the base
  case; one-way variants and scenarios are rows of one batch) and never loops over samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.inputs.budget import (  # noqa: F401 (re-exported)
    ENTRY,
    SHARE_TOLERANCE,
    UPTAKE_CURVES,
    WORLDS,
    BudgetInputs,
    _need,
    eligible_share,
    entrants,
    market_shares,
    new_cases,
    uptake,
)
from hta.protocol import capabilities, strategy_labels

# ---------------------------------------------------------------------------------------------
# Per-patient costs by year since start (from the model's own outcome engine)


def periods_per_year(model) -> int:
    """2 (half-years) when the model's cycle is at most half a year, else 1."""
    return 2 if model.grid.cycle_years <= 0.5 + 1e-12 else 1


def cost_periods(model, batch, years: int, per_year: int | None = None):
    """Undiscounted per-patient costs by strategy, category and period since start.

    The model is evaluated at horizons ``p / per_year`` (p = 1 .. years x per_year, capped at the
    model's horizon) and at its own horizon; cumulative undiscounted cost lines by category are
    differenced. Returns ``(costs, categories, per_year)`` with ``costs`` of shape
    ``(n, S, C, P + 1)`` in ``model.strategies`` order: ``P = years x per_year`` periods, then one
    last column with every cost after them (so the sum over the last axis is the model's
    undiscounted total). A model must offer ``with_settings(horizon_years=...)``.
    """
    per_year = per_year or periods_per_year(model)
    if not capabilities(model).reconfigurable:
        raise HtaError(f"budget impact: model '{model.name}' has no with_settings(horizon_years=...), "
                       "which the budget impact needs to read its costs by year")
    horizon = float(model.grid.horizon_years)
    strategies = list(model.strategies)
    full = model.evaluate(batch)
    categories: list = []
    for s in strategies:
        for c in full[s].by("cost", "category", discounted=False):
            if c not in categories:
                categories.append(c)
    n = full.n

    def cumulative(outcomes) -> np.ndarray:
        out = np.zeros((n, len(strategies), len(categories)))
        for i, s in enumerate(strategies):
            for c, v in outcomes[s].by("cost", "category", discounted=False).items():
                out[:, i, categories.index(c)] = v
        return out

    total = cumulative(full)
    P = years * per_year
    cum = np.zeros((n, len(strategies), len(categories), P + 2))
    for p in range(1, P + 1):
        h = p / per_year
        if h >= horizon - 1e-9:
            cum[..., p] = total
        else:
            cum[..., p] = cumulative(model.with_settings(horizon_years=h).evaluate(batch))
    cum[..., P + 1] = total
    return np.diff(cum, axis=-1), categories, per_year


def calendar_profile(periods: np.ndarray, per_year: int, entry: str, years: int) -> np.ndarray:
    """Per-patient costs by calendar year since entry, ``(..., years)`` (offset 0 = entry year).

    ``periods`` has ``per_year`` periods a year since start on its last axis (a trailing column of
    costs after the last period is allowed and ignored when it falls beyond ``years``).
    """
    if entry not in ENTRY:
        raise HtaError(f"budget impact: entry expected one of {', '.join(ENTRY)}; found '{entry}'")
    if entry == "mid-year" and per_year % 2:
        raise HtaError("budget impact: mid-year entry needs the model's costs by half-year (cycles of at most "
                       "half a year); use entry = start with this model")
    offset = per_year // 2 if entry == "mid-year" else 0
    p = np.arange(periods.shape[-1])
    year = (offset + p) // per_year
    M = (year[:, None] == np.arange(years)[None, :]).astype(float)   # (P, years)
    return periods @ M


# ---------------------------------------------------------------------------------------------
# Budgets: cohorts placed in calendar years


def place_costs(entering: np.ndarray, shares: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Costs of every cohort in every calendar year: a convolution over entry years.

    Parameters
    ----------
    entering : (n|1, H) patients starting treatment in budget year i (population counts)
    shares : (n|1, H, S) share of those patients on each strategy
    profile : (n|1, S, C, H) undiscounted per-patient cost in the k-th calendar year after entry
        (k = 0 the entry year), by strategy and category

    Returns
    -------
    (n, H, S, C): ``budget[y, s, c] = sum_{i <= y} entering[i] shares[i, s] profile[s, c, y - i]``.
    """
    entering = np.asarray(entering, dtype=float)
    shares = np.asarray(shares, dtype=float)
    profile = np.asarray(profile, dtype=float)
    H = entering.shape[-1]
    n = max(entering.shape[0], shares.shape[0], profile.shape[0])
    entering = np.broadcast_to(entering, (n, H))
    shares = np.broadcast_to(shares, (n, H, shares.shape[-1]))
    profile = np.broadcast_to(profile, (n,) + profile.shape[1:])
    lag = np.arange(H)[:, None] - np.arange(H)[None, :]                       # (y, i)
    lagged = profile[..., np.clip(lag, 0, None)] * (lag >= 0)                 # (n, S, C, y, i)
    starters = entering[:, :, None] * shares                                   # (n, i, S)
    return np.einsum("nscyi,nis->nysc", lagged, starters)


@dataclass
class BudgetResult:
    """Budgets of both worlds for a batch of variants (rows) of the inputs.

    ``budget[w]`` has shape (n, H, S, C): HK$ in each calendar year, per strategy and category,
    for world ``w`` in ``("without", "with")``; ``patients[w]`` (n, H, S) patients starting each
    strategy in each year; ``entering`` (n, H).
    """

    calendar_years: np.ndarray
    strategies: list
    categories: list
    budget: dict
    patients: dict
    entering: np.ndarray

    @property
    def totals(self) -> dict:
        """Total budget per world by year, (n, H)."""
        return {w: b.sum(axis=(2, 3)) for w, b in self.budget.items()}

    @property
    def net(self) -> np.ndarray:
        """Net budget impact (with minus without) by year, (n, H)."""
        t = self.totals
        return t["with"] - t["without"]


def budget(entering, shares: dict, profile) -> dict:
    """``{world: (n, H, S, C)}`` for shares ``{world: (n|1, H, S)}`` (see :func:`place_costs`)."""
    return {w: place_costs(entering, shares[w], profile) for w in WORLDS}


def run(specs: list, profiles: np.ndarray, strategies: list, categories: list) -> BudgetResult:
    """Budgets of a list of input variants, one per row of ``profiles`` (n, S, C, H).

    ``specs`` are :class:`BudgetInputs` (one per row, or one for all rows) over the same years;
    ``profiles`` are calendar-year profiles (:func:`calendar_profile`) in ``strategies`` order.
    """
    n = profiles.shape[0]
    if len(specs) not in (1, n):
        raise HtaError(f"budget impact: expected 1 or {n} input variants; found {len(specs)}")
    order = [specs[0].strategies.index(s) if s in specs[0].strategies else None for s in strategies]
    missing = [s for s, k in zip(strategies, order) if k is None]
    if missing:
        raise HtaError(f"budget impact: no market shares for model strategies {', '.join(missing)}")
    entering = np.stack([entrants(s) for s in specs])
    shares = {w: [] for w in WORLDS}
    for s in specs:
        sh = market_shares(s)
        for w in WORLDS:
            shares[w].append(sh[w][:, order])
    shares = {w: np.stack(v) for w, v in shares.items()}
    result = budget(entering, shares, profiles)
    patients = {w: np.broadcast_to(entering[:, :, None] * shares[w], (n,) + shares[w].shape[1:]) for w in WORLDS}
    return BudgetResult(specs[0].calendar_years, list(strategies), list(categories), result, patients,
                        np.broadcast_to(entering, (n, entering.shape[1])))


# ---------------------------------------------------------------------------------------------
# Frames


def yearly_table(result: BudgetResult, row: int = 0, new_strategy: str | None = None) -> pd.DataFrame:
    """Budget by calendar year for one row: entrants, patients on the new drug, both worlds, net."""
    t = result.totals
    frame = pd.DataFrame({"year": np.arange(1, len(result.calendar_years) + 1),
                          "calendar_year": result.calendar_years,
                          "patients_starting": result.entering[row]})
    if new_strategy in result.strategies:
        frame["patients_on_new_drug"] = result.patients["with"][row, :, result.strategies.index(new_strategy)]
    frame["budget_without"] = t["without"][row]
    frame["budget_with"] = t["with"][row]
    frame["net_impact"] = result.net[row]
    frame["cumulative_net_impact"] = np.cumsum(result.net[row])
    return frame


def category_table(result: BudgetResult, row: int = 0, labels: dict | None = None) -> pd.DataFrame:
    """Long table: world, strategy, category, calendar year, cost (HK$, undiscounted)."""
    labels = labels or {}
    rows = []
    for w in WORLDS:
        b = result.budget[w][row]
        for si, s in enumerate(result.strategies):
            for ci, c in enumerate(result.categories):
                for yi, year in enumerate(result.calendar_years):
                    rows.append({"world": w, "strategy": labels.get(s, s), "category": c,
                                 "calendar_year": int(year), "cost": float(b[yi, si, ci])})
    return pd.DataFrame(rows)


def inputs_table(spec: BudgetInputs) -> pd.DataFrame:
    """Every budget item with its value, one-way range, label and source (for the audit trail)."""
    rows = []
    for item, source in spec.sources.items():
        if item.startswith("eligible_"):
            value = spec.value(item)
        elif item == "price_parameter":
            value = spec.price_parameter
        else:
            value = getattr(spec, item, None)
        low, high = spec.price_range if item == "price_parameter" and spec.price_range else spec.ranges.get(
            item, (None, None))
        rows.append({"item": item, "value": value if isinstance(value, str) else (None if value is None else float(value)),
                     "low": low, "high": high, "description": spec.labels.get(item, ""), "source": source})
    frame = pd.DataFrame(rows, columns=["item", "value", "low", "high", "description", "source"])
    frame["value"] = frame["value"].astype(object)
    return frame


def category_wide(result: BudgetResult, row: int = 0) -> pd.DataFrame:
    """By category (summed over strategies): one row per (category, world incl. net), one column per year."""
    years = [str(int(y)) for y in result.calendar_years]
    rows = []
    by = {w: result.budget[w][row].sum(axis=1) for w in WORLDS}   # (H, C)
    by["net"] = by["with"] - by["without"]
    for ci, c in enumerate(result.categories):
        for w in ("without", "with", "net"):
            v = by[w][:, ci]
            rows.append({"category": c, "world": w, **dict(zip(years, v)), "total": float(v.sum())})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The analysis: base case, one-way sensitivity and scenarios as rows of one batch

#: Names of the items varied one-way, grouped for reports.
POPULATION_ITEMS = ("population", "population_growth", "incidence_per_100000", "incidence_growth",
                    "prevalent_patients")
UPTAKE_ITEMS = ("uptake_year_1", "uptake_peak", "uptake_peak_year", "uptake_midpoint", "uptake_steepness",
                "uptake_scale")


@dataclass
class Variant:
    """One row of the budget-impact batch: inputs, model-parameter overrides and a label."""

    kind: str              # "base", "one-way", "scenario"
    name: str
    spec: BudgetInputs
    overrides: dict = field(default_factory=dict)
    factor: str = ""
    level: str = ""
    value: float = float("nan")


def factor_group(item: str) -> str:
    if item in POPULATION_ITEMS or item.startswith("eligible_"):
        return "population"
    if item in UPTAKE_ITEMS:
        return "uptake"
    return "price"


def variants(model, spec: BudgetInputs, scenarios=()) -> list:
    """Base case, then low/high of every item with a range and of the price parameter, then scenarios.

    ``scenarios`` are dicts ``{"name", "description", "budget": {item: value}, "parameters":
    {name: value}}``: budget items changed (``entry`` and ``uptake_curve`` included) and model
    parameters overridden (e.g. the price).
    """
    out = [Variant("base", "base case", spec)]
    for item, (low, high) in spec.ranges.items():
        for level, v in (("low", low), ("high", high)):
            out.append(Variant("one-way", f"{item} {level}", spec.with_values(**{item: v}), factor=item,
                               level=level, value=float(v)))
    if spec.price_parameter:
        if spec.price_parameter not in model.parameters:
            raise HtaError(f"budget impact: price parameter '{spec.price_parameter}' is not a model parameter")
        p = model.parameters[spec.price_parameter]
        for level, v in zip(("low", "high"), spec.price_range or (p.low, p.high)):
            out.append(Variant("one-way", f"{p.name} {level}", spec, {p.name: float(v)}, factor=p.name,
                               level=level, value=float(v)))
    for sc in scenarios or ():
        name = sc.get("name") or "scenario"
        try:
            s = spec.with_values(**dict(sc.get("budget", {})))
        except HtaError as err:
            raise HtaError(f"budget impact scenario '{name}': {err}") from None
        for k in sc.get("parameters", {}):
            if k not in model.parameters:
                raise HtaError(f"budget impact scenario '{name}': no model parameter named '{k}'")
        out.append(Variant("scenario", name, s, dict(sc.get("parameters", {}))))
    for v in out:
        if v.spec.entry not in ENTRY:
            raise HtaError(f"budget impact ({v.name}): entry expected one of {', '.join(ENTRY)}; found '{v.spec.entry}'")
    return out


def analyse(model, spec: BudgetInputs, scenarios=()) -> dict:
    """Budget impact of ``spec`` on ``model``: base case, one-way sensitivity and scenarios.

    All variants are rows of one parameter batch, so the model's cost streams are read once
    (:func:`cost_periods`) for all of them. Returns a dict of frames (``yearly``, ``categories``,
    ``by_category``, ``population``, ``shares``, ``one_way``, ``scenarios``), the
    :class:`BudgetResult` (``result``) and the ``variants``.
    """
    vs = variants(model, spec, scenarios)
    base = model.parameters.base()
    from hta.params import Batch

    batch = Batch.concat([base.with_values(**v.overrides) if v.overrides else base for v in vs])
    periods, categories, per_year = cost_periods(model, batch, spec.horizon_years)
    profiles = np.full(periods.shape[:-1] + (spec.horizon_years,), np.nan)
    for entry in ENTRY:
        rows = [i for i, v in enumerate(vs) if v.spec.entry == entry]
        if rows:
            profiles[rows] = calendar_profile(periods[rows], per_year, entry, spec.horizon_years)
    strategies = list(model.strategies)
    result = run([v.spec for v in vs], profiles, strategies, categories)
    labels = strategy_labels(model)
    H = spec.horizon_years
    net = result.net
    total = net.sum(axis=1)

    yearly = yearly_table(result, 0, spec.new_strategy)
    cases = new_cases(spec)
    population = pd.DataFrame({"year": spec.years, "calendar_year": spec.calendar_years,
                               "population": spec.population * (1 + spec.population_growth)
                               ** (spec.calendar_years - spec.population_year),
                               "new_cases": cases})
    share = 1.0
    for name, label, v in spec.eligible:
        share *= v
        population[f"after {label or name}"] = cases * share
    population["prevalent_starting"] = np.where(spec.years == 1, spec.prevalent_patients, 0.0)
    population["patients_starting"] = entrants(spec)
    sh = market_shares(spec)
    share_rows = []
    for w in WORLDS:
        for k, s in enumerate(spec.strategies):
            row = {"world": w, "strategy": labels.get(s, s)}
            for yi, y in enumerate(spec.calendar_years):
                row[str(int(y))] = sh[w][yi, k]
            share_rows.append(row)
    patients_rows = []
    for w in WORLDS:
        for si, s in enumerate(strategies):
            row = {"world": w, "strategy": labels.get(s, s)}
            for yi, y in enumerate(result.calendar_years):
                row[str(int(y))] = result.patients[w][0, yi, si]
            row["total"] = float(result.patients[w][0, :, si].sum())
            patients_rows.append(row)

    one_way_rows = []
    ow = [(i, v) for i, v in enumerate(vs) if v.kind == "one-way"]
    for factor in dict.fromkeys(v.factor for _, v in ow):
        lo = next(i for i, v in ow if v.factor == factor and v.level == "low")
        hi = next(i for i, v in ow if v.factor == factor and v.level == "high")
        one_way_rows.append({"factor": factor, "group": factor_group(factor),
                             "low_value": vs[lo].value, "high_value": vs[hi].value,
                             "base": float(total[0]), "at_low": float(total[lo]), "at_high": float(total[hi]),
                             "swing": float(abs(total[hi] - total[lo]))})
    one_way = pd.DataFrame(one_way_rows, columns=["factor", "group", "low_value", "high_value", "base", "at_low",
                                                  "at_high", "swing"])
    one_way = one_way.sort_values("swing", ascending=False, kind="stable", ignore_index=True)
    scen_rows = []
    for i, v in enumerate(vs):
        if v.kind not in ("base", "scenario"):
            continue
        row = {"scenario": v.name}
        for yi, y in enumerate(result.calendar_years):
            row[f"net {int(y)}"] = float(net[i, yi])
        row[f"net over {H} years"] = float(total[i])
        row["patients on new drug"] = float(result.patients["with"][i, :, strategies.index(spec.new_strategy)].sum())
        scen_rows.append(row)
    return {"yearly": yearly, "categories": category_table(result, 0, labels), "by_category": category_wide(result, 0),
            "population": population, "shares": pd.DataFrame(share_rows), "patients": pd.DataFrame(patients_rows),
            "one_way": one_way, "scenarios": pd.DataFrame(scen_rows), "result": result, "variants": vs,
            "inputs": inputs_table(spec),
            "net_total": float(total[0]), "per_year": per_year}
