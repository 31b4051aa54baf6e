"""CLL first-line FC vs RFC: partitioned survival vs multi-state models (NICE DSU TSD 19).

After Williams C, Lewsey JD, Briggs AH, Mackay DF. Cost-effectiveness analysis in R using a
multi-state modeling survival analysis framework. Med Decis Making 2017;37:340-52, and the
companion Williams et al. MDM 2017;37:427-39, on the CLL8 trial data of NICE TA174 (810 patients,
fludarabine + cyclophosphamide (FC, ``treat = 0``) vs rituximab + FC (RFC, ``treat = 1``); R
package ``survHE``'s ``TA174`` data, ``/work/shared/refdata/TA174_CLL_Williams2017.csv``). Times
are in years (``prog_ty``, ``death_ty``).

States: progression-free, progressed, dead; transitions 1 PF->P, 2 PF->D, 3 P->D, each fitted
to the patient data with a treatment covariate on the location parameter
(:mod:`hta.multistate.fit`). Families are chosen by AIC among fits with an interior optimum
(see :func:`choose`); the P->D transition is fitted on both time scales:

* clock-forward (Markov: hazard in time since randomisation, left-truncated at progression);
* clock-reset (semi-Markov: hazard in time since progression).

The PSM uses PFS (progression or death) and OS fitted to the same data, family by AIC.

**Costs, utilities and horizon are assumptions for illustration** (this example compares
survival-modelling methods, as Williams et al. did; it is not a decision model): utilities 0.80
progression-free and 0.60 progressed; 1,000 GBP a year progression-free (monitoring), 12,000 GBP a
year progressed (later-line treatment), 3,000 GBP at progression (work-up); first-line drug costs
8,000 GBP (FC) and 20,000 GBP (RFC) at the start; 15-year horizon; 3.5% a year discounting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hta.multistate import aalen_johansen as aj
from hta.multistate import compare as cmp
from hta.multistate.cohort import markov_cohort, semi_markov_cohort
from hta.multistate.data import STATES, transition_data
from hta.multistate.fit import fit_transitions
from hta.multistate.model import from_fits
from hta.multistate.simulate import simulate
from hta.survival.fit import fit as fit_survival

DATA = Path("/work/shared/refdata/TA174_CLL_Williams2017.csv")
STRATEGIES = ("FC", "RFC")  # treat = 0, 1
HORIZON = 15.0  # years (assumption)
CYCLE = 1.0 / 12.0  # years
GRID = np.round(np.arange(0.0, HORIZON + 1e-9, 0.25), 10)
DISCOUNT = 0.035
UTILITIES = {"progression-free": 0.80, "progressed": 0.60}  # assumption
STATE_COSTS = {"progression-free": 1_000.0, "progressed": 12_000.0}  # GBP a year, assumption
PROGRESSION_COST = 3_000.0  # GBP at progression, assumption
DRUG_COSTS = {"FC": 8_000.0, "RFC": 20_000.0}  # GBP at the start, assumption
FAMILIES = ("exponential", "weibull", "gompertz", "lognormal", "loglogistic", "gamma", "gengamma")
_EDGE = 15.0  # |coefficient| beyond this (years) marks a fit that ran to the parameter's edge


def load(path=DATA) -> pd.DataFrame:
    return pd.read_csv(path)


def multistate_data(patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Transition rows (years) with the arm column ``arm`` (0 = FC, 1 = RFC)."""
    patients = load() if patients is None else patients
    return transition_data(patients, arm="treat", id="patid")


def fits(msdata: pd.DataFrame | None = None, families=FAMILIES) -> dict:
    """Per-transition fits on both clocks: {"forward": TransitionFits, "reset": TransitionFits}."""
    msdata = multistate_data() if msdata is None else msdata
    return {clock: fit_transitions(msdata, families, clock=clock, covariate="arm") for clock in ("forward", "reset")}


def choose(result) -> str:
    """The family with the lowest AIC among converged fits whose coefficients stay inside
    ``|c| < 15`` (a left-truncated gamma or Weibull on P->D runs its shape towards 0, the
    boundary hazard ``k / t``; such a fit is not used)."""
    table = result.table
    ok = table["converged"].astype(bool)
    for name in table.index:
        if np.any(np.abs(result[name].coef.to_numpy()) > _EDGE):
            ok[name] = False
    return str(table.loc[ok, "aic"].idxmin())


