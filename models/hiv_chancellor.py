"""The Chancellor et al. (1997) HIV model, as in Briggs, Claxton & Sculpher (2006).

Reference model used to check the Markov engine: Briggs A, Claxton K, Sculpher M. *Decision
Modelling for Health Economic Evaluation*. Oxford University Press, 2006, Exercise 2.5 (the
deterministic model) and Exercise 4.7 (its probabilistic version); after Chancellor JV et al.,
PharmacoEconomics 1997;12(1):54-66.

Four states: A (CD4 200-500), B (CD4 < 200), C (AIDS), D (death). Zidovudine monotherapy versus
zidovudine + lamivudine; lamivudine's relative risk (0.509) on every transition and its cost
apply in the first two years only. Annual cycles, 20 years, end-of-cycle counting, costs
discounted at 6% a year, life-years undiscounted.

``evaluate(batch)`` is vectorised over the batch's samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hta.engine import markov, outcomes
from hta.engine.timegrid import CycleGrid
from hta.inputs import Settings

STATES = ("A", "B", "C", "D")
STRATEGIES = ("monotherapy", "combination")

#: Transition counts from Chancellor et al. (1997), Briggs et al. (2006) Table 2.2 / Exercise 2.5.
TRANSITION_COUNTS = {
    "A": {"A": 1251, "B": 350, "C": 116, "D": 17},
    "B": {"B": 731, "C": 512, "D": 15},
    "C": {"C": 1312, "D": 437},
}
#: Annual costs (GBP, 1995) by state: direct medical and community care; drug costs per year.
COSTS = {
    "c_dmed_A": 1701.0, "c_dmed_B": 1774.0, "c_dmed_C": 6948.0,
    "c_ccare_A": 1055.0, "c_ccare_B": 1278.0, "c_ccare_C": 2059.0,
    "c_zidovudine": 2278.0, "c_lamivudine": 2086.5,
}
RELATIVE_RISK = 0.509  # lamivudine + zidovudine vs zidovudine, on every transition probability
RR_YEARS = 2           # years the combination effect and lamivudine cost last


def transition_names() -> list[tuple[str, str, str]]:
    """(parameter name, from, to) for every transition probability, e.g. ('tp_A_B', 'A', 'B')."""
    return [(f"tp_{a}_{b}", a, b) for a, row in TRANSITION_COUNTS.items() for b in row]


def base_values() -> dict:
    """Deterministic base-case values: count-based probabilities, costs and the relative risk."""
    values = {}
    for a, row in TRANSITION_COUNTS.items():
        total = sum(row.values())
        for b, count in row.items():
            values[f"tp_{a}_{b}"] = count / total
    values.update(COSTS)
    values["rr"] = RELATIVE_RISK
    return values


def parameter_table():
    """PSA parameter table as in Briggs et al. (2006) Exercise 4.7.

    Transition probabilities out of each state are Dirichlet on the observed counts; costs are
    gamma with the standard error equal to the mean (an assumption of the exercise for direct
    medical and community costs; drug costs fixed); the relative risk is lognormal with the
    published 95% CI 0.365-0.710 (log-scale SE = (ln 0.710 - ln 0.365) / (2 x 1.96)).
    """
    from hta.params import ParameterTable
    from hta.params.distributions import Dirichlet, Gamma, LogNormal

    table = ParameterTable()
    for a, row in TRANSITION_COUNTS.items():
        table.add_block([f"tp_{a}_{b}" for b in row], Dirichlet(list(row.values())), group=f"transitions from {a}",
                        source="Chancellor et al. 1997 counts; Briggs et al. 2006 Ex 2.5")
    for name, value in COSTS.items():
        if name.startswith("c_dmed") or name.startswith("c_ccare"):
            table.add(name, value, Gamma.from_mean_se(value, value), group="costs", unit="GBP/year",
                      source="Chancellor et al. 1997; Briggs et al. 2006 Ex 4.7 (SE = mean)")
        else:
            table.add(name, value, group="drug costs", unit="GBP/year", source="Chancellor et al. 1997")
    se = (np.log(0.710) - np.log(0.365)) / (2 * 1.959964)
    table.add("rr", RELATIVE_RISK, LogNormal(np.log(RELATIVE_RISK), se), group="treatment effect",
              source="Chancellor et al. 1997 (95% CI 0.365-0.710)")
    return table


def _matrix(batch: Mapping, rr=None) -> np.ndarray:
    """Transition matrices (n, 4, 4); with ``rr``, off-diagonal probabilities are multiplied by it.

    Stored as (4, 4, n) and returned as its (n, 4, 4) view, so that each entry ``P[:, a, b]`` is
    a contiguous (n,) column: the Markov engine then reads the columns in place (no copies).
    """
    n = max(np.size(v) for v in batch.values())
    P = np.zeros((4, 4, n))
    idx = {s: i for i, s in enumerate(STATES)}
    for name, a, b in transition_names():
        if a != b:
            p = np.broadcast_to(np.asarray(batch[name], dtype=float), (n,))
            np.multiply(p, 1.0 if rr is None else rr, out=P[idx[a], idx[b]])
    for i in range(3):
        np.subtract(1.0, P[i].sum(axis=0), out=P[i, i])  # row i's exits, summed in state order
    P[3, 3] = 1.0
    return P.transpose(2, 0, 1)


def evaluate(batch: Mapping, *, n_cycles: int = 20, discount_costs: float = 0.06,
             discount_outcomes: float = 0.0, keep_cohort: bool = False) -> outcomes.Outcomes:
    """Costs and life-years of both strategies for every sample of ``batch``.

    ``batch`` maps the names of :func:`base_values` to arrays of shape (n,) (or scalars).
    LYs are reported as both ``lys`` and ``qalys`` (utility 1 in every living state).
    """
    n = max(np.size(v) for v in batch.values())
    grid = CycleGrid(1.0, n_cycles)
    get = lambda k: np.broadcast_to(np.asarray(batch[k], dtype=float), (n,))  # noqa: E731
    rr = get("rr")
    P_mono = _matrix(batch)
    start = np.array([1.0, 0.0, 0.0, 0.0])
    care = np.stack([get("c_dmed_A") + get("c_ccare_A"), get("c_dmed_B") + get("c_ccare_B"),
                     get("c_dmed_C") + get("c_ccare_C"), np.zeros(n)], axis=1)
    alive = np.array([1.0, 1.0, 1.0, 0.0])
    utilities = alive
    zid = get("c_zidovudine")[:, None] * alive
    # lamivudine in the first RR_YEARS cycles only (no (n, T, 4) array that is 0 afterwards)
    lam = outcomes.in_cycles(get("c_lamivudine")[:, None] * alive, first=1, last=RR_YEARS)

    common = dict(within_cycle="end", discount_costs=discount_costs, discount_outcomes=discount_outcomes,
                  utilities=utilities, keep_cohort=keep_cohort)
    # Without keep_cohort the cohorts store no trace (traces on request): the engine accumulates
    # the person-cycles in its cycle loop (equal to a stored trace's within a few units in the last
    # place, see markov.cohort). One strategy at a time, the combination first, each array dropped
    # once it is no longer needed: the peak memory of an evaluation is what glibc returns to the
    # system at the end and faults in again in the next one (docs/performance.md).
    # The relative risk applies in the first RR_YEARS cycles only: piecewise matrices are
    # validated once per segment and never repeated into an (n, T, 4, 4) array.
    comb = markov.cohort(markov.piecewise((RR_YEARS, _matrix(batch, rr=rr)), (None, P_mono)), start, n_cycles,
                         states=STATES, strategy="combination", dead_states=("D",), keep_trace=keep_cohort)
    res_comb = outcomes.account(comb, grid, state_costs={"care": care, "zidovudine": zid, "lamivudine": lam}, **common)
    del comb
    mono = markov.cohort(P_mono, start, n_cycles, states=STATES, strategy="monotherapy", dead_states=("D",),
                         keep_trace=keep_cohort)
    del P_mono
    res_mono = outcomes.account(mono, grid, state_costs={"care": care, "zidovudine": zid}, **common)
    return outcomes.Outcomes.from_list([res_mono, res_comb])


def excel_book(values: Mapping | None = None, *, n_cycles: int = 20, discount_costs: float = 0.06,
               discount_outcomes: float = 0.0):
    """The deterministic model as a formula-live workbook (:mod:`hta.excel.formula_model`).

    Mirrors :func:`evaluate`: annual cycles counted at their end, the relative risk on every
    transition and the lamivudine cost in the first ``RR_YEARS`` cycles. ``values`` defaults to
    :func:`base_values`. Save it with ``book.save(path, python_lines=...)``.
    """
    from hta.excel.formula_model import ModelBook

    values = dict(base_values() if values is None else values)
    sources = {name: "Chancellor et al. 1997; Briggs et al. 2006 Ex 2.5" for name in values}
    parameters = {name: (float(v), "GBP/year" if name.startswith("c_") else "", "", sources[name])
                  for name, v in values.items()}
    settings = {"cycle_years": 1.0, "n_cycles": n_cycles, "discount_costs": discount_costs,
                "discount_outcomes": discount_outcomes, "discount_method": "discrete", "within_cycle": "end"}
    book = ModelBook(grid=CycleGrid(1.0, n_cycles), settings=settings, parameters=parameters,
                     title="Chancellor et al. (1997) HIV model, Briggs et al. (2006) Exercise 2.5")
    for strategy in STRATEGIES:
        sheet = book.cycle_sheet(strategy, f"{strategy} (zidovudine{' + lamivudine' if strategy == 'combination' else ''})")
        probs = {}
        for name, a, b in transition_names():
            if a != b:
                probs[(a, b)] = f"IF({{k}}<={RR_YEARS},{name}*rr,{name})" if strategy == "combination" else name
        sheet.markov(STATES, [1.0, 0.0, 0.0, 0.0], probs, dead=("D",))
        sheet.person_time()
        book.line(strategy, "ly", "life-years", sheet.life_years())
        book.line(strategy, "qaly", "QALYs", sheet.qalys({s: "1" for s in STATES[:3]}))
        book.line(strategy, "cost", "care", sheet.state_cost("care", {s: f"c_dmed_{s}+c_ccare_{s}" for s in STATES[:3]}))
        book.line(strategy, "cost", "zidovudine", sheet.state_cost("zidovudine", {s: "c_zidovudine" for s in STATES[:3]}))
        if strategy == "combination":
            book.line(strategy, "cost", "lamivudine", sheet.state_cost(
                "lamivudine", {s: f"IF({{k}}<={RR_YEARS},c_lamivudine,0)" for s in STATES[:3]}))
    book.strategies = [(s, s) for s in STRATEGIES]
    return book


#: Willingness to pay per life-year (GBP, 1995 prices): illustrative values (assumption; the
#: book reports the ICER only). Used for NMB, the CEAC and the threshold price of lamivudine.
WTP_PER_LY = (("lower (assumption)", 10_000.0), ("upper (assumption)", 20_000.0))


@dataclass(frozen=True)
class HivModel:
    """The HIV model on the model protocol (:class:`hta.protocol.Model`), for scenario scripts.

    The effect is the life-year: utilities are 1 in every living state and outcomes are not
    discounted, so ``qalys`` equal ``lys`` and ``settings.effect`` is ``"LY"`` (the report's
    headline reads "per LY"). Costs in GBP (1995), discounted at 6% a year; 20 annual cycles,
    end-of-cycle counting (Briggs et al. 2006 Exercise 2.5).
    """

    name: str = "hiv_chancellor"
    strategies: tuple = STRATEGIES
    strategy_labels: dict = field(default_factory=lambda: {"monotherapy": "Zidovudine",
                                                           "combination": "Zidovudine + lamivudine"})
    settings: Settings = field(default_factory=lambda: Settings.simple(
        20, "year", (0.06, 0.0), wtp=WTP_PER_LY, within_cycle="end", currency="GBP", effect="LY"))
    parameters: object = field(default_factory=parameter_table)

    @property
    def grid(self) -> CycleGrid:
        return CycleGrid(1.0, 20)

    def evaluate(self, batch, keep_cohort: bool = False) -> outcomes.Outcomes:
        s = self.settings
        return evaluate(batch, n_cycles=self.grid.n_cycles, discount_costs=s.discount_costs,
                        discount_outcomes=s.discount_outcomes, keep_cohort=keep_cohort)

    def excel_book(self):
        """The base case as a formula-live workbook (``hta export-excel scenarios/hiv_chancellor.py``)."""
        s = self.settings
        values = {name: float(v[0]) for name, v in self.parameters.base().items()}
        return excel_book(values, n_cycles=self.grid.n_cycles, discount_costs=s.discount_costs,
                          discount_outcomes=s.discount_outcomes)


def model() -> HivModel:
    """The HIV model with its PSA parameter table (Briggs et al. 2006 Exercise 4.7)."""
    return HivModel()
