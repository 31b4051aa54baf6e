"""A total hip replacement (THR) model in the style of Briggs, Claxton & Sculpher (2006).

After the time-dependent Markov model of Briggs A, Claxton K, Sculpher M. *Decision Modelling for
Health Economic Evaluation*, OUP 2006, chapters 3-4 (standard prosthesis versus a new prosthesis,
"NP1"). It is the engine's reference time-dependent Markov model and a speed benchmark; the
parameter values follow the structure of the book's exercise but are **illustrative** (the
revision-hazard covariance in particular is assumed), and background mortality is the shipped
Hong Kong life table rather than the book's UK table. Not for decisions.

Five states: primary THR (the operation, first cycle only), successful primary, revision THR,
successful revision, death. Annual cycles, 60 cycles (age 60 to 120), half-cycle correction,
costs discounted at 6% and QALYs at 1.5% a year (the book's rates).

* Operative mortality ``omr_primary`` (primary operation) and ``omr_revision`` (each revision).
* Revision of a primary prosthesis follows a Weibull hazard in time since the operation:
  the probability in cycle ``j`` is ``1 - exp(lambda ((j-1)^gamma - j^gamma))``, with
  ``lambda = exp(ln_lambda)`` (``x rr_np1`` for the new prosthesis) and ``gamma = exp(ln_gamma)``;
  ``(ln_lambda, ln_gamma, ln_rr_np1)`` are multivariate normal.
* Re-revision of a revised prosthesis: ``p_rerevision`` per cycle.
* Background death in cycle ``j``: ``1 - exp(-(H(j) - H(j-1)))`` from the Hong Kong table for a
  cohort aged 60 (share of men ``MALE_SHARE``); revision and re-revision apply to survivors, and
  a revision operation's death risk combines with the background risk as independent causes.
* Costs (GBP): the primary operation and the prosthesis at time 0 (one-off); the revision
  operation per cycle spent in the revision state. Utilities are annual weights by state.

``evaluate(batch)`` is vectorised over the batch's samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hta.engine import markov, outcomes
from hta.engine.timegrid import CycleGrid
from hta.inputs import Settings

STATES = ("primary THR", "successful primary", "revision THR", "successful revision", "dead")
STRATEGIES = ("standard", "np1")
N_CYCLES = 60
START_AGE = 60.0
MALE_SHARE = 0.4
DISCOUNT_COSTS = 0.06
DISCOUNT_OUTCOMES = 0.015
#: Prosthesis prices (GBP, fixed) and the primary operation's cost (GBP, fixed; both arms).
PROSTHESIS_COST = {"standard": 394.0, "np1": 579.0}
PRIMARY_COST = 5294.0
#: Means of (ln_lambda, ln_gamma, ln_rr_np1) and an illustrative covariance (assumption).
REVISION_MEAN = (-5.490935, 0.3740968, -1.344474)
REVISION_COV = ((0.0420, -0.0185, -0.0010),
                (-0.0185, 0.0118, 0.0002),
                (-0.0010, 0.0002, 0.1469))


def parameter_table():
    """The PSA parameter table (beta operative risks, MVN revision hazard, gamma cost, beta utilities)."""
    from hta.params import ParameterTable
    from hta.params.distributions import Beta, Gamma, MultivariateNormal

    table = ParameterTable()
    table.add("omr_primary", dist=Beta(2.0, 98.0), unit="per operation", source="Briggs et al. 2006 (2 deaths in 100)")
    table.add("omr_revision", dist=Beta(2.0, 98.0), unit="per operation", source="Briggs et al. 2006 (2 deaths in 100)")
    table.add("p_rerevision", dist=Beta(4.0, 96.0), unit="per year", source="Briggs et al. 2006 (4 in 100)")
    table.add_block(["ln_lambda", "ln_gamma", "ln_rr_np1"], MultivariateNormal(REVISION_MEAN, REVISION_COV),
                    group="revision hazard", source="means after Briggs et al. 2006; covariance illustrative (assumption)")
    table.add("c_revision", dist=Gamma.from_mean_se(5294.0, 1487.0), unit="GBP per revision",
              source="Briggs et al. 2006")
    table.add("u_success_primary", dist=Beta.from_mean_se(0.85, 0.03), unit="per year", source="Briggs et al. 2006 (illustrative SE)")
    table.add("u_success_revision", dist=Beta.from_mean_se(0.75, 0.04), unit="per year", source="Briggs et al. 2006 (illustrative SE)")
    table.add("u_revision", dist=Beta.from_mean_se(0.30, 0.03), unit="per year", source="Briggs et al. 2006 (illustrative SE)")
    return table


def background_death() -> np.ndarray:
    """Probability of background death in each cycle ``j = 1..T``, shape (T,)."""
    from hta.population.lifetables import LifeTable

    t = np.arange(N_CYCLES + 1, dtype=float)
    H = np.asarray(LifeTable.hong_kong().cohort_cumhaz(t, START_AGE, MALE_SHARE)).reshape(-1)
    return -np.expm1(-np.diff(H))


def revision_probability(ln_lambda, ln_gamma, n_cycles: int = N_CYCLES) -> np.ndarray:
    """Weibull revision probability of a primary prosthesis in cycles ``1..T``, shape (n, T).

    ``1 - exp(lambda ((j-1)^gamma - j^gamma))`` with ``lambda = exp(ln_lambda)``, ``gamma =
    exp(ln_gamma)``; ``ln_lambda`` already includes the new prosthesis's log relative risk.
    """
    lam = np.exp(np.asarray(ln_lambda, dtype=float))[:, None]
    gam = np.exp(np.asarray(ln_gamma, dtype=float))[:, None]
    j = np.arange(1, n_cycles + 1, dtype=float)[None, :]
    return -np.expm1(lam * ((j - 1.0) ** gam - j ** gam))


def transition_probabilities(batch: Mapping, strategy: str, q_bg: np.ndarray) -> dict:
    """``{(from, to): probability}`` for :func:`hta.engine.markov.transitions`; staying is the complement.

    Shapes: ``(n,)`` per sample, ``(1, T)`` per cycle (background death), ``(n, T)`` per sample
    and cycle (revision of a primary prosthesis). Built without a sample loop and without an
    ``(n, T, 5, 5)`` array.
    """
    n = max(np.size(v) for v in batch.values())
    get = lambda k: np.broadcast_to(np.asarray(batch[k], dtype=float), (n,))  # noqa: E731
    T = q_bg.size
    ln_lambda = get("ln_lambda") + (get("ln_rr_np1") if strategy == "np1" else 0.0)
    revise = revision_probability(ln_lambda, get("ln_gamma"), T)            # (n, T)
    alive = (1.0 - q_bg)[None, :]                                            # (1, T)
    death = q_bg[None, :]
    omr_p, omr_r, rerev = get("omr_primary"), get("omr_revision"), get("p_rerevision")
    s = STATES
    return {
        (s[0], s[1]): 1.0 - omr_p,
        (s[0], s[4]): omr_p,
        (s[1], s[2]): alive * revise,
        (s[1], s[4]): death,
        (s[2], s[3]): (1.0 - omr_r)[:, None] * alive,
        (s[2], s[4]): 1.0 - (1.0 - omr_r)[:, None] * alive,
        (s[3], s[2]): alive * rerev[:, None],
        (s[3], s[4]): death,
    }


def evaluate(batch: Mapping, *, q_bg: np.ndarray | None = None, keep_cohort: bool = False) -> outcomes.Outcomes:
    """Costs, QALYs and life-years of both prostheses for every sample of ``batch``.

    ``q_bg`` (T,) is the background death probability per cycle (default :func:`background_death`;
    pass it to avoid re-reading the life table in repeated calls).
    """
    n = max(np.size(v) for v in batch.values())
    get = lambda k: np.broadcast_to(np.asarray(batch[k], dtype=float), (n,))  # noqa: E731
    q_bg = background_death() if q_bg is None else np.asarray(q_bg, dtype=float)
    grid = CycleGrid(1.0, q_bg.size)
    start = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    zero = np.zeros(n)
    utilities = np.stack([get("u_revision"), get("u_success_primary"), get("u_revision"),
                          get("u_success_revision"), zero], axis=1)
    costs = np.stack([zero, zero, get("c_revision"), zero, zero], axis=1)
    results = []
    for strategy in STRATEGIES:
        P = markov.transitions(STATES, transition_probabilities(batch, strategy, q_bg), strategy=strategy)
        c = markov.cohort(P, start, grid.n_cycles, states=STATES, strategy=strategy, dead_states=("dead",))
        prosthesis = batch[f"c_prosthesis_{strategy}"] if f"c_prosthesis_{strategy}" in batch else PROSTHESIS_COST[strategy]
        results.append(outcomes.account(
            c, grid, within_cycle="half-cycle", discount_costs=DISCOUNT_COSTS, discount_outcomes=DISCOUNT_OUTCOMES,
            utilities=utilities, state_costs={"revision": costs},
            one_off_costs={"primary operation": PRIMARY_COST, "prosthesis": prosthesis},
            keep_cohort=keep_cohort))
    return outcomes.Outcomes.from_list(results)


def excel_book(table=None):
    """The base case as a formula-live workbook (:mod:`hta.excel.formula_model`), mirroring
    :func:`evaluate`: background death from the life table, the Weibull revision hazard in time
    since the operation, operative mortality, half-cycle correction. ``table`` defaults to
    :func:`parameter_table` (its base values become the input cells)."""
    from hta.excel.formula_model import ModelBook
    from hta.population.lifetables import LifeTable

    table = parameter_table() if table is None else table
    frame = table.to_frame()
    parameters = {r["name"]: (float(r["base"]), r.get("unit", ""), r.get("description", ""), r.get("source", ""))
                  for r in frame.to_dict("records")}
    for s, price in PROSTHESIS_COST.items():
        parameters[f"c_prosthesis_{s}"] = (price, "GBP", f"prosthesis price, {s}", "Briggs et al. 2006")
    parameters["c_primary"] = (PRIMARY_COST, "GBP", "primary operation", "Briggs et al. 2006")
    settings = {"cycle_years": 1.0, "n_cycles": N_CYCLES, "discount_costs": DISCOUNT_COSTS,
                "discount_outcomes": DISCOUNT_OUTCOMES, "discount_method": "discrete", "within_cycle": "half-cycle",
                "start_age": START_AGE, "male_share": MALE_SHARE}
    book = ModelBook(grid=CycleGrid(1.0, N_CYCLES), settings=settings, parameters=parameters,
                     lifetable=LifeTable.hong_kong(),
                     title="Total hip replacement (Briggs et al. 2006 style; illustrative, not for decisions)")
    s = STATES
    for strategy in STRATEGIES:
        sheet = book.cycle_sheet(strategy, f"{strategy} prosthesis")
        bg = sheet.general_population("bg")
        sheet.column("q_bg", f"1-EXP(-({{{bg}}}-{{{bg}[-1]}}))", header="background death probability", per_cycle=True)
        ln_lambda = "ln_lambda+ln_rr_np1" if strategy == "np1" else "ln_lambda"
        sheet.column("p_revise", f"1-EXP(EXP({ln_lambda})*(({{k}}-1)^EXP(ln_gamma)-{{k}}^EXP(ln_gamma)))",
                     header="Weibull revision probability (time since the operation)", per_cycle=True)
        sheet.markov(s, [1.0, 0.0, 0.0, 0.0, 0.0], {
            (s[0], s[1]): "1-omr_primary",
            (s[0], s[4]): "omr_primary",
            (s[1], s[2]): "(1-{q_bg})*{p_revise}",
            (s[1], s[4]): "{q_bg}",
            (s[2], s[3]): "(1-omr_revision)*(1-{q_bg})",
            (s[2], s[4]): "1-(1-omr_revision)*(1-{q_bg})",
            (s[3], s[2]): "(1-{q_bg})*p_rerevision",
            (s[3], s[4]): "{q_bg}",
        }, dead=("dead",))
        sheet.person_time()
        book.line(strategy, "ly", "life-years", sheet.life_years())
        book.line(strategy, "qaly", "QALYs", sheet.qalys({s[0]: "u_revision", s[1]: "u_success_primary",
                                                          s[2]: "u_revision", s[3]: "u_success_revision"}))
        book.line(strategy, "cost", "revision", sheet.state_cost("revision", {s[2]: "c_revision"}))
        book.line(strategy, "cost", "primary operation", "c_primary")
        book.line(strategy, "cost", "prosthesis", f"c_prosthesis_{strategy}")
    book.strategies = [(st, st) for st in STRATEGIES]
    return book


#: Willingness to pay per QALY (GBP): NICE's 20,000-30,000 range (NICE methods manual 2022, 4.10).
WTP_PER_QALY = (("NICE lower", 20_000.0), ("NICE upper", 30_000.0))


def model_parameters():
    """:func:`parameter_table` plus the prosthesis prices as fixed parameters (GBP; Briggs et al.
    2006), so that a threshold analysis can vary the new prosthesis's price."""
    table = parameter_table()
    for strategy, price in PROSTHESIS_COST.items():
        table.add(f"c_prosthesis_{strategy}", price, unit="GBP", group="prosthesis prices",
                  description=f"prosthesis price, {strategy}", source="Briggs et al. 2006")
    return table


