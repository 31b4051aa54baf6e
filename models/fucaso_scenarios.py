"""Scenario definitions of the flagship model, each with its rationale and source.

Every scenario is a change to the base-case model: settings (horizon, discounting, cycle
length), structure (state-transition model), survival inputs (another distribution, another
trial's OS, a cure model, another comparator) or parameter values (price). The scenario scripts
in ``scenarios/`` run them one at a time; ``scenarios/base_case.py`` runs them all into one
comparison table.

Survival curves for alternatives are calibrated to published summary statistics with
:func:`hta.survival.calibrate.calibrate` (weaker evidence than fits to patient data; flagged).
"""

from __future__ import annotations

import numpy as np

# Published summary statistics (months) used by the scenarios; see inputs/build_fucaso_hk.py.
EQ_PFS_12, EQ_PFS_12_CI = 0.788, (0.686, 0.860)        # JAMA Oncol 2024 (FUMANBA-1)
EQ_PFS_MEDIAN, EQ_PFS_MEDIAN_CI = 30.5, (24.11, 42.15)  # IMS 2025
CILTA_OS_12, CILTA_OS_12_CI = 0.885, (0.802, 0.935)     # CARTITUDE-1, 12.4-month follow-up
CILTA_OS_MEDIAN, CILTA_OS_MEDIAN_CI = 60.7, (41.9, None)  # Jagannath JCO 2025
IDECEL_OS_MEDIAN, IDECEL_OS_MEDIAN_CI = 24.8, (19.9, 31.2)  # KarMMa, Blood review table
CILTA_CURED = (32, 65)  # CARTITUDE-1: 32/97 alive and progression-free >= 5 years without maintenance (JCO 2025)

# Adjusted HRs of cilta-cel (CARTITUDE-1) vs real-world physician's choice (POLLUX/CASTOR/EQUULEUS
# post-trial cohort), inverse-probability weighted: EJHaem 2022;3(1):97-108, PMC9175662 Table 3 (P).
HR_ADJ_PFS, HR_ADJ_PFS_CI = 0.18, (0.12, 0.27)
HR_ADJ_OS, HR_ADJ_OS_CI = 0.25, (0.13, 0.46)
SRC_ADJ_HR = ("assumption (class effect): eque-cel vs conventional care as cilta-cel vs real-world physician's choice, "
              "adjusted HR PFS 0.18 (0.12-0.27), OS 0.25 (0.13-0.46) (EJHaem 2022;3(1):97-108, PMC9175662 Table 3; P), "
              "applied to the LocoMMotion comparator curves (no eque-cel MAIC exists)")

SRC_CURE = ("assumption (NICE DSU TSD 21 scenario): a plateau as seen with BCMA CAR-T; cure fraction from "
            "CARTITUDE-1, 32/97 (33%) alive and progression-free at >= 5 years without maintenance (Jagannath S et al. "
            "JCO 2025; P), Beta(32, 65); uncured Weibull recalibrated so the mixture keeps the published targets")


# Subgroups (issue 21, item 4), each with its own inputs.
#: CAR-T-naive patients of FUMANBA-1: median PFS 35.9 months, n = 95 of 107 (IMS 2025, Qiu L et al. abstract
#: 2142568; MedPath / IASO press release 18 Sep 2025; N). No 12-month landmark or CI was published for them.
NAIVE_PFS_MEDIAN, NAIVE_N = 35.9, 95
SRC_NAIVE = ("subgroup CAR-T-naive (n=95 of 107): median PFS 35.9 months (Qiu L et al. IMS 2025 abstract 2142568 via "
             "MedPath and IASO press release 18 Sep 2025; N). Assumption: the base case's Weibull shape (1.145) and "
             "coefficient covariance, the scale moved so the median is 35.9 months (no landmark or CI published for "
             "the subgroup); OS, borrowed from cilta-cel, is already a CAR-T-naive population (CARTITUDE-1 excluded "
             "prior BCMA therapy)")