def psm_fits(patients: pd.DataFrame | None = None, families=FAMILIES) -> dict:
    """PFS (progression or death; ``prog_ty``) and OS (``death_ty``) fits with the arm covariate."""
    p = load() if patients is None else patients
    pfs_event = ((p["prog"] == 1) | (p["death"] == 1)).astype(int)
    return {"PFS": fit_survival(p["prog_ty"], pfs_event, families, arm=p["treat"]),
            "OS": fit_survival(p["death_ty"], p["death"], families, arm=p["treat"])}


def build(n_patients: int = 100_000, seed: int = 2017, patients: pd.DataFrame | None = None) -> dict:
    """Everything the comparison needs (point estimates):

    ``fits`` (both clocks), ``choice`` (family per clock and transition), ``psm_choice``,
    ``results`` (list of :class:`hta.multistate.compare.MethodResult`), ``observed``
    (Aalen-Johansen by strategy on a 0.05-year grid within follow-up).
    """
    patients = load() if patients is None else patients
    ms = multistate_data(patients)
    tf = fits(ms)
    choice = {clock: {k: choose(r) for k, r in f.fits.items()} for clock, f in tf.items()}
    pf = psm_fits(patients)
    psm_choice = {name: choose(r) for name, r in pf.items()}
    values = {"state_costs": STATE_COSTS, "state_utilities": UTILITIES,
                  "event_costs": {"progression-free->progressed": PROGRESSION_COST},
                  "discount_costs": DISCOUNT, "discount_outcomes": DISCOUNT}
    pfs_events = (patients["prog"] == 1) | (patients["death"] == 1)
    share = [float(patients.loc[patients["treat"] == a, "prog"].sum() / pfs_events[patients["treat"] == a].sum())
             for a in (0, 1)]
    results = []
    for arm, strategy in enumerate(STRATEGIES):
        pfs = pf["PFS"][psm_choice["PFS"]].curve(arm)
        os_ = pf["OS"][psm_choice["OS"]].curve(arm)
        psm = cmp.psm_cohort(pfs, os_, cycle=CYCLE, horizon=HORIZON, strategy=strategy)
        # a PSM does not say which PFS events are progressions: the progression cost applies to
        # the fall in PFS times the share of PFS events that were progressions in this arm's data
        psm.events = {"progression-free->progressed": psm.events["pfs_event"] * share[arm]}
        results.append(cmp.from_cohort("PSM", psm, cycle=CYCLE, grid=GRID, **values))
        fwd = from_fits(tf["forward"], choice["forward"], arm=arm)
        rst = from_fits(tf["reset"], choice["reset"], arm=arm)
        results.append(cmp.from_cohort("Markov cohort (clock-forward)",
                                       _named(markov_cohort(fwd, cycle=CYCLE, horizon=HORIZON), strategy),
                                       cycle=CYCLE, grid=GRID, **values))
        results.append(cmp.from_cohort("Semi-Markov cohort (clock-reset)",
                                       _named(semi_markov_cohort(rst, cycle=CYCLE, horizon=HORIZON), strategy),
                                       cycle=CYCLE, grid=GRID, **values))
        for label, model in (("Individual (clock-forward)", fwd), ("Individual (clock-reset)", rst)):
            sim = simulate(model, n_patients, horizon=HORIZON, seed=seed, grid=GRID, **values)
            results.append(cmp.from_simulation(label, strategy, sim))
    for r in results:
        r.costs += DRUG_COSTS[r.strategy]
    observed = {s: aj.aalen_johansen(ms[ms["arm"] == a], np.round(np.arange(0, 3.9, 0.05), 10))
                for a, s in enumerate(STRATEGIES)}
    return {"fits": tf, "choice": choice, "psm_fits": pf, "psm_choice": psm_choice,
            "results": results, "observed": observed}


def _named(cohort, strategy):
    cohort.strategy = strategy
    return cohort


def comparison_table(built: dict | None = None) -> pd.DataFrame:
    """The TSD 19 comparison sheet: one row per method and strategy (years in PF and P within
    15 years, life-years, discounted costs and QALYs; RFC rows carry increments and the ICER)."""
    built = build() if built is None else built
    return cmp.comparison_table(built["results"], reference="FC", comparator="RFC")


