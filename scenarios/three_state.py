"""A minimal model from scratch: Healthy / Sick / Dead, usual care vs a new drug.

Annual cycles over 40 years, half-cycle correction, 3.5% discounting, WTP GBP 20,000 and
30,000 per QALY. The new drug lowers the Healthy -> Sick probability by a relative risk and
costs ``c_drug`` a year while Healthy. Every number is illustrative (an assumption), not
evidence. The analyses: base case, one-way, threshold price of the drug, PSA (1,000 draws).

Run: ``hta run scenarios/three_state.py``. ``docs/new_model.md`` builds this file step by step.
"""

from dataclasses import dataclass, field

import numpy as np

from hta import Settings, analyse, run_file
from hta.analysis import OneWay, Psa, Threshold
from hta.engine import markov, outcomes
from hta.engine.timegrid import CycleGrid
from hta.params import ParameterTable
from hta.params.distributions import Beta, Gamma, LogNormal

STATES = ("Healthy", "Sick", "Dead")
ASSUMED = "illustrative value (assumption)"


def parameters() -> ParameterTable:
    """Probabilities per annual cycle, costs in GBP per year, utilities per year."""
    t = ParameterTable()
    t.add("p_healthy_sick", dist=Beta(15, 85), unit="per year", source=ASSUMED)
    t.add("p_healthy_dead", dist=Beta(2, 98), unit="per year", source=ASSUMED)
    t.add("p_sick_dead", dist=Beta(10, 40), unit="per year", source=ASSUMED)
    t.add("rr_drug", 0.7, LogNormal(np.log(0.7), 0.1), unit="ratio", source=ASSUMED)
    t.add("c_healthy", dist=Gamma.from_mean_se(500, 50), unit="GBP/year", source=ASSUMED)
    t.add("c_sick", dist=Gamma.from_mean_se(4000, 400), unit="GBP/year", source=ASSUMED)
    t.add("c_drug", 1500.0, unit="GBP/year", source=ASSUMED)  # the price: fixed, varied by Threshold
    t.add("u_healthy", dist=Beta.from_mean_se(0.85, 0.02), unit="per year", source=ASSUMED)
    t.add("u_sick", dist=Beta.from_mean_se(0.55, 0.04), unit="per year", source=ASSUMED)
    return t


@dataclass(frozen=True)
class ThreeState:
    """The model protocol (hta.protocol.Model): name, strategies, settings, parameters, evaluate."""

    name: str = "three_state"
    strategies: tuple = ("usual", "drug")
    strategy_labels: dict = field(default_factory=lambda: {"usual": "Usual care", "drug": "New drug"})
    settings: Settings = field(default_factory=lambda: Settings.simple(40, "year", 0.035, wtp=[20_000, 30_000],
                                                                       currency="GBP"))
    parameters: ParameterTable = field(default_factory=parameters)

    @property
    def grid(self) -> CycleGrid:
        return CycleGrid.from_horizon(self.settings.horizon_years, self.settings.cycle)

    def evaluate(self, batch, keep_cohort: bool = False) -> outcomes.Outcomes:
        """Costs, QALYs and LYs ``(n, 2)`` for the ``n`` parameter sets of ``batch``."""
        grid, st, zero = self.grid, self.settings, np.zeros(batch.n)
        utilities = np.stack([batch["u_healthy"], batch["u_sick"], zero], axis=1)
        results = []
        for s in self.strategies:
            rr = batch["rr_drug"] if s == "drug" else 1.0
            P = markov.transitions(STATES, {("Healthy", "Sick"): batch["p_healthy_sick"] * rr,
                                            ("Healthy", "Dead"): batch["p_healthy_dead"],
                                            ("Sick", "Dead"): batch["p_sick_dead"]}, strategy=s)
            cohort = markov.cohort(P, [1.0, 0.0, 0.0], grid.n_cycles, states=STATES, strategy=s,
                                   dead_states=("Dead",), keep_trace=keep_cohort)
            care = np.stack([batch["c_healthy"], batch["c_sick"], zero], axis=1)
            costs = {"care": care} | ({"drug": np.stack([batch["c_drug"], zero, zero], axis=1)} if s == "drug" else {})
            results.append(outcomes.account(cohort, grid, within_cycle=st.within_cycle, discount_costs=st.discount_costs,
                                            discount_outcomes=st.discount_outcomes, utilities=utilities,
                                            state_costs=costs, keep_cohort=keep_cohort))
        return outcomes.Outcomes.from_list(results)


def build_model():
    return ThreeState()


def run(context):
    results = analyse(build_model(), OneWay(), Threshold("c_drug", upper=20_000), Psa(draws=1000),
                      name="three_state", title="Three-state model: new drug vs usual care (illustrative)",
                      execution=context.execution)
    context.publish(results)
    return results


if __name__ == "__main__":
    run_file(__file__)
