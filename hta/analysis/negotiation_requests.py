"""Requests for what the reimbursement team negotiates with (issue 22), each with its typed result.

* :class:`PayerResults`: the base case's discounted costs by payer (HA, SF/CCF, patient) and the
  HA and health-system perspectives (:mod:`hta.analysis.payers`).
* :class:`CapacityBudget`: the budget impact with and without the capacity limit, with the
  waiting list (:mod:`hta.analysis.capacity`); net impact also from the HA's side when payer
  shares are given.
* :class:`PriceNegotiation`: expected payment, ICER, incremental NMB and P(cost-effective) for a
  grid of managed-entry scheme x confidential discount, and the threshold discount of each scheme
  at each WTP (:mod:`hta.analysis.agreements`). Needs a ``Psa`` earlier in the plan.
* :class:`Evsi`: EVSI of further follow-up of the new therapy's OS study by regression on the
  PSA (:mod:`hta.analysis.evsi`), beside the EVPPI of the OS parameters, per patient and for the
  population the budget impact treats. Needs a ``Psa`` earlier in the plan.

Units: money in the model's currency (HK$), per patient and discounted unless a column says a
year's budget (undiscounted, ISPOR BIA convention); instalment times in months in the workbook,
years in the engine; follow-up in the survival curve's time unit (months for the flagship).
Order in a plan: ``BudgetImpact``, then ``PayerResults``, ``CapacityBudget``, ``PriceNegotiation``,
``Evsi`` (each uses the earlier ones' results when present).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hta.analysis import agreements as A
from hta.analysis import capacity as K
from hta.analysis.payers import PAYERS, PayerShares, costs_by_payer, payer_table
from hta.errors import HtaError
from hta.inputs.negotiation import AgreementTerms, CapacityTerms, NegotiationInputs, payer_category
from hta.protocol import capabilities, strategy_labels

__all__ = ["CapacityBudget", "CapacityBudgetResult", "Evsi", "EvsiAnalysis", "PayerResults", "PayerResultsResult",
           "PriceNegotiation", "PriceNegotiationResult", "model_payer_shares"]

SCHEMES = ("discount", "outcome-based", "refund", "price-volume")
#: Short names of the schemes (column headers of the report).
SHORT = {"discount": "Discount only", "outcome-based": "Outcome-based", "refund": "Refund if not infused",
         "price-volume": "Price-volume cap"}


def _need(value, kind, what: str):
    if isinstance(value, NegotiationInputs):
        value = {"payers": value.payer_shares, "agreements": value.agreements, "capacity": value.capacity}[what]
    if value is None or (kind is not None and not isinstance(value, kind)):
        sheet = {"payers": "Payers", "agreements": "Agreements", "capacity": "Capacity"}[what]
        raise HtaError(f"{what}: expected the workbook's {sheet} sheet (inputs.negotiation); found "
                       f"{'none' if value is None else type(value).__name__}")
    return value


def model_payer_shares(shares, categories) -> PayerShares:
    """Payer shares for the model's cost lines ``categories`` (a line ``"<pathway>: X"`` pays like X).

    ``shares``: :class:`NegotiationInputs`, :class:`PayerShares` or ``{category: {payer: share}}``.
    """
    if isinstance(shares, PayerShares):
        table, payers = dict(shares.shares), shares.payers
    else:
        table, payers = dict(_need(shares, Mapping, "payers")), PAYERS
    out = {}
    for c in categories:
        row = table.get(c, table.get(payer_category(c)))
        if row is None:
            raise HtaError(f"payer shares: expected a row for the cost category '{payer_category(c)}' in sheet "
                           f"Payers; found none (rows: {', '.join(table)})")
        out[c] = row
    return PayerShares(out, payers)


def _psa(state, who: str):
    psa = state.earlier("psa")
    if psa is None:
        raise HtaError(f"{who}: expected a Psa(...) earlier in the plan (P(cost-effective) and EVSI use its draws); "
                       "found none")
    return psa


def _patients_treated(state) -> tuple[np.ndarray | None, str]:
    """Patients a year the budget impact treats with the new therapy (capacity-limited if planned)."""
    cap = state.earlier("capacity")
    if cap is not None:
        return np.asarray(cap.treated_year, dtype=float), "treated within capacity (CapacityBudget)"
    bia = state.earlier("bia")
    if bia is not None:
        res = bia.frames["result"]
        j = res.strategies.index(bia.inputs.new_strategy)
        return np.asarray(res.patients["with"][0, :, j], dtype=float), "on the new drug in the budget impact"
    s = state.model.settings
    if s.annual_population and s.population_years:
        return np.full(int(s.population_years), float(s.annual_population)), "settings annual_population"
    return None, ""


# -- payers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayerResults:
    """Base-case discounted costs per patient by payer, the HA share of the incremental cost and
    the ICER from the HA's side (HA costs only) beside the health system's (every payer)."""

    shares: Any
    key = "payers"

    def run(self, state) -> "PayerResultsResult":
        r = state.results
        d = r.disaggregated
        d = d[d["measure"] == "cost"]
        model = state.model
        labels = strategy_labels(model)
        strategies = list(model.strategies)
        categories = list(dict.fromkeys(d["category"]))
        wide = d.pivot_table(index="strategy", columns="category", values="discounted", aggfunc="sum",
                             fill_value=0.0).reindex(index=strategies, columns=categories, fill_value=0.0)
        shares = model_payer_shares(self.shares, categories)
        costs = wide.to_numpy()[None]  # (1, S, C)
        names = [labels[s] for s in strategies]
        table = payer_table(costs, names, categories, shares, reference=0)
        rows = []
        m = shares.matrix(categories)
        for si, s in enumerate(strategies):
            for ci, c in enumerate(categories):
                v = wide.iat[si, ci]
                if v == 0:
                    continue
                rows.append({"strategy": labels[s], "category": c, "total": v,
                             **{p: v * m[ci, pi] for pi, p in enumerate(shares.payers)}})
        by_category = pd.DataFrame(rows)
        summary = r.summary[r.summary["structure"] == r.summary["structure"].iloc[0]].set_index("strategy")
        dq = float(summary.loc[strategies[-1], "qalys"] - summary.loc[strategies[0], "qalys"])
        inc = table.loc[f"{names[-1]} vs {names[0]}"]
        return PayerResultsResult(table=table, by_category=by_category, payers=tuple(shares.payers),
                                  inc_qalys=dq, inc_cost_ha=float(inc["HA perspective"]),
                                  inc_cost_total=float(inc["health system perspective"]),
                                  ha_share=float(inc["HA share of increment"]),
                                  sources=dict(getattr(self.shares, "payer_sources", {}) or {}))


@dataclass
class PayerResultsResult:
    table: pd.DataFrame          # strategies and the increment: cost per payer, HA and health-system perspectives
    by_category: pd.DataFrame    # strategy x cost line: total and each payer's part (HK$, discounted)
    payers: tuple
    inc_qalys: float
    inc_cost_ha: float           # incremental cost borne by the HA (HK$ per patient, discounted)
    inc_cost_total: float        # incremental cost to every payer
    ha_share: float              # inc_cost_ha / inc_cost_total
    sources: dict

    @property
    def icer_ha(self) -> float:
        return self.inc_cost_ha / self.inc_qalys if self.inc_qalys else float("nan")

    @property
    def icer_total(self) -> float:
        return self.inc_cost_total / self.inc_qalys if self.inc_qalys else float("nan")


# -- capacity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityBudget:
    """The budget impact of ``inputs`` (:class:`hta.inputs.BudgetInputs`) with and without the
    capacity limit of ``capacity`` (:class:`CapacityTerms` or the workbook's
    :class:`NegotiationInputs`): treatment slots a year, a waiting list with monthly attrition,
    fixed centre costs; ``shares`` (optional payer shares) adds the HA's side of the impact."""

    inputs: Any
    capacity: Any
    shares: Any = None
    key = "capacity"

    def run(self, state) -> "CapacityBudgetResult":
        from hta.analysis import bia
        from hta.inputs import BudgetInputs

        spec = self.inputs
        if not isinstance(spec, BudgetInputs):
            raise HtaError("capacity budget: expected the budget inputs of a workbook (Budget and BudgetShares "
                           f"sheets); found {type(spec).__name__}")
        terms = _need(self.capacity, CapacityTerms, "capacity")
        model = state.model
        H = spec.horizon_years
        base = model.parameters.base()
        periods, categories, per_year = bia.cost_periods(model, base, H)
        profiles = bia.calendar_profile(periods, per_year, spec.entry, H)
        strategies = list(model.strategies)
        out = K.capacity_analysis([spec], profiles, strategies, categories, terms.slots_per_year,
                                  terms.p_death_month, terms.p_progression_month, terms.fixed_cost_per_year,
                                  terms.initial_waiting)
        yearly = out.yearly_table(0)
        yearly.insert(0, "calendar year", [str(int(y)) for y in yearly.index])
        yearly = yearly.reset_index(drop=True)
        ha_note = ""
        if self.shares is not None:
            shares = model_payer_shares(self.shares, categories)
            ha = shares.payers.index("HA")

            def ha_total(budget):  # (n, H, S, C) -> (n, H)
                return costs_by_payer(budget, categories, shares)[..., ha].sum(axis=2)

            unc = out.unconstrained.budget
            yearly["HA net impact without limit"] = (ha_total(unc["with"]) - ha_total(unc["without"]))[0]
            fixed = np.broadcast_to(out.budgets["fixed"], out.budgets["net"].shape)[0]
            yearly["HA net impact with limit"] = (ha_total(out.budgets["with"]) + fixed
                                                  - ha_total(out.budgets["without"]))[0]
            ha_note = "fixed centre costs are the HA's"
        return CapacityBudgetResult(yearly=yearly, terms=terms, treated_year=out.flow.treated_year[0].copy(),
                                    demand_year=out.flow.demand_year[0].copy(),
                                    net_without=float(out.unconstrained.net[0].sum()),
                                    net_with=float(out.budgets["net"][0].sum()), horizon_years=H, note=ha_note)