def occupancy_table(built: dict | None = None) -> pd.DataFrame:
    """Long occupancy table of every method plus the Aalen-Johansen estimate."""
    built = build() if built is None else built
    return cmp.occupancy_table(built["results"], built["observed"])


def figure(built: dict | None = None, horizon: float = 6.0):
    """Occupancy by method against Aalen-Johansen (first ``horizon`` years)."""
    occ = occupancy_table(built)
    from hta.report.figures import multistate_occupancy_figure

    return multistate_occupancy_figure(occ[occ["time"] <= horizon], states=STATES)


def fit_table(built: dict | None = None) -> pd.DataFrame:
    """Log-likelihood, AIC and BIC of every family for every transition on both clocks."""
    built = build() if built is None else built
    parts = []
    for clock, f in built["fits"].items():
        t = f.table[["trans", "transition", "distribution", "loglik", "aic", "bic", "converged"]].copy()
        t.insert(0, "clock", clock)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def psa(n_draws: int = 1_000, n_patients: int = 1_000, clock: str = "reset", seed: int = 2017,
        built: dict | None = None) -> pd.DataFrame:
    """Probabilistic analysis by individual-level simulation: ``n_draws`` multivariate-normal
    draws of every transition's coefficients (paired between arms: the same deviates), each
    simulated with ``n_patients`` patients (the same random numbers in both arms). One row per
    draw: costs and QALYs by strategy (drug costs added), incremental costs and QALYs. Each
    draw's values carry Monte Carlo error from its ``n_patients`` patients on top of the
    parameter uncertainty (see docs/multistate.md)."""
    built = build(n_patients=1_000) if built is None else built
    tf, choice = built["fits"][clock], built["choice"][clock]
    values = {"state_costs": STATE_COSTS, "state_utilities": UTILITIES,
                  "event_costs": {"progression-free->progressed": PROGRESSION_COST},
                  "discount_costs": DISCOUNT, "discount_outcomes": DISCOUNT}
    out = {}
    for arm, strategy in enumerate(STRATEGIES):
        model = from_fits(tf, choice, arm=arm, n_draws=n_draws, seed=seed)
        sim = simulate(model, n_patients, horizon=HORIZON, seed=seed, grid=np.array([0.0, HORIZON]), **values)
        out[f"costs {strategy}"] = sim.costs + DRUG_COSTS[strategy]
        out[f"qalys {strategy}"] = sim.qalys
    frame = pd.DataFrame(out)
    frame["inc_costs"] = frame["costs RFC"] - frame["costs FC"]
    frame["inc_qalys"] = frame["qalys RFC"] - frame["qalys FC"]
    return frame


# -- the model protocol (hta.protocol.Model): the PSM structure as the base case ----------------

#: Settings of the protocol model (the assumptions above; WTP 20,000 and 30,000 GBP per QALY,
#: NICE's range; CLL8 enrolled patients aged 30-80, median 61, 74% men: Hallek et al. Lancet 2010).
SETTINGS = dict(horizon_years=HORIZON, cycle="month", discount_costs=DISCOUNT, discount_outcomes=DISCOUNT,
                within_cycle="half-cycle", start_age=61.0, male_share=0.74,
                wtp=(("NICE lower (GBP 20,000/QALY)", 20_000.0), ("NICE upper (GBP 30,000/QALY)", 30_000.0)),
                discount_method="discrete", currency="GBP", life_table="none")


def parameter_table():
    """The assumed costs and utilities (fixed: this example compares survival-modelling methods,
    its PSA is the fitted coefficients' (:func:`psa`); module docstring)."""
    from hta.params import ParameterTable

    t = ParameterTable()
    src = "assumption for illustration (models/cll_williams.py; Williams et al. compare methods, not a decision)"
    t.add("u_pf", UTILITIES["progression-free"], unit="per year", source=src)
    t.add("u_p", UTILITIES["progressed"], unit="per year", source=src)
    t.add("c_pf_year", STATE_COSTS["progression-free"], unit="GBP per year", source=src)
    t.add("c_p_year", STATE_COSTS["progressed"], unit="GBP per year", source=src)
    t.add("c_progression", PROGRESSION_COST, unit="GBP per progression", source=src)
    for s in STRATEGIES:
        t.add(f"c_drug_{s}", DRUG_COSTS[s], unit="GBP at the start", source=src)
    return t


