"""Restricted mean survival time with SE and CI (hta.survival.rmst).

References:
* Kaplan-Meier RMST and its SE: R 4.2.2, survival 3.5-3, on refdata/*_R_survival.csv:
    summary(survfit(Surv(time, status) ~ 1, data = veteran), rmean = 200)$table[c("rmean", "se(rmean)")]
  and the same by trt (veteran, tau 200 and 100), by sex (lung, tau 365) and for ovarian
  (Surv(futime, fustat), tau 1000 and 2000 -- beyond the last time 1227).
* Parametric RMST: closed forms. Exponential: (1 - exp(-lambda tau)) / lambda with the MLE
  lambda = d / sum(t) and se(log lambda) = 1 / sqrt(d). Weibull (S = exp(-(t/b)^a)):
  b Gamma(1 + 1/a) P(1/a, (tau/b)^a), P the regularised lower incomplete gamma. Point estimates
  also against R: survreg(Surv(time, status) ~ 1 [+ factor(trt)], data = veteran, dist =
  "weibull" / "lognormal"), then integrate(function(t) pweibull(t, 1/m$scale,
  exp(coef(m)[1]), lower.tail = FALSE), 0, 200, rel.tol = 1e-12)$value.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from hta.errors import HtaError
from hta.survival.fit import fit, fit_two_arms
from hta.survival.rmst import km_rmst, rmst

REF = "/work/shared/refdata/"


@pytest.fixture(scope="module")
def veteran():
    return pd.read_csv(REF + "veteran_R_survival.csv")


# (data, time, status, group column, group value, tau) -> (R rmean, R se(rmean))
R_KM = [
    ("veteran", "time", "status", None, None, 200.0, 92.84898910769, 6.18956900851),
    ("veteran", "time", "status", None, None, 100.0, 64.09691654050, 3.20561420717),
    ("veteran", "time", "status", "trt", 1, 200.0, 99.6230015264, 8.66425986842),
    ("veteran", "time", "status", "trt", 2, 200.0, 86.0385273109, 8.76995256287),
    ("lung", "time", "status", "sex", 1, 365.0, 241.495085192, 10.3582264911),
    ("lung", "time", "status", "sex", 2, 365.0, 297.465409532, 10.7913239788),
    ("ovarian", "futime", "fustat", None, None, 1000.0, 681.2411261941, 68.8737392275),
    ("ovarian", "futime", "fustat", None, None, 2000.0, 1177.973152338, 171.120661203),
]


@pytest.mark.parametrize("name, tcol, scol, gcol, gval, tau, r_mean, r_se", R_KM)
def test_km_rmst_matches_r_survival(name, tcol, scol, gcol, gval, tau, r_mean, r_se):
    data = pd.read_csv(REF + f"{name}_R_survival.csv")
    if gcol is not None:
        data = data[data[gcol] == gval]
    event = data[scol] - 1 if name == "lung" else data[scol]  # lung: status 1 = censored, 2 = dead
    res = km_rmst(data[tcol], event, tau)
    assert res.estimate == pytest.approx(r_mean, rel=1e-10)
    assert res.se == pytest.approx(r_se, rel=1e-10)
    z = stats.norm.ppf(0.975)
    assert (res.lower, res.upper) == pytest.approx((r_mean - z * r_se, r_mean + z * r_se), rel=1e-10)


def test_exponential_rmst_and_delta_se_closed_form(veteran):
    t, d = veteran["time"].to_numpy(float), veteran["status"].to_numpy(float)
    tau = 200.0
    lam = d.sum() / t.sum()
    closed = -np.expm1(-lam * tau) / lam
    # d RMST / d log(lambda) = tau exp(-lambda tau) - (1 - exp(-lambda tau)) / lambda
    grad = tau * np.exp(-lam * tau) - closed
    se_closed = abs(grad) / np.sqrt(d.sum())
    res = rmst(fit(t, d, "exponential")["exponential"], tau)
    assert res.estimate == pytest.approx(closed, rel=1e-7)
    assert res.se == pytest.approx(se_closed, rel=1e-5)
    assert res.method == "delta" and res.what == "arm 0"


def test_weibull_rmst_incomplete_gamma_and_r(veteran):
    model = fit(veteran["time"], veteran["status"], "weibull")["weibull"]
    a, b = np.exp(model.coef["log_shape"]), np.exp(model.coef["log_scale"])
    closed = b * special.gamma(1 + 1 / a) * special.gammainc(1 / a, (200.0 / b) ** a)
    res = rmst(model, 200.0)
    assert res.estimate == pytest.approx(closed, rel=1e-12)
    assert res.estimate == pytest.approx(95.6461928976, rel=1e-7)  # R survreg + integrate
    # the sampled SE agrees with the delta-method SE (asymptotic normal coefficients)
    sampled = rmst(model, 200.0, method="sample", n_draws=200_000, seed=3)
    assert sampled.estimate == res.estimate
    assert sampled.se == pytest.approx(res.se, rel=0.02)
    assert sampled.lower < res.estimate < sampled.upper


def test_lognormal_rmst_matches_r(veteran):
    model = fit(veteran["time"], veteran["status"], "lognormal")["lognormal"]
    assert rmst(model, 200.0).estimate == pytest.approx(88.8670099963, rel=1e-6)  # quadrature


def test_two_arm_rmst_and_difference(veteran):
    arm = (veteran["trt"] == 2).astype(int)
    models = fit_two_arms(veteran["time"], veteran["status"], arm, ["weibull", "exponential"])
    w = models["weibull"]
    # R: survreg(Surv(time, status) ~ factor(trt), dist = "weibull") + integrate
    assert rmst(w, 200.0, 0).estimate == pytest.approx(94.42653244307, rel=1e-7)
    assert rmst(w, 200.0, 1).estimate == pytest.approx(96.94938068539, rel=1e-7)
    diff = rmst(w, 200.0, "difference")
    assert diff.estimate == pytest.approx(2.52284824232, rel=1e-6)
    assert diff.what == "arm 1 - arm 0"
    # exponential with an arm covariate is saturated: independent rates d_j / T_j per arm, so
    # the SE of the difference is the root sum of squares of the per-arm closed-form SEs
    tau = 200.0
    ses, means = [], []
    for j in (0, 1):
        sub = veteran[arm == j]
        lam = sub["status"].sum() / sub["time"].sum()
        mean = -np.expm1(-lam * tau) / lam
        means.append(mean)
        ses.append(abs(tau * np.exp(-lam * tau) - mean) / np.sqrt(sub["status"].sum()))
    e = rmst(models["exponential"], tau, "difference")
    assert e.estimate == pytest.approx(means[1] - means[0], rel=1e-6)
    assert e.se == pytest.approx(np.hypot(*ses), rel=1e-4)
    z = stats.norm.ppf(0.95)
    narrow = rmst(models["exponential"], tau, "difference", conf_level=0.90)
    assert narrow.upper - narrow.estimate == pytest.approx(z * e.se, rel=1e-12)


def test_rmst_errors(veteran):
    model = fit(veteran["time"], veteran["status"], "weibull")["weibull"]
    with pytest.raises(HtaError, match="tau"):
        rmst(model, -1.0)
    with pytest.raises(HtaError, match="tau"):
        km_rmst(veteran["time"], veteran["status"], [100.0, 200.0])
    with pytest.raises(HtaError, match="method"):
        rmst(model, 100.0, method="bootstrap")
    with pytest.raises(HtaError, match="arm covariate"):
        rmst(model, 100.0, "difference")
    with pytest.raises(HtaError, match="arm"):
        rmst(model, 100.0, 2)
    with pytest.raises(HtaError, match="conf_level"):
        rmst(model, 100.0, conf_level=95)


def test_spline_without_knots_is_the_weibull(veteran):
    # A Royston-Parmar spline on the log cumulative hazard scale with no internal knots is the
    # Weibull (Royston & Parmar 2002): same RMST and, through the coefficient map, the same SE.
    from hta.survival.splines import fit_spline

    spline = fit_spline(veteran["time"], veteran["status"], knots=0, scale="hazard")
    weibull = fit(veteran["time"], veteran["status"], "weibull")["weibull"]
    a, b = rmst(spline, 200.0), rmst(weibull, 200.0)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-8)
    assert a.se == pytest.approx(b.se, rel=1e-5)


def test_mixture_cure_rmst_closed_form_and_se():
    # RMST of pi + (1 - pi) S_u(t) on [0, tau] = pi tau + (1 - pi) RMST_u(tau), Weibull S_u
    from hta.survival.cure import fit_mixture_cure

    rng = np.random.default_rng(5)
    n = 600
    cured = rng.random(n) < 0.3
    t = np.where(cured, np.inf, 2.0 * rng.weibull(1.3, n))
    c = rng.uniform(3.0, 8.0, n)
    model = fit_mixture_cure(np.minimum(t, c), (t <= c).astype(int), "weibull")
    pi = model.cure_fraction
    a, b = np.exp(model.coef["log_shape"]), np.exp(model.coef["log_scale"])
    uncured = b * special.gamma(1 + 1 / a) * special.gammainc(1 / a, (5.0 / b) ** a)
    res = rmst(model, 5.0)
    assert res.estimate == pytest.approx(pi * 5.0 + (1 - pi) * uncured, rel=1e-6)  # quadrature
    sampled = rmst(model, 5.0, method="sample", n_draws=50_000, seed=2)
    assert sampled.se == pytest.approx(res.se, rel=0.03)
    with pytest.raises(HtaError, match="arm 1"):
        rmst(model, 5.0, 1)