@dataclass(frozen=True)
class ThrModel:
    """The THR model on the model protocol (:class:`hta.protocol.Model`), for scenario scripts.

    60 annual cycles from age 60 (``START_AGE``; share of men ``MALE_SHARE``), half-cycle
    correction, costs discounted at 6% and QALYs at 1.5% a year; costs in GBP. Illustrative
    values (module docstring): not for decisions.
    """

    name: str = "thr_briggs"
    strategies: tuple = STRATEGIES
    strategy_labels: dict = field(default_factory=lambda: {"standard": "Standard prosthesis",
                                                           "np1": "New prosthesis (NP1)"})
    settings: Settings = field(default_factory=lambda: Settings.simple(
        N_CYCLES, "year", (DISCOUNT_COSTS, DISCOUNT_OUTCOMES), wtp=WTP_PER_QALY, currency="GBP",
        start_age=START_AGE, male_share=MALE_SHARE))
    parameters: object = field(default_factory=model_parameters)

    @property
    def grid(self) -> CycleGrid:
        return CycleGrid(1.0, N_CYCLES)

    def evaluate(self, batch, keep_cohort: bool = False) -> outcomes.Outcomes:
        return evaluate(batch, q_bg=_BACKGROUND.get(), keep_cohort=keep_cohort)

    def excel_book(self):
        """The base case as a formula-live workbook (``hta export-excel scenarios/thr_briggs.py``)."""
        return excel_book(self.parameters)


class _Cached:
    """The background death probabilities, read from the life table once per process."""

    value = None

    def get(self):
        if self.value is None:
            self.value = background_death()
        return self.value


_BACKGROUND = _Cached()


def model() -> ThrModel:
    """The THR model with its PSA parameter table."""
    return ThrModel()