class CllModel:
    """The CLL example as a :class:`hta.protocol.Model` for ``hta run``: the partitioned-survival
    structure (PFS and OS fitted to the patient data with the arm covariate, family by AIC) on the
    engine (:func:`hta.engine.psm.cohort`, :func:`hta.engine.outcomes.account`), monthly cycles over
    15 years, half-cycle correction, 3.5% a year. Its multi-state counterparts are in the TSD 19
    comparison (:class:`hta.analysis.review_requests.MultiStateComparison`). Build with
    :func:`protocol_model`."""

    name = "cll_williams"
    strategies = STRATEGIES
    structure = "psm"
    strategy_labels = {"FC": "FC", "RFC": "RFC (rituximab + FC)"}  # FC: fludarabine + cyclophosphamide

    def __init__(self, curves: dict, progression_share: dict, inputs_path=DATA):
        from hta.engine.timegrid import CycleGrid
        from hta.inputs import Settings

        self.curves = curves                    # {(strategy, "PFS"|"OS"): fitted curve, time in years}
        self.progression_share = progression_share
        self.settings = Settings(**SETTINGS)
        self.parameters = parameter_table()
        self.grid = CycleGrid.from_horizon(HORIZON, CYCLE)
        self.inputs_path = str(inputs_path)

    def survival_curves(self, batch) -> dict:
        """{(strategy, endpoint): (n, T+1)} at the grid's times (years); the fits have no PSA
        draws here, so every row is the point estimate."""
        n = _rows(batch)
        t = self.grid.times
        return {key: np.broadcast_to(np.atleast_2d(c.survival(t)), (n, t.size)).copy()
                for key, c in self.curves.items()}

    def evaluate(self, batch, keep_cohort: bool = False):
        from hta.engine import outcomes as oc
        from hta.engine import psm

        n = _rows(batch)
        get = lambda k: np.broadcast_to(np.asarray(batch[k], dtype=float), (n,))  # noqa: E731
        dt = self.grid.cycle_years
        curves = self.survival_curves(batch)
        zero = np.zeros(n)
        utilities = np.stack([get("u_pf"), get("u_p"), zero], axis=1)
        state_costs = {"disease management": np.stack([get("c_pf_year") * dt, get("c_p_year") * dt, zero], axis=1)}
        out = []
        for s in STRATEGIES:
            c = psm.cohort([curves[(s, "PFS")], curves[(s, "OS")]], strategy=s, states=STATES)
            # a PSM does not say which PFS events are progressions: the share of PFS events that were
            # progressions in this arm's data (as in build())
            c.events = {**c.events, "progression": c.events["pfs_event"] * self.progression_share[s]}
            out.append(oc.account(c, self.grid, within_cycle="half-cycle", discount_costs=DISCOUNT,
                                  discount_outcomes=DISCOUNT, utilities=utilities, state_costs=state_costs,
                                  event_costs={"progression": {"progression": get("c_progression")}},
                                  one_off_costs={"first-line drugs": get(f"c_drug_{s}")}, keep_cohort=keep_cohort))
        return oc.Outcomes.from_list(out)


def _rows(batch) -> int:
    n = getattr(batch, "n", None)
    return int(n) if n is not None else max(np.size(v) for v in batch.values())


def protocol_model(built: dict | None = None, patients: pd.DataFrame | None = None) -> CllModel:
    """The :class:`CllModel` from :func:`build`'s PSM fits (or fitted here from ``patients``)."""
    patients = load() if patients is None else patients
    pf = built["psm_fits"] if built is not None else psm_fits(patients)
    choice = built["psm_choice"] if built is not None else {k: choose(r) for k, r in pf.items()}
    curves = {(s, e): pf[e][choice[e]].curve(arm) for arm, s in enumerate(STRATEGIES) for e in ("PFS", "OS")}
    pfs_events = (patients["prog"] == 1) | (patients["death"] == 1)
    share = {s: float(patients.loc[patients["treat"] == a, "prog"].sum() / pfs_events[patients["treat"] == a].sum())
             for a, s in enumerate(STRATEGIES)}
    return CllModel(curves, share)
