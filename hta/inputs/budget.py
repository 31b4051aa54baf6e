"""Budget impact inputs: what the Budget and BudgetShares sheets hold, and the eligible population.

:class:`BudgetInputs` is a domain type (the Excel reader produces it; :mod:`hta.analysis.bia`
consumes it). The functions here turn it into patients and market shares by budget year; they
depend on nothing but numpy and pandas, so the reader can validate shares with the same code the
analysis uses. Conventions are in ``docs/bia.md`` and :mod:`hta.analysis.bia`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError

UPTAKE_CURVES = ("explicit", "linear", "s-shaped")
ENTRY = ("mid-year", "start")
WORLDS = ("without", "with")
#: Tolerance on market shares that must sum to 1 (or stay >= 0).
SHARE_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class BudgetInputs:
    """Everything a budget impact analysis needs besides the decision model.

    Units: ``population`` in persons (in ``population_year``), ``incidence_per_100000`` new
    cases per 100,000 persons a year, growth rates per annum as fractions, shares as fractions,
    ``prevalent_patients`` a count. ``shares_without`` and ``displacement`` are frames indexed by
    budget year ``1..horizon_years`` with one column per strategy. ``ranges`` maps an item name
    (``population``, ``eligible_<x>``, ``uptake_peak``, ...) to its (low, high) for one-way
    sensitivity; ``sources`` maps item names to their source.
    """

    start_year: int
    new_strategy: str
    population: float
    population_year: int
    incidence_per_100000: float
    shares_without: pd.DataFrame
    horizon_years: int = 5
    population_growth: float = 0.0
    incidence_growth: float = 0.0
    eligible: tuple = ()                   # ((name, label, proportion), ...) in sheet order
    prevalent_patients: float = 0.0
    uptake_curve: str = "linear"
    uptake_explicit: tuple | None = None   # share of the new drug in each budget year
    uptake_year_1: float | None = None
    uptake_peak: float | None = None
    uptake_peak_year: float | None = None
    uptake_midpoint: float | None = None
    uptake_steepness: float | None = None
    uptake_scale: float = 1.0
    displacement: pd.DataFrame | None = None
    entry: str = "mid-year"
    price_parameter: str | None = None
    price_range: tuple | None = None       # (low, high) of the price for the one-way analysis
    ranges: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)

    @property
    def years(self) -> np.ndarray:
        """Budget years 1..H."""
        return np.arange(1, self.horizon_years + 1)

    @property
    def calendar_years(self) -> np.ndarray:
        return self.start_year + self.years - 1

    @property
    def strategies(self) -> list:
        return list(self.shares_without.columns)

    def value(self, item: str) -> float:
        """The base value of a numeric item (``eligible_<x>`` included)."""
        for name, _, v in self.eligible:
            if name == item:
                return float(v)
        v = getattr(self, item, None)
        if v is None or isinstance(v, (str, pd.DataFrame, tuple)):
            raise HtaError(f"budget impact: no numeric item '{item}'")
        return float(v)

    def with_values(self, **changes) -> "BudgetInputs":
        """A copy with items changed; ``eligible_<x>`` items are changed by name."""
        eligible = list(changes.pop("eligible", self.eligible))
        direct = {}
        for item, v in changes.items():
            matches = [i for i, (name, _, _) in enumerate(eligible) if name == item]
            if matches:
                name, label, _ = eligible[matches[0]]
                eligible[matches[0]] = (name, label, float(v))
            elif item in {f.name for f in dataclasses.fields(self)}:
                direct[item] = v
            else:
                raise HtaError(f"budget impact: no item named '{item}'")
        return dataclasses.replace(self, eligible=tuple(eligible), **direct)


# ---------------------------------------------------------------------------------------------
# Population


def new_cases(spec: BudgetInputs) -> np.ndarray:
    """New cases in each budget year, shape (H,): population x incidence, each projected."""
    dy = spec.calendar_years - spec.population_year
    pop = spec.population * (1.0 + spec.population_growth) ** dy
    rate = spec.incidence_per_100000 / 1e5 * (1.0 + spec.incidence_growth) ** dy
    return pop * rate


def eligible_share(spec: BudgetInputs) -> float:
    """Product of the ``eligible_*`` proportions (1 when there are none)."""
    return float(np.prod([v for _, _, v in spec.eligible])) if spec.eligible else 1.0


def entrants(spec: BudgetInputs) -> np.ndarray:
    """Patients starting treatment (any strategy) in each budget year, shape (H,).

    Newly eligible patients each year, plus the prevalent pool in year 1.
    """
    out = new_cases(spec) * eligible_share(spec)
    out[0] += spec.prevalent_patients
    return out


# ---------------------------------------------------------------------------------------------
# Uptake and market shares


def uptake(spec: BudgetInputs) -> np.ndarray:
    """Share of the new drug in each budget year, shape (H,), times ``uptake_scale``.

    * explicit: the values given per year;
    * linear: from ``uptake_year_1`` in year 1 to ``uptake_peak`` in year ``uptake_peak_year``,
      constant afterwards;
    * s-shaped: logistic ``peak / (1 + exp(-steepness (y - midpoint)))``, where ``midpoint`` is
      the (budget) year at which half the peak is reached.
    """
    y = spec.years.astype(float)
    kind = spec.uptake_curve
    if kind == "explicit":
        if spec.uptake_explicit is None or len(spec.uptake_explicit) != len(y):
            raise HtaError(f"budget impact: explicit uptake needs one share per budget year "
                           f"({len(y)}); found {0 if spec.uptake_explicit is None else len(spec.uptake_explicit)}")
        u = np.asarray(spec.uptake_explicit, dtype=float)
    elif kind == "linear":
        _need(spec, ("uptake_year_1", "uptake_peak", "uptake_peak_year"), kind)
        first, peak, at = spec.uptake_year_1, spec.uptake_peak, spec.uptake_peak_year
        frac = np.clip((y - 1.0) / (at - 1.0), 0.0, 1.0) if at > 1 else np.ones_like(y)
        u = first + (peak - first) * frac
    elif kind == "s-shaped":
        _need(spec, ("uptake_peak", "uptake_midpoint", "uptake_steepness"), kind)
        u = spec.uptake_peak / (1.0 + np.exp(-spec.uptake_steepness * (y - spec.uptake_midpoint)))
    else:
        raise HtaError(f"budget impact: uptake curve expected one of {', '.join(UPTAKE_CURVES)}; found '{kind}'")
    u = u * spec.uptake_scale
    bad = np.flatnonzero((u < -SHARE_TOLERANCE) | (u > 1 + SHARE_TOLERANCE))
    if bad.size:
        i = bad[0]
        raise HtaError(f"budget impact: expected an uptake of the new drug from 0 to 1 in every year; "
                       f"found {u[i]:.4g} in budget year {i + 1} ({spec.calendar_years[i]})")
    return np.clip(u, 0.0, 1.0)


def _need(spec, names, kind):
    missing = [n for n in names if getattr(spec, n) is None]
    if missing:
        raise HtaError(f"budget impact: a {kind} uptake curve needs {', '.join(names)}; missing {', '.join(missing)}")


def market_shares(spec: BudgetInputs) -> dict:
    """Shares by world: ``{"without": (H, S), "with": (H, S)}`` in ``spec.strategies`` order.

    With the new drug its share is the uptake; every comparator loses ``uptake x displacement``
    (displacement weights over comparators sum to 1 each year; by default proportional to the
    shares without the new drug). Raises when a comparator would be left with a negative share.
    """
    strategies = spec.strategies
    if spec.new_strategy not in strategies:
        raise HtaError(f"budget impact: the new strategy '{spec.new_strategy}' has no market-share column "
                       f"(strategies: {', '.join(strategies)})")
    without = spec.shares_without.reindex(spec.years).to_numpy(dtype=float)
    if np.isnan(without).any():
        raise HtaError(f"budget impact: expected shares without the new drug for every budget year "
                       f"1..{spec.horizon_years}; some are missing")
    j = strategies.index(spec.new_strategy)
    if np.any(np.abs(without[:, j]) > SHARE_TOLERANCE):
        raise HtaError(f"budget impact: the new strategy '{spec.new_strategy}' must have share 0 without the new drug")
    sums = without.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SHARE_TOLERANCE)
    if bad.size:
        raise HtaError(f"budget impact: expected shares without the new drug summing to 1 in every year; "
                       f"found {sums[bad[0]]:.6g} in budget year {bad[0] + 1}")
    comparators = [k for k in range(len(strategies)) if k != j]
    if spec.displacement is not None:
        d = spec.displacement.reindex(index=spec.years, columns=strategies).to_numpy(dtype=float)
        d = np.nan_to_num(d)
        d[:, j] = 0.0
    else:
        d = without.copy()
    totals = d[:, comparators].sum(axis=1)
    if np.any(totals <= 0):
        y = int(np.flatnonzero(totals <= 0)[0]) + 1
        raise HtaError(f"budget impact: expected displacement weights (or comparator shares) with a positive sum "
                       f"in every year; found 0 in budget year {y}")
    d = d / totals[:, None]
    u = uptake(spec)
    with_ = without - u[:, None] * d
    with_[:, j] = u
    low = np.argwhere(with_ < -SHARE_TOLERANCE)
    if low.size:
        y, k = low[0]
        raise HtaError(f"budget impact: uptake {u[y]:.3g} of '{spec.new_strategy}' in budget year {y + 1} takes "
                       f"{u[y] * d[y, k]:.3g} from '{strategies[k]}', whose share without the new drug is only "
                       f"{without[y, k]:.3g}; expected displacement weights that leave every share >= 0")
    return {"without": without, "with": np.clip(with_, 0.0, None)}
