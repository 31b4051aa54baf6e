"""Parametric survival curves against scipy.stats and the flexsurv definitions.

References: flexsurv (Jackson 2016, J Stat Softw 70(8)) distribution definitions, written out in
docs/parameterisations.md; scipy.stats distributions as independent implementations.
"""

import numpy as np
import pytest
from scipy import integrate, special, stats

from hta.errors import HtaError
from hta.survival.curves import (
    DISTRIBUTIONS,
    Exponential,
    Gamma,
    GenGamma,
    Gompertz,
    LogLogistic,
    LogNormal,
    Weibull,
    WeibullPH,
    make_curve,
)

T = np.array([0.05, 0.3, 1.0, 2.0, 3.7, 8.0, 20.0])


def _check_against(curve, dist, t=T, rtol=1e-9):
    """survival, cumhaz, hazard of a n=1 curve against a frozen scipy distribution."""
    np.testing.assert_allclose(curve.survival(t)[0], dist.sf(t), rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(curve.cumhaz(t)[0], -dist.logsf(t), rtol=rtol)
    np.testing.assert_allclose(curve.hazard(t)[0], dist.pdf(t) / dist.sf(t), rtol=1e-7)
    np.testing.assert_allclose(curve.log_density(t)[0], dist.logpdf(t), rtol=1e-8, atol=1e-10)


# scipy equivalents (mapping documented in docs/parameterisations.md)
SCIPY_CASES = [
    (Exponential(0.3), stats.expon(scale=1 / 0.3)),
    (Weibull(1.7, 4.0), stats.weibull_min(c=1.7, scale=4.0)),
    (Weibull(0.6, 2.5), stats.weibull_min(c=0.6, scale=2.5)),
    (WeibullPH(1.7, 0.2), stats.weibull_min(c=1.7, scale=0.2 ** (-1 / 1.7))),
    (Gompertz(0.15, 0.05), stats.gompertz(c=0.05 / 0.15, scale=1 / 0.15)),
    (LogNormal(1.1, 0.7), stats.lognorm(s=0.7, scale=np.exp(1.1))),
    (LogLogistic(2.2, 3.0), stats.fisk(c=2.2, scale=3.0)),
    (Gamma(2.5, 0.8), stats.gamma(a=2.5, scale=1 / 0.8)),
    (Gamma(0.7, 0.3), stats.gamma(a=0.7, scale=1 / 0.3)),
]


@pytest.mark.parametrize("curve,dist", SCIPY_CASES, ids=lambda x: repr(x)[:30])
def test_matches_scipy(curve, dist):
    _check_against(curve, dist)


@pytest.mark.parametrize("mu,sigma,q", [(1.0, 0.6, 0.8), (0.4, 1.2, -0.5), (2.0, 0.3, 2.5),
                                        (1.5, 0.9, -1.7)])
def test_gengamma_matches_scipy(mu, sigma, q):
    # Prentice parameterisation -> scipy gengamma(a=Q^-2, c=Q/sigma, scale=e^mu (Q^2)^(sigma/Q))
    dist = stats.gengamma(a=q**-2, c=q / sigma, scale=np.exp(mu) * (q * q) ** (sigma / q))
    _check_against(GenGamma(mu, sigma, q), dist, rtol=1e-8)


def test_flexsurv_formulas_written_out():
    t = T
    # weibullPH: h = shape * scale * t^(shape-1), S = exp(-scale t^shape)
    c = WeibullPH(1.4, 0.3)
    np.testing.assert_allclose(c.hazard(t)[0], 1.4 * 0.3 * t**0.4, rtol=1e-12)
    np.testing.assert_allclose(c.survival(t)[0], np.exp(-0.3 * t**1.4), rtol=1e-12)
    # gompertz: h = rate exp(shape t), H = rate/shape (exp(shape t) - 1), negative shape allowed
    g = Gompertz(-0.2, 0.4)
    np.testing.assert_allclose(g.hazard(t)[0], 0.4 * np.exp(-0.2 * t), rtol=1e-12)
    np.testing.assert_allclose(g.cumhaz(t)[0], 0.4 / -0.2 * (np.exp(-0.2 * t) - 1), rtol=1e-12)
    # llogis: h = (shape/scale)(t/scale)^(shape-1) / (1 + (t/scale)^shape)
    ll = LogLogistic(0.8, 2.0)
    z = t / 2.0
    np.testing.assert_allclose(ll.hazard(t)[0], (0.8 / 2.0) * z**-0.2 / (1 + z**0.8), rtol=1e-12)


def test_gompertz_shape_zero_is_exponential():
    t = T
    for shape in (0.0, 1e-12, -1e-12):
        np.testing.assert_allclose(Gompertz(shape, 0.3).survival(t)[0], np.exp(-0.3 * t),
                                   rtol=1e-10)
    np.testing.assert_allclose(Gompertz(0.0, 0.3).quantile(0.5), np.log(2) / 0.3, rtol=1e-12)


def test_gompertz_negative_shape_plateau():
    g = Gompertz(-0.5, 0.2)
    plateau = np.exp(0.2 / -0.5)  # S(inf) = exp(rate/shape) for shape < 0
    s = g.survival(np.array([1e3, 1e6]))[0]
    np.testing.assert_allclose(s, plateau, rtol=1e-12)
    assert np.isinf(g.quantile(0.5)[0])  # 1 - 0.5 = 0.5 is below the plateau 0.67: never reached
    q = g.quantile(0.2)[0]
    np.testing.assert_allclose(g.survival([q])[0, 0], 0.8, rtol=1e-12)


def test_rmst_closed_forms():
    rate = np.array([0.05, 0.4, 2.0])
    tmax = 7.0
    np.testing.assert_allclose(Exponential(rate).rmst(tmax), (1 - np.exp(-rate * tmax)) / rate,
                               rtol=1e-12)
    k, lam = np.array([0.5, 1.0, 3.0]), np.array([2.0, 5.0, 4.0])
    # Weibull RMST = lam Gamma(1 + 1/k) P(1/k, (T/lam)^k) (incomplete gamma)
    expected = lam * special.gamma(1 + 1 / k) * special.gammainc(1 / k, (tmax / lam) ** k)
    w = Weibull(k, lam)
    np.testing.assert_allclose(w.rmst(tmax), expected, rtol=1e-12)
    # the generic quadrature reproduces the closed forms
    np.testing.assert_allclose(w._rmst_numeric(tmax), expected, rtol=1e-9)
    for c in (Exponential(rate), LogNormal([0.0, 1.0, 2.0], [0.05, 1.0, 3.0]),
              Gamma([0.3, 1.0, 4.0], [0.2, 1.0, 3.0]), WeibullPH(k, [0.1, 1.0, 2.0])):
        np.testing.assert_allclose(c._rmst_numeric(tmax), c.rmst(tmax), rtol=1e-8)


def test_rmst_numeric_against_scipy_quad():
    cases = [LogLogistic(1.3, 2.0), Gompertz(-0.3, 0.5), GenGamma(0.8, 0.9, -0.6),
             GenGamma(1.2, 0.5, 1.8)]
    for c in cases:
        expected, _ = integrate.quad(lambda x: c.survival([x])[0, 0], 0, 12.0, limit=200,
                                     epsabs=1e-12)
        np.testing.assert_allclose(c.rmst(12.0)[0], expected, rtol=1e-8)


def test_rmst_per_sample_horizon_and_zero():
    c = Exponential([0.1, 0.2])
    np.testing.assert_allclose(c.rmst(np.array([1.0, 3.0])),
                               [(1 - np.exp(-0.1)) / 0.1, (1 - np.exp(-0.6)) / 0.2], rtol=1e-12)
    np.testing.assert_allclose(LogLogistic(1.2, 1.0).rmst(0.0), [0.0])


def test_gengamma_special_cases():
    t = T
    mu, sigma = np.array([0.3, 1.4]), np.array([0.7, 1.3])
    # Q = 1: Weibull(shape = 1/sigma, scale = exp(mu))
    np.testing.assert_allclose(GenGamma(mu, sigma, 1.0).survival(t),
                               Weibull(1 / sigma, np.exp(mu)).survival(t), rtol=1e-10)
    np.testing.assert_allclose(GenGamma(mu, sigma, 1.0).hazard(t),
                               Weibull(1 / sigma, np.exp(mu)).hazard(t), rtol=1e-8)
    # Q = sigma: Gamma(shape = sigma^-2, rate = exp(-mu) / sigma^2)
    np.testing.assert_allclose(GenGamma(mu, sigma, sigma).survival(t),
                               Gamma(sigma**-2, np.exp(-mu) / sigma**2).survival(t), rtol=1e-10)


def test_gengamma_q_to_zero_is_lognormal_and_continuous():
    t = T
    ln = LogNormal(0.9, 0.8)
    for q in (0.0, 1e-8, -1e-8):
        gg = GenGamma(0.9, 0.8, q)
        np.testing.assert_allclose(gg.survival(t), ln.survival(t), atol=1e-8)
        # the true O(Q) difference is ~19 Q relative at t = 0.05 (z = -4.9): 2e-7 at Q = 1e-8
        np.testing.assert_allclose(gg.hazard(t), ln.hazard(t), rtol=1e-6)
    # continuity across the switch between interpolation and direct formula (|Q| = 1e-5)
    for edge in (1e-5, -1e-5):
        inside = GenGamma(0.9, 0.8, edge * (1 - 1e-9)).survival(t)
        outside = GenGamma(0.9, 0.8, edge * (1 + 1e-9)).survival(t)
        np.testing.assert_allclose(inside, outside, atol=1e-12)
    # S is smooth in Q: first differences on a fine Q grid vary slowly through 0
    qs = np.linspace(-4e-5, 4e-5, 17)
    s = GenGamma(np.full(17, 0.9), np.full(17, 0.8), qs).survival([2.0])[:, 0]
    second = np.diff(s, 2)
    assert np.max(np.abs(second)) < 1e-10


def test_gengamma_negative_q_median_matches_scipy():
    gg = GenGamma(1.0, 0.7, -0.9)
    np.testing.assert_allclose(gg.median(), gg.to_scipy().ppf(0.5), rtol=1e-10)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_quantile_inverts_survival(name):
    rng = np.random.default_rng(1)
    cls = DISTRIBUTIONS[name]
    coefs = rng.normal(0, 0.4, size=(6, len(cls.coef_names)))
    if name == "gompertz":
        coefs[:, 0] = np.abs(coefs[:, 0]) * 0.3
    c = cls.from_coefficients(coefs)
    for p in (0.1, 0.5, 0.9):
        q = c.quantile(p)
        s = c.survival(q[:, None])[:, 0]
        np.testing.assert_allclose(s, 1 - p, rtol=1e-9)
        np.testing.assert_allclose(c._quantile_numeric(p), q, rtol=1e-9)


def _random_batch(name, n=200, seed=7):
    rng = np.random.default_rng(seed)
    cls = DISTRIBUTIONS[name]
    return cls.from_coefficients(rng.normal(0, 1.0, size=(n, len(cls.coef_names))))


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_random_batches_are_valid_curves(name):
    c = _random_batch(name)
    t = np.concatenate([[0.0], np.geomspace(1e-4, 200, 120)])
    s, h, hz = c.survival(t), c.cumhaz(t), c.hazard(t)
    assert s.shape == h.shape == hz.shape == (200, t.size)
    assert not np.isnan(s).any() and not np.isnan(h).any() and not np.isnan(hz[:, 1:]).any()
    np.testing.assert_array_equal(s[:, 0], 1.0)
    np.testing.assert_array_equal(h[:, 0], 0.0)
    assert (np.diff(s, axis=1) <= 1e-15).all()
    assert (hz >= 0).all()
    assert ((s >= 0) & (s <= 1)).all()


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_coefficient_round_trip_and_take(name):
    c = _random_batch(name, n=5)
    coefs = c.coefficients()
    assert coefs.shape == (5, len(c.coef_names))
    again = make_curve(name, coefs)
    np.testing.assert_allclose(again.coefficients(), coefs, rtol=1e-12, atol=1e-14)
    one = c.take([3])
    np.testing.assert_allclose(one.survival(T), c.survival(T)[3:4], rtol=1e-12)
    # (p,) coefficients give n = 1
    assert make_curve(name, coefs[0]).n == 1


def test_coef_names_follow_flexsurv():
    assert Weibull.coef_names == ("log_shape", "log_scale")
    assert Exponential.coef_names == ("log_rate",)
    assert Gompertz.coef_names == ("shape", "log_rate")
    assert LogNormal.coef_names == ("meanlog", "log_sdlog")
    assert GenGamma.coef_names == ("mu", "log_sigma", "Q")
    w = Weibull.from_coefficients([np.log(1.5), np.log(10.0)])
    np.testing.assert_allclose([w.shape[0], w.scale[0]], [1.5, 10.0])


def test_per_sample_times_and_broadcasting():
    c = Exponential([0.1, 0.2])
    t = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(c.survival(t), np.exp(-np.array([[0.1, 0.2], [0.6, 0.8]])))
    assert Weibull(1.2, [1.0, 2.0, 3.0]).survival(T).shape == (3, T.size)


def test_log_space_tails():
    # Gamma(2, 1): S(t) = e^-t (1 + t) exactly, so H(t) = t - log(1 + t), even where S underflows
    t = np.array([10.0, 800.0, 5000.0])
    np.testing.assert_allclose(Gamma(2.0, 1.0).cumhaz(t)[0], t - np.log1p(t), rtol=1e-10)
    np.testing.assert_allclose(Gamma(2.0, 1.0).hazard(t)[0], t / (1 + t), rtol=1e-8)
    # log-normal: H = -log Phi(-z) far in the tail (z = 40)
    ln = LogNormal(0.0, 1.0)
    np.testing.assert_allclose(ln.cumhaz([np.exp(40.0)])[0, 0], -stats.norm.logsf(40.0), rtol=1e-10)
    # gengamma Q < 0 lower tail via the series: compare to scipy's logsf where it is finite
    gg = GenGamma(0.0, 0.3, -0.5)
    np.testing.assert_allclose(gg.cumhaz([30.0])[0, 0], -gg.to_scipy().logsf(30.0), rtol=1e-6)


def test_errors_are_readable():
    with pytest.raises(HtaError, match="weibull"):
        make_curve("weibul", [0.0, 0.0])
    with pytest.raises(HtaError, match="'scale'"):
        Weibull(1.0, -2.0)
    with pytest.raises(HtaError, match="non-negative"):
        Exponential(0.1).survival([-1.0, 2.0])
    with pytest.raises(HtaError, match="same number of samples"):
        Weibull([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(HtaError, match="shape"):
        Weibull.from_coefficients(np.zeros((2, 3)))


def test_rmst_infinite_horizon_is_the_mean():
    # means: lognormal exp(mu + s^2/2); gamma shape/rate; Weibull scale Gamma(1 + 1/shape)
    np.testing.assert_allclose(LogNormal(1.0, 0.5).rmst(np.inf), np.exp(1.125), rtol=1e-12)
    np.testing.assert_allclose(Gamma(2.0, 0.5).rmst(np.inf), 4.0, rtol=1e-12)
    np.testing.assert_allclose(Weibull(2.0, 3.0).rmst(np.inf), 3.0 * special.gamma(1.5), rtol=1e-12)
    with pytest.raises(HtaError, match="finite horizon"):
        LogLogistic(2.0, 1.0).rmst(np.inf)


def test_weibull_log_form_agrees_with_the_power_form():
    """Weibull H(t) is computed as exp(shape (log t - log scale)) (faster on PSA batches:
    docs/performance.md); it agrees with (t / scale)^shape within a few dozen units in the last
    place, relative to H, over shapes 0.1-10 and t / scale from 1e-6 to 1e3, S within 1e-14
    absolute, and t = 0 gives H = 0 and S = 1 exactly, written in place or not."""
    rng = np.random.default_rng(11)
    shape = np.exp(rng.uniform(np.log(0.1), np.log(10.0), 500))
    scale = np.exp(rng.uniform(-2.0, 5.0, 500))
    curve = Weibull(shape, scale)
    t = np.concatenate([[0.0], np.geomspace(1e-6, 1e3, 300) * np.exp(5.0)])
    power = (t[None, :] / scale[:, None]) ** shape[:, None]
    cumhaz = curve.cumhaz(t)
    finite = (power > 0) & np.isfinite(power)
    rel = np.abs(cumhaz - power)[finite] / power[finite]
    assert np.all(rel <= 64 * np.finfo(float).eps * (1.0 + np.abs(np.log(power[finite]))))
    survival = curve.survival(t)
    np.testing.assert_allclose(survival, np.exp(-power), rtol=0, atol=1e-14)
    assert np.all(cumhaz[:, 0] == 0.0) and np.all(survival[:, 0] == 1.0)
    out = np.empty_like(survival)
    assert curve.survival(t, out=out) is out and np.array_equal(out, survival)
