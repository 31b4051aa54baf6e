"""The growth steps of docs/new_model.md, runnable (tests/test_new_model_doc.py runs each).

Each function returns a model built on ``scenarios/three_state.py``'s :class:`ThreeState`:
time-dependent background mortality, a tunnel state, a partitioned-survival version and a model
whose settings and parameters come from an input workbook. Every number is illustrative (an
assumption), as in the three-state example.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hta import Settings, read_inputs
from hta.engine import markov, outcomes, psm
from hta.params.distributions import Beta, MultivariateNormal
from hta.population.lifetables import LifeTable
from hta.survival import make_curve

_spec = importlib.util.spec_from_file_location(
    "three_state", Path(__file__).resolve().parents[2] / "scenarios" / "three_state.py")
three_state = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(three_state)
STATES, ThreeState = three_state.STATES, three_state.ThreeState
ASSUMED = three_state.ASSUMED


# -- 1. time-dependent transitions: background mortality by attained age ----------------------

@dataclass(frozen=True)
class AgeingThreeState(ThreeState):
    """Healthy -> Dead is Hong Kong general-population mortality from ``start_age`` (a (1, T)
    array: per cycle, the same in every sample); Sick -> Dead adds the disease's excess risk."""

    settings: Settings = dataclasses.field(default_factory=lambda: Settings.simple(
        40, "year", 0.035, wtp=[20_000, 30_000], currency="GBP", start_age=60, male_share=0.5))

    def background_death(self) -> np.ndarray:
        s = self.settings
        H = LifeTable.hong_kong().cohort_cumhaz(self.grid.times, s.start_age, s.male_share).reshape(-1)
        return -np.expm1(-np.diff(H))[None, :]                            # (1, T), per cycle

    def probabilities(self, batch, strategy):
        q = self.background_death()
        rr = batch["rr_drug"] if strategy == "drug" else 1.0
        return {("Healthy", "Sick"): (batch["p_healthy_sick"] * rr)[:, None] * (1 - q),   # (n, T)
                ("Healthy", "Dead"): q,                                                # (1, T)
                ("Sick", "Dead"): 1 - (1 - batch["p_sick_dead"])[:, None] * (1 - q)}     # (n, T)

    def evaluate(self, batch, keep_cohort=False):
        grid, st, zero = self.grid, self.settings, np.zeros(batch.n)
        utilities = np.stack([batch["u_healthy"], batch["u_sick"], zero], axis=1)
        results = []
        for s in self.strategies:
            P = markov.transitions(STATES, self.probabilities(batch, s), strategy=s)
            cohort = markov.cohort(P, [1.0, 0.0, 0.0], grid.n_cycles, states=STATES, strategy=s,
                                   dead_states=("Dead",), keep_trace=keep_cohort)
            costs = {"care": np.stack([batch["c_healthy"], batch["c_sick"], zero], axis=1)}
            if s == "drug":
                costs["drug"] = np.stack([batch["c_drug"], zero, zero], axis=1)
            results.append(outcomes.account(cohort, grid, within_cycle=st.within_cycle, discount_costs=st.discount_costs,
                                            discount_outcomes=st.discount_outcomes, utilities=utilities,
                                            state_costs=costs, keep_cohort=keep_cohort))
        return outcomes.Outcomes.from_list(results)


def ageing_model() -> AgeingThreeState:
    return AgeingThreeState()


# -- 2. a tunnel state: a higher death risk in the first year of sickness ---------------------

def tunnel_parameters():
    table = three_state.parameters()
    table.add("p_sick_dead_first", dist=Beta(20, 30), unit="per year", source=ASSUMED)
    return table