@dataclass
class CapacityBudgetResult:
    yearly: pd.DataFrame         # by calendar year: demand, treated, left the list, waiting, fixed costs, net impacts
    terms: CapacityTerms
    treated_year: np.ndarray     # (H,) patients treated with the new therapy each year (within capacity)
    demand_year: np.ndarray      # (H,) without a limit
    net_without: float           # net budget impact over the horizon without the limit (HK$, undiscounted)
    net_with: float              # with the limit and the fixed centre costs
    horizon_years: int
    note: str = ""


# -- price negotiation ------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceNegotiation:
    """Managed-entry schemes x confidential discounts on the PSA's draws (``docs/agreements.md``).

    ``terms``: :class:`AgreementTerms` or the workbook's :class:`NegotiationInputs`. ``schemes``:
    among ``discount`` (net price on infusion), ``outcome-based`` (the workbook's upfront share and
    instalments, each paid only if its condition holds, from each draw's own curves),
    ``refund`` (billed at apheresis, refund for patients not infused) and ``price-volume`` (the
    workbook's patient cap a year, over the patients the budget impact treats). ``discounts``:
    shares of the list price. The first ``draws`` PSA draws (same seed; the PSA's sampling is
    chunk-invariant) are re-evaluated for the acquisition cost line and the survival curves.
    ``price_parameter``: the list price per patient; ``acquisition``: its cost line in the model;
    ``not_infused``: the parameter with the share apheresed but not infused.
    """

    terms: Any
    schemes: tuple = ("discount", "outcome-based", "refund")
    discounts: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    draws: int = 1000
    price_parameter: str = "c_eqcel_price"
    acquisition: str = "CAR-T acquisition"
    not_infused: str = "p_not_infused"
    key = "negotiation"

    def __post_init__(self):
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad or not self.schemes:
            raise HtaError(f"PriceNegotiation schemes: expected some of {list(SCHEMES)}; found {list(self.schemes)}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, (int, np.integer)) or self.draws < 2:
            raise HtaError(f"PriceNegotiation draws: expected a whole number >= 2; found {self.draws!r}")
        d = np.asarray(self.discounts, dtype=float)
        if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d > 1):
            raise HtaError(f"PriceNegotiation discounts: expected shares of the list price of at most 1; found {self.discounts!r}")

    def _schemes(self, terms: AgreementTerms, state) -> dict:
        out = {}
        for s in self.schemes:
            if s == "discount":
                out["discount only (paid on infusion)"] = (A.SimpleDiscount(), "acquisition")
            elif s == "outcome-based":
                parts = ", ".join(f"{share:.0%} at {months:g} months if {cond}" for months, share, cond in terms.instalments)
                inst = tuple(A.Instalment(months / 12.0, share, cond) for months, share, cond in terms.instalments)
                out[f"outcome-based ({terms.upfront:.0%} at infusion, {parts})"] = (
                    A.OutcomeBased(terms.upfront, inst), "acquisition")
            elif s == "refund":
                out[f"billed at apheresis, {terms.refund_not_infused:.0%} refund if not infused"] = (
                    A.NotInfusedRefund(self.not_infused, terms.refund_not_infused), "price")
            elif s == "price-volume":
                if terms.cap_patients is None:
                    raise HtaError("price negotiation price-volume: expected cap_patients_per_year in sheet Agreements; found none")
                out[f"price-volume (cap {terms.cap_patients:g} patients a year, {terms.share_above_cap:.0%} paid above)"] = (
                    A.PriceVolume(cap_patients=terms.cap_patients, share_above=terms.share_above_cap), "acquisition")
        return out

    def run(self, state) -> "PriceNegotiationResult":
        terms = _need(self.terms, AgreementTerms, "agreements")
        psa = _psa(state, "price negotiation")
        model = state.model
        if self.price_parameter not in model.parameters:
            raise HtaError(f"price negotiation: expected a price parameter '{self.price_parameter}'; found none")
        n = int(min(self.draws, psa.n))
        batch = model.parameters.sample(n, state.seed)
        out = model.evaluate(batch)
        strategies = list(model.strategies)
        costs, qalys = np.asarray(out.costs, dtype=float), np.asarray(out.qalys, dtype=float)
        if not np.allclose(costs, psa.result.costs[:n], rtol=1e-9, atol=1e-6):
            raise HtaError("price negotiation: expected the PSA's first draws to be reproduced by the same seed; "
                           "found different costs (was the PSA run with another seed?)")
        new, comparator = strategies[-1], strategies[0]
        lines = out[new].by("cost")  # cost lines by category (hta.engine.outcomes.Outcomes)
        if self.acquisition not in lines:
            raise HtaError(f"price negotiation: expected a cost line '{self.acquisition}' of '{new}'; found "
                           f"{', '.join(lines)}")
        acq = np.broadcast_to(np.asarray(lines[self.acquisition], dtype=float), (n,))
        price = np.broadcast_to(np.asarray(batch[self.price_parameter], dtype=float), (n,))
        survival, times = {}, None
        if capabilities(model).survival_curves:  # (n, T+1) curves at the model's grid times (years)
            times = model.grid.times
            curves = model.survival_curves(batch)
            survival = {"alive": curves[(new, "OS")], "progression-free": curves[(new, "PFS")]}
        draws = {}
        if self.not_infused in model.parameters:
            draws[self.not_infused] = np.broadcast_to(np.asarray(batch[self.not_infused], dtype=float), (n,))
        treated, treated_note = _patients_treated(state)
        ctx = A.PaymentContext(times=times, survival=survival, discount_rate=model.settings.discount_costs,
                               patients_per_year=treated, draws=draws)
        wtp = [v for _, v in state.wtp]
        names = [strategy_labels(model)[s] for s in strategies]
        grids, thresholds, schemes = [], [], []
        for short, (label, (scheme, billed)) in zip(self.schemes, self._schemes(terms, state).items()):
            billed_value = acq if billed == "acquisition" else price
            grids.append(A.negotiation_grid({label: scheme}, self.discounts, costs, qalys, billed_value, wtp,
                                            new=new, comparator=comparator, context=ctx,
                                            acquisition_in_model=acq, strategies=strategies))
            thresholds.append(A.threshold_discounts({label: scheme}, costs, qalys, billed_value, wtp, new=new,
                                                    comparator=comparator, context=ctx, acquisition_in_model=acq,
                                                    strategies=strategies))
            schemes.append({"scheme": label, "short": SHORT[short], "billed": "on infusion (the model's acquisition line)"
                            if billed == "acquisition" else "at apheresis (list price per patient apheresed)",
                            "mean payment factor": float(np.mean(A.payment_factor(scheme, ctx) * np.ones(n)))})
        grid = pd.concat(grids, ignore_index=True)
        thr = pd.concat(thresholds, ignore_index=True)
        return PriceNegotiationResult(grid=grid, thresholds=thr, schemes=pd.DataFrame(schemes), draws=n,
                                      list_price=float(price.mean()), acquisition_mean=float(acq.mean()),
                                      wtp=list(state.wtp), new=names[-1], comparator=names[0],
                                      patients_note=treated_note, terms=terms)


