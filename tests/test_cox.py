"""Cox proportional hazards and log-rank tests (hta.survival.cox) against R's survival package.

Reference numbers: R 4.2.2 Patched (2022-11-10), survival 3.5-3, data refdata/{veteran, lung,
ovarian}_R_survival.csv (exported from survival 3.5-3), options(digits = 15). For a model m:
    format(c(coef(m), sqrt(diag(vcov(m))), m$loglik, m$wald.test, m$score), digits = 15)
(the Wald statistic unrounded from m$wald.test; summary() rounds it), and for a test x:
    format(c(x$chisq, x$obs, x$exp), digits = 15)
lung: status 1 = censored, 2 = dead; R drops rows with missing covariates (na.omit), done here
explicitly. Tolerance 1e-6 relative (R stops Newton at a relative log-likelihood change of 1e-9).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hta.errors import HtaError
from hta.survival.cox import coxph, logrank

REF = "/work/shared/refdata/"
RTOL = 1e-6


@pytest.fixture(scope="module")
def data():
    v = pd.read_csv(REF + "veteran_R_survival.csv")
    lung = pd.read_csv(REF + "lung_R_survival.csv")
    lung["dead"] = lung["status"] - 1
    o = pd.read_csv(REF + "ovarian_R_survival.csv")
    return {"veteran": v, "lung": lung, "ovarian": o}


# name -> (R formula, (time, event), covariates, strata column, ties,
#          coef, se, loglik (null, fit), wald, score, n, events)
R_COX = {
    # coxph(Surv(time, status) ~ trt + karno + age + prior, data = veteran, ties = "efron")
    "veteran efron": ("veteran", ("time", "status"), ["trt", "karno", "age", "prior"], None, "efron",
                      [0.19379344477690796, -0.03426601715001149, -0.00403316460938124, -0.00608569257726456],
                      [0.18630874617460327, 0.00525302548897418, 0.00920199077154825, 0.02027049822351754],
                      (-505.449054918058, -483.832539734399), 44.8070156828966, 47.2821782107334, 137, 128),
    "veteran breslow": ("veteran", ("time", "status"), ["trt", "karno", "age", "prior"], None, "breslow",
                        [0.18969927828204261, -0.03405457310176372, -0.00393111769442073, -0.00613953168873460],
                        [0.18622800709504445, 0.00524767082071903, 0.00920762327902404, 0.02026143179686511],
                        (-505.883956283116, -484.492901276350), 44.3181332865297, 46.7490663248384, 137, 128),
    # coxph(Surv(time, status) ~ trt + karno + strata(celltype), data = veteran, ties = ...)
    "veteran strata efron": ("veteran", ("time", "status"), ["trt", "karno"], "celltype", "efron",
                             [0.2328346768894961, -0.0358011230001631], [0.20109874489548660, 0.00553019093073314],
                             (-338.736207226184, -317.580554890043), 42.775983863678, 45.763768777516, 137, 128),
    "veteran strata breslow": ("veteran", ("time", "status"), ["trt", "karno"], "celltype", "breslow",
                               [0.2275210382356846, -0.0355631447273601], [0.20080505314006664, 0.00552440657055699],
                               (-339.141598423308, -318.228773072873), 42.2756662617667, 45.2008418119496, 137, 128),
    # coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = ...)
    "lung efron": ("lung", ("time", "dead"), ["age", "sex", "ph.ecog"], None, "efron",
                   [0.0110667645600735, -0.5526123957036310, 0.4637284753704277],
                   [0.00926741101370053, 0.16773905378726350, 0.11357726616199662],
                   (-744.480455761440, -729.230121374862), 29.9292512092047, 30.4999227049491, 227, 164),
    "lung breslow": ("lung", ("time", "dead"), ["age", "sex", "ph.ecog"], None, "breslow",
                     [0.0110411363494885, -0.5518895697875973, 0.4629470405901639],
                     [0.00926677011353555, 0.16774244802101848, 0.11357405206130104],
                     (-744.692819266161, -729.488705176774), 29.8390008396609, 30.4064069153299, 227, 164),
    # coxph(Surv(futime, fustat) ~ rx + age, data = ovarian): no tied event times, so Efron = Breslow
    "ovarian efron": ("ovarian", ("futime", "fustat"), ["rx", "age"], None, "efron",
                      [-0.803973012665114, 0.147326595469114], [0.6320493718794501, 0.0461470477408026],
                      (-34.9849403711626, -27.0418988630084), 13.4675068952860, 18.5571233836198, 26, 12),
    "ovarian breslow": ("ovarian", ("futime", "fustat"), ["rx", "age"], None, "breslow",
                        [-0.803973012665114, 0.147326595469114], [0.6320493718794501, 0.0461470477408026],
                        (-34.9849403711626, -27.0418988630084), 13.4675068952860, 18.5571233836198, 26, 12),
}


@pytest.mark.parametrize("key", list(R_COX))
def test_coxph_matches_r(data, key):
    name, (tcol, ecol), cols, strata, ties, coef, se, (ll0, ll), wald, score, n, events = R_COX[key]
    d = data[name].dropna(subset=cols)
    res = coxph(d[tcol], d[ecol], d[cols], ties=ties, strata=None if strata is None else d[strata])
    assert list(res.table.index) == cols
    np.testing.assert_allclose(res.table["coef"], coef, rtol=RTOL)
    np.testing.assert_allclose(res.table["se"], se, rtol=RTOL)
    assert res.loglik_null == pytest.approx(ll0, rel=1e-12)  # no iteration involved
    assert res.loglik == pytest.approx(ll, rel=1e-10)
    assert res.wald.statistic == pytest.approx(wald, rel=RTOL)
    assert res.score.statistic == pytest.approx(score, rel=1e-10)  # at coef = 0: no iteration
    assert res.lr.statistic == pytest.approx(2 * (ll - ll0), rel=RTOL)
    assert res.lr.df == res.wald.df == res.score.df == len(cols)
    assert res.lr.p_value == pytest.approx(stats.chi2.sf(2 * (ll - ll0), len(cols)), rel=1e-5)
    assert (res.n, res.n_events) == (n, events)
    # HR and its 95% CI, as summary(m)$conf.int: exp(coef -/+ 1.959964 se)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(res.table["hr"], np.exp(coef), rtol=RTOL)
    np.testing.assert_allclose(res.table["lower"], np.exp(np.array(coef) - z * np.array(se)), rtol=1e-5)
    np.testing.assert_allclose(res.table["upper"], np.exp(np.array(coef) + z * np.array(se)), rtol=1e-5)


def test_veteran_published_conf_int(data):
    # summary(coxph(Surv(time, status) ~ trt + karno + age + prior, data = veteran))$conf.int
    res = coxph(data["veteran"]["time"], data["veteran"]["status"], data["veteran"][["trt", "karno", "age", "prior"]])
    np.testing.assert_allclose(res.table["lower"], [0.842514010070463, 0.956416531975662, 0.978172997914114,
                                                    0.955218528480429], rtol=RTOL)
    np.testing.assert_allclose(res.table["upper"], [1.748838541954759, 0.976314728932923, 1.014100898749677,
                                                    1.034216105628440], rtol=RTOL)


def test_many_small_strata_and_a_single_covariate(data):
    # l <- lung[!is.na(lung$inst), ]; m <- coxph(Surv(time, status) ~ sex + strata(inst), data = l)
    # c(coef, se, m$score, m$wald.test, 2 * diff(m$loglik)); 18 institutions, some of one patient
    lung = data["lung"].dropna(subset=["inst"])
    res = coxph(lung["time"], lung["dead"], lung["sex"], strata=lung["inst"])
    assert res.table.index.tolist() == ["sex"]
    assert res.coef["sex"] == pytest.approx(-0.522693752619593, rel=RTOL)
    assert res.table.loc["sex", "se"] == pytest.approx(0.180697042479560, rel=RTOL)
    assert res.score.statistic == pytest.approx(8.524467363323184, rel=1e-10)
    assert res.wald.statistic == pytest.approx(8.367438516123563, rel=RTOL)
    assert res.lr.statistic == pytest.approx(8.761221859101056, rel=RTOL)
    # coxph(Surv(time, status) ~ trt, data = veteran): coef 0.01774256951873628, score 0.00964528282457524
    v = data["veteran"]
    one = coxph(v["time"], v["status"], v["trt"].to_numpy())
    assert one.coef["x1"] == pytest.approx(0.01774256951873628, rel=RTOL)
    assert one.score.statistic == pytest.approx(0.00964528282457524, rel=1e-10)


# survdiff(...) -> chisq, obs, exp (weighted by S(t-)^rho for rho > 0)
R_LOGRANK = [
    # survdiff(Surv(time, status) ~ trt, data = veteran)
    ("veteran", ("time", "status"), "trt", None, 0.0, 0.00822734320235077, [64, 64],
     [64.5001966636009, 63.4998033363991]),
    # survdiff(Surv(time, status) ~ celltype, data = veteran): groups adeno, large, smallcell, squamous
    ("veteran", ("time", "status"), "celltype", None, 0.0, 25.4037003457854, [26, 26, 45, 31],
     [15.6937646143605, 34.5494783863493, 30.1020793268148, 47.6546776724754]),
    # survdiff(Surv(time, status) ~ sex, data = lung)
    ("lung", ("time", "dead"), "sex", None, 0.0, 10.3267419548856, [112, 53], [91.5817390295728, 73.4182609704272]),
    # survdiff(Surv(futime, fustat) ~ rx, data = ovarian)
    ("ovarian", ("futime", "fustat"), "rx", None, 0.0, 1.06273986129141, [7, 5], [5.23353101714994, 6.76646898285006]),
    # survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran): obs/exp summed over strata
    ("veteran", ("time", "status"), "trt", "celltype", 0.0, 0.701743346844319,
     [9 + 14 + 28 + 13, 17 + 12 + 17 + 18],
     [10.14070044577549 + 16.53147377102788 + 32.31075954728693 + 9.22461921278221,
      15.85929955422450 + 9.46852622897211 + 12.68924045271306 + 21.77538078721779]),
    # survdiff(Surv(time, status) ~ celltype, data = veteran, rho = 1) (Peto-Peto)
    ("veteran", ("time", "status"), "celltype", None, 1.0, 19.70962245806149,
     [16.06599132028366, 9.56231237224927, 28.42543314934026, 13.39047264259681],
     [10.80677228100096, 17.48041328993543, 19.00591434952641, 20.15110956400720]),
    # survdiff(Surv(time, status) ~ sex, data = lung, rho = 1)
    ("lung", ("time", "dead"), "sex", None, 1.0, 12.7141514011575, [70.3775422947522, 28.7286532721899],
     [55.5710854717843, 43.5351100951578]),
    # survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran, rho = 1)
    ("veteran", ("time", "status"), "trt", "celltype", 1.0, 1.00967958007588, None, None),
]


@pytest.mark.parametrize("name, cols, group, strata, rho, chisq, obs, exp", R_LOGRANK)
def test_logrank_matches_r_survdiff(data, name, cols, group, strata, rho, chisq, obs, exp):
    d = data[name]
    res = logrank(d[cols[0]], d[cols[1]], d[group], strata=None if strata is None else d[strata], rho=rho)
    assert res.statistic == pytest.approx(chisq, rel=1e-10)
    assert res.df == d[group].nunique() - 1
    assert res.p_value == pytest.approx(stats.chi2.sf(chisq, res.df), rel=1e-8)
    if obs is not None:
        np.testing.assert_allclose(res.table["observed"], obs, rtol=1e-10)
        np.testing.assert_allclose(res.table["expected"], exp, rtol=1e-10)
    np.testing.assert_allclose(res.variance.sum(axis=1), 0.0, atol=1e-9)  # rows of V sum to 0


def test_logrank_variance_matches_r(data):
    # survdiff(Surv(time, status) ~ sex, data = lung)$var[1, 1]
    lung = data["lung"]
    res = logrank(lung["time"], lung["dead"], lung["sex"])
    assert res.variance[0, 0] == pytest.approx(40.3714339796426, rel=1e-10)
    assert res.table["n"].tolist() == [138, 90]


def test_reconstructed_bonner_trial(data):
    # IPD reconstructed (Guyot et al. 2012) from the digitised Bonner et al. 2006 curves, as
    # hta.survival.reconstruct builds it; R on the same IPD (written to CSV):
    #   coxph(Surv(time, event) ~ arm, d): coef -0.327219602708056, se 0.128417962620473,
    #   score 6.550657779515789, wald 6.492725993109262, LR 6.530428929089339
    #   survdiff(Surv(time, event) ~ arm, d): chisq 6.55541129185758
    # Published: HR 0.68 (95% CI 0.52-0.89), log-rank p = 0.005; reconstructed HR 0.72 (0.56-0.93).
    from hta.survival.reconstruct import read_guyot_files, reconstruct_ipd

    parts = []
    for arm, label in (("RT", 0), ("RTcetux", 1)):
        km, table = read_guyot_files(REF + f"guyot_bonner_{arm}_surv.txt", REF + f"guyot_bonner_{arm}_nrisk.txt")
        parts.append(reconstruct_ipd(km, table).assign(arm=label))
    d = pd.concat(parts, ignore_index=True)
    res = coxph(d["time"], d["event"], d[["arm"]])
    assert res.coef["arm"] == pytest.approx(-0.327219602708056, rel=RTOL)
    assert res.table.loc["arm", "se"] == pytest.approx(0.128417962620473, rel=RTOL)
    assert res.score.statistic == pytest.approx(6.550657779515789, rel=1e-10)
    assert res.wald.statistic == pytest.approx(6.492725993109262, rel=RTOL)
    assert res.lr.statistic == pytest.approx(6.530428929089339, rel=RTOL)
    assert res.hazard_ratio["arm"] == pytest.approx(0.68, abs=0.05)
    assert logrank(d["time"], d["event"], d["arm"]).statistic == pytest.approx(6.55541129185758, rel=1e-10)


def test_efron_equals_breslow_without_ties_and_score_is_logrank():
    # distinct event times: the two tie methods are the same likelihood; for one binary
    # covariate the Cox score test at 0 is then the log-rank statistic (Cox 1972; Collett 2015, 3.9)
    rng = np.random.default_rng(2)
    n = 300
    arm = rng.integers(0, 2, n)
    t = rng.exponential(1.0 / np.where(arm == 1, 0.7, 1.0))
    c = rng.exponential(2.0, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    e = coxph(time, event, arm, ties="efron")
    b = coxph(time, event, arm, ties="breslow")
    assert e.coef.iloc[0] == pytest.approx(b.coef.iloc[0], rel=1e-12)
    assert e.score.statistic == pytest.approx(logrank(time, event, arm).statistic, rel=1e-10)
    # the hazard ratio does not depend on the time unit
    months = coxph(time * 12, event, arm)
    assert months.coef.iloc[0] == pytest.approx(e.coef.iloc[0], rel=1e-12)


def test_cox_and_logrank_errors(data):
    v = data["veteran"]
    with pytest.raises(HtaError, match="ties"):
        coxph(v["time"], v["status"], v["trt"], ties="exact")
    with pytest.raises(HtaError, match="covariate 'ph.ecog'.*finite"):
        coxph(data["lung"]["time"], data["lung"]["dead"], data["lung"][["ph.ecog"]])
    with pytest.raises(HtaError, match="constant"):
        coxph(v["time"], v["status"], np.ones(len(v)))
    with pytest.raises(HtaError, match="singular"):
        coxph(v["time"], v["status"], np.column_stack([v["trt"], 2 * v["trt"]]))
    with pytest.raises(HtaError, match="numeric"):
        coxph(v["time"], v["status"], v[["celltype"]])
    with pytest.raises(HtaError, match="event"):
        coxph(v["time"], v["status"] * 2, v["trt"])
    with pytest.raises(HtaError, match="no events|at least one event"):
        coxph(v["time"], np.zeros(len(v)), v["trt"])
    with pytest.raises(HtaError, match="at least 2 distinct groups"):
        logrank(v["time"], v["status"], np.ones(len(v)))
    with pytest.raises(HtaError, match="rho"):
        logrank(v["time"], v["status"], v["trt"], rho=-1)
    with pytest.raises(HtaError, match="strata"):
        logrank(v["time"], v["status"], v["trt"], strata=v["trt"].iloc[:10])


def test_monotone_likelihood_is_refused():
    # every patient with x = 1 dies before any with x = 0 is at risk alone: the partial
    # likelihood rises for ever in beta (R warns "Loglik converged before variable 1")
    t = np.arange(1.0, 21.0)
    event = np.r_[np.ones(10), np.zeros(10)]
    x = np.r_[np.ones(10), np.zeros(10)]
    with pytest.raises(HtaError, match="covariate 'x1'.*grows without bound"):
        coxph(t, event, x)