#: Hong Kong patients are older than FUMANBA-1's (median 58, range 39-70): more than 60% of HK myeloma patients are
#: 65 or older (am730 report of the HKU / Queen Mary Hospital team; N).
AGE_SUBGROUP_START = 65
SRC_AGE = ("subgroup age 65 at the start (more than 60% of Hong Kong myeloma patients are aged >= 65, am730 report of "
           "the HKU team, N; FUMANBA-1 enrolled ages 39-70, ASH 2022, A): general-population mortality floor and "
           "utility age multiplier from age 65, horizon to age 100 (35 years). Assumption: the same PFS and OS curves "
           "(no age subgroup of FUMANBA-1 or LocoMMotion was published; LocoMMotion's median age was 68)")


def with_naive_subgroup(model, median=NAIVE_PFS_MEDIAN):
    """Eque-cel PFS of the CAR-T-naive subgroup: the base Weibull rescaled to ``median`` months."""
    spec = model.survival[("eqcel", "PFS")]
    if spec.distribution != "weibull":
        from hta.errors import HtaError

        raise HtaError(f"CAR-T-naive subgroup: expects a Weibull eque-cel PFS; found {spec.distribution}")
    log_shape = float(spec.coef[0])
    log_scale = np.log(median) - np.log(np.log(2.0)) / np.exp(log_shape)
    return model.with_survival("eqcel", "PFS", "weibull", [log_shape, log_scale], spec.cov, source=SRC_NAIVE,
                               description="Eque-cel PFS, CAR-T-naive subgroup")


def _calibrate(distribution, *, median, landmarks, median_ci=None, landmark_ci=None):
    from hta.survival.calibrate import calibrate

    res = calibrate(distribution, median=median, landmarks=landmarks, median_ci=median_ci, landmark_ci=landmark_ci)
    return np.asarray(res.coef, dtype=float), (None if res.cov is None else np.asarray(res.cov, dtype=float))


def weibull_uncured(t1, s1, median, cure_fraction):
    """Uncured Weibull (log_shape, log_scale) such that pi + (1 - pi) S_u meets S(t1) = s1 and S(median) = 0.5.

    Background mortality is ignored in the recalibration (small within the follow-up of the
    targets); the model applies it on top.
    """
    su1 = (s1 - cure_fraction) / (1 - cure_fraction)
    su2 = (0.5 - cure_fraction) / (1 - cure_fraction)
    h1, h2 = -np.log(su1), -np.log(su2)
    shape = np.log(h2 / h1) / np.log(median / t1)
    scale = median / h2 ** (1 / shape)
    return np.array([np.log(shape), np.log(scale)])


def price(model, value, label, source):
    return dict(name=f"price {label}", description=f"Eque-cel price HK${value:,.0f} ({source})",
                overrides={"c_eqcel_price": value})