@dataclass
class PriceNegotiationResult:
    grid: pd.DataFrame           # scheme, discount, wtp, payment, inc_cost, inc_qaly, icer, inmb, p_ce (long)
    thresholds: pd.DataFrame     # scheme, wtp, threshold_discount, method, note
    schemes: pd.DataFrame        # scheme, how it is billed, mean payment factor
    draws: int
    list_price: float            # mean list price per patient (HK$)
    acquisition_mean: float      # mean acquisition cost line of the model (ITT: paid on infusion, discounted)
    wtp: list
    new: str
    comparator: str
    patients_note: str
    terms: AgreementTerms

    def threshold(self, scheme: str, wtp: float) -> float:
        t = self.thresholds
        row = t[(t["scheme"] == scheme) & np.isclose(t["wtp"], wtp)]
        return float(row["threshold_discount"].iloc[0]) if len(row) else float("nan")


# -- EVSI -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evsi:
    """EVSI of ``months`` more follow-up of the new therapy's OS study, by regression on the PSA
    (Strong et al. 2015; :class:`hta.analysis.evsi.SurvivalFollowUp`), beside the EVPPI of the OS
    parameters and the EVPI, at each WTP, per patient and for the population.

    ``enrolled`` patients were followed a median ``current_followup`` (curve time unit, months);
    those alive under the base-case OS curve (``round(enrolled x S(current_followup))``) are
    followed ``months`` more. ``seeds``: independent simulated studies (their mean is reported,
    their SD is the Monte Carlo error). The population is the patients the budget impact treats
    (capacity-limited when a CapacityBudget ran), discounted at the outcome rate. When a
    PriceNegotiation ran, the same is repeated at the plain discount's threshold price at the
    first WTP (where the decision is most uncertain).
    """

    months: tuple = (12, 24, 36)
    enrolled: int = 107
    current_followup: float = 36.0
    endpoint: str = "OS"
    seeds: tuple = (1, 2, 3)
    method: str = "gam"
    key = "evsi"

    def __post_init__(self):
        m = np.asarray(self.months, dtype=float)
        if m.ndim != 1 or m.size == 0 or np.any(~np.isfinite(m)) or np.any(m <= 0):
            raise HtaError(f"Evsi months: expected follow-up times > 0; found {self.months!r}")
        if isinstance(self.enrolled, bool) or not isinstance(self.enrolled, (int, np.integer)) or self.enrolled < 1:
            raise HtaError(f"Evsi enrolled: expected a whole number >= 1; found {self.enrolled!r}")
        if not self.seeds:
            raise HtaError("Evsi seeds: expected at least one seed; found none")

    def run(self, state) -> "EvsiAnalysis":
        from hta.analysis import evsi as E
        from hta.analysis.evaluate import map_chunks, resolve_workers
        from hta.survival.curves import make_curve

        psa = _psa(state, "EVSI")
        model = state.model
        if not capabilities(model).survival_specs:
            raise HtaError("EVSI: expected a model with survival specifications (model.survival); found none")
        new = list(model.strategies)[-1]
        spec = model.survival.get((new, self.endpoint))
        if spec is None:
            raise HtaError(f"EVSI: expected a survival curve ({new}, {self.endpoint}); found {list(model.survival)}")
        inputs = psa.result.inputs
        cols = list(spec.param_names)
        missing = [c for c in cols if c not in inputs.columns]
        if missing:
            raise HtaError(f"EVSI: expected the PSA to vary the {self.endpoint} coefficients; found {missing} fixed")
        curve = make_curve(spec.distribution, inputs[cols].to_numpy(dtype=float))
        base = make_curve(spec.distribution, np.asarray(spec.coef, dtype=float)[None])
        s_now = float(np.asarray(base.survival(np.array([float(self.current_followup)]))).ravel()[0])
        at_risk = int(round(self.enrolled * s_now))
        costs, qalys = psa.result.costs, psa.result.qalys
        shifts = [("model price", 0.0)]
        neg = state.earlier("negotiation")
        if neg is not None:
            label = neg.thresholds["scheme"].iloc[0]
            d = neg.threshold(label, state.wtp[0][1])
            if np.isfinite(d) and -1 <= d <= 1:
                # the discount's mean saving per patient (HK$, discounted) off the new strategy's costs
                shifts.append((f"{label} at its {state.wtp[0][0]} threshold discount ({d:.1%})",
                               d * neg.acquisition_mean))
        treated, note = _patients_treated(state)
        rate = model.settings.discount_outcomes
        factor = K.discounted_patients(treated, rate) if treated is not None else float("nan")

        def fitted(summaries, seed):
            # E[cost | T] and E[QALYs | T] per strategy, regressed once each (as voi::evsi for CE outputs);
            # a price change shifts the new strategy's costs by a constant, so its fit shifts by it too
            return tuple(E.evsi_from_summaries(v, summaries, self.method, return_details=True, seed=seed).fitted
                         for v in (costs, qalys))

        def value(fc, fe, shift, k):
            nb = k * fe - fc
            nb[:, -1] += shift
            return max(float(nb.max(axis=1).mean() - nb.mean(axis=0).max()), 0.0)

        def study(m, s):
            design = E.SurvivalFollowUp(curve, n_at_risk=at_risk, current_followup=float(self.current_followup),
                                        additional_followup=float(m))
            return fitted(E.simulate(design, inputs, int(s)), int(s))

        # Each simulated study (its own seed) and its regressions are independent of the others:
        # they run on the worker threads, the EVPPI of the OS parameters last (the quickest).
        tasks = [(m, s) for m in self.months for s in self.seeds]
        done = map_chunks(lambda a, b: study(*tasks[a]) if a < len(tasks) else fitted(inputs[cols], int(self.seeds[0])),
                          [(i, i + 1) for i in range(len(tasks) + 1)], resolve_workers(None, state.execution.workers))
        os_fit = done[-1]
        n_seeds = len(self.seeds)
        fits = {m: done[j * n_seeds:(j + 1) * n_seeds] for j, m in enumerate(self.months)}
        rows = []
        for price_label, shift in shifts:
            for wl, k in state.wtp:
                evppi_os = value(*os_fit, shift, k)
                evpi = value(costs, qalys, shift, k)
                for m in self.months:
                    values = np.array([value(fc, fe, shift, k) for fc, fe in fits[m]])
                    ev = float(values.mean())
                    rows.append({"price": price_label, "months": float(m), "wtp_label": wl, "wtp": k,
                                 "evsi": ev, "evsi_sd": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                                 "evppi_os": evppi_os, "evpi": evpi, "population_evsi": ev * factor,
                                 "population_evppi_os": evppi_os * factor, "population_evpi": evpi * factor})
        table = pd.DataFrame(rows)
        return EvsiAnalysis(table=table, at_risk=at_risk, survival_now=s_now, enrolled=self.enrolled,
                            current_followup=float(self.current_followup), parameters=cols,
                            discounted_patients=float(factor), patients=treated, patients_note=note,
                            draws=psa.n, seeds=tuple(self.seeds), method=self.method,
                            endpoint=f"{strategy_labels(model)[new]} {self.endpoint}")


@dataclass
class EvsiAnalysis:
    table: pd.DataFrame          # price, months, wtp: EVSI (mean over seeds, SD), EVPPI of OS, EVPI; population values
    at_risk: int                 # patients alive at the current follow-up (base-case curve)
    survival_now: float
    enrolled: int
    current_followup: float
    parameters: list             # the OS coefficients of the EVPPI
    discounted_patients: float   # sum_y N_y (1 + r)^-(y-1)
    patients: np.ndarray | None
    patients_note: str
    draws: int
    seeds: tuple
    method: str
    endpoint: str
