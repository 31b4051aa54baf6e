"""A small three-state model (well, sick, dead) for the verification tests, with plantable defects.

``ToyModel(structure="markov" | "psm", defect=None | name)``: two strategies ("soc", "new"; the new
treatment multiplies the well -> sick rate by ``hr_new``), annual cycles, a one-off drug price
for "new", state costs and utilities, an adverse-event QALY loss, and constant background
mortality (``BG_RATE`` per year). It follows the model protocol and exposes the optional hooks
``hta.analysis.verify`` uses (``with_settings``, ``grid``, ``survival_curves``, ``transition_matrices``,
``general_population_survival``). Each entry of :data:`DEFECTS` plants one defect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hta.engine import markov, outcomes, psm
from hta.engine.cohort import Cohort
from hta.engine.timegrid import CycleGrid
from hta.params import ParameterTable
from hta.params.distributions import Beta, Gamma, LogNormal, Normal

STATES = ("well", "sick", "dead")
BG_RATE = 0.01  # per year

DEFECTS = {
    "row_sums_1.01": "the sick row of the new strategy's transition matrix sums to 1.01",
    "negative_utility_input": "u_sick is -0.2 in the parameter table",
    "negative_utility_code": "the model uses -u_sick as the sick state's utility",
    "rising_survival": "OS of the new strategy rises after year 5 (psm)",
    "cost_counted_twice": "the drug price is counted in two cost lines",
    "cost_counted_twice_same_line": "the drug price is counted twice in its own line",
    "hard_coded_cost": "a cost of 100 per cycle in 'well' that comes from no parameter",
    "median_as_mean": "c_sick is lognormal with its median (not its mean) at the base value",
    "above_population": "OS of the new strategy has a hazard below the background mortality (psm)",
    "hard_coded_discount": "outcomes are discounted at a hard-coded 3.5%, whatever the settings",
    "negative_probability": "a well -> dead probability of -0.02 (the well row still sums to 1)",
    "unreported_crossing": "PFS above OS, partitioned without capping or reporting (psm)",
    "nan_at_extreme_quantile": "costs are NaN when rate_sick > 0.38 (beyond its high value 0.363)",
    "nan_at_high_value": "costs are NaN when rate_sick > 0.34 (below its high value 0.363)",
    "ignores_horizon": "the time horizon is hard-coded at 20 years, whatever the settings",
}


@dataclass(frozen=True)
class ToySettings:
    horizon_years: float = 20.0
    cycle: str = "year"
    discount_costs: float = 0.035
    discount_outcomes: float = 0.035
    within_cycle: str = "half-cycle"
    seed: int = 11


@dataclass(frozen=True)
class ToyModel:
    structure: str = "markov"
    defect: str | None = None
    settings: ToySettings = ToySettings()

    name = "toy"
    strategies = ("soc", "new")
    strategy_labels = {"soc": "standard care", "new": "new drug"}

    def __post_init__(self):
        assert self.defect is None or self.defect in DEFECTS, self.defect

    @property
    def grid(self) -> CycleGrid:
        horizon = 20.0 if self.defect == "ignores_horizon" else self.settings.horizon_years
        return CycleGrid.from_horizon(horizon, self.settings.cycle)

    def with_settings(self, **changes) -> "ToyModel":
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    @property
    def parameters(self) -> ParameterTable:
        t = ParameterTable()
        t.add("c_drug_price", 10_000.0, unit="HK$ per patient", group="new drug price", source="test")
        t.add("c_well", 500.0, Gamma.from_mean_se(500.0, 100.0), unit="HK$ per cycle", source="test")
        if self.defect == "median_as_mean":
            t.add("c_sick", 2000.0, LogNormal(np.log(2000.0), 0.8), unit="HK$ per cycle", source="test")
        else:
            t.add("c_sick", 2000.0, Gamma.from_mean_se(2000.0, 400.0), unit="HK$ per cycle", source="test")
        t.add("u_well", 0.85, Beta.from_mean_se(0.85, 0.03), unit="annual utility", source="test")
        if self.defect == "negative_utility_input":
            t.add("u_sick", -0.2, Normal(-0.2, 0.05), unit="annual utility", source="test")
        else:
            t.add("u_sick", 0.5, Beta.from_mean_se(0.5, 0.05), unit="annual utility", source="test")
        t.add("p_ae", 0.1, Beta.from_mean_se(0.1, 0.02), unit="probability", source="test")
        t.add("du_ae", 0.02, Gamma.from_mean_se(0.02, 0.005), unit="utility decrement", source="test")
        t.add("rate_sick", 0.3, LogNormal.from_mean_se(0.3, 0.03), unit="per year", source="test")
        t.add("rate_death_sick", 0.2, LogNormal.from_mean_se(0.2, 0.02), unit="per year", source="test")
        t.add("hr_new", 0.7, LogNormal.from_mean_se(0.7, 0.07), unit="hazard ratio", source="test")
        return t

    # -- structure ---------------------------------------------------------------------------
    def general_population_survival(self) -> np.ndarray:
        return np.exp(-BG_RATE * self.grid.times)

    def _rates(self, batch, strategy):
        n = batch.n
        g = lambda k: np.broadcast_to(np.asarray(batch[k], float), (n,))  # noqa: E731
        hr = g("hr_new") if strategy == "new" else np.ones(n)
        return g("rate_sick") * hr, g("rate_death_sick")

    def transition_matrices(self, batch) -> dict:
        if self.structure != "markov":
            return {}
        dt = self.grid.cycle_years
        out = {}
        for s in self.strategies:
            r_sick, r_death = self._rates(batch, s)
            P = np.zeros((batch.n, 3, 3))
            P[:, 0, 2] = 1 - np.exp(-BG_RATE * dt)
            P[:, 0, 1] = (1 - np.exp(-(r_sick + BG_RATE) * dt)) - P[:, 0, 2]
            P[:, 0, 0] = 1 - P[:, 0, 1] - P[:, 0, 2]
            P[:, 1, 2] = 1 - np.exp(-(r_death + BG_RATE) * dt)
            P[:, 1, 1] = 1 - P[:, 1, 2]
            P[:, 2, 2] = 1.0
            if self.defect == "row_sums_1.01" and s == "new":
                P[:, 1, 1] += 0.01
            if self.defect == "negative_probability":
                P[:, 0, 2] = -0.02
                P[:, 0, 0] = 1 - P[:, 0, 1] - P[:, 0, 2]
            out[s] = P
        return out

    def _psm_curves(self, batch) -> dict:
        t = self.grid.times
        curves = {}
        for s in self.strategies:
            r_sick, r_death = self._rates(batch, s)
            pfs = np.exp(-np.outer(r_sick + BG_RATE, t))
            os_ = np.exp(-np.outer(0.5 * r_death + BG_RATE, t))
            if self.defect == "above_population" and s == "new":
                os_ = np.exp(-np.outer(np.full(batch.n, 0.5 * BG_RATE), t))
                pfs = np.minimum(pfs, os_)
            if self.defect == "rising_survival" and s == "new":
                later = t > 5
                os_ = os_.copy()
                os_[:, later] = os_[:, [int(np.argmax(later)) - 1]] + 0.002 * (t[later] - 5)
            if self.defect == "unreported_crossing":
                pfs = os_ ** 0.8
            curves[(s, "PFS")] = pfs
            curves[(s, "OS")] = os_
        return curves

    def cohorts(self, batch) -> dict:
        if self.structure == "psm":
            c = self._psm_curves(batch)
            if self.defect == "unreported_crossing":  # an engine that neither caps nor reports
                return {s: Cohort(s, STATES, partition=[c[(s, "PFS")], c[(s, "OS")]], report={"capped": {}},
                                  dead_states=("dead",)) for s in self.strategies}
            return {s: psm.cohort([c[(s, "PFS")], c[(s, "OS")]], states=STATES, strategy=s) for s in self.strategies}
        P = self.transition_matrices(batch)
        return {s: markov.cohort(P[s], [1.0, 0.0, 0.0], self.grid.n_cycles, states=STATES, strategy=s,
                                 dead_states=("dead",), validate=False) for s in self.strategies}

    def survival_curves(self, batch) -> dict:
        if self.structure == "psm":
            return self._psm_curves(batch)
        out = {}
        for s, c in self.cohorts(batch).items():
            out[(s, "PFS")] = c.trace[:, :, 0]
            out[(s, "OS")] = 1.0 - c.trace[:, :, 2]
        return out

    # -- outcomes ----------------------------------------------------------------------------
    def evaluate(self, batch, *, keep_cohort: bool = False) -> outcomes.Outcomes:
        n = batch.n
        g = lambda k: np.broadcast_to(np.asarray(batch[k], float), (n,))  # noqa: E731
        zero = np.zeros(n)
        s = self.settings
        u_sick = -g("u_sick") if self.defect == "negative_utility_code" else g("u_sick")
        utilities = np.stack([g("u_well"), u_sick, zero], axis=1)
        well_cost = g("c_well") + (100.0 if self.defect == "hard_coded_cost" else 0.0)
        limit = {"nan_at_extreme_quantile": 0.38, "nan_at_high_value": 0.34}.get(self.defect)
        if limit is not None:
            well_cost = np.where(g("rate_sick") > limit, np.nan, well_cost)
        state_costs = {"health care": np.stack([well_cost, g("c_sick"), zero], axis=1)}
        rate_outcomes = 0.035 if self.defect == "hard_coded_discount" else s.discount_outcomes
        common = dict(within_cycle=s.within_cycle, discount_costs=s.discount_costs, discount_outcomes=rate_outcomes,
                      utilities=utilities, state_costs=state_costs, keep_cohort=keep_cohort,
                      one_off_qalys={"adverse events": -g("p_ae") * g("du_ae")})
        cohorts = self.cohorts(batch)
        price = g("c_drug_price")
        drug = {"drug acquisition": 2 * price if self.defect == "cost_counted_twice_same_line" else price}
        if self.defect == "cost_counted_twice":
            drug["administration"] = price
        res = [outcomes.account(cohorts["soc"], self.grid, **common),
               outcomes.account(cohorts["new"], self.grid, one_off_costs=drug, **common)]
        return outcomes.Outcomes.from_list(res)