def definitions():
    """The scenario list: dicts with name, description, and ``model`` (callable) / ``overrides`` / ``settings``."""
    out = [
        dict(name="state-transition structure",
             description="State-transition (semi-Markov) structure, NICE DSU TSD 19: OS follows from PFS and "
                         "LocoMMotion post-progression survival (a PFS-to-OS link)",
             model=lambda m: m.with_structure("stm")),
        dict(name="horizon 10 years", description="Time horizon 10 years instead of lifetime", settings={"horizon_years": 10}),
        dict(name="horizon 20 years", description="Time horizon 20 years instead of lifetime", settings={"horizon_years": 20}),
        dict(name="discount 0%", description="Costs and outcomes undiscounted",
             settings={"discount_costs": 0.0, "discount_outcomes": 0.0}),
        dict(name="discount 5%", description="Costs and outcomes discounted at 5% a year",
             settings={"discount_costs": 0.05, "discount_outcomes": 0.05}),
        dict(name="discount 3.5% (NICE)", description="NICE reference case 3.5% (PMG36)",
             settings={"discount_costs": 0.035, "discount_outcomes": 0.035}),
        dict(name="weekly cycles", description="Weekly instead of monthly cycles", settings={"cycle": "week"}),
        dict(name="price HK$4 M (imported CAR-T)",
             description="Eque-cel at the HK$4 M charged to HK hospitals for imported CAR-T (SCMP 2023; N)",
             overrides={"c_eqcel_price": 4_000_000}),
        dict(name="price HK$2 M (local manufacture)",
             description="Eque-cel at the ~HK$2 M reported for locally manufactured CAR-T (SCMP 2023; N)",
             overrides={"c_eqcel_price": 2_000_000}),
        dict(name="eque-cel OS from ide-cel (KarMMa)",
             description="Eque-cel OS borrowed from ide-cel in KarMMa instead of cilta-cel: exponential, median 24.8 "
                         "months (19.9-31.2) (Blood review table; P): a pessimistic BCMA CAR-T OS",
             model=lambda m: m.with_survival(
                 "eqcel", "OS", "exponential", [np.log(np.log(2) / IDECEL_OS_MEDIAN)],
                 [[((np.log(31.2) - np.log(19.9)) / (2 * 1.959964)) ** 2]],
                 source="KarMMa median OS 24.8 months (19.9-31.2), ide-cel (P); exponential from the median (D)")),
        dict(name="eque-cel from adjusted HRs (cilta-cel vs real world)",
             description="Eque-cel PFS and OS = the comparator's curves x population-adjusted HRs of cilta-cel vs "
                         "real-world care (PFS 0.18, OS 0.25; EJHaem 2022): an adjusted comparison in place of the "
                         "naive one, pending an eque-cel MAIC (docs/maic.md)",
             model=with_adjusted_hr),
        dict(name="eque-cel PFS log-normal",
             description="Eque-cel PFS log-normal through the same 12-month PFS and median (calibrated)",
             model=lambda m: _with_calibrated(m, "eqcel", "PFS", "lognormal", EQ_PFS_MEDIAN, EQ_PFS_MEDIAN_CI,
                                              {12.0: EQ_PFS_12}, {12.0: EQ_PFS_12_CI})),
        dict(name="eque-cel PFS log-logistic",
             description="Eque-cel PFS log-logistic through the same 12-month PFS and median (calibrated)",
             model=lambda m: _with_calibrated(m, "eqcel", "PFS", "loglogistic", EQ_PFS_MEDIAN, EQ_PFS_MEDIAN_CI,
                                              {12.0: EQ_PFS_12}, {12.0: EQ_PFS_12_CI})),
        dict(name="eque-cel mixture cure",
             description="Mixture cure on eque-cel PFS and OS (cure fraction 33%, CARTITUDE-1), NICE DSU TSD 21",
             model=with_cure),
        dict(name="not infused 15% (CARTITUDE-4)",
             description="Share apheresed but not infused 32/208 = 15.4%: CARTITUDE-4, 176 of 208 randomised to "
                         "cilta-cel received it as study treatment (San-Miguel J et al. NEJM 2023; OncLive 7 Feb 2026; "
                         "P/N), instead of 7.5% (cilta-cel standard of care)",
             overrides={"p_not_infused": 32 / 208}),
        dict(name="subgroup: CAR-T-naive",
             description="CAR-T-naive patients (88% of FUMANBA-1): eque-cel median PFS 35.9 months (IMS 2025) instead "
                         "of 30.5 for all patients; " + SRC_NAIVE,
             model=with_naive_subgroup),
        dict(name="subgroup: age 65",
             description="Patients starting at age 65 (the typical Hong Kong myeloma patient) instead of 58; " + SRC_AGE,
             settings={"start_age": AGE_SUBGROUP_START, "horizon_years": 100 - AGE_SUBGROUP_START}),
        dict(name="comparator MAMMOTH",
             description="Conventional care from MAMMOTH (anti-CD38 refractory; median PFS 3.4 and OS 8.6 months from T0; "
                         "Gandhi UH et al. Leukemia 2019; P)",
             model=lambda m: _comparator(m, 3.4, None, 8.6, (7.5, 9.9), "MAMMOTH (Gandhi UH et al. Leukemia 2019; P)")),
        dict(name="comparator Chinese real world",
             description="Conventional care from the Shanxi 8-centre TCE cohort (median PFS 5.6, OS 12.2 months; CJCO 2024; P)",
             model=lambda m: _comparator(m, 5.6, None, 12.2, None, "Shanxi TCE cohort (Chinese J Clin Oncol 2024; P)")),
    ]
    return out


