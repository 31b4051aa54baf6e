"""Capacity-limited uptake: treatment slots, a waiting list with attrition, fixed centre costs.

A therapy such as CAR-T can be given only to as many patients a year as there are treatment
(manufacturing and infusion) slots. Patients who would receive it join a waiting list; each
month some are treated, and some leave the list without it because they die or progress while
waiting. This module turns the demand of a budget impact analysis (:mod:`hta.analysis.bia`) into the
patients actually treated, the waiting list month by month and those who leave it, and places
the treated patients' costs in calendar years with the same convolution as the unconstrained
budget impact (:func:`hta.analysis.bia.place_costs`). ``docs/agreements.md`` describes the conventions.

Conventions
-----------
* **Time**: budget years ``y = 1..H``; months ``m = 1..12H``, month m in budget year
  ``(m - 1) // 12 + 1``. Demand and slots of a year are spread evenly over its 12 months.
* **Order within a month**: the month's new demand joins the list; up to the month's slots are
  treated (first come, first served does not matter for counts); the patients still waiting are
  then exposed to a month of attrition: with monthly probabilities p_d of death and p_p of
  progression (competing risks, converted to rates r = -ln(1 - p)), a share
  ``1 - exp(-(r_d + r_p))`` leaves, split r_d : r_p between death and progression.
* Counts are expected numbers of patients (population counts, not integers); arrays carry a
  leading sample axis ``(n, ...)`` and the only loop is over months.
* **Displacement**: every treated patient displaces one patient from current therapies, in the
  proportions of the world without the new therapy (``hta.analysis.bia`` convention); patients who wait,
  die or progress on the list stay on current therapies in the budget (their bridging care).
* **Fixed centre costs** (HK$ per year, undiscounted like every budget) are added to the world
  with the new therapy.
* **Population value of information**: :func:`discounted_patients` gives
  ``sum_y N_y (1 + r)^-(y - 1)`` for the patients treated each year, the multiplier of
  per-patient EVPI/EVPPI/EVSI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.analysis import bia
from hta.analysis.bia import place_costs
from hta.errors import HtaError

__all__ = [
    "CapacityBudget",
    "WaitingListResult",
    "capacity_analysis",
    "capacity_budget",
    "capacity_shares",
    "discounted_patients",
    "population_value",
    "waiting_list",
]


@dataclass(frozen=True)
class WaitingListResult:
    """Patients flowing through a capacity-limited service (expected counts).

    Attributes (``n`` samples, ``H`` budget years, ``12H`` months):
        treated_month: ``(n, 12H)`` patients treated in each month.
        waiting_month: ``(n, 12H)`` patients on the list at the end of each month.
        died_month, progressed_month: ``(n, 12H)`` patients leaving the list in each month.
        treated_year, died_year, progressed_year, demand_year: ``(n, H)`` yearly sums.
    """

    treated_month: np.ndarray
    waiting_month: np.ndarray
    died_month: np.ndarray
    progressed_month: np.ndarray
    demand_year: np.ndarray

    def _yearly(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1, 12).sum(axis=2)

    @property
    def treated_year(self) -> np.ndarray:
        return self._yearly(self.treated_month)

    @property
    def died_year(self) -> np.ndarray:
        return self._yearly(self.died_month)

    @property
    def progressed_year(self) -> np.ndarray:
        return self._yearly(self.progressed_month)

    @property
    def left_year(self) -> np.ndarray:
        """Patients who left the list without treatment (died or progressed), ``(n, H)``."""
        return self.died_year + self.progressed_year

    @property
    def waiting_end_of_year(self) -> np.ndarray:
        return self.waiting_month[:, 11::12]


def _per_year(value, name: str, years: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        if years is None:
            raise HtaError(f"capacity {name}: expected one value per budget year; found a single value and no years")
        arr = np.full((1, years), float(arr))
    elif arr.ndim == 1:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise HtaError(f"capacity {name}: expected an array (H,) or (n, H); found shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~np.isfinite(arr) | (arr < 0)][0]
        raise HtaError(f"capacity {name}: expected numbers >= 0; found {bad:g}")
    return arr


def _probability(value, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr >= 1)):
        raise HtaError(f"capacity {name}: expected a monthly probability in [0, 1) (scalar or (n,)); found {value!r}")
    return arr


def waiting_list(demand_per_year, slots_per_year, p_death_month=0.0, p_progression_month=0.0,
                 initial_waiting=0.0) -> WaitingListResult:
    """Monthly flow through a waiting list limited by treatment slots.

    Args:
        demand_per_year: patients who would receive the therapy without a capacity limit in each
            budget year (e.g. entrants x uptake), ``(H,)`` or ``(n, H)``.
        slots_per_year: treatment slots in each budget year, scalar, ``(H,)`` or ``(n, H)``
            (``np.inf`` for no limit).
        p_death_month, p_progression_month: probabilities of dying / progressing (becoming
            ineligible) during one month on the list, scalars or ``(n,)``.
        initial_waiting: patients already waiting at the start of year 1 (scalar or ``(n,)``).

    Returns:
        :class:`WaitingListResult`. Patients are conserved: initial + demand = treated + died +
        progressed + still waiting at the end.
    """
    demand = _per_year(demand_per_year, "demand per year", None)
    years = demand.shape[1]
    slots_arr = np.asarray(slots_per_year, dtype=float)
    if np.any(np.isnan(slots_arr)) or np.any(slots_arr < 0):
        raise HtaError(f"capacity slots per year: expected numbers >= 0 (or inf for no limit); found {slots_per_year!r}")
    slots = np.broadcast_to(slots_arr if slots_arr.ndim else np.full(years, float(slots_arr)), (1, years) if slots_arr.ndim < 2 else slots_arr.shape)
    if slots.shape[1] != years:
        raise HtaError(f"capacity slots per year: expected {years} values (one per budget year); found {slots.shape[1]}")
    pd_ = _probability(p_death_month, "monthly probability of death while waiting")
    pp_ = _probability(p_progression_month, "monthly probability of progression while waiting")
    w0 = np.atleast_1d(np.asarray(initial_waiting, dtype=float))
    if not np.all(np.isfinite(w0)) or np.any(w0 < 0):
        raise HtaError(f"capacity initial waiting list: expected a number >= 0; found {initial_waiting!r}")
    n = max(demand.shape[0], slots.shape[0], pd_.size, pp_.size, w0.size)
    rate_d, rate_p = -np.log1p(-pd_), -np.log1p(-pp_)
    total = rate_d + rate_p
    leave = -np.expm1(-total)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_d = np.where(total > 0, rate_d / np.where(total > 0, total, 1.0), 0.0)
    leave = np.broadcast_to(leave, (n,))
    share_d = np.broadcast_to(share_d, (n,))
    demand_m = np.repeat(np.broadcast_to(demand, (n, years)) / 12.0, 12, axis=1)
    slots_m = np.repeat(np.broadcast_to(slots, (n, years)) / 12.0, 12, axis=1)
    months = 12 * years
    treated = np.empty((n, months))
    waiting = np.empty((n, months))
    died = np.empty((n, months))
    progressed = np.empty((n, months))
    w = np.broadcast_to(w0, (n,)).astype(float)
    for m in range(months):  # a loop over months; every sample at once
        queue = w + demand_m[:, m]
        treated[:, m] = np.minimum(queue, slots_m[:, m])
        remaining = queue - treated[:, m]
        gone = remaining * leave
        died[:, m] = gone * share_d
        progressed[:, m] = gone - died[:, m]
        w = remaining - gone
        waiting[:, m] = w
    return WaitingListResult(treated, waiting, died, progressed, np.broadcast_to(demand, (n, years)).copy())


def capacity_shares(entering, shares_without, shares_with, new_index: int, treated_year) -> np.ndarray:
    """Market shares of the world with the new therapy when its patients are capacity-limited.

    The new therapy's share of the patients starting treatment in year y becomes
    ``min(treated_y / entering_y, unconstrained share)``; the share it cannot take stays with the
    current therapies in the proportions of the world without it.

    Args:
        entering: ``(n|1, H)`` patients starting any treatment each year (:func:`hta.analysis.bia.entrants`).
        shares_without, shares_with: ``(n|1, H, S)`` shares of each world without a capacity limit.
        new_index: column of the new therapy in the strategy axis.
        treated_year: ``(n|1, H)`` patients treated with it (:attr:`WaitingListResult.treated_year`).

    Returns:
        ``(n, H, S)`` shares of the world with the new therapy, summing to 1 each year.
    """
    entering = np.atleast_2d(np.asarray(entering, dtype=float))
    without = np.asarray(shares_without, dtype=float)
    with_ = np.asarray(shares_with, dtype=float)
    treated = np.atleast_2d(np.asarray(treated_year, dtype=float))
    if without.ndim == 2:
        without = without[None]
    if with_.ndim == 2:
        with_ = with_[None]
    s = with_.shape[-1]
    if not 0 <= int(new_index) < s:
        raise HtaError(f"capacity new therapy index: expected 0..{s - 1}; found {new_index}")
    with np.errstate(invalid="ignore", divide="ignore"):
        cap_share = np.where(entering > 0, treated / np.where(entering > 0, entering, 1.0), 0.0)
    new_share = np.minimum(with_[..., new_index], cap_share)  # (n, H)
    others = without.copy()
    others[..., new_index] = 0.0
    norm = others.sum(axis=-1, keepdims=True)
    weights = np.where(norm > 0, others / np.where(norm > 0, norm, 1.0), 0.0)
    out = weights * (1.0 - new_share)[..., None]
    out[..., new_index] = new_share
    return out


def capacity_budget(entering, shares_without, shares_with, new_index: int, treated_year, profile,
                    fixed_cost_per_year=0.0) -> dict:
    """Budgets of both worlds with the capacity limit, plus fixed centre costs.

    Args:
        entering, shares_without, shares_with, new_index, treated_year: as :func:`capacity_shares`.
        profile: ``(n|1, S, C, H)`` per-patient undiscounted costs by calendar year since entry
            (:func:`hta.analysis.bia.calendar_profile`).
        fixed_cost_per_year: fixed costs of running the service (HK$ a year, undiscounted),
            scalar or ``(H,)``; counted in the world with the new therapy only.

    Returns:
        ``{"without": (n, H, S, C), "with": (n, H, S, C), "fixed": (n|1, H), "shares_with": (n, H, S),
        "net": (n, H)}``, ``net`` = with + fixed - without, per budget year.
    """
    entering = np.atleast_2d(np.asarray(entering, dtype=float))
    years = entering.shape[1]
    fixed = _per_year(fixed_cost_per_year, "fixed centre cost per year", years)
    if fixed.shape[1] != years:
        raise HtaError(f"capacity fixed centre cost per year: expected {years} values; found {fixed.shape[1]}")
    shares_cap = capacity_shares(entering, shares_without, shares_with, new_index, treated_year)
    without = np.asarray(shares_without, dtype=float)
    budget_without = place_costs(entering, without if without.ndim == 3 else without[None], profile)
    budget_with = place_costs(entering, shares_cap, profile)
    net = budget_with.sum(axis=(2, 3)) + fixed - budget_without.sum(axis=(2, 3))
    return {"without": budget_without, "with": budget_with, "fixed": fixed, "shares_with": shares_cap, "net": net}


def discounted_patients(patients_per_year, discount_rate: float, years: int | None = None) -> float | np.ndarray:
    """``sum_y N_y / (1 + r)^(y - 1)``: the discounted patients of a decision's lifetime.

    Args:
        patients_per_year: scalar (then ``years`` is required) or ``(H,)`` / ``(n, H)`` patients
            per year (e.g. :attr:`WaitingListResult.treated_year`).
        discount_rate: annual rate r >= 0 (per annum, discrete; year 1 undiscounted).
        years: the number of years H for a scalar ``patients_per_year``.

    Returns:
        float for a scalar or ``(H,)`` input, ``(n,)`` for ``(n, H)``.
    """
    r = float(discount_rate)
    if not np.isfinite(r) or r < 0:
        raise HtaError(f"population value discount rate: expected a rate >= 0; found {discount_rate!r}")
    arr = np.asarray(patients_per_year, dtype=float)
    if arr.ndim == 0:
        if years is None or isinstance(years, bool) or not float(years).is_integer() or years < 1:
            raise HtaError(f"population value years: expected a whole number >= 1 with a constant patient number; found {years!r}")
        arr = np.full(int(years), float(arr))
    elif years is not None and arr.shape[-1] != int(years):
        raise HtaError(f"population value: expected {years} yearly patient numbers; found {arr.shape[-1]}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise HtaError("population value patients per year: expected numbers >= 0; found a negative or non-finite value")
    factors = (1.0 + r) ** -np.arange(arr.shape[-1])
    out = arr @ factors
    return float(out) if np.ndim(out) == 0 else out


def population_value(per_patient, patients_per_year, discount_rate: float, years: int | None = None):
    """Population EVPI/EVPPI/EVSI: per-patient value x :func:`discounted_patients`."""
    return np.asarray(per_patient, dtype=float) * discounted_patients(patients_per_year, discount_rate, years)


@dataclass(frozen=True)
class CapacityBudget:
    """A budget impact analysis with and without the capacity limit.

    Attributes:
        unconstrained: the :class:`hta.analysis.bia.BudgetResult` without a limit.
        flow: the :class:`WaitingListResult` of the new therapy's demand.
        budgets: the :func:`capacity_budget` dict (with the limit and fixed costs).
    """

    unconstrained: object
    flow: WaitingListResult
    budgets: dict

    def yearly_table(self, row: int = 0) -> pd.DataFrame:
        """One row per calendar year: demand, treated, deaths and progressions on the list, the
        list at year end, fixed costs, and the net budget impact without and with the limit (HK$,
        undiscounted)."""
        years = self.unconstrained.calendar_years
        f = self.flow
        fixed = np.broadcast_to(self.budgets["fixed"], self.budgets["net"].shape)
        return pd.DataFrame({
            "year": years,
            "demand": f.demand_year[row],
            "treated": f.treated_year[row],
            "died waiting": f.died_year[row],
            "progressed waiting": f.progressed_year[row],
            "waiting at year end": f.waiting_end_of_year[row],
            "net impact without limit": self.unconstrained.net[row],
            "fixed centre costs": fixed[row],
            "net impact with limit": self.budgets["net"][row],
        }).set_index("year")


def capacity_analysis(specs, profiles, strategies, categories, slots_per_year, p_death_month=0.0,
                      p_progression_month=0.0, fixed_cost_per_year=0.0, initial_waiting=0.0) -> CapacityBudget:
    """:func:`hta.analysis.bia.run`, then the same analysis with the new therapy's patients capacity-limited.

    The demand for the new therapy is the unconstrained world-with patients on it
    (entrants x uptake); :func:`waiting_list` turns it into treated patients, and
    :func:`capacity_budget` places their costs. Arguments as :func:`hta.analysis.bia.run` and
    :func:`waiting_list` / :func:`capacity_budget`; the new therapy is ``specs[0].new_strategy``.
    """
    result = bia.run(specs, profiles, strategies, categories)
    new = specs[0].new_strategy
    if new not in result.strategies:
        raise HtaError(f"capacity: expected the new strategy '{new}' among the model strategies {result.strategies}")
    j = result.strategies.index(new)
    entering = np.asarray(result.entering, dtype=float)
    safe = np.where(entering > 0, entering, 1.0)[..., None]
    shares = {w: np.where(entering[..., None] > 0, result.patients[w] / safe, 0.0) for w in bia.WORLDS}
    flow = waiting_list(result.patients["with"][:, :, j], slots_per_year, p_death_month, p_progression_month,
                        initial_waiting)
    budgets = capacity_budget(entering, shares["without"], shares["with"], j, flow.treated_year, profiles,
                              fixed_cost_per_year)
    return CapacityBudget(result, flow, budgets)
