"""Mixture cure models fitted by maximum likelihood, optionally with background mortality.

Model (as R ``flexsurvcure``, mixture form): a fraction pi of patients is cured; the rest
follows an "uncured" parametric distribution S_u (flexsurv parameterisation, coefficients as in
``hta.survival.curves``). Without background mortality

    S(t) = pi + (1 - pi) S_u(t),        f(t) = (1 - pi) f_u(t).

With background (relative-survival) mortality S_bg (a :class:`~hta.survival.curves.SurvivalCurve`
in the data's time unit, e.g. :class:`hta.survival.adjust.GeneralPopulation`), everyone also
carries the general-population hazard:

    S(t) = S_bg(t) (pi + (1 - pi) S_u(t)),
    h(t) = h_bg(t) + (1 - pi) f_u(t) / (pi + (1 - pi) S_u(t)),

so the likelihood uses the total hazard h = h_bg + excess at each event time and S at every
time. The log-likelihood reported here is the **full** likelihood of the observed data,
sum d log f(t) + (1 - d) log S(t), including the background terms -H_bg(t) and log h_bg(t);
flexsurv (``bhazard``) omits the constant -sum H_bg(t_i), so its value differs by that constant
(AICs of models fitted with the same background compare the same way in both).

Coefficients: ``logit_cure`` (logit pi) first, then the uncured distribution's coefficients in
flexsurv order (e.g. Weibull ``log_shape, log_scale``). The 95% interval of pi is the Wald
interval on the logit scale mapped back (delta method). The fitted curve is a
:class:`hta.survival.adjust.MixtureCure`; draws of the coefficients map to a vectorised
``MixtureCure`` with ``n`` samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from hta.errors import HtaError
from hta.numerics import covariance_factor
from hta.survival.adjust import MixtureCure
from hta.survival.curves import DISTRIBUTIONS as FAMILIES
from hta.survival.curves import ParametricCurve, SurvivalCurve, make_curve
from hta.survival.fit import fit as fit_parametric
from hta.survival.km import kaplan_meier
from hta.survival.mle import (
    InformationCriteria,
    Likelihood,
    covariance,
    maximise,
    validate,
)

__all__ = ["CURE_DISTRIBUTIONS", "CureFit", "CureWarning", "fit_mixture_cure"]

CURE_DISTRIBUTIONS = ("weibull", "lognormal", "loglogistic", "exponential", "gompertz", "gamma")


class CureWarning(RuntimeWarning):
    """The cure model did not converge or the cure fraction is at its boundary."""


def _cure_terms(base: type[ParametricCurve], log_h_bg: np.ndarray | None):
    """Per-observation log-likelihood terms (excluding -H_bg) and scores for (logit pi, coefs).

    ``log_h_bg`` is the log background hazard at each observation on the normalised time scale
    (None: no background mortality).
    """

    def terms(p, t, logt, d):
        alpha = float(p[0])
        ones, zeros = np.ones_like(t), np.zeros_like(t)
        log_f, g_f = base.loglik_terms(list(p[1:]), t, logt, ones)
        log_s, g_s = base.loglik_terms(list(p[1:]), t, logt, zeros)
        log_pi = -np.logaddexp(0.0, -alpha)
        log_1mpi = -np.logaddexp(0.0, alpha)
        pi = np.exp(log_pi)
        log_mix = np.logaddexp(log_pi, log_1mpi + log_s)
        w_cured = np.exp(log_pi - log_mix)  # share of survivors who are cured
        # censored: log(pi + (1 - pi) S_u)
        ll_c = log_mix
        ga_c = w_cured - pi
        gt_c = (1.0 - w_cured) * g_s
        # event: log((1 - pi) f_u) or log(h_bg (pi + (1-pi) S_u) + (1 - pi) f_u)
        b_term = log_1mpi + log_f
        if log_h_bg is None:
            ll_e = b_term
            ga_e = -pi * ones
            gt_e = g_f
        else:
            a_term = log_h_bg + log_mix
            ll_e = np.logaddexp(a_term, b_term)
            r_a = np.exp(a_term - ll_e)
            ga_e = r_a * (w_cured - pi) - (1.0 - r_a) * pi
            gt_e = r_a * (1.0 - w_cured) * g_s + (1.0 - r_a) * g_f
        ll = np.where(d == 1, ll_e, ll_c)
        g_alpha = np.where(d == 1, ga_e, ga_c)
        g_theta = np.where(d[None, :] == 1, gt_e, gt_c)
        return ll, np.vstack([g_alpha[None, :], g_theta])

    return terms


@dataclass
class CureFit(InformationCriteria):
    """A fitted mixture cure model.

    ``coef``/``cov``: (logit_cure, uncured coefficients...) in the data's time unit;
    ``cure_fraction`` with ``cure_lower``/``cure_upper`` (95%, delta method on the logit scale);
    ``loglik`` (full likelihood, see module docstring), ``aic``, ``bic``, ``converged``,
    ``message``; ``background`` the background curve or None.
    """

    distribution: str
    coef: pd.Series
    cov: pd.DataFrame
    loglik: float
    n_obs: float
    n_events: float
    converged: bool
    message: str
    background: SurvivalCurve | None

    @property
    def cure_fraction(self) -> float:
        return float(special.expit(self.coef["logit_cure"]))

    def _cure_interval(self):
        se = float(np.sqrt(self.cov.loc["logit_cure", "logit_cure"]))
        z = special.ndtri(0.975)
        a = float(self.coef["logit_cure"])
        return float(special.expit(a - z * se)), float(special.expit(a + z * se))

    @property
    def cure_lower(self) -> float:
        return self._cure_interval()[0]

    @property
    def cure_upper(self) -> float:
        return self._cure_interval()[1]

    def _curve_from(self, coefs: np.ndarray) -> MixtureCure:
        uncured = make_curve(self.distribution, coefs[:, 1:])
        return MixtureCure(uncured, special.expit(coefs[:, 0]), self.background)

    def curve(self, arm: int = 0) -> MixtureCure:
        """The fitted curve, an ``hta.survival.adjust.MixtureCure`` with n = 1."""
        return self._curve_from(self.coef.to_numpy()[None, :])

    def survival(self, t):
        return self.curve().survival(t)

    def hazard(self, t):
        return self.curve().hazard(t)

    def cumhaz(self, t):
        return self.curve().cumhaz(t)

    def sample_coefficients(self, n: int, seed=None) -> np.ndarray:
        """``n`` multivariate-normal draws of (logit pi, coefficients), shape ``(n, p)``."""
        if not self.converged:
            raise HtaError(f"mixture cure ({self.distribution}) fit: expected a converged fit to "
                           f"sample from; found '{self.message}'")
        rng = np.random.default_rng(seed)
        chol = covariance_factor(self.cov.to_numpy(), f"mixture cure ({self.distribution}) fit: coefficient covariance")
        z = rng.standard_normal((int(n), self.n_par))
        return self.coef.to_numpy()[None, :] + z @ chol.T

    def sample(self, n: int, seed=None) -> MixtureCure:
        """A vectorised ``MixtureCure`` with ``n`` PSA draws."""
        return self._curve_from(self.sample_coefficients(n, seed))

    sample_curves = sample

    @property
    def table(self) -> pd.Series:
        lo, hi = self._cure_interval() if self.converged else (np.nan, np.nan)
        out = {"distribution": self.distribution, "background": self.background is not None,
               "cure_fraction": self.cure_fraction, "cure_lower": lo, "cure_upper": hi,
               "loglik": self.loglik, "aic": self.aic, "bic": self.bic, "n_par": self.n_par,
               "converged": self.converged}
        out.update(self.coef.to_dict())
        return pd.Series(out)

    def __repr__(self):
        return (f"CureFit({self.distribution}, cure={self.cure_fraction:.4f}, "
                f"loglik={self.loglik:.4f}, converged={self.converged})")


def fit_mixture_cure(time, event, distribution: str = "weibull", background: SurvivalCurve | None = None,
                     *, weights=None, start_cure: float | None = None) -> CureFit:
    """Fit a mixture cure model by maximum likelihood with right censoring.

    Parameters
    ----------
    time, event : (N,) times > 0 (any unit) and 0/1 event indicators.
    distribution : the uncured distribution, one of ``CURE_DISTRIBUTIONS``.
    background : optional background-mortality curve in the data's time unit (n = 1), e.g.
        ``GeneralPopulation(LifeTable.hong_kong(), start_age, male_share, years_per_unit)``.
    weights : optional (N,) case weights.
    start_cure : optional starting cure fraction (default: several, including the KM tail).
    """
    name = str(distribution).strip().lower()
    if name not in CURE_DISTRIBUTIONS:
        raise HtaError(f"mixture cure distribution: expected one of {', '.join(CURE_DISTRIBUTIONS)}; "
                       f"found '{distribution}'")
    if background is not None:
        if not isinstance(background, SurvivalCurve):
            raise HtaError(f"background: expected a survival curve (e.g. GeneralPopulation); "
                           f"found {type(background).__name__}")
        if background.n != 1:
            raise HtaError(f"background: expected a single curve (n = 1); found n = {background.n}")
    data = validate(time, event, weights, None)
    t = np.asarray(time, dtype=float)
    c = data.time_scale
    base = FAMILIES[name]

    log_h_bg = None
    h_bg_total = 0.0
    if background is not None:
        h_bg = background.hazard(t)[0]
        if np.any((h_bg <= 0) & (data.d == 1)):
            raise HtaError("background: expected a positive hazard at every event time; found 0")
        log_h_bg = np.log(np.maximum(h_bg, np.finfo(float).tiny)) + np.log(c)  # normalised time
        h_bg_total = float(data.w @ background.cumhaz(t)[0])

    family = Likelihood(f"cure_{name}", ("logit_cure",) + base.coef_names,
                        _cure_terms(base, log_h_bg), 1)

    # starting values: uncured = the standard fit; cure fraction from the KM tail and a grid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        std = fit_parametric(time, event, name, weights=weights)[name]
    theta_std = std.coef.to_numpy() / base.scale_mult(c) - np.array(base.log_shift) * np.log(c)
    km = kaplan_meier(t, data.d)
    tail = float(np.clip(km["survival"].iloc[-1], 0.02, 0.9))
    fractions = [start_cure] if start_cure is not None else []
    fractions += [0.8 * tail, 0.5 * tail, 0.1]
    starts = []
    for pi0 in fractions:
        pi0 = float(np.clip(pi0, 0.01, 0.95))
        for theta0 in (theta_std, theta_std + _faster(base, 0.5)):
            starts.append(np.concatenate([[special.logit(pi0)], theta0]))
    opt = maximise(family, starts, data)

    mult = np.concatenate([[1.0], base.scale_mult(c)])
    shift = np.concatenate([[0.0], np.array(base.log_shift) * np.log(c)])
    coef = opt.theta * mult + shift
    names = ["logit_cure"] + list(base.coef_names)
    cov = covariance(opt, mult=mult)
    loglik = opt.loglik - data.n_events * np.log(c) - h_bg_total
    result = CureFit(name, pd.Series(coef, index=names, name="coef"),
                     pd.DataFrame(cov, index=names, columns=names), float(loglik), data.n_obs,
                     data.n_events, opt.converged, opt.message, background)
    if not opt.converged:
        warnings.warn(f"mixture cure ({name}) did not converge: {opt.message}", CureWarning,
                      stacklevel=2)
    elif not 1e-4 < result.cure_fraction < 1 - 1e-4:
        warnings.warn(f"mixture cure ({name}): cure fraction {result.cure_fraction:.2g} is at its "
                      f"boundary; the data do not support a cure plateau", CureWarning, stacklevel=2)
    return result


def _faster(base: type[ParametricCurve], log_factor: float) -> np.ndarray:
    """A shift of the coefficients that shortens the uncured times by exp(log_factor)."""
    shift = np.zeros(len(base.coef_names))
    # log_shift marks how each coefficient moves with the time scale (+1 log scale, -1 log rate)
    shift += -log_factor * np.array(base.log_shift)
    return shift