def _with_calibrated(model, strategy, endpoint, distribution, median, median_ci, landmarks, landmark_ci):
    coef, cov = _calibrate(distribution, median=median, landmarks=landmarks, median_ci=median_ci, landmark_ci=landmark_ci)
    return model.with_survival(strategy, endpoint, distribution, coef, cov,
                               source=f"D (weaker evidence): {distribution} calibrated to the published median and "
                                      f"landmarks of {model.survival[(strategy, endpoint)].source[:60]}...")


def with_cure(model):
    pi = CILTA_CURED[0] / sum(CILTA_CURED)
    pfs = weibull_uncured(12.0, EQ_PFS_12, EQ_PFS_MEDIAN, pi)
    os_ = weibull_uncured(12.0, CILTA_OS_12, CILTA_OS_MEDIAN, pi)
    return model.with_cure("eqcel", fraction=pi, alpha=CILTA_CURED[0], beta=CILTA_CURED[1], source=SRC_CURE,
                           uncured={"PFS": ("weibull", pfs, model.survival[("eqcel", "PFS")].cov),
                                    "OS": ("weibull", os_, model.survival[("eqcel", "OS")].cov)})


def with_adjusted_hr(model, hr_pfs=HR_ADJ_PFS, hr_pfs_ci=HR_ADJ_PFS_CI, hr_os=HR_ADJ_OS, hr_os_ci=HR_ADJ_OS_CI):
    """Eque-cel PFS and OS as the comparator's exponential curves under proportional hazards.

    Exponential x HR is exponential with ``log_rate + log(HR)``. The PSA variance of the eque-cel
    log rate is the comparator's plus the log-HR's (drawn independently of the comparator curve: an
    approximation that overstates the uncertainty of the increment; stated in docs/flagship.md).
    """
    out = model
    for endpoint, hr, ci in (("PFS", hr_pfs, hr_pfs_ci), ("OS", hr_os, hr_os_ci)):
        ref = model.survival[("cc", endpoint)]
        if ref.distribution != "exponential":
            from hta.errors import HtaError

            raise HtaError(f"adjusted-HR scenario: expects an exponential comparator {endpoint} curve; found {ref.distribution}")
        var = (0.0 if ref.cov is None else float(np.asarray(ref.cov)[0, 0])) + _log_se(ci, 0.0) ** 2
        out = out.with_survival("eqcel", endpoint, "exponential", [float(ref.coef[0]) + np.log(hr)], [[var]],
                                time_unit=ref.time_unit, source=SRC_ADJ_HR,
                                description=f"comparator {endpoint} x adjusted HR {hr}")
    return out


def _log_se(ci, fallback):
    return (np.log(ci[1]) - np.log(ci[0])) / (2 * 1.959964) if ci else fallback


def _comparator(model, pfs_median, pfs_ci, os_median, os_ci, source):
    """Conventional care with exponential PFS and OS from medians; missing CIs borrow LocoMMotion's log-scale SE."""
    loc_pfs_se = np.sqrt(model.survival[("cc", "PFS")].cov[0, 0]) if model.survival[("cc", "PFS")].cov is not None else 0.1
    loc_os_se = np.sqrt(model.survival[("cc", "OS")].cov[0, 0]) if model.survival[("cc", "OS")].cov is not None else 0.1
    note = " (assumption: SE of log rate as LocoMMotion where no CI was published)"
    m = model.with_survival("cc", "PFS", "exponential", [np.log(np.log(2) / pfs_median)],
                            [[_log_se(pfs_ci, loc_pfs_se) ** 2]], source=f"{source}: median PFS {pfs_median} months{note}")
    return m.with_survival("cc", "OS", "exponential", [np.log(np.log(2) / os_median)],
                           [[_log_se(os_ci, loc_os_se) ** 2]], source=f"{source}: median OS {os_median} months{note}")


def build(model, definition):
    """The model of one scenario definition (settings, structure/survival changes; overrides stay separate)."""
    m = model
    if definition.get("settings"):
        m = m.with_settings(**definition["settings"])
    if definition.get("model"):
        m = definition["model"](m)
    return m


