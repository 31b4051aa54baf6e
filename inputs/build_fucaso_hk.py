"""Build ``inputs/fucaso_hk.xlsx``, the input workbook of the flagship model.

Run ``python inputs/build_fucaso_hk.py`` to regenerate the workbook after changing a number
here. Every number carries its source (evidence tiers of ``shared/domain/evidence.md``: P
peer-reviewed, A abstract/official page, N news report, D derived by us, E estimate) or the word
"assumption" with its rationale. Survival coefficients are calibrated to published summary
statistics (medians and landmark survival) because no digitised Kaplan-Meier curve of FUMANBA-1
is available; the calibration and its delta-method covariance are computed below and flagged in
the workbook as weaker evidence than a fit to reconstructed data.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from openpyxl.styles import Alignment, Font

HERE = Path(__file__).resolve().parent
OUT = HERE / "fucaso_hk.xlsx"
Z = 1.959963984540054

# ---------------------------------------------------------------------------------------------
# Survival calibration to summary statistics (months)
# ---------------------------------------------------------------------------------------------


def weibull_from_landmark_and_median(t1, s1, median):
    """Weibull (flexsurv AFT: S = exp(-(t/scale)^shape)) through S(t1) = s1 and S(median) = 0.5.

    Returns (log_shape, log_scale).
    """
    h1, hm = -np.log(s1), np.log(2.0)
    shape = np.log(hm / h1) / np.log(median / t1)
    scale = median / hm ** (1.0 / shape)
    return np.array([np.log(shape), np.log(scale)])


def weibull_delta_cov(t1, s1, s1_ci, median, median_ci):
    """Delta-method covariance of (log_shape, log_scale) from independent summary statistics.

    The landmark's SE is taken on the complementary log-log scale from its 95% CI, the
    median's on the log scale (one-sided when the upper limit is not estimable). Independence
    of the two statistics is an assumption (they come from one curve and are in truth positively
    correlated).
    """
    x = np.array([np.log(-np.log(s1)), np.log(median)])
    lo, hi = s1_ci
    se_x1 = abs(np.log(-np.log(lo)) - np.log(-np.log(hi))) / (2 * Z)
    mlo, mhi = median_ci
    se_x2 = (np.log(mhi) - np.log(mlo)) / (2 * Z) if mhi is not None else (np.log(median) - np.log(mlo)) / Z

    def coefs(v):
        return weibull_from_landmark_and_median(t1, np.exp(-np.exp(v[0])), np.exp(v[1]))

    J = np.empty((2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = 1e-6
        J[:, j] = (coefs(x + e) - coefs(x - e)) / 2e-6
    return J @ np.diag([se_x1 ** 2, se_x2 ** 2]) @ J.T


def exponential_from_median(median, ci):
    """log(rate) and its variance from a median and its 95% CI (log-scale SE)."""
    se = (np.log(ci[1]) - np.log(ci[0])) / (2 * Z)
    return np.array([np.log(np.log(2.0) / median)]), np.array([[se ** 2]])


def weibull_one_curve_cov(t1, s1, s1_ci, median, median_ci, overlap):
    """Covariance of (log_shape, log_scale) allowing for the correlation of two points of one KM
    curve (Greenwood: ``corr = sqrt(G(t1) / G(median))``, times ``overlap`` for different data
    cuts), by :func:`hta.survival.calibrate.calibrate` with ``dependence="one curve"``. A median
    CI without an upper limit is mirrored on the log scale (the one-sided SE of
    :func:`weibull_delta_cov`)."""
    sys.path.insert(0, str(HERE.parent))
    from hta.survival.calibrate import calibrate

    lo, hi = median_ci
    hi = median ** 2 / lo if hi is None else hi
    res = calibrate("weibull", median=median, median_ci=(lo, hi), landmarks={t1: s1}, landmark_ci={t1: s1_ci},
                    dependence="one curve", overlap=overlap)
    return np.asarray(res.cov, dtype=float)


EQ_PFS = weibull_from_landmark_and_median(12.0, 0.788, 30.5)
# 12-month PFS from the 2022 cut (N=103) and the median from the 2025 cut (N=107, including the
# 103): the correlation of nested samples, sqrt(103/107), times Greenwood's (0.49): 0.48.
EQ_PFS_OVERLAP = float(np.sqrt(103 / 107))
EQ_PFS_COV = weibull_one_curve_cov(12.0, 0.788, (0.686, 0.860), 30.5, (24.11, 42.15), EQ_PFS_OVERLAP)
EQ_OS = weibull_from_landmark_and_median(12.0, 0.885, 60.7)
# CARTITUDE-1: both statistics from the same 97 infused patients (12.4- and 61.3-month cuts).
EQ_OS_COV = weibull_one_curve_cov(12.0, 0.885, (0.802, 0.935), 60.7, (41.9, None), 1.0)
CC_PFS, CC_PFS_COV = exponential_from_median(4.6, (3.9, 5.6))
CC_OS, CC_OS_COV = exponential_from_median(13.8, (10.8, 17.0))

SRC_EQ_PFS = ("D (weaker evidence: calibrated to summary statistics, no KM available): Weibull through "
              "12-month PFS 78.8% (95% CI 68.6-86.0; Li C et al. JAMA Oncol 2024, FUMANBA-1, N=103) and "
              "median PFS 30.5 months (95% CI 24.11-42.15; Qiu L et al. IMS 2025 abstract 2142568, 36-month "
              "follow-up, N=107); delta-method covariance allowing for the dependence of two points of one curve "
              "(Greenwood: correlation sqrt(G(12)/G(median)) = 0.49, times sqrt(103/107) for the two data cuts; "
              "hta.survival.calibrate, dependence 'one curve')")
SRC_EQ_OS = ("assumption: eque-cel OS has not been published (FUMANBA-1 OS immature); base case borrows the "
             "OS of another BCMA CAR-T in the same population, cilta-cel in CARTITUDE-1: Weibull through "
             "12-month OS 88.5% (80.2-93.5; Madduri, ASH 2020, N) and median OS 60.7 months (41.9-NE; "
             "Jagannath S et al. JCO 2025;43(25):2766, P); D calibration with delta-method covariance allowing for the "
             "dependence of two points of one curve (Greenwood correlation 0.26; same 97 patients)")
SRC_CC_PFS = ("D (weaker evidence: from a median only, so exponential): LocoMMotion median PFS 4.6 months "
              "(95% CI 3.9-5.6), Mateos MV et al. Leukemia 2022 and final analysis Leukemia 2024;38:2554 (P)")
SRC_CC_OS = ("D (weaker evidence: from a median only, so exponential): LocoMMotion final median OS 13.8 months "
             "(95% CI 10.8-17.0), Mateos MV et al. Leukemia 2024;38(12):2554-2560 (P)")

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
GDP_PC_USD_2023 = 50697.0
#: mean yearly eque-cel patients of the budget impact (entrants x uptake, 2026-2030), for population EVPI
ANNUAL_TREATED = 18.8
SRC_GDP = ("US$50,697 Hong Kong GDP per capita 2023 (knoema world data atlas; N), consistent with World Bank GDP "
           "US$382.05 bn (NY.GDP.MKTP.CD) over the C&SD mid-2023 population revised up about 0.5% from 7,498,100 "
           "(~US$50,700; shared/data/hk_gdp_per_capita.csv, D) x HK$7.80/US$ (HKMA linked rate)")
HKD_PER_USD = 7.80
WTP_1 = round(GDP_PC_USD_2023 * HKD_PER_USD)
WTP_3 = 3 * WTP_1

SETTINGS = [
    # setting, value, unit, description, source
    ("model", "fucaso_rrmm", "", "Decision model in models/", "models/fucaso_rrmm.py"),
    ("horizon_years", 42, "years", "Lifetime horizon: from age 58 to age 100",
     "assumption: lifetime horizon to age 100 (NICE PMG36 reference case: lifetime)"),
    ("cycle", "month", "", "Cycle length (weekly as a scenario)", "assumption: common practice for RRMM models"),
    ("discount_costs", 0.03, "per year", "Discount rate for costs (0% and 5% as scenarios)",
     "assumption: no HK guideline; 3% as in Chinese MM CEAs (Hu S et al.) and HK CEAs (You JHS et al. PLoS ONE 2021)"),
    ("discount_outcomes", 0.03, "per year", "Discount rate for LYs and QALYs", "as discount_costs"),
    ("discount_method", "discrete", "", "(1+r)^-t", "convention"),
    ("within_cycle", "half-cycle", "", "Trapezoid (life-table) correction", "NICE DSU / ISPOR-SMDM convention"),
    ("currency", "HKD", "", "Hong Kong dollars, HA public sector (NEP Gazette charges as unit costs)", "HA charges page"),
    ("start_age", 58, "years", "Median age in FUMANBA-1", "Li C et al. JAMA Oncol 2024 (median age 58; via MIMS) (N)"),
    ("male_share", 0.534, "proportion", "Share male in FUMANBA-1 (55/103)", "ASH 2022 abstract; JAMA Oncol 2024 (A)"),
    ("life_table", "hk-2020-2025", "", "Hong Kong general-population mortality (floor on every hazard)",
     "UN WPP 2024 abridged mx for Hong Kong, period 2020-2025, single-age step function (shipped with hta)"),
    ("utility_norms", "uk-ara-brazier-2010", "", "Age adjustment of state utilities: multiplier = general-population norm at the attained age / norm at start_age (53.4% male), each cycle",
     "proxy (evidence gap): the Hong Kong EQ-5D-5L norms by age and sex (Wong ELY et al. Value Health 2019) were not "
     "available, only their overall mean 0.919 (flat: setting hk-eq5d5l-2019 gives no adjustment); the relative decline "
     "with age is taken from Ara R, Brazier JE. Value Health 2010;13(5):509 (UK EQ-5D-3L equation, shipped with hta as "
     "hta/data/utility_norms_uk_ara_brazier_2010.csv); multiplicative convention of NICE DSU TSD 12 (P)"),
    ("annual_population", ANNUAL_TREATED, "patients/year", "Patients treated with eque-cel per year (for population EVPI)",
     "D: the budget impact's eque-cel patients (sheet Budget: eligible entrants x uptake) 9.1, 14.2, 19.5, 25.3 and 26.1 "
     "in 2026-2030, mean 94.2 / 5 = 18.8 a year (tests/test_flagship.py checks it against hta.analysis.bia); before issue 21: 30, "
     "HA's CAR-T capacity for all indications (SCMP 24 May 2021; N)"),
    ("population_years", 5, "years", "Years of the decision's relevance (population EVPI)",
     "assumption: 5 years, the longest horizon of ISPOR BIA good practice (Sullivan 2014)"),
    ("seed", 20251127, "", "PSA seed (date of HK approval)", "convention"),
    ("psa_draws", 5000, "", "PSA draws", "convention"),
    ("wtp_1", WTP_1, "HK$/QALY", "1x HK GDP per capita",
     "assumption: the HA publishes no cost-effectiveness threshold; 1x GDP per capita as in You JHS et al. PLoS ONE 2021 (P), "
     "and the base case's threshold-price curve shows 0.5x-3x. D: " + SRC_GDP),
    ("wtp_2", WTP_3, "HK$/QALY", "3x HK GDP per capita",
     "assumption: 3x GDP per capita, the upper of the two rules in You JHS et al. PLoS ONE 2021 (P). D: 3 x wtp_1"),
]

STRATEGIES = [
    ("eqcel", "Eque-cel (Fucaso)", "Equecabtagene autoleucel, single infusion 1.0e6 CAR+ T cells/kg after Flu/Cy lymphodepletion"),
    ("cc", "Conventional care", "Real-world physician's choice in triple-class-exposed RRMM (LocoMMotion)"),
]

# ---------------------------------------------------------------------------------------------
# Parameters: name, value, unit, distribution, se, param_a, param_b, group, description, source
# ---------------------------------------------------------------------------------------------
A = "assumption: "
P = []


LOW_HIGH = {}   # name -> (low, high) for the one-way analysis where not the distribution's 95% interval


def add(name, value, unit, dist, se=None, a=None, b=None, group="", description="", source="", low=None, high=None):
    P.append((name, value, unit, dist, se, a, b, group, description, source))
    if low is not None or high is not None:
        LOW_HIGH[name] = (low, high)


# Prices and unit costs (HK$)
add("c_eqcel_price", 1_360_000, "HK$ per patient", "fixed", group="eque-cel price",
    description="Eque-cel acquisition price (decision variable: see the threshold price)",
    source=A + "the Hong Kong price is not public; anchored on Mainland China CAR-T prices RMB 1.2-1.3 M "
    "(medicaltrend 2021; Caixin Global 9 Jan 2026; N) x HK$1.0867/RMB (2024 average; N) = HK$1.30-1.41 M, midpoint. "
    "Scenarios: HK$4 M charged for imported CAR-T (SCMP 2023, N) and HK$2 M local manufacture (same)")
add("c_ward_day", 5100, "HK$ per day", "fixed", group="unit costs", description="General ward bed-day (NEP)",
    source="HA Gazette charges for non-eligible persons, www3.ha.org.hk/AHNH/content/patientandvisitors/charge_e.asp (A)")
add("c_icu_day", 24400, "HK$ per day", "fixed", group="unit costs", description="Intensive care bed-day (NEP)",
    source="HA Gazette charges for non-eligible persons (A)")
add("c_sopc", 1190, "HK$ per attendance", "fixed", group="unit costs", description="Specialist out-patient attendance (NEP)",
    source="HA Gazette charges for non-eligible persons (A)")

# CAR-T pathway (eque-cel arm, one-off at time 0)
add("n_apheresis_sessions", 1, "sessions", "fixed", group="CAR-T pathway",
    description="Leukapheresis sessions per patient (a day procedure, with one out-patient attendance)",
    source=A + "one session collects enough T cells (FUMANBA-1 apheresis details not published); issue 21: "
    "apheresis is costed as the procedure it is, not as a ward day")
add("c_apheresis_session", 6000, "HK$ per session", "gamma", se=1500, group="CAR-T pathway",
    description="Leukapheresis procedure (cell separator session, disposables, nursing), per session",
    source="proxy (HA publishes no apheresis charge; evidence gap): HA Gazette NEP charge for an acute renal clinic "
    "day procedure, HK$6,000 (www3.ha.org.hk charges page; A), another extracorporeal day procedure; SE 25% assumption")
add("p_bridging", 1.0, "probability", "fixed", group="CAR-T pathway", description="Share receiving bridging therapy",
    source="Chinese real-world eque-cel series (n=45): bridging in 100% (congress abstract; A); scenario 0.75 (CARTITUDE-1)")
add("bridging_months", 57 / 30.4375, "months", "gamma", se=15 / 30.4375, group="CAR-T pathway",
    description="Duration of bridging = median leukapheresis-to-infusion (vein-to-vein) time; also the ITT pre-infusion phase",
    source="D: 57 days (range 22-203), Chinese real-world eque-cel series (A); SE 15 days assumption")
add("p_not_infused", 19 / 255, "probability", "beta", a=19, b=236, low=0.05, high=32 / 208, group="CAR-T pathway",
    description="Share apheresed but never infused (manufacturing failure, death or progression before infusion; "
    "intention-to-treat pathway: these patients follow conventional care from the end of the vein-to-vein time)",
    source="proxy (FUMANBA-1 apheresed-vs-infused counts not published; evidence gap): eq_mfg_fail, cilta-cel standard "
    "of care, 255 apheresed and 236 infused, 19/255 = 7.5% not infused (Blood 2025;145(1):85; P); Beta(19, 236). "
    "One-way range 5% (assumption) to 15.4%: CARTITUDE-4, 176 of 208 randomised to cilta-cel received it as study "
    "treatment (San-Miguel J et al. NEJM 2023;389:335; TCT 2026 analysis via OncLive 7 Feb 2026; P/N), also the "
    "scenario 'not infused 15% (CARTITUDE-4)'. "
    + A + "the vein-to-vein time is bridging_months for everyone apheresed; the not-infused exit at its end; the "
    "CAR-T acquisition is paid only on infusion (no charge for a failed manufacture)")
add("c_lymphodepletion_drugs", 6000, "HK$ per patient", "gamma", se=1500, group="CAR-T pathway",
    description="Fludarabine 30 mg/m2 + cyclophosphamide 500 mg/m2 daily x 3 (drugs and pharmacy)",
    source=A + "HA drug prices not found; placeholder for 3 days of generic Flu/Cy, SE 25%")
add("n_lymphodepletion_visits", 3, "attendances", "fixed", group="CAR-T pathway",
    description="Day attendances for lymphodepletion", source="FUMANBA-1 protocol: Flu/Cy on 3 consecutive days (ASH 2022 abstract; A)")
add("los_cart_days", 15, "days", "gamma", se=2, group="CAR-T pathway", description="Index CAR-T admission length of stay",
    source="US NIS 2018-2022 MM CAR-T admissions mean 15 days; NRD and Vizient median 15 days (A/P); SE 2 days assumption")
add("p_death_if_not_infused", 9 / 16, "proportion", "beta", a=9, b=7, group="CAR-T pathway",
    description="Share of the not-infused who die before infusion (at the phase's midpoint on average); the others "
    "progress or fail manufacture and follow conventional care",
    source="proxy (FUMANBA-1 does not break down its not-infused; evidence gap): in a BCMA CAR-T trial cohort of 113 "
    "apheresed patients, 16 were not infused and 9 of them died before infusion (MD Anderson CAR-T attrition abstract, "
    "ASH 2023, stored without its URL; A; the abstract labels the cohort CARTITUDE-4, its numbers are CARTITUDE-1's "
    "113 apheresed / 97 infused); Beta(9, 7). The same abstract: KarMMa 12/140 not infused, 1 true manufacturing "
    "failure")
add("du_pre_infusion", 0.11, "utility decrement", "gamma", se=0.05, group="utilities",
    description="Utility decrement before infusion (leukapheresis to infusion): pre-infusion utility = u_pf - du_pre_infusion",
    source=A + "patients are relapsed and refractory with active disease on bridging therapy while the product is "
    "made: the progressed-state decrement du_pd (0.11, SE 0.05) is applied (issue 21; before: progression-free utility)")
add("p_crs_g3_eqcel", 1 / 103, "probability", "beta", a=1, b=102, group="eque-cel adverse events",
    description="CRS grade >= 3", source="Li C et al. JAMA Oncol 2024: 1/103 (N)")
add("p_crs_g12_eqcel", 95 / 103, "probability", "beta", a=95, b=8, group="eque-cel adverse events",
    description="CRS grade 1-2", source="Li C et al. JAMA Oncol 2024: 95/103 (N)")
add("p_icans_eqcel", 2 / 103, "probability", "beta", a=2, b=101, group="eque-cel adverse events",
    description="ICANS (all grade 1-2)", source="Li C et al. JAMA Oncol 2024: 2/103 (N)")
add("icu_days_crs_g3", 4, "days", "gamma", se=1, group="eque-cel adverse events",
    description="ICU days per grade >= 3 CRS, within the index admission (costed as ICU minus ward per day: no double counting)",
    source=A + "median CRS duration 4 days in CARTITUDE-1 (P) spent in ICU; SE 1 day")
add("extra_ward_days_icans", 5, "days", "gamma", se=1.5, group="eque-cel adverse events",
    description="Extra ward days per ICANS event", source=A + "5 days, SE 30%")
add("p_ivig", 0.9, "probability", "beta", se=0.05, group="CAR-T pathway",
    description="Share receiving immunoglobulin replacement after CAR-T (those with hypogammaglobulinaemia)",
    source="hypogammaglobulinaemia after BCMA CAR-T is near universal: all 40 responders to anti-BCMA CAR-T had a "
    "significant fall in IgG, IgA and IgM by day 60 (Wang Y et al. Blood Adv 2021;5(23):5290; P); IgG <= 600 mg/dL in "
    "91% after CAR-T (J Allergy Clin Immunol 2024, n=579, CD19; P). " + A + "replacement for every patient with "
    "hypogammaglobulinaemia (HA practice unknown; a Spanish anti-BCMA series gave IgRT at least once to 22 of 47, "
    "Eur J Hosp Pharm 2024;31(Suppl 1):A208; A); SE 0.05")
add("c_ivig_month", 10000, "HK$ per month", "gamma", se=3000, group="CAR-T pathway",
    description="Immunoglobulin replacement per month", source=A + "HA price not found; placeholder, SE 30%")
add("ivig_months", 386 / 30.4375, "months", "gamma", se=3.0, group="CAR-T pathway",
    description="Months of immunoglobulin replacement = time to IgG recovery",
    source="Wang Y et al. Blood Adv 2021;5(23):5290 (P): median time to IgG recovery day 386 after anti-BCMA CAR-T "
    "(normal plasma-cell aplasia ~7 months): 386 / 30.44 = 12.7 months (D); assumption: replacement until IgG "
    "recovery; SE 3 months assumption")
add("p_tocilizumab_eqcel", 0.5, "probability", "beta", se=0.15, group="eque-cel adverse events",
    description="Share of eque-cel patients given tocilizumab for CRS (93% had CRS, nearly all grade 1-2)",
    source=A + "FUMANBA-1 reports CRS in 96/103 (grade >= 3 in 1) 'resolved with treatment' without the share given "
    "tocilizumab (evidence gap); half of patients, below the 69% reported for cilta-cel in CARTITUDE-1 (Berdeja JG et "
    "al. Lancet 2021;398:314, figure recalled, not in the stored sources) because eque-cel's CRS is milder; SE 0.15. "
    "Corticosteroids (dexamethasone) cost little and are not counted")
add("n_tocilizumab_doses", 1.5, "doses", "fixed", group="eque-cel adverse events",
    description="Tocilizumab doses (8 mg/kg) per treated patient",
    source=A + "1-2 doses (labels allow up to 4 for CRS); 1.5 on average")
add("c_tocilizumab_dose", 8000, "HK$ per dose", "gamma", se=2000, group="eque-cel adverse events",
    description="Tocilizumab 8 mg/kg (about 480 mg at 60 kg) per dose, drug and administration",
    source=A + "HA price not found (evidence gap); placeholder, SE 25%")
add("p_infection_g34_eqcel", 12 / 97, "probability", "beta", a=12, b=85, group="eque-cel adverse events",
    description="Grade 3/4 infection after eque-cel outside the index admission (cytopenias of grade >= 3 are "
    "near-universal but recover within the 15-day stay or as out-patients: costed in the admission)",
    source="proxy (FUMANBA-1's grade >= 3 AE table was not found; evidence gap): CARTITUDE-1 grade 3/4 pneumonia 8.2% "
    "and sepsis 4.1% of 97 (Madduri, ASH 2020, via tucasafacilonline.com; N), 12/97; grade 3/4 cytopenias 95% "
    "neutropenia, 60% thrombocytopenia with median recovery 2 and 4 weeks (same); Beta(12, 85)")
add("ward_days_infection", 7, "days", "gamma", se=2, group="eque-cel adverse events",
    description="Ward days per grade 3/4 infection after eque-cel", source=A + "7 days, SE 2")
add("du_infection_g34", 0.05, "utility decrement", "gamma", se=0.02, group="adverse-event disutilities",
    description="Disutility of a grade 3/4 infection after eque-cel (over ae_duration_days)",
    source=A + "0.05 as a grade 3/4 event on conventional care (du_ae_cc); SE 0.02")
add("ltfu_years", 15, "years", "fixed", group="CAR-T pathway",
    description="Years of long-term follow-up of gene-modified cell recipients after infusion",
    source="FUMANBA-1 long-term follow-up 15 years (AJMC; MedPath; N; evidence.md 1.2), as regulators require for "
    "integrating vectors")
add("c_ltfu_year", 2 * 1190 + 2000, "HK$ per year", "gamma", se=(2 * 1190 + 2000) * 0.25, group="CAR-T pathway",
    description="Long-term follow-up per year alive after infusion, beyond routine myeloma care",
    source=A + "two specialist out-patient attendances a year (HA NEP HK$1,190 each; A) and HK$2,000 of laboratory "
    "tests (replicating lentivirus, CAR transgene persistence, blood counts for secondary malignancy); SE 25%")
add("n_monitoring_visits", 12, "attendances", "fixed", group="CAR-T pathway",
    description="Out-patient monitoring visits after discharge (first 3 months)", source=A + "weekly for 3 months")

# Conventional care and disease management (both arms)
add("c_cc_regimen_month", 50000, "HK$ per month", "gamma", se=12500, group="conventional care",
    description="Conventional-care regimen drug cost per month on treatment (until progression)",
    source=A + "HA SFI prices of pomalidomide-, carfilzomib- or daratumumab-based regimens not found (evidence gap); placeholder, SE 25%, tested in one-way and scenarios")
add("n_visits_on_treatment_month", 2, "attendances per month", "fixed", group="conventional care",
    description="Out-patient attendances per month on conventional-care treatment", source=A + "2 per month")
add("n_visits_followup_month", 1, "attendances per month", "fixed", group="disease management",
    description="Out-patient attendances per month off active treatment", source=A + "1 per month")
# Post-progression (subsequent) therapy by arm: a monthly cost for the time in the progressed state,
# times the share of that time on active therapy (regimens given until the next progression or death).
PD_ON_TX_CC = 0.613 * (10.8 - 4.6) / (13.8 - 4.6)
SRC_PD_ON_TX_CC = ("D (approximation): LocoMMotion final, 61.3% of patients had a subsequent line (Mateos MV et al. "
                   "Leukemia 2024; P) x the next line's share of post-progression survival, (median PFS2 10.8 - median "
                   "PFS 4.6) / (median OS 13.8 - median PFS 4.6) = 6.2 / 9.2 months (same paper); 0.613 x 0.674 = 0.413. "
                   "Lines after the next one are not counted and PFS2 includes time off treatment (the two errors "
                   "partly offset); SE 0.08 assumption")
add("p_pd_on_subsequent_cc", PD_ON_TX_CC, "proportion", "beta", se=0.08, group="post-progression therapy",
    description="Conventional-care arm: share of the time in the progressed state spent on subsequent therapy",
    source=SRC_PD_ON_TX_CC)
add("p_pd_on_subsequent_eqcel", PD_ON_TX_CC, "proportion", "beta", se=0.12, group="post-progression therapy",
    description="Eque-cel arm: share of the time in the progressed state spent on subsequent therapy (after CAR-T relapse)",
    source=A + "no data on treatment after eque-cel relapse (FUMANBA-1 reports none; evidence gap): the same share of "
    "post-progression time on therapy as conventional care (" + f"{PD_ON_TX_CC:.3f}" + ", D from LocoMMotion), so the "
    "cost grows with the arm's longer post-progression survival; wider SE 0.12 assumption")
add("c_subsequent_month_cc", 50000, "HK$ per month", "gamma", se=12500, group="post-progression therapy",
    description="Conventional-care arm: drug cost per month on subsequent therapy (mix: the next real-world regimen, "
    "pomalidomide-, carfilzomib-, daratumumab- or selinexor-based, as in LocoMMotion's 91 regimens)",
    source=A + "HA SFI prices of the regimens not found (evidence gap); same placeholder as c_cc_regimen_month, SE 25%; "
    "regimen mix from LocoMMotion (Mateos MV et al. Leukemia 2022/2024; P)")
add("c_subsequent_month_eqcel", 50000, "HK$ per month", "gamma", se=12500, group="post-progression therapy",
    description="Eque-cel arm: drug cost per month on subsequent therapy after CAR-T relapse (mix: conventional "
    "regimens as in the comparator arm; bispecific antibodies where available)",
    source=A + "no data on the therapy mix after eque-cel relapse in Hong Kong and no HA prices (evidence gap): same "
    "placeholder as the conventional-care arm, drawn independently in the PSA; SE 25%, varied over its 95% interval in "
    "the one-way analysis; a costlier mix (e.g. bispecific antibodies) can be entered here when HA prices are known")
add("p_teae_g34_cc", 0.528, "probability", "beta", a=131, b=117, group="conventional care",
    description="Grade 3/4 adverse events on conventional care", source="LocoMMotion: 52.8% grade 3/4 TEAE (Mateos MV et al. Leukemia 2022; P); Beta D")
add("ward_days_ae_cc", 5, "days", "gamma", se=1.5, group="conventional care",
    description="Ward days per grade 3/4 adverse event on conventional care", source=A + "5 days, SE 30%")
add("terminal_care_days", 14, "days", "gamma", se=4, group="disease management",
    description="In-patient days of terminal care per death", source=A + "14 days, SE 4")

# Utilities (annual weights) and disutilities
add("u_pf", 0.72, "annual utility", "beta", se=0.03, group="utilities", description="Progression-free utility (both arms), at the starting age (age-adjusted each cycle, setting utility_norms)",
    source=A + "no published >=4L TCE RRMM utilities (ISPOR EU 2023 SLR: none); below the 2L value 0.737 (NICE TA1133 EAG; A); SE 0.03")
add("du_pd", 0.11, "utility decrement", "gamma", se=0.05, group="utilities",
    description="Utility decrement on progression: progressed utility u_pd = u_pf - du_pd (so u_pd <= u_pf in every PSA draw)",
    source=A + "evidence gap (domain evidence 6.6 placeholders u_pf 0.72, u_pd 0.61): decrement 0.72 - 0.61 = 0.11, "
    "Gamma (non-negative) with SE 0.05 (the SE of the former u_pd placeholder)")
add("du_crs_g12", 0.05, "utility decrement", "gamma", se=0.02, group="adverse-event disutilities",
    description="Disutility of grade 1-2 CRS (grade 2 value, conservative)", source="Howell TA et al. PharmacoEcon Open 2022;6(3):367 (P): grade 2 CRS -0.05; SE assumption")
add("du_crs_g3", 0.23, "utility decrement", "gamma", se=0.05, group="adverse-event disutilities",
    description="Disutility of grade >= 3 CRS", source="Howell TA et al. PharmacoEcon Open 2022 (P): grade 3-4 CRS -0.23; SE assumption")
add("du_icans", 0.04, "utility decrement", "gamma", se=0.02, group="adverse-event disutilities",
    description="Disutility of grade 1-2 neurological events", source="Howell TA et al. PharmacoEcon Open 2022 (P): -0.04; SE assumption")
add("ae_duration_days", 14, "days", "fixed", group="adverse-event disutilities",
    description="Duration over which an adverse-event disutility applies", source=A + "14 days")
add("du_ae_cc", 0.05, "utility decrement", "gamma", se=0.02, group="adverse-event disutilities",
    description="Disutility of a grade 3/4 adverse event on conventional care", source=A + "0.05 (as grade 2 CRS); SE 0.02")

# Joint draws of eque-cel PFS and OS (docs/flagship.md, "Coherent survival draws")
add("rho_pfs_os_eqcel", 0.79, "correlation", "fixed", group="survival dependence",
    description="Correlation of the standardised draws of eque-cel PFS and OS coefficients (PSA): a draw with a "
    "better PFS has a better OS. Not a per-draw parameter: it sets the joint distribution of the two curves "
    "(0 = independent)",
    source="Dimopoulos M et al. BMC Cancer 2024 (31 RCTs, 56 arms, 10,450 RRMM patients): arm-level Pearson "
    "correlation of median PFS and median OS 0.79 (P); range 0.42-0.91 (Etekal T et al. Br J Haematol 2022, RRMM "
    "PFS-OS correlation 0.76, 95% CI 0.42-0.91; P) in the scenarios. Assumption: the arm-level correlation "
    "applies to the estimation uncertainty of one arm's borrowed OS given its PFS")

# State-transition structural alternative (NICE DSU TSD 19)
add("pps_rate_month", float(np.log(2) / (13.8 - 4.6)), "per month", "lognormal", se=0.015, group="post-progression survival",
    description="Post-progression death rate (state-transition model)",
    source="D: difference of LocoMMotion mean OS and mean PFS under exponential curves: 1/((13.8-4.6)/ln 2) per month (Leukemia 2024; P); SE assumption 20%")


#: Kind of each parameter (the Parameters sheet's kind column, issue 25; domains in hta.inputs.kinds).
KINDS = {
    **{n: "cost" for n in ("c_eqcel_price", "c_ward_day", "c_icu_day", "c_sopc", "c_apheresis_session",
                           "c_lymphodepletion_drugs", "c_ivig_month", "c_tocilizumab_dose", "c_ltfu_year",
                           "c_cc_regimen_month", "c_subsequent_month_cc", "c_subsequent_month_eqcel")},
    **{n: "probability" for n in ("p_bridging", "p_not_infused", "p_death_if_not_infused", "p_crs_g3_eqcel",
                                  "p_crs_g12_eqcel", "p_icans_eqcel", "p_ivig", "p_tocilizumab_eqcel",
                                  "p_infection_g34_eqcel", "p_pd_on_subsequent_cc", "p_pd_on_subsequent_eqcel",
                                  "p_teae_g34_cc")},
    **{n: "duration" for n in ("bridging_months", "los_cart_days", "icu_days_crs_g3", "extra_ward_days_icans",
                               "ivig_months", "ward_days_infection", "ltfu_years", "ward_days_ae_cc",
                               "terminal_care_days", "ae_duration_days")},
    **{n: "count" for n in ("n_apheresis_sessions", "n_lymphodepletion_visits", "n_tocilizumab_doses",
                            "n_monitoring_visits", "n_visits_on_treatment_month", "n_visits_followup_month")},
    "u_pf": "utility",
    **{n: "utility decrement" for n in ("du_pre_infusion", "du_pd", "du_crs_g12", "du_crs_g3", "du_icans",
                                        "du_infection_g34", "du_ae_cc")},
    "pps_rate_month": "rate",
    "rho_pfs_os_eqcel": "free",  # a correlation, -1 to 1: no kind of its own
}

# ---------------------------------------------------------------------------------------------
# Budget impact (sheets Budget and BudgetShares; docs/bia.md)
# ---------------------------------------------------------------------------------------------
HK_MM_CASES_2019 = 320          # shared/data/hk_myeloma_incidence.csv
HK_POP_MID_2019 = 7_524_100     # shared/data/hk_midyear_population.csv (provisional, Aug 2019)
HK_POP_MID_2024 = 7_531_800     # same file (provisional, Aug 2024 release: the same kind of figure as 2019's)
INCIDENCE_2019 = HK_MM_CASES_2019 / HK_POP_MID_2019 * 1e5
INCIDENCE_GROWTH = 1.40 ** (1 / 10) - 1   # "an increase of about 40% compared with a decade ago"
POP_GROWTH = (HK_POP_MID_2024 / HK_POP_MID_2019) ** (1 / 5) - 1

SRC_CASES = ("HA figure of 320 new multiple myeloma cases in Hong Kong in 2019, as reported in the CUHK Faculty of "
             "Medicine press release 'CUHK's study sees a rising trend of multiple myeloma incidence...' (2022), "
             "med.cuhk.edu.hk/press-releases (A; secondary report of the HK Cancer Registry count; "
             "shared/data/hk_myeloma_incidence.csv)")
SRC_POP_2019 = ("C&SD mid-2019 provisional population 7,524,100 (Aug 2019 release, as reported at "
                "hongkongnews.worldtimes.news/mid-year-population-at-7-5m/; shared/data/hk_midyear_population.csv) (N)")

BUDGET = [
    # item, value, low, high, unit, description, source
    ("start_year", 2026, None, None, "calendar year", "First budget year (year of HA listing)",
     A + "listing in 2026, the year after Hong Kong DoH approval of Fucaso on 27 Nov 2025 (pharmaceutical-business-"
     "review.com, 2025-11-28; evidence.md 1) under the '1+' mechanism"),
    ("horizon_years", 5, None, None, "years", "Years of budget impact",
     "ISPOR BIA good practice II (Sullivan SD et al. Value Health 2014;17:5-14): 1-5 years (P)"),
    ("new_strategy", "eqcel", None, None, "", "The new drug", "models/fucaso_rrmm.py strategy name"),
    ("population", HK_POP_MID_2019, None, None, "persons", "Hong Kong mid-year population, 2019", SRC_POP_2019),
    ("population_year", 2019, None, None, "calendar year", "Year of the population and incidence figures",
     "the year of the only HK myeloma count found (shared/data/hk_myeloma_incidence.csv)"),
    ("population_growth", POP_GROWTH, -0.005, 0.005, "per annum", "Projected population growth",
     "D: C&SD provisional mid-year populations, 7,524,100 in 2019 (Aug 2019 release) and 7,531,800 in 2024 (Aug 2024 "
     "release, Xinhua via en.people.cn 16 Aug 2024; shared/data/hk_midyear_population.csv): (7,531,800 / 7,524,100)^(1/5) "
     "- 1 = +0.02% a year (provisional against provisional; the revised mid-2024 figure, 7,524,100 in the Feb 2025 "
     "release, would give 0%); range +/-0.5% a year is an assumption"),
    ("incidence_per_100000", INCIDENCE_2019, 0.8 * INCIDENCE_2019, 1.2 * INCIDENCE_2019, "per 100,000 per year",
     "Crude incidence of multiple myeloma, Hong Kong 2019",
     "D: 320 new cases / 7,524,100 x 100,000 = 4.25. " + SRC_CASES + ". Range +/-20%: assumption (rounded secondary "
     "figure; evidence.md 6.8 bia_inc; a clinician quotes 'around 350 new cases a year', pharmaboardroom.com, N)"),
    ("incidence_growth", INCIDENCE_GROWTH, 0.0, 0.05, "per annum", "Projected growth of the incidence rate",
     "D: 1.40^(1/10) - 1 = 3.4% a year from 'an increase of about 40% compared with a decade ago' (HA data, CUHK "
     "press release 2022; A); assumption: the whole trend is put on the rate (population growth 0) and continues "
     "to 2030; range 0-5% a year is an assumption"),
    ("eligible_tce_4l", 0.25, 0.15, 0.35, "proportion", "Reach a 4th line, triple-class exposed",
     A + "share of newly diagnosed patients who reach a 4th line after a PI, an IMiD and an anti-CD38 antibody; "
     "no Hong Kong figure found (evidence.md 4.9: gap, needs HA data or clinician input); range 15-35%"),
    ("eligible_fit_cart", 0.5, 0.3, 0.7, "proportion", "Fit for CAR-T (performance status, organ function, age)",
     A + "half of 4th-line patients fit for CAR-T; no data found; more than 60% of Hong Kong myeloma patients are "
     "aged 65 or more (am730, HKU team; N) while FUMANBA-1 enrolled ages 39-70 (ASH 2022; A); range 30-70%"),
    ("eligible_ha", 0.9, 0.8, 1.0, "proportion", "Treated in the Hospital Authority (public sector)",
     A + "90% of eligible patients are treated in HA hospitals; no figure found; range 80-100%"),
    ("prevalent_patients", 0, 0, 50, "patients", "Prevalent pool of eligible patients starting in year 1",
     A + "no backlog in the base case (patients at this line live about 20 months on conventional care, LocoMMotion "
     "median OS 13.8 months); high value 50, about one year of eligible patients alive at listing"),
    ("uptake_curve", "linear", None, None, "", "Uptake of eque-cel among eligible patients", A + "linear uptake"),
    ("uptake_year_1", 0.2, 0.1, 0.3, "proportion", "Eque-cel share in 2026",
     A + "20% in the first year (HA CAR-T capacity ~30 patients a year for all indications in 2021, SCMP 24 May "
     "2021, N); range 10-30%"),
    ("uptake_peak", 0.5, 0.3, 0.7, "proportion", "Peak eque-cel share",
     A + "50% at peak (fitness, manufacturing slots and patient choice limit uptake; in Mainland China ~3,600 of "
     ">30,000 eligible patients a year received commercial CAR-T by late 2025, Caixin Global 9 Jan 2026, N); "
     "range 30-70%"),
    ("uptake_peak_year", 4, None, None, "budget year", "Year in which the peak is reached",
     A + "peak in the 4th year (2029)"),
    ("entry", "mid-year", None, None, "", "Patients start through the year (on average at mid-year)",
     A + "incident patients reach the eligible line evenly over the year"),
    ("price_parameter", "c_eqcel_price", 1_000_000, 2_000_000, "HK$ per patient", "Price range for the one-way analysis",
     A + "low HK$1.0 M (a 26% discount on the base case); high HK$2 M, the cost of locally manufactured CAR-T "
     "(SCMP 2023, article 3237473; N)"),
]

BUDGET_SHARES = [
    dict(strategy="cc", share_without=1.0, displacement=1.0,
         source=A + "conventional care (real-world physician's choice, as LocoMMotion) is the only current "
         "treatment at this line in HA; eque-cel takes all its patients from it"),
    dict(strategy="eqcel", share_without=0.0,
         source=A + "not used in HA before listing (the Named Patient Programme since Nov 2024, evidence.md 1, is "
         "outside the HA budget)"),
]


# ---------------------------------------------------------------------------------------------
# Payers, managed-entry agreements, capacity (sheets Payers, Agreements, Capacity; docs/agreements.md)
# ---------------------------------------------------------------------------------------------
CCF_COVER = (0.92 + 0.95) / 2          # CCF programme covers 92-95% of the drug cost of a qualifying patient
SF_CCF_QUALIFY = 0.5                   # assumption: half of the patients pass the means test
SFI_SF = round(SF_CCF_QUALIFY * CCF_COVER, 4)
SRC_SFI = (A + "the conventional-care and subsequent-therapy regimens at this line (pomalidomide-, carfilzomib-, "
           "daratumumab-based) are self-financed items with safety net (HADF category 3: patient purchase, safety "
           "net via Samaritan Fund/Community Care Fund; evidence.md 4.1); HA pays none of the drug. D: SF/CCF share "
           f"= {SF_CCF_QUALIFY:g} (assumption: half of patients pass the means test; no data) x {CCF_COVER:.3f} (the CCF "
           "programme 'will cover 92 to 95 per cent of the drug's cost', SCMP 28 Jul 2011, scmp.com/article/974668; N) "
           f"= {SFI_SF:g}; the patient pays the rest")
SRC_HA_SERVICE = ("D: HA public-hospital services, 90% publicly subsidised: the target of the 2026 fees-and-charges "
                  "reform (gazetted 25 Apr 2025; evidence.md 4.8, A); the patient's 10% is the fees of eligible persons "
                  "(assumption: the same share on every service line; SF/CCF do not cover standard fees)")
SRC_CART_PAYER = (A + "if listed, HA funds the CAR-T product (the listing the Cost Assessment Panel negotiates; "
                  "evidence.md 4.1); SF and CCF did not cover cell therapies (LegCo Q17, 13 Jan 2021; evidence.md 4.2, A)")
SFI_ROW = {"HA": 0.0, "SF/CCF": SFI_SF, "patient": round(1.0 - SFI_SF, 4)}
SERVICE_ROW = {"HA": 0.9, "SF/CCF": 0.0, "patient": 0.1}
PAYERS = [
    # category (the model's cost lines; "not infused: X" lines are paid like X), shares, source
    ("CAR-T acquisition", {"HA": 1.0, "SF/CCF": 0.0, "patient": 0.0}, SRC_CART_PAYER),
    ("conventional-care regimen", SFI_ROW, SRC_SFI),
    ("subsequent therapy", SFI_ROW, SRC_SFI),
    ("bridging therapy", SFI_ROW, SRC_SFI + " (bridging is costed at the conventional-care regimen's monthly cost)"),
] + [(c, SERVICE_ROW, SRC_HA_SERVICE) for c in (
    "leukapheresis", "lymphodepletion", "infusion admission", "CRS/ICANS management", "immunoglobulin",
    "post-infusion monitoring", "long-term follow-up", "out-patient care (progression-free)",
    "out-patient care (progressed)", "terminal care", "adverse events")]

SRC_AIFA = ("AIFA 'payment at result' for CAR-T (Kymriah, Aug 2019): tranches at infusion, at 6 months and at 12 "
            "months, the later ones only without progression (emo-casa.com 8 Oct 2019; heatinformatics.com; "
            "mapbiopharma.com 9 Aug 2019; N)")
AGREEMENTS = [
    # item, value, unit, description, source
    ("outcome_upfront", 0.5, "share of net price", "Outcome-based scheme: share paid at infusion",
     A + "tranche sizes are not public; half at infusion. Structure: " + SRC_AIFA),
    ("instalment_1_months", 6, "months since infusion", "First outcome-based instalment", SRC_AIFA),
    ("instalment_1_share", 0.25, "share of net price", "Paid at 6 months if progression-free", A + "a quarter"),
    ("instalment_1_condition", "progression-free", "", "Condition of the first instalment", SRC_AIFA),
    ("instalment_2_months", 12, "months since infusion", "Second outcome-based instalment", SRC_AIFA),
    ("instalment_2_share", 0.25, "share of net price", "Paid at 12 months if progression-free", A + "a quarter"),
    ("instalment_2_condition", "progression-free", "", "Condition of the second instalment", SRC_AIFA),
    ("refund_not_infused", 1.0, "share of price", "Refund for a patient apheresed but not infused (price billed at "
     "apheresis)", A + "full refund when the product is not infused (manufacturing failure, death or progression "
     "before infusion); the base case pays on infusion, which is the same for the payer in expectation but later"),
    ("cap_patients_per_year", 15, "patients a year", "Price-volume: eque-cel patients a year paid at the net price",
     A + "half of HA's ~30 CAR-T patients a year for all indications (SCMP 24 May 2021; evidence.md 3, N)"),
    ("share_above_cap", 0.0, "share of net price", "Paid for patients above the cap", A + "the company supplies "
     "patients above the cap free of charge"),
]

P_DEATH_WAIT = float(1.0 - np.exp(-np.log(2) / 13.8))
RATE_PROG_WAIT = 0.5 * (np.log(2) / 4.6 - np.log(2) / 13.8)
P_PROG_WAIT = float(1.0 - np.exp(-RATE_PROG_WAIT))
CAPACITY = [
    ("slots_per_year", 20, "patients a year", "Eque-cel treatment slots a year (apheresis, manufacturing, infusion)",
     A + "two-thirds of HA's ~30 CAR-T patients a year for all indications (SCMP 24 May 2021; evidence.md 3, N); "
     "the Nanjing manufacturing slots for Hong Kong are not public"),
    ("p_death_waiting_month", round(P_DEATH_WAIT, 4), "per month", "Death while waiting",
     "D: 1 - exp(-ln 2 / 13.8): LocoMMotion final median OS 13.8 months on real-world care (the model's "
     "conventional-care OS; Leukemia 2024, P)"),
    ("p_progression_waiting_month", round(P_PROG_WAIT, 4), "per month", "Progression beyond CAR-T eligibility while waiting",
     "D: half (assumption: half of progressions make the patient unfit) of the progression rate ln 2 / 4.6 - ln 2 / 13.8 "
     "per month (LocoMMotion medians PFS 4.6, OS 13.8 months; P), as a monthly probability"),
    ("fixed_centre_cost_year", 3_000_000, "HK$ a year", "Fixed costs of the CAR-T centre (cell-therapy coordinators, "
     "quality and accreditation staff, cell storage)", A + "no Hong Kong figure found; HK$3 M a year, varied in the "
     "budget sheet's notes"),
    ("initial_waiting", 0, "patients", "Patients waiting at listing", A + "as the Budget sheet's prevalent_patients = 0"),
]


def _negotiation_sheets(wb) -> None:
    """The sheets Payers, Agreements and Capacity (read by hta.excel.payers_reader)."""
    ws = wb.create_sheet("Payers")
    ws.append(["category", "HA", "SF/CCF", "patient", "source"])
    for category, row, source in PAYERS:
        ws.append([category, row["HA"], row["SF/CCF"], row["patient"], source])
    for name, records in (("Agreements", AGREEMENTS), ("Capacity", CAPACITY)):
        ws = wb.create_sheet(name)
        ws.append(["item", "value", "unit", "description", "source"])
        for record in records:
            ws.append(list(record))
    for name in ("Payers", "Agreements", "Capacity"):
        sheet = wb[name]
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["E"].width = 100


ABOUT = [
    "Eque-cel (Fucaso) vs conventional care in triple-class-exposed RRMM: Hong Kong Hospital Authority perspective",
    "Input workbook of models/fucaso_rrmm.py; the model and its assumptions: docs/flagship.md; the schema: the README sheet "
    "and docs/inputs.md. Regenerate with: python inputs/build_fucaso_hk.py",
    "Every number has a source (evidence tier P/A/N/D/E as in shared/domain/evidence.md) or the word 'assumption' with its rationale.",
    "Key assumptions: eque-cel OS (unpublished) borrowed from cilta-cel (CARTITUDE-1); the HK price of eque-cel is not public",
    "(base case HK$1.36 M anchored on Mainland China CAR-T prices; the threshold price is the headline result).",
    "Survival curves are calibrated to published medians and landmarks (no digitised KM available): weaker evidence, flagged in sources.",
    "Costs: HK$, HA public sector, NEP Gazette charges as unit costs; price year 2025.",
    "Budget impact (sheets Budget, BudgetShares; docs/bia.md): HK myeloma incidence (320 cases in 2019) and population; "
    "the eligible shares, uptake and displacement are assumptions, labelled as such.",
    "Payers, managed-entry agreements and capacity (sheets Payers, Agreements, Capacity; docs/agreements.md): who pays "
    "each cost line, the agreement terms negotiated on, treatment slots and the waiting list.",
]


def _write(path: Path) -> None:
    """Fill the blank template (README, drop-down lists, column notes) with the flagship's inputs."""
    from openpyxl import load_workbook

    sys.path.insert(0, str(HERE.parent))
    from hta.excel.template import write_template

    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        write_template(tmp)
        wb = load_workbook(tmp)
        about = wb.create_sheet("About", 0)
        for line in ABOUT:
            about.append([line])
        about["A1"].font = Font(bold=True, size=13)
        about.column_dimensions["A"].width = 140

        ws = wb["Settings"]
        rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value}
        next_row = max(rows.values()) + 1
        for setting, value, unit, description, source in SETTINGS:
            r = rows.get(setting)
            if r is None:
                r, next_row = next_row, next_row + 1
                ws.cell(r, 1, setting)
            for col, v in ((2, value), (3, unit), (4, description), (5, source)):
                ws.cell(r, col, v if v != "" else None)

        def fill(name, records):
            sheet = wb[name]
            headers = [c.value for c in sheet[1]]
            for i, record in enumerate(records, start=2):
                for key, value in record.items():
                    if value is not None and not (isinstance(value, float) and np.isnan(value)):
                        sheet.cell(i, headers.index(key) + 1, value)

        fill("Strategies", [dict(strategy=s, label=lab, description=d) for s, lab, d in STRATEGIES])
        fill("Parameters", [dict(name=n, value=v, unit=u, distribution=d, se=se, param_a=a, param_b=b, group=g,
                                 low=LOW_HIGH.get(n, (None, None))[0], high=LOW_HIGH.get(n, (None, None))[1],
                                 description=desc, source=src, kind=KINDS[n]) for (n, v, u, d, se, a, b, g, desc, src) in P])
        fill("Survival", [dict(strategy=s, endpoint=e, input="parametric", distribution=d, time_unit="months",
                               description=desc, source=src) for (s, e, d, desc, src) in SURVIVAL])
        coef_rows = []
        for (s, e, names, coef, cov, src) in COEFFICIENTS:
            for i, name in enumerate(names):
                row = dict(strategy=s, endpoint=e, coefficient=name, estimate=float(coef[i]), source=src)
                for j in range(len(names)):
                    row[f"cov_{j + 1}"] = float(cov[i, j])
                coef_rows.append(row)
        fill("SurvivalCoefficients", coef_rows)
        # Budget: known items on the template's rows (which carry the drop-down lists); the
        # eligibility steps replace the template's example step, in order, at the end.
        ws = wb["Budget"]
        headers = [c.value for c in ws[1]]
        rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value}
        next_row = rows.pop("eligible_line_of_therapy")
        for item, value, low, high, unit, description, source in BUDGET:
            r = rows.get(item)
            if r is None:
                r, next_row = next_row, next_row + 1
            record = dict(item=item, value=value, low=low, high=high, unit=unit or None, description=description,
                          source=source)
            for key, v in record.items():
                ws.cell(r, headers.index(key) + 1, v)
        fill("BudgetShares", BUDGET_SHARES)
        _negotiation_sheets(wb)
        for unused in ("Dirichlet", "KM_data", "IPD_data", "LifeTable"):
            del wb[unused]
        for sheet in wb.worksheets:
            for row in sheet.iter_rows(min_row=2):
                for c in row:
                    if isinstance(c.value, str) and len(c.value) > 60:
                        c.alignment = Alignment(vertical="top", wrap_text=True)
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


SURVIVAL = [
    ("eqcel", "PFS", "weibull", "Eque-cel progression-free survival", SRC_EQ_PFS),
    ("eqcel", "OS", "weibull", "Eque-cel overall survival (assumption)", SRC_EQ_OS),
    ("cc", "PFS", "exponential", "Conventional care PFS", SRC_CC_PFS),
    ("cc", "OS", "exponential", "Conventional care OS", SRC_CC_OS),
]
COEFFICIENTS = [
    ("eqcel", "PFS", ("log_shape", "log_scale"), EQ_PFS, EQ_PFS_COV, SRC_EQ_PFS),
    ("eqcel", "OS", ("log_shape", "log_scale"), EQ_OS, EQ_OS_COV, SRC_EQ_OS),
    ("cc", "PFS", ("log_rate",), CC_PFS, CC_PFS_COV, SRC_CC_PFS),
    ("cc", "OS", ("log_rate",), CC_OS, CC_OS_COV, SRC_CC_OS),
]


if __name__ == "__main__":
    _write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {OUT if len(sys.argv) == 1 else sys.argv[1]}")
    print("eque-cel PFS weibull", np.exp(EQ_PFS), "OS", np.exp(EQ_OS))
