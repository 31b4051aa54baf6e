"""Flagship model: equecabtagene autoleucel (eque-cel, Fucaso) versus conventional care.

Population: adults with relapsed/refractory multiple myeloma after three or more prior lines
(triple-class exposed), as in FUMANBA-1. Perspective: Hong Kong Hospital Authority (public
sector). Inputs: ``inputs/fucaso_hk.xlsx`` (every number with its source).

Two structures, reported side by side as NICE DSU TSD 19 advises:

* ``"psm"`` (base case): three-state partitioned survival (progression-free, progressed, dead)
  from PFS and OS curves, each hazard floored at Hong Kong general-population mortality.
* ``"stm"``: a state-transition (semi-Markov, clock-forward) alternative. Progression-free exits
  follow the same PFS curve; deaths before progression occur at general-population rates and
  every other PFS event is a progression; after progression patients die at a constant
  post-progression rate (``pps_rate_month``, from LocoMMotion), never below the population rate.
  OS is then a consequence of PFS (a PFS-to-OS link) rather than an input.

Costs (HK$): the eque-cel pathway (acquisition, leukapheresis as a day procedure, bridging,
lymphodepletion, infusion admission, CRS/ICANS management with ICU days replacing ward days and
tocilizumab, immunoglobulin, monitoring, grade 3/4 infections) at time 0 and long-term follow-up
(a yearly cost while alive for ``ltfu_years``); conventional-care
regimen costs while progression-free (time on treatment = PFS); subsequent therapy (a monthly
cost of each arm's mix times the arm's share of progressed time on therapy) and out-patient care
while progressed; terminal care at death. Monthly costs in the workbook are converted to the
cycle length. QALYs use annual utilities by state (progressed = progression-free minus a
non-negative decrement), multiplied each cycle by the general-population age multiplier
(:meth:`FucasoModel.utility_multiplier`), and one-off adverse-event QALY losses.

Every function is vectorised over the batch's samples.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from hta.engine import markov, outcomes, psm
from hta.engine.timegrid import CycleGrid, discount_factors
from hta.errors import HtaError
from hta.inputs.requirements import Requirements
from hta.numerics import coupled_covariance
from hta.params.distributions import MultivariateNormal
from hta.population.lifetables import LifeTable
from hta.population.utility_norms import UtilityNorms, age_multiplier
from hta.survival.adjust import GeneralPopulation, GeneralPopulationFloor, MixtureCure
from hta.survival.curves import make_curve
from hta.units import DAYS_PER_YEAR, months_per_unit

from .fucaso_common import STATES

STRUCTURES = ("psm", "stm")

#: Cost categories of the eque-cel pathway, in the order of the results tables.
CART_COST_CATEGORIES = ("CAR-T acquisition", "leukapheresis", "bridging therapy", "lymphodepletion",
                        "infusion admission", "CRS/ICANS management", "immunoglobulin", "post-infusion monitoring",
                        "adverse events")


@dataclass
class SurvivalSpec:
    """A parametric curve of the model and the batch columns holding its coefficients."""

    strategy: str
    endpoint: str
    distribution: str
    coef: np.ndarray
    cov: np.ndarray | None
    coef_names: tuple
    time_unit: str = "months"
    source: str = ""
    description: str = ""

    @property
    def param_names(self) -> list[str]:
        return [f"surv_{self.strategy}_{self.endpoint.lower()}_{c}" for c in self.coef_names]


@dataclass
class FucasoModel:
    """The eque-cel model for one set of settings and survival specifications.

    Build it with :func:`build`; evaluate any batch of parameter sets with :meth:`evaluate`.
    """

    settings: object                   # hta.inputs.Settings
    base_parameters: object            # ParameterTable of the Parameters sheet
    survival: dict                     # (strategy, endpoint) -> SurvivalSpec
    strategy_labels: dict
    lifetable: LifeTable
    structure: str = "psm"
    inputs_path: str = ""
    notes: list = field(default_factory=list)
    #: strategy -> name of the cure-fraction parameter (mixture cure on PFS and OS, see with_cure)
    cure: dict = field(default_factory=dict)
    #: extra parameters added by scenarios: list of keyword dicts for ParameterTable.add
    extra_parameters: list = field(default_factory=list)
    #: intention-to-treat from leukapheresis (True, base case) or the infused population (False)
    itt: bool = True
    #: general-population utility norms for the age adjustment (None: no adjustment)
    utility_norms: UtilityNorms | None = None
    #: draw each arm's PFS and OS coefficients jointly (correlation ``rho_pfs_os_<arm>`` of the
    #: Parameters sheet; see :meth:`survival_blocks`); False: independent curves
    joint_survival: bool = True

    name = "fucaso_rrmm"
    #: comparator first, so increments read "eque-cel vs conventional care"
    strategies = ("cc", "eqcel")

    def __post_init__(self):
        if self.structure not in STRUCTURES:
            raise HtaError(f"model structure: expected one of {', '.join(STRUCTURES)}; found '{self.structure}'")
        for s in self.strategies:
            for e in ("PFS", "OS"):
                if (s, e) not in self.survival:
                    raise HtaError(f"survival inputs: expected a curve for strategy '{s}', endpoint '{e}'; found none")

    # -- construction ------------------------------------------------------------------------
    @property
    def grid(self) -> CycleGrid:
        return CycleGrid.from_horizon(self.settings.horizon_years, self.settings.cycle)

    @functools.cached_property
    def parameters(self):
        """The full parameter table: the workbook's parameters plus survival coefficient blocks.

        Built once per model (a ``with_*`` copy builds its own); analyses read it many times."""
        table = copy.deepcopy(self.base_parameters)  # adding blocks never changes the original
        for kwargs in self.extra_parameters:
            table.add(**kwargs)
        joint = self.survival_blocks()
        for strategy, (rho, pfs, os_) in joint.items():
            names = pfs.param_names + os_.param_names
            cov = coupled_covariance(pfs.cov, os_.cov, rho, f"survival: {strategy} PFS and OS")
            table.add_block(names, MultivariateNormal(np.concatenate([pfs.coef, os_.coef]), cov, name=names[0]),
                            group=f"survival: {strategy} PFS and OS",
                            source=f"PFS: {pfs.source} | OS: {os_.source} | drawn jointly: "
                                   f"{self.base_parameters['rho_pfs_os_' + strategy].source}",
                            description=f"{pfs.description} and {os_.description}, drawn jointly (rho {rho:g})")
        for spec in self.survival.values():
            if spec.strategy in joint:
                continue
            group = f"survival: {spec.strategy} {spec.endpoint}"
            if spec.cov is not None and np.any(np.asarray(spec.cov) != 0):
                table.add_block(spec.param_names, MultivariateNormal(spec.coef, spec.cov, name=spec.param_names[0]),
                                group=group, source=spec.source, description=spec.description)
            else:
                for name, value in zip(spec.param_names, spec.coef):
                    table.add(name, float(value), group=group, source=spec.source, description=spec.description)
        return table

    def survival_blocks(self) -> dict:
        """Arms whose PFS and OS coefficients are drawn jointly: ``{strategy: (rho, pfs_spec, os_spec)}``.

        An arm is coupled when ``joint_survival`` is on, the Parameters sheet has
        ``rho_pfs_os_<strategy>`` (non-zero), both curves have a covariance and the same family
        of coefficients. The standardised innovations of the two curves' coefficients (Cholesky
        order) are correlated ``rho`` (:func:`hta.numerics.coupled_covariance`): a draw with a
        better PFS has a better OS, as the arm-level correlation of median PFS and median OS
        across RRMM trials (docs/flagship.md, "Coherent survival draws"). Each curve keeps its own
        covariance; only the dependence between them is added.
        """
        out = {}
        if not self.joint_survival:
            return out
        for st in self.strategies:
            name = f"rho_pfs_os_{st}"
            if name not in self.base_parameters:
                continue
            rho = float(self.base_parameters[name].base)
            pfs, os_ = self.survival[(st, "PFS")], self.survival[(st, "OS")]
            if (rho == 0.0 or pfs.cov is None or os_.cov is None or pfs.coef_names != os_.coef_names
                    or st in self.cure):
                continue
            out[st] = (rho, pfs, os_)
        return out

    def with_joint_survival(self, joint: bool = True) -> "FucasoModel":
        """A copy whose PFS and OS coefficients are drawn jointly (True) or independently (False)."""
        return dataclasses.replace(self, joint_survival=bool(joint))

    def crossing(self, batch, threshold: float = 0.01):
        """Uncapped PFS above OS in ``batch`` (partitioned survival: the curves after the
        general-population floor, before the engine's cap), per strategy: share of samples above
        ``threshold``, largest gap and its time (years). State-transition structure: no rows
        (OS follows from PFS). :func:`hta.engine.psm.crossing_summary`."""
        if self.structure != "psm":
            return psm.crossing_summary({})
        curves = self.survival_curves(batch)
        reports = {}
        for st in self.strategies:
            reports[st] = {"crossing": {"PFS": psm.Crossing.of(curves[(st, "PFS")], curves[(st, "OS")], "OS")}}
        return psm.crossing_summary(reports, threshold, times=self.grid.times)

    def with_settings(self, **changes) -> "FucasoModel":
        """A copy with settings changed (e.g. ``cycle="week"``, ``discount_costs=0.05``)."""
        unknown = [k for k in changes if not hasattr(self.settings, k)]
        if unknown:
            raise HtaError(f"settings: no setting named {', '.join(unknown)}")
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    def with_cure(self, strategy: str, *, fraction: float, alpha: float, beta: float, source: str,
                  uncured: dict) -> "FucasoModel":
        """A copy where ``strategy``'s PFS and OS are relative-survival mixture cure curves.

        ``S(t) = S_bg(t) (pi + (1 - pi) S_u(t))`` (NICE DSU TSD 21): a fraction ``pi`` (parameter
        ``cure_fraction_<strategy>``, Beta(alpha, beta) in the PSA) has general-population
        mortality. ``uncured`` maps each endpoint to ``(distribution, coef, cov)`` of the uncured
        curve, which must be calibrated for the cure fraction (see models/fucaso_scenarios.py).
        """
        from hta.params.distributions import Beta

        name = f"cure_fraction_{strategy}"
        model = dataclasses.replace(self, cure={**self.cure, strategy: name},
                                    extra_parameters=self.extra_parameters + [dict(
                                        name=name, base=fraction, dist=Beta(alpha, beta, name=name), group="cure",
                                        unit="proportion", description=f"Cured fraction, {strategy}", source=source)])
        for endpoint, (dist, coef, cov) in uncured.items():
            model = model.with_survival(strategy, endpoint, dist, coef, cov, source=source,
                                        description=f"uncured {endpoint} of the mixture cure model")
        return model

    def with_parameter(self, name: str, base: float, *, source: str, **changes) -> "FucasoModel":
        """A copy with one parameter's base value (and optionally its distribution or range) replaced."""
        table = self.base_parameters.replace(name, base=base, source=source, **changes)
        return dataclasses.replace(self, base_parameters=table)

    def with_itt(self, itt: bool = True) -> "FucasoModel":
        """A copy analysed from leukapheresis (``itt=True``) or from infusion (``itt=False``)."""
        return dataclasses.replace(self, itt=bool(itt))

    def without_age_adjustment(self) -> "FucasoModel":
        """A copy whose state utilities are not age-adjusted (multiplier 1 in every cycle)."""
        return dataclasses.replace(self, utility_norms=None)

    def utility_multiplier(self, at_times: bool = False) -> np.ndarray:
        """The age-adjustment multiplier of state utilities: ``(T,)``, one per cycle (cycle ``j``
        at index ``j - 1``), or ``(T+1,)`` at the grid's time points with ``at_times=True`` (the
        value at a cycle's start applies to that cycle). ``U(start_age + t) / U(start_age)``
        with the cohort's male share (:func:`hta.population.utility_norms.age_multiplier`); ones without norms."""
        s = self.settings
        m = age_multiplier(self.utility_norms, s.start_age, s.male_share, self.grid.times)
        return m if at_times else m[:-1]

    def with_structure(self, structure: str) -> "FucasoModel":
        return dataclasses.replace(self, structure=structure)

    def with_survival(self, strategy: str, endpoint: str, distribution: str, coef, cov=None, *,
                      time_unit: str = "months", source: str, description: str = "") -> "FucasoModel":
        """A copy with one curve replaced (e.g. another distribution or another trial's OS)."""
        from hta.survival.curves import DISTRIBUTIONS

        key = distribution.lower()
        if key not in DISTRIBUTIONS:
            raise HtaError(f"survival '{strategy} {endpoint}': unknown distribution '{distribution}'; known: {', '.join(DISTRIBUTIONS)}")
        names = DISTRIBUTIONS[key].coef_names
        coef = np.atleast_1d(np.asarray(coef, dtype=float))
        if coef.shape != (len(names),):
            raise HtaError(f"survival '{strategy} {endpoint}': {distribution} needs {len(names)} coefficients ({', '.join(names)}); found {coef.size}")
        spec = SurvivalSpec(strategy, endpoint, key, coef, None if cov is None else np.asarray(cov, dtype=float),
                            tuple(names), time_unit, source, description)
        survival = dict(self.survival)
        survival[(strategy, endpoint)] = spec
        return dataclasses.replace(self, survival=survival)

    # -- evaluation ---------------------------------------------------------------------------
    def survival_curves(self, batch) -> dict:
        """Survival at the grid's time points after the general-population floor: (n, T+1) arrays."""
        grid = self.grid
        t_months = grid.times * 12.0
        s = self.settings
        out = {}
        for key, spec in self.survival.items():
            coefs = np.stack([np.broadcast_to(np.asarray(batch[c], dtype=float), (_n(batch),)) for c in spec.param_names], axis=1)
            curve = make_curve(spec.distribution, coefs)
            unit_months = months_per_unit(spec.time_unit)
            bg = GeneralPopulation(self.lifetable, s.start_age, s.male_share, years_per_unit=unit_months / 12.0)
            if key[0] in self.cure:
                pi = np.broadcast_to(np.asarray(batch[self.cure[key[0]]], dtype=float), (_n(batch),))
                curve = MixtureCure(curve, pi, bg)
            out[key] = GeneralPopulationFloor(curve, bg).survival(t_months / unit_months)
        return out

    def background_cumhaz(self) -> np.ndarray:
        """General-population cumulative hazard of the cohort at the grid's time points, (T+1,)."""
        s = self.settings
        return np.asarray(self.lifetable.cohort_cumhaz(self.grid.times, s.start_age, s.male_share)).reshape(-1)

    def cohorts(self, batch, *, progression: bool = True) -> dict:
        """The cohort (trace and events) of each strategy for the chosen structure.

        ``progression=False`` leaves out the partitioned-survival cohorts' ``"progression"``
        event, which no cost reads: :meth:`evaluate` skips it unless the cohorts are kept."""
        curves = self.survival_curves(batch)
        if self.structure == "psm":
            out = {}
            q_bg = 1.0 - np.exp(-np.diff(self.background_cumhaz()))
            for st in self.strategies:
                c = psm.cohort([curves[(st, "PFS")], curves[(st, "OS")]], states=STATES, strategy=st)
                if progression:  # PFS events less pre-progression deaths at general-population rates
                    c.events["progression"] = np.maximum(c.events["pfs_event"] - c.partition[0][:, :-1] * q_bg, 0.0)
                out[st] = c
            return out
        return {st: self._stm_cohort(batch, st, curves[(st, "PFS")]) for st in self.strategies}

    def with_identical_efficacy(self) -> "FucasoModel":
        """A copy in which every strategy has the comparator's PFS and OS (and no cure fraction).

        Used by the verification check "identical efficacy gives identical LYs and QALYs"
        (``hta.analysis.verify``); costs and adverse events keep each strategy's own values.
        """
        ref = self.strategies[0]
        survival = dict(self.survival)
        for st in self.strategies[1:]:
            for e in ("PFS", "OS"):
                survival[(st, e)] = dataclasses.replace(self.survival[(ref, e)], strategy=st)
        cure = {st: name for st, name in self.cure.items() if st == ref}
        extra = [kw for kw in self.extra_parameters if kw["name"] in cure.values() or not kw["name"].startswith("cure_fraction_")]
        # The ITT pre-infusion phase and delay are not efficacy: the check compares infused pathways.
        return dataclasses.replace(self, survival=survival, cure=cure, extra_parameters=extra, itt=False)

    def transition_matrices(self, batch) -> dict:
        """Per-cycle transition matrices ``(n, T, 3, 3)`` of each strategy (state-transition
        structure), the ones the cohorts run on; ``{}`` for the partitioned-survival structure,
        which has none."""
        if self.structure != "stm":
            return {}
        curves = self.survival_curves(batch)
        return {st: self._stm_matrices(batch, curves[(st, "PFS")]) for st in self.strategies}

    def _stm_matrices(self, batch, pfs: np.ndarray) -> np.ndarray:
        p_prog, p_pf_death, p_pd_death = self._stm_probabilities(batch, pfs)
        n, T = p_prog.shape
        m = np.zeros((n, T, 3, 3))
        m[:, :, 0, 1] = p_prog
        m[:, :, 0, 2] = p_pf_death
        m[:, :, 0, 0] = 1.0 - m[:, :, 0, 1] - m[:, :, 0, 2]
        m[:, :, 1, 2] = p_pd_death
        m[:, :, 1, 1] = 1.0 - m[:, :, 1, 2]
        m[:, :, 2, 2] = 1.0
        return m

    def _stm_probabilities(self, batch, pfs: np.ndarray):
        """Per-cycle probabilities ``(n, T)``: progression and death from progression-free, death
        from progressed."""
        grid = self.grid
        n = pfs.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_exit = np.where(pfs[:, :-1] > 0, 1.0 - pfs[:, 1:] / pfs[:, :-1], 1.0)
        p_exit = np.clip(p_exit, 0.0, 1.0)
        H = self.background_cumhaz()
        q_bg = 1.0 - np.exp(-np.diff(H))                                   # (T,)
        p_pf_death = np.minimum(q_bg[None, :], p_exit)                     # (n, T)
        p_prog = p_exit - p_pf_death
        rate = np.broadcast_to(np.asarray(batch["pps_rate_month"], dtype=float), (n,))
        p_pd_death = np.maximum(1.0 - np.exp(-rate[:, None] * grid.cycle_years * 12.0), q_bg[None, :])
        return p_prog, p_pf_death, np.broadcast_to(p_pd_death, p_prog.shape)

    def _stm_cohort(self, batch, strategy: str, pfs: np.ndarray):
        T = self.grid.n_cycles
        matrices = self._stm_matrices(batch, pfs)   # (n, T, 3, 3): the engine plans its sparse update once
        c = markov.cohort(matrices, [1.0, 0.0, 0.0], T, states=STATES, strategy=strategy,
                          track=["progression-free->dead", "progressed->dead", "progression-free->progressed"],
                          dead_states=("dead",), validate=False)
        c.events["death"] = c.events["progression-free->dead"] + c.events["progressed->dead"]
        c.events["pfs_event"] = c.events["progression-free->dead"] + c.events["progression-free->progressed"]
        c.events["progression"] = c.events["progression-free->progressed"]
        return c

    def evaluate(self, batch, *, keep_cohort: bool = False) -> outcomes.Outcomes:
        """Costs, QALYs and LYs of both strategies for every sample of ``batch``."""
        n = _n(batch)
        g = lambda k: np.broadcast_to(np.asarray(batch[k], dtype=float), (n,))  # noqa: E731
        grid = self.grid
        s = self.settings
        per_cycle = grid.cycle_years * 12.0  # months per cycle: monthly inputs -> per cycle
        cohorts = self.cohorts(batch, progression=keep_cohort)
        zero = np.zeros(n)

        sopc, ward, icu = g("c_sopc"), g("c_ward_day"), g("c_icu_day")
        followup = g("n_visits_followup_month") * sopc
        pd_costs = {"out-patient care (progressed)": np.stack([zero, followup * per_cycle, zero], 1)}

        def subsequent(arm):  # per cycle in the progressed state: share of that time on therapy x monthly cost of the arm's mix
            return {"subsequent therapy": np.stack([zero, g(f"p_pd_on_subsequent_{arm}") * g(f"c_subsequent_month_{arm}") * per_cycle, zero], 1)}

        u_pf = g("u_pf")
        u_pd = u_pf - g("du_pd")                 # progressed utility: never above progression-free (du_pd >= 0)
        utilities = np.stack([u_pf, u_pd, zero], axis=1)
        multiplier = self.utility_multiplier()   # (T,) age adjustment, 1 at the starting age
        if np.any(multiplier != 1.0):            # utilities (n, 3) x multiplier per cycle (T,), never built as (n, T, 3)
            utilities = outcomes.with_multiplier(utilities, multiplier)
        terminal = {"terminal care": {"death": g("terminal_care_days") * ward}}
        ae_years = g("ae_duration_days") / DAYS_PER_YEAR
        common = dict(within_cycle=s.within_cycle, discount_costs=s.discount_costs,
                      discount_outcomes=s.discount_outcomes, discount_method=s.discount_method,
                      utilities=utilities, event_costs=terminal, keep_cohort=keep_cohort)

        # Conventional care.
        cc_state = {"conventional-care regimen": np.stack([g("c_cc_regimen_month") * per_cycle, zero, zero], 1),
                    "out-patient care (progression-free)": np.stack([g("n_visits_on_treatment_month") * sopc * per_cycle, zero, zero], 1),
                    **pd_costs, **subsequent("cc")}
        cc = outcomes.account(cohorts["cc"], grid, state_costs=cc_state,
                              one_off_costs={"adverse events": g("p_teae_g34_cc") * g("ward_days_ae_cc") * ward},
                              one_off_qalys={"adverse events": -g("p_teae_g34_cc") * g("du_ae_cc") * ae_years},
                              **common)

        # Eque-cel.
        cart = {
            "CAR-T acquisition": g("c_eqcel_price"),
            # leukapheresis: a day procedure (session charge) and its clinic attendance, not a ward day
            "leukapheresis": g("n_apheresis_sessions") * g("c_apheresis_session") + sopc,
            "bridging therapy": g("p_bridging") * g("bridging_months") * g("c_cc_regimen_month"),
            "lymphodepletion": g("c_lymphodepletion_drugs") + g("n_lymphodepletion_visits") * sopc,
            "infusion admission": g("los_cart_days") * ward,
            # ICU days for grade >= 3 CRS replace ward days of the index stay (ICU minus ward per day);
            # CRS drugs (tocilizumab) for the share treated
            "CRS/ICANS management": (g("p_crs_g3_eqcel") * g("icu_days_crs_g3") * (icu - ward)
                                     + g("p_icans_eqcel") * g("extra_ward_days_icans") * ward
                                     + g("p_tocilizumab_eqcel") * g("n_tocilizumab_doses") * g("c_tocilizumab_dose")),
            "immunoglobulin": g("p_ivig") * g("c_ivig_month") * g("ivig_months"),
            "post-infusion monitoring": g("n_monitoring_visits") * sopc,
            "adverse events": g("p_infection_g34_eqcel") * g("ward_days_infection") * ward,
        }
        # long-term follow-up of gene-modified cells: a yearly cost while alive, for ltfu_years after infusion
        ltfu_cycles = np.floor(g("ltfu_years") / grid.cycle_years + 1e-9)           # (n,)
        in_ltfu = (np.arange(1, grid.n_cycles + 1)[None, :] <= ltfu_cycles[:, None])  # (n, T)
        ltfu = (g("c_ltfu_year") / 12.0 * per_cycle)[:, None] * in_ltfu
        eq_state = {"out-patient care (progression-free)": np.stack([followup * per_cycle, zero, zero], 1), **pd_costs,
                    **subsequent("eqcel"),
                    "long-term follow-up": np.stack([ltfu, ltfu, np.zeros_like(ltfu)], axis=2)}
        ae_loss = (g("p_crs_g12_eqcel") * g("du_crs_g12") + g("p_crs_g3_eqcel") * g("du_crs_g3")
                   + g("p_icans_eqcel") * g("du_icans") + g("p_infection_g34_eqcel") * g("du_infection_g34")) * ae_years
        eq = outcomes.account(cohorts["eqcel"], grid, state_costs=eq_state, one_off_costs=cart,
                              one_off_qalys={"adverse events": -ae_loss}, **common)
        if self.itt:
            eq = self._itt(eq, cc, g("p_not_infused"), g("bridging_months"), g("u_pf") - g("du_pre_infusion"),
                           p_death=g("p_not_infused") * g("p_death_if_not_infused"),
                           terminal_cost=g("terminal_care_days") * ward)
        return outcomes.Outcomes.from_list([cc, eq])

    def excel_book(self):
        """The base case as a formula-live Excel workbook (``hta export-excel``; models/fucaso_excel.py)."""
        from . import fucaso_excel

        return fucaso_excel.build_book(self)

    # -- intention to treat ---------------------------------------------------------------------
    def _delay_factors(self, delay_years: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Discounting of the pre-infusion phase of ``delay_years`` (n,) years.

        Returns ``(df_costs, df_outcomes, pv_years_costs, pv_years_outcomes)``: the discount
        factors at the end of the phase (applied to every pathway that starts there) and the
        discounted length in years of the phase, ``integral_0^d df(t) dt`` (for LYs and QALYs of
        the phase; the cost variant is returned for symmetry).
        """
        s = self.settings
        out = []
        for rate in (s.discount_costs, s.discount_outcomes):
            df = discount_factors(rate, delay_years, s.discount_method)
            r = float(rate)
            if r == 0.0:
                pv = np.asarray(delay_years, dtype=float)
            else:
                log_rate = np.log1p(r) if str(s.discount_method).strip().lower() == "discrete" else r
                pv = (1.0 - df) / log_rate
            out.append((df, pv))
        return out[0][0], out[1][0], out[0][1], out[1][1]

    def _itt(self, infused, cc, p_not_infused, v2v_months, u_pre, p_death=0.0, terminal_cost=0.0):
        """The eque-cel arm from leukapheresis: a probability-weighted combination of pathways.

        * Everyone apheresed spends the vein-to-vein time ``v2v_months`` (months, the batch's
          ``bridging_months``) alive and progression-free (utility ``u_pre``, annual), and incurs
          leukapheresis and bridging costs at time 0 (as in the infused analysis).
        * A share ``1 - p_not_infused`` is infused at the end of that phase and follows the
          infused pathway (every line except leukapheresis and bridging), discounted by the
          factor at the delay; the CAR-T acquisition is paid only for them (payment on infusion,
          an assumption).
        * A share ``p_not_infused`` (manufacturing failure, death or progression before infusion)
          leaves at the end of the phase and follows the conventional-care pathway, discounted the
          same way; its lines are reported as ``not infused: <category>``.

        Approximations (docs/flagship.md): the delayed pathways are not aged by the delay and
        keep the model's full horizon after the delay (so they end ``v2v`` later than the horizon;
        negligible at a lifetime horizon to age 100); the phase is cut at the horizon and a
        pathway that would start after the horizon counts nothing; pre-infusion deaths happen at
        the phase's midpoint (below); no infused patient dies during the phase.
        With ``p_not_infused = 0`` and ``v2v_months = 0`` the result equals ``infused`` exactly.

        Pre-infusion deaths (issue 21): a share ``p_death`` (n,) of everyone apheresed, part of the
        not infused, dies during the phase, at its midpoint on average (assumption: uniform), so
        it lives ``d/2`` of the phase, costs ``terminal_cost`` (HK$ per death) discounted at
        ``d/2``, and follows no pathway; the other not-infused (``p_not_infused - p_death``)
        follow conventional care from the end of the phase. ``u_pre`` is the pre-infusion
        utility (annual; the base case: progression-free minus ``du_pre_infusion``).
        """
        n = infused.n
        grid = self.grid
        horizon = grid.n_cycles * grid.cycle_years                      # years
        d_years = np.minimum(np.asarray(v2v_months, dtype=float) / 12.0, horizon)  # phase within the horizon
        df_c, df_o, _, pv_o = self._delay_factors(d_years)
        starts = (d_years < horizon).astype(float)                      # pathways starting after the horizon count nothing
        p_death = np.broadcast_to(np.asarray(p_death, dtype=float), (n,))
        p_inf = starts * (1.0 - p_not_infused)
        p_not_infused = starts * (p_not_infused - p_death)   # alive at the end of the phase, not infused
        out = outcomes.StrategyOutcome(strategy=infused.strategy, states=infused.states, n=n, cohort=infused.cohort,
                                       report=infused.report)
        at_apheresis = ("leukapheresis", "bridging therapy")
        for (m, c, st), v in infused.lines.items():
            if m == "cost" and c in at_apheresis:
                out.add(m, c, st, v[0], v[1])
            else:
                df = df_c if m == "cost" else df_o
                out.add(m, c, st, p_inf * df * v[0], p_inf * v[1])
        for (m, c, st), v in cc.lines.items():
            df = df_c if m == "cost" else df_o
            out.add(m, f"not infused: {c}", st, p_not_infused * df * v[0], p_not_infused * v[1])
        if np.any(p_death != 0.0):
            df_c_half, _, _, pv_o_half = self._delay_factors(d_years / 2.0)
            lost = p_death * (pv_o - pv_o_half)                          # discounted years not lived by those who die
            ly, ly_u = pv_o - lost, d_years - p_death * d_years / 2.0
            out.add("cost", "pre-infusion deaths: terminal care", "", p_death * terminal_cost * df_c_half,
                    p_death * terminal_cost)
        else:
            ly, ly_u = pv_o, d_years
        out.add("ly", "pre-infusion (leukapheresis to infusion)", STATES[0], ly, ly_u)
        out.add("qaly", "pre-infusion (leukapheresis to infusion)", STATES[0], u_pre * ly, u_pre * ly_u)
        return out

    def itt_trace(self, batch) -> np.ndarray:
        """ITT occupancy ``(n, T+1, 3)`` on the clock that starts at the end of the pre-infusion
        phase: infused share x the eque-cel trace + not-infused survivors x the conventional-care
        trace + pre-infusion deaths (``p_not_infused x p_death_if_not_infused``) dead.
        (During the pre-infusion phase everyone is alive and progression-free.)"""
        n = _n(batch)
        cohorts = self.cohorts(batch)
        p = np.broadcast_to(np.asarray(batch["p_not_infused"], dtype=float), (n,))[:, None, None]
        died = p * np.broadcast_to(np.asarray(batch["p_death_if_not_infused"], dtype=float), (n,))[:, None, None]
        dead = np.zeros(3)
        dead[-1] = 1.0
        return (1.0 - p) * cohorts["eqcel"].trace + (p - died) * cohorts["cc"].trace + died * dead


def crossing_report(model: FucasoModel, *, psa_draws: int | None = None, seed=None, sobol_n_base: int | None = 1024,
                    sobol_seed=1, threshold: float = 0.01):
    """PFS above OS (uncapped) in every batch a run evaluates: base case, one-way, PSA, Sobol.

    One row per (batch, strategy, curve) (:meth:`FucasoModel.crossing`, a ``batch`` column
    first): ``draws``, ``n_over`` / ``share_over`` (PFS above OS by more than ``threshold``),
    ``largest_gap`` and its ``time`` (years). The PSA batch is the run's own (``seed``,
    ``psa_draws``; defaults: the workbook's settings), the Sobol batch the Saltelli design of
    :func:`hta.analysis.gsa.sobol_design` (``sobol_n_base``, ``sobol_seed``; None skips it). The
    results workbook's crossing sheet is built from this frame (the lead wires it).
    """
    import pandas as pd

    s = model.settings
    table = model.parameters
    batches = {"base case": table.base(), "one-way": table.one_way()[0],
               "PSA": table.sample(int(psa_draws or s.psa_draws or 1000), s.seed if seed is None else seed)}
    if sobol_n_base:
        from hta.analysis.gsa import sobol_design

        _, u = sobol_design(model, sobol_n_base, sobol_seed)
        batches["Sobol"] = table.from_unit(np.clip(u, 1e-12, 1.0 - 1e-12))
    frames = [model.crossing(b, threshold).assign(batch=name) for name, b in batches.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[["batch"] + [c for c in out.columns if c != "batch"]]


#: What the model reads from its workbook: `hta validate` refuses a workbook without it, at the cell (issue 25).
REQUIREMENTS = Requirements(
    parameters=("c_eqcel_price", "c_ward_day", "c_icu_day", "c_sopc", "n_apheresis_sessions",
                "c_apheresis_session", "p_bridging", "bridging_months", "p_not_infused",
                "c_lymphodepletion_drugs", "n_lymphodepletion_visits", "los_cart_days",
                "p_death_if_not_infused", "du_pre_infusion", "p_crs_g3_eqcel", "p_crs_g12_eqcel",
                "p_icans_eqcel", "icu_days_crs_g3", "extra_ward_days_icans", "p_ivig", "c_ivig_month",
                "ivig_months", "p_tocilizumab_eqcel", "n_tocilizumab_doses", "c_tocilizumab_dose",
                "p_infection_g34_eqcel", "ward_days_infection", "du_infection_g34", "ltfu_years",
                "c_ltfu_year", "n_monitoring_visits", "c_cc_regimen_month", "n_visits_on_treatment_month",
                "n_visits_followup_month", "p_pd_on_subsequent_cc", "p_pd_on_subsequent_eqcel",
                "c_subsequent_month_cc", "c_subsequent_month_eqcel", "p_teae_g34_cc", "ward_days_ae_cc",
                "terminal_care_days", "u_pf", "du_pd", "du_crs_g12", "du_crs_g3", "du_icans",
                "ae_duration_days", "du_ae_cc", "rho_pfs_os_eqcel", "pps_rate_month"),
    strategies=FucasoModel.strategies, endpoints=("PFS", "OS"), survival_inputs=("parametric",))

def _n(batch) -> int:
    n = getattr(batch, "n", None)
    return int(n) if n is not None else max(np.size(v) for v in batch.values())


def build(inputs, *, structure: str = "psm", itt: bool = True) -> FucasoModel:
    """Build the model from :class:`hta.inputs.ModelInputs` (``read_inputs(path)``).

    ``itt=True`` (base case): the eque-cel arm from leukapheresis; ``False``: the infused population.
    """
    survival = {}
    for (strategy, endpoint), si in inputs.survival.items():
        if si.kind != "parametric":
            raise HtaError(f"survival '{strategy} {endpoint}': the flagship model takes parametric curves; found input '{si.kind}' "
                           f"(run `hta fit` on the workbook and copy the chosen fit into SurvivalCoefficients)")
        survival[(strategy, endpoint)] = SurvivalSpec(strategy, endpoint, si.distribution, np.asarray(si.coef, dtype=float),
                                                      None if si.cov is None else np.asarray(si.cov, dtype=float),
                                                      tuple(si.coef_names), si.time_unit, si.source, si.description)
    s = inputs.settings
    if s.life_table == "sheet":
        lifetable = LifeTable(inputs.lifetable, source=f"{inputs.path.name}, sheet LifeTable")
    else:
        lifetable = LifeTable.hong_kong(s.life_table.replace("hk-", ""))
    labels = dict(zip(inputs.strategies["strategy"], inputs.strategies.get("label", inputs.strategies["strategy"])))
    norms = None if getattr(s, "utility_norms", "none") == "none" else UtilityNorms.shipped(s.utility_norms)
    return FucasoModel(settings=s, base_parameters=inputs.parameters, survival=survival, strategy_labels=labels,
                       lifetable=lifetable, structure=structure, inputs_path=str(inputs.path), itt=itt,
                       utility_norms=norms)


#: Where the CHEERS 2022 items the run cannot answer itself are reported (hta.report.cheers). Items the
#: model does not meet say so ("not reported:" / "partly:"), with the reason.
CHEERS_STATEMENTS = {
    1: "not reported: the submission's title page (this workbook is its model annex)",
    2: "not reported: the submission's abstract",
    3: "docs/flagship.md, 'Decision problem': the HA formulary decision for eque-cel in triple-class-exposed RRMM",
    4: "not reported: no health economic analysis plan was registered before this analysis",
    5: "adults with RRMM after >= 3 lines, triple-class exposed, as in FUMANBA-1 (median age 58, 53.4% male): "
       "docs/flagship.md, 'Decision problem'; the base case is intention-to-treat from leukapheresis "
       "(the infused population is the alternative 'infused only')",
    6: "Hong Kong, Hospital Authority public hospitals (docs/flagship.md, 'Decision problem')",
    8: "Hospital Authority (public health-care payer): direct medical costs at HA Gazette charges "
       "(docs/flagship.md, 'Decision problem')",
    12: "partly: PFS from FUMANBA-1 (calibrated Weibull), OS borrowed from cilta-cel (CARTITUDE-1) as an "
        "assumption, comparator curves calibrated to LocoMMotion medians (Survival models; docs/flagship.md, "
        "'Survival evidence and its weakness'); the base case compares single-arm evidence unadjusted; the scenario "
        "'eque-cel from adjusted HRs' applies population-adjusted HRs of cilta-cel vs real-world care (Scenarios), and "
        "hta.survival.maic is ready for patient-level data (docs/maic.md); every family compared in 'Survival selection'",
    13: "partly: state utilities are labelled assumptions, equal in both arms (progressed = progression-free minus a "
        "non-negative decrement, so never higher); multiplied each cycle by the general-population norm at the attained "
        "age over the norm at age 58 (NICE DSU TSD 12 multiplicative convention), with the age gradient of Ara & Brazier "
        "2010 (UK EQ-5D-3L) as a proxy because Hong Kong EQ-5D-5L norms by age and sex were not available; AE "
        "decrements from Howell et al. 2022 (Inputs; docs/flagship.md, 'Utilities')",
    15: "partly: Hong Kong dollars, price year 2025 (HA Gazette charges in force in 2025); Mainland prices converted at "
        "the 2024 average HK$1.0867/RMB and GDP per capita 2023 at HK$7.80/US$ are not inflated to 2025 (no official HK "
        "CPI or C&SD per-capita GDP in the sources; docs/flagship.md, 'Decision problem')",
    18: "partly: subgroup scenarios CAR-T-naive (median PFS 35.9 months, IMS 2025) and age 65 at the start "
        "(Scenarios; docs/flagship.md); no patient-level data for other subgroups",
    19: "not reported: distributional effects were not assessed",
    21: "not reported: no patient or public engagement in this analysis",
    25: "not reported: no patient or public engagement in this analysis",
    26: "docs/flagship.md, 'Limitations an HA reviewer should weigh'",
    27: "not reported: to be stated by the submitting party",
    28: "not reported: to be stated by the submitting party",
}