#: Families compared for each calibrated eque-cel endpoint (two published statistics identify
#: two-parameter families exactly; the generalised gamma has three and cannot be identified).
SELECTION_FAMILIES = ("exponential", "weibull", "gompertz", "lognormal", "loglogistic", "gamma")
#: Published targets of each eque-cel curve: (median, median CI, {landmark: S}, {landmark: CI}), months.
SELECTION_TARGETS = {
    "PFS": (EQ_PFS_MEDIAN, EQ_PFS_MEDIAN_CI, {12.0: EQ_PFS_12}, {12.0: EQ_PFS_12_CI}),
    # the upper CI of cilta-cel's median OS is not estimable: mirrored on the log scale (assumption)
    "OS": (CILTA_OS_MEDIAN, (CILTA_OS_MEDIAN_CI[0], CILTA_OS_MEDIAN ** 2 / CILTA_OS_MEDIAN_CI[0]),
           {12.0: CILTA_OS_12}, {12.0: CILTA_OS_12_CI}),
}


def survival_candidates(model):
    """TSD 14 candidates: every family for each endpoint, as model variants (hta.analysis.survival_selection).

    Eque-cel PFS and OS: each family calibrated to the same published median and 12-month
    landmark as the base case's Weibull (exact for two-parameter families, least squares for the
    exponential). Conventional care: LocoMMotion published only medians (no digitised KM), so the
    exponential is the only identifiable family; it is listed alone. No family has AIC/BIC, which
    need patient-level or reconstructed data (``hta fit`` on a digitised KM).
    """
    from hta.analysis.survival_selection import Candidate

    out = []
    for endpoint, (median, median_ci, landmarks, landmark_ci) in SELECTION_TARGETS.items():
        base = model.survival[("eqcel", endpoint)]
        targets = [(median, 0.5)] + [(t, s) for t, s in landmarks.items()]
        for family in SELECTION_FAMILIES:
            if family == base.distribution:
                variant = model
            else:
                coef, cov = _calibrate(family, median=median, landmarks=landmarks, median_ci=median_ci,
                                       landmark_ci=landmark_ci)
                variant = model.with_survival("eqcel", endpoint, family, coef, cov,
                                              source=f"D: {family} calibrated to the base case's published targets")
            evidence = (f"calibrated to median {median:g} months and S(12 months) = {landmarks[12.0]:g} "
                        f"({'least squares, 1 parameter' if family == 'exponential' else 'exact'})")
            out.append(Candidate("eqcel", endpoint, family, variant, evidence, targets,
                                 base_case=family == base.distribution))
    for endpoint in ("PFS", "OS"):
        spec = model.survival[("cc", endpoint)]
        out.append(Candidate("cc", endpoint, spec.distribution, model,
                             "LocoMMotion median only: the exponential is the only identifiable family "
                             "(no digitised KM published)", [], base_case=True))
    return out


# ---------------------------------------------------------------------------------------------
# Structural uncertainty in the PSA (issue 21, item 2 of Build): model averaging
# ---------------------------------------------------------------------------------------------
#: Weights of the structural alternatives (labelled inputs; each an ASSUMPTION with its rationale).
#: Structure: partitioned survival vs state transition 0.5 / 0.5 (NICE DSU TSD 19 asks for both and
#: states no preference; the PSM's progressed state is large, the STM's post-progression survival is
#: LocoMMotion's). OS source within the PSM: cilta-cel 0.75 / ide-cel 0.25 (cilta-cel's PFS, median
#: 34.9 months, resembles eque-cel's 30.5; ide-cel's, 8.8 months, does not, and its median OS, 24.8
#: months, lies below eque-cel's median PFS, so it is the pessimistic bound, not the likely case).
STRUCTURAL_WEIGHTS = {
    "partitioned survival, OS cilta-cel": 0.5 * 0.75,
    "partitioned survival, OS ide-cel": 0.5 * 0.25,
    "state-transition (TSD 19)": 0.5,
}
SRC_STRUCTURAL_WEIGHTS = ("assumption: structure 0.5 partitioned survival / 0.5 state transition (NICE DSU TSD 19: "
                          "report both, no preference); OS source in the partitioned survival model 0.75 cilta-cel "
                          "(CARTITUDE-1) / 0.25 ide-cel (KarMMa), because cilta-cel's PFS resembles eque-cel's and "
                          "ide-cel's does not (models/fucaso_scenarios.py STRUCTURAL_WEIGHTS)")


