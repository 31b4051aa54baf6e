"""Mixture cure models (hta.survival.cure): recovery of simulated cure fractions."""

import numpy as np
import pytest
from scipy import special

from hta.errors import HtaError
from hta.population.lifetables import LifeTable
from hta.survival.adjust import GeneralPopulation, MixtureCure
from hta.survival.cure import fit_mixture_cure

PI, SHAPE, SCALE = 0.3, 1.5, 2.0  # truth: 30% cured, uncured Weibull(1.5, 2 years)


def _simulate(seed, n=500, background=None):
    rng = np.random.default_rng(seed)
    cured = rng.random(n) < PI
    t_uncured = SCALE * rng.weibull(SHAPE, n)
    t_disease = np.where(cured, np.inf, t_uncured)
    if background is not None:  # background death time by inverting the cumulative hazard
        grid = np.linspace(0.0, 60.0, 60001)
        t_bg = np.interp(rng.exponential(size=n), background.cumhaz(grid)[0], grid)
        t_disease = np.minimum(t_disease, t_bg)
    censor = rng.uniform(3.0, 10.0, n)
    return np.minimum(t_disease, censor), (t_disease <= censor).astype(float)


@pytest.fixture(scope="module")
def hk_background():
    return GeneralPopulation(LifeTable.hong_kong(), start_age=75, male_share=0.5)


def test_recovers_cure_fraction_without_background():
    time, event = _simulate(11)
    res = fit_mixture_cure(time, event, "weibull")
    assert res.converged
    assert res.cure_lower < PI < res.cure_upper
    assert abs(res.cure_fraction - PI) < 0.06
    shape, scale = np.exp(res.coef[["log_shape", "log_scale"]].to_numpy())
    assert shape == pytest.approx(SHAPE, rel=0.15)
    assert scale == pytest.approx(SCALE, rel=0.15)
    # delta method on the logit scale
    se = np.sqrt(res.cov.loc["logit_cure", "logit_cure"])
    a = res.coef["logit_cure"]
    assert res.cure_upper == pytest.approx(special.expit(a + 1.959964 * se), rel=1e-6)


def test_recovers_cure_fraction_with_hong_kong_background(hk_background):
    time, event = _simulate(5, background=hk_background)
    res = fit_mixture_cure(time, event, "weibull", background=hk_background)
    assert res.converged
    assert res.cure_lower < PI < res.cure_upper
    naive = fit_mixture_cure(time, event, "weibull")  # ignoring background deaths
    assert naive.cure_fraction < res.cure_fraction  # background deaths look like non-cure


def test_loglik_is_the_full_likelihood_of_the_curve(hk_background):
    time, event = _simulate(7, n=300, background=hk_background)
    res = fit_mixture_cure(time, event, "weibull", background=hk_background)
    curve = res.curve()
    assert isinstance(curve, MixtureCure)
    log_s = -curve.cumhaz(time)[0]
    log_h = np.log(curve.hazard(time)[0])
    direct = np.sum(event * log_h + log_s)
    assert res.loglik == pytest.approx(direct, abs=1e-6)
    # and it is a maximum: every coordinate perturbation lowers it
    for j in range(res.n_par):
        for step in (-1e-3, 1e-3):
            c = res.coef.to_numpy().copy()
            c[j] += step
            other = res._curve_from(c[None, :])
            ll = np.sum(event * np.log(other.hazard(time)[0]) - other.cumhaz(time)[0])
            assert ll < res.loglik


def test_samples_map_to_vectorised_mixture_cure():
    time, event = _simulate(3)
    res = fit_mixture_cure(time, event, "weibull")
    draws = res.sample(2000, seed=1)
    assert isinstance(draws, MixtureCure) and draws.n == 2000
    s = draws.survival([1.0, 50.0])
    assert s.shape == (2000, 2)
    # without background survival tends to the cure fraction
    np.testing.assert_allclose(s[:, 1], draws.cure_fraction, atol=1e-6)
    assert np.mean(draws.cure_fraction) == pytest.approx(res.cure_fraction, abs=0.01)


@pytest.mark.parametrize("distribution", ["lognormal", "loglogistic"])
def test_other_uncured_distributions_fit(distribution):
    time, event = _simulate(2)
    res = fit_mixture_cure(time, event, distribution)
    assert res.converged and 0.15 < res.cure_fraction < 0.45
    assert res.aic == pytest.approx(-2 * res.loglik + 2 * 3)


def test_errors(hk_background):
    with pytest.raises(HtaError, match="distribution"):
        fit_mixture_cure([1, 2, 3], [1, 0, 1], "gengamma")
    with pytest.raises(HtaError, match="background"):
        fit_mixture_cure([1, 2, 3], [1, 0, 1], background="life table")