@dataclass(frozen=True)
class TunnelThreeState(ThreeState):
    """Sick becomes Sick#1 (first year, death risk ``p_sick_dead_first``) then Sick#2 (later years,
    ``p_sick_dead``): :func:`hta.engine.markov.with_tunnel` expands the dense (n, 3, 3) matrices."""

    parameters: object = dataclasses.field(default_factory=tunnel_parameters)

    def evaluate(self, batch, keep_cohort=False):
        grid, st, n = self.grid, self.settings, batch.n
        zero = np.zeros(n)
        results = []
        for s in self.strategies:
            to_sick = batch["p_healthy_sick"] * (batch["rr_drug"] if s == "drug" else 1.0)
            P = np.zeros((n, 3, 3))
            P[:, 0, 1], P[:, 0, 2] = to_sick, batch["p_healthy_dead"]
            P[:, 0, 0] = 1 - to_sick - batch["p_healthy_dead"]
            P[:, 2, 2] = 1.0
            exits = np.zeros((n, 2, 3))              # rows: Sick#1, Sick#2; mass on "Sick" = stay/move on
            exits[:, 0, 2], exits[:, 0, 1] = batch["p_sick_dead_first"], 1 - batch["p_sick_dead_first"]
            exits[:, 1, 2], exits[:, 1, 1] = batch["p_sick_dead"], 1 - batch["p_sick_dead"]
            Q, states = markov.with_tunnel(P, STATES, "Sick", exits)   # Healthy, Sick#1, Sick#2, Dead
            cohort = markov.cohort(Q, [1.0, 0.0, 0.0, 0.0], grid.n_cycles, states=states, strategy=s,
                                   dead_states=("Dead",), keep_trace=keep_cohort)
            u = np.stack([batch["u_healthy"], batch["u_sick"], batch["u_sick"], zero], axis=1)
            care = np.stack([batch["c_healthy"], batch["c_sick"], batch["c_sick"], zero], axis=1)
            costs = {"care": care} | ({"drug": np.stack([batch["c_drug"], zero, zero, zero], axis=1)}
                                      if s == "drug" else {})
            results.append(outcomes.account(cohort, grid, within_cycle=st.within_cycle, discount_costs=st.discount_costs,
                                            discount_outcomes=st.discount_outcomes, utilities=u, state_costs=costs,
                                            keep_cohort=keep_cohort))
        return outcomes.Outcomes.from_list(results)


def tunnel_model() -> TunnelThreeState:
    return TunnelThreeState()


# -- 3. partitioned survival: the same three states from PFS and OS curves ---------------------

def psm_parameters():
    """Weibull PFS and OS of usual care (flexsurv's log shape, log scale in years; correlated
    coefficients as a multivariate-normal block), a hazard ratio of the drug on both, costs and
    utilities of the three-state example."""
    table = three_state.parameters()
    table.add_block(["pfs_log_shape", "pfs_log_scale"], MultivariateNormal([0.1, 1.6], [[0.01, -0.002], [-0.002, 0.004]]),
                    group="PFS usual care", source=ASSUMED)
    table.add_block(["os_log_shape", "os_log_scale"], MultivariateNormal([0.2, 2.3], [[0.01, -0.002], [-0.002, 0.004]]),
                    group="OS usual care", source=ASSUMED)
    return table


@dataclass(frozen=True)
class PsmThreeState(ThreeState):
    """Healthy = progression-free, Sick = progressed, Dead: occupancy from S_PFS and S_OS. The
    drug's effect is ``rr_drug`` used as a hazard ratio on both curves (S^HR)."""

    parameters: object = dataclasses.field(default_factory=psm_parameters)
    structure: str = "psm"

    def survival_curves(self, batch) -> dict:
        t = self.grid.times                                            # years, (T + 1,)
        curves = {}
        for s in self.strategies:
            hr = batch["rr_drug"][:, None] if s == "drug" else 1.0
            for e in ("pfs", "os"):
                coef = np.column_stack([batch[f"{e}_log_shape"], batch[f"{e}_log_scale"]])
                curves[(s, e.upper())] = make_curve("weibull", coef).survival(t) ** hr   # (n, T + 1)
        return curves

    def evaluate(self, batch, keep_cohort=False):
        grid, st, zero = self.grid, self.settings, np.zeros(batch.n)
        curves = self.survival_curves(batch)
        utilities = np.stack([batch["u_healthy"], batch["u_sick"], zero], axis=1)
        results = []
        for s in self.strategies:
            cohort = psm.cohort([curves[(s, "PFS")], curves[(s, "OS")]], states=STATES, strategy=s)
            costs = {"care": np.stack([batch["c_healthy"], batch["c_sick"], zero], axis=1)}
            if s == "drug":
                costs["drug"] = np.stack([batch["c_drug"], zero, zero], axis=1)
            results.append(outcomes.account(cohort, grid, within_cycle=st.within_cycle, discount_costs=st.discount_costs,
                                            discount_outcomes=st.discount_outcomes, utilities=utilities,
                                            state_costs=costs, keep_cohort=keep_cohort))
        return outcomes.Outcomes.from_list(results)


def psm_model() -> PsmThreeState:
    return PsmThreeState()


# -- 4. inputs from a workbook --------------------------------------------------------------------

def workbook_model(path) -> ThreeState:
    """The three-state model with the settings and parameters of an input workbook (written by
    ``hta template`` and filled in: docs/new_model.md, step 8)."""
    inputs = read_inputs(path)
    return ThreeState(settings=inputs.settings, parameters=inputs.parameters)