def structural_alternatives(model) -> dict:
    """The structural alternatives of the model average, built from ``model`` (the base case)."""
    defs = {d["name"]: d for d in definitions()}
    return {
        "partitioned survival, OS cilta-cel": model.with_structure("psm"),
        "partitioned survival, OS ide-cel": build(model.with_structure("psm"), defs["eque-cel OS from ide-cel (KarMMa)"]),
        "state-transition (TSD 19)": model.with_structure("stm"),
    }


def structural_psa(model, *, draws=None, seed=None, weights=None, wtp=None):
    """The PSA without and with structural uncertainty, side by side.

    Without: the base case's structure (``model``, partitioned survival with cilta-cel's OS),
    ``draws`` PSA draws (default: the workbook's ``psa_draws``) with ``seed`` (default: the
    workbook's). With: the model average (:func:`hta.analysis.structural.model_average`) of
    :func:`structural_alternatives`, each with its own PSA of ``draws`` draws of the same seed,
    weighted by ``weights`` (default :data:`STRUCTURAL_WEIGHTS`). ``wtp``: default the workbook's
    thresholds (1x and 3x GDP per capita).

    Returns ``{"summary": DataFrame, "without": StructuralPsa, "with": StructuralPsa,
    "crossing": DataFrame}``: ``summary`` has one row per (analysis, WTP) with P(eque-cel
    cost-effective), per-patient and population EVPI (HK$; population: the workbook's
    ``annual_population`` for ``population_years`` at the cost discount rate), mean incremental
    cost and QALYs; ``crossing`` the PFS-above-OS report of each alternative's PSA.
    """
    import pandas as pd

    from hta.analysis.psa import population_evpi
    from hta.analysis.structural import model_average

    s = model.settings
    n = int(draws or s.psa_draws or 1000)
    seed = s.seed if seed is None else seed
    weights = dict(STRUCTURAL_WEIGHTS if weights is None else weights)
    wtp = s.wtp_values if wtp is None else np.atleast_1d(np.asarray(wtp, dtype=float))
    labels = [label for label, _ in s.wtp] if wtp is None or len(wtp) == len(s.wtp) else [f"{k:,.0f}" for k in wtp]
    alternatives = structural_alternatives(model.with_structure("psm"))
    arrays, crossing = {}, []
    for name, alt in alternatives.items():
        batch = alt.parameters.sample(n, seed)
        out = alt.evaluate(batch)
        arrays[name] = (out.costs, out.qalys)
        crossing.append(alt.crossing(batch).assign(alternative=name))
    base = next(iter(alternatives))
    strategies = list(model.strategies)
    without = model_average({base: arrays[base]}, {base: 1.0}, wtp, strategies)
    with_ = model_average(arrays, weights, wtp, strategies)
    rows = []
    for analysis, res in (("without structural uncertainty", without), ("with structural uncertainty", with_)):
        mix = res.means.iloc[-1]
        for i, k in enumerate(wtp):
            per_patient = float(res.table["evpi"].iloc[i])
            pop = (population_evpi(per_patient, s.annual_population, int(s.population_years), float(s.discount_outcomes))
                   if s.annual_population and s.population_years else np.nan)
            rows.append({"analysis": analysis, "wtp_label": labels[i], "wtp": float(k),
                         "p_ce_eqcel": float(res.table["p_ce_eqcel"].iloc[i]), "evpi_per_patient": per_patient,
                         "evpi_population": pop, "inc_cost": float(mix["cost_eqcel"] - mix["cost_cc"]),
                         "inc_qaly": float(mix["effect_eqcel"] - mix["effect_cc"]), "draws": n})
    return {"summary": pd.DataFrame(rows), "without": without, "with": with_,
            "crossing": pd.concat([c for c in crossing if not c.empty], ignore_index=True)}
