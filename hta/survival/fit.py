"""Maximum-likelihood fits of parametric survival models to individual patient data.

``fit(time, event)`` fits seven families with right censoring and returns a :class:`FitResult`:
a table of log-likelihood, AIC and BIC, and one :class:`FittedModel` per family whose curve,
coefficients and covariance feed the decision model and its PSA.

Conventions (see ``docs/fitting.md``)
-------------------------------------
* **Likelihood.** The full likelihood on the time scale, as R ``flexsurv::flexsurvreg`` and
  ``survival::survreg`` report it: ``sum_events w log f(t) + sum_censored w log S(t)``.
* **Parameterisations** are flexsurv's; coefficients are on flexsurv's unconstrained scale in
  flexsurv's order (``hta.survival.curves`` ``coef_names``), e.g. Weibull
  ``(log_shape, log_scale)``. Times are in whatever unit the data use.
* **AIC** ``= -2 loglik + 2 p``; **BIC** ``= -2 loglik + log(n) p`` with ``n`` the number of
  observations (the sum of the weights if weights are given), as flexsurv.
* **Treatment arm.** With ``arm`` (0 = reference, 1 = comparator) one coefficient ``arm`` is added
  to the location parameter, as flexsurvreg's default covariate model: log rate (exponential,
  Gompertz, gamma), log scale (Weibull, log-logistic, Weibull PH), meanlog / mu (log-normal,
  generalised gamma). Its effect is reported as a hazard ratio (exponential, Weibull PH, Gompertz)
  or a time ratio / acceleration factor (the AFT families).
* **Covariance** of the unconstrained coefficients is the inverse of the observed information
  (a central-difference Jacobian of the analytic score).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

from hta.errors import HtaError
from hta.numerics import covariance_factor, is_positive_definite
from hta.survival.curves import make_curve

__all__ = ["fit", "fit_two_arms", "FitResult", "FittedModel", "FitWarning", "DISTRIBUTIONS"]

DISTRIBUTIONS: tuple[str, ...] = (
    "exponential", "weibull", "gompertz", "lognormal", "loglogistic", "gamma", "gengamma",
)
_EXTRA = ("weibullph",)  # fitted on request only: the Weibull likelihood, PH coefficients

_LOG_2PI = float(np.log(2.0 * np.pi))
_TINY = np.finfo(float).tiny
_COEF_LIMIT = 30.0  # |coefficient| beyond this on the normalised time scale = boundary


class FitWarning(RuntimeWarning):
    """A family did not converge; its row in the table says why."""


# ---------------------------------------------------------------------------------------------
# Per-observation log-likelihood contributions and their scores.
#
# Each ``_terms_<family>(p, t, logt, d)`` takes the unconstrained coefficients as a list ``p``
# (each a scalar or an (N,) array; only the location coefficient is ever an array), times ``t``,
# ``log t`` and event indicators ``d`` (0/1 floats) and returns ``(ll, g)``: ``ll`` (N,) is
# ``d log f(t) + (1 - d) log S(t)`` and ``g`` (k, N) its derivative in each coefficient.
# ---------------------------------------------------------------------------------------------


def _terms_exponential(p, t, logt, d):
    (log_rate,) = p
    rate_t = np.exp(log_rate) * t
    ll = d * log_rate - rate_t
    return ll, np.array([np.broadcast_to(d - rate_t, t.shape)])


def _terms_weibull(p, t, logt, d):
    # log h = log a - log t + z, H = e^z, z = a (log t - log b)
    log_a, log_b = p
    a = np.exp(log_a)
    z = a * (logt - log_b)
    with np.errstate(over="ignore"):
        u = np.exp(z)
    ll = d * (log_a - logt + z) - u
    g_log_a = d * (1.0 + z) - u * z
    g_log_b = a * (u - d)
    return ll, np.array([g_log_a, np.broadcast_to(g_log_b, t.shape)])


def _terms_loglogistic(p, t, logt, d):
    # S = 1/(1+e^z), log h = log a - log t + z - log(1+e^z), z = a (log t - log b)
    log_a, log_b = p
    a = np.exp(log_a)
    z = a * (logt - log_b)
    softplus = np.logaddexp(0.0, z)
    ll = d * (log_a - logt + z - softplus) - softplus
    dz = d * special.expit(-z) - special.expit(z)  # d ll / d z
    return ll, np.array([d + dz * z, np.broadcast_to(-a * dz, t.shape)])


def _terms_lognormal(p, t, logt, d):
    meanlog, log_sd = p
    sd = np.exp(log_sd)
    w = (logt - meanlog) / sd
    log_s = special.log_ndtr(-w)
    ll = d * (-0.5 * w * w - 0.5 * _LOG_2PI - log_sd - logt) + (1.0 - d) * log_s
    mills = np.exp(-0.5 * w * w - 0.5 * _LOG_2PI - log_s)  # phi(w) / Phi(-w)
    dw = -d * w - (1.0 - d) * mills  # d ll / d w
    return ll, np.array([np.broadcast_to(-dw / sd, t.shape), -d - w * dw])


def _expm1_over_x(x):
    small = np.abs(x) < 1e-10
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 + 0.5 * x, np.expm1(safe) / safe)


def _gompertz_g(x):
    """(x e^x - e^x + 1) / x^2, the derivative of expm1(a t)/a in a divided by t^2."""
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    with np.errstate(over="ignore", invalid="ignore"):
        direct = (safe * np.exp(safe) - np.expm1(safe)) / (safe * safe)
    series = 0.5 + x / 3.0 + x * x / 8.0 + x**3 / 30.0
    return np.where(small, series, direct)


def _terms_gompertz(p, t, logt, d):
    # h = b e^(a t), H = b t expm1(a t)/(a t)
    a, log_b = p
    b = np.exp(log_b)
    x = a * t
    with np.errstate(over="ignore"):
        cumhaz = b * t * _expm1_over_x(x)
        ll = d * (log_b + x) - cumhaz
        g_a = d * t - b * t * t * _gompertz_g(x)
    return ll, np.array([g_a, d - cumhaz])


def _log_upper_gamma(a, x):
    """log Q(a, x), floored at log(tiny) so that far-tail data never give -inf."""
    return np.log(np.maximum(special.gammaincc(a, x), _TINY))


def _log_lower_gamma(a, x):
    return np.log(np.maximum(special.gammainc(a, x), _TINY))


def _terms_gamma(p, t, logt, d):
    log_a, log_b = p
    a = np.exp(log_a)
    x = np.exp(log_b) * t
    logx = log_b + logt
    log_fx = a * logx - x - special.gammaln(a)  # log(x f_std(x)); log f(t) = log_fx - log t
    log_s = _log_upper_gamma(a, x)
    ll = d * (log_fx - logt) + (1.0 - d) * log_s
    # d log S / d log b = -x f_std(x) / S; d log S / d log a by central difference
    step = 1e-5
    dlog_s_dlog_a = (_log_upper_gamma(a * np.exp(step), x)
                     - _log_upper_gamma(a * np.exp(-step), x)) / (2 * step)
    g_log_a = d * a * (logx - special.digamma(a)) + (1.0 - d) * dlog_s_dlog_a
    g_log_b = d * (a - x) - (1.0 - d) * np.exp(log_fx - log_s)
    return ll, np.array([np.broadcast_to(g_log_a, t.shape), g_log_b])


_Q_LOGNORMAL = 1e-8  # |Q| below this: the log-normal limit (the direct formula loses digits)


def _stirling_correction(x):
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), accurate for large x."""
    big = x >= 30.0
    xs = np.where(big, x, 30.0)
    series = 1 / (12 * xs) - 1 / (360 * xs**3) + 1 / (1260 * xs**5) - 1 / (1680 * xs**7)
    xd = np.where(big, 1.0, x)
    direct = special.gammaln(xd) - ((xd - 0.5) * np.log(xd) - xd + 0.5 * _LOG_2PI)
    return np.where(big, series, direct)


def _gengamma_logf_logs(mu, log_sigma, q, t, logt):
    """(log f, log S) of the generalised gamma; q is a scalar."""
    sigma = np.exp(log_sigma)
    w = (logt - mu) / sigma
    if abs(q) < _Q_LOGNORMAL:
        return -0.5 * w * w - 0.5 * _LOG_2PI - log_sigma - logt, special.log_ndtr(-w)
    x = q * w
    shape = 1.0 / (q * q)
    # log f = log|Q| + Q^-2 log Q^-2 - log(sigma t) - lgamma(Q^-2) + Q^-2 (x - e^x), rewritten so
    # that the huge, cancelling terms of small |Q| never appear:
    #   = -log(sigma t) - log(2 pi)/2 - stirling(Q^-2) - (e^x - 1 - x)/Q^2
    small = np.abs(x) < 1e-3
    with np.errstate(over="ignore"):
        excess = np.where(small, w * w * (0.5 + x / 6 + x * x / 24 + x**3 / 120),
                          (np.expm1(x) - x) * shape)
        u = shape * np.exp(x)
    log_f = -logt - log_sigma - 0.5 * _LOG_2PI - _stirling_correction(shape) - excess
    log_s = _log_upper_gamma(shape, u) if q > 0 else _log_lower_gamma(shape, u)
    return log_f, log_s


def _terms_gengamma(p, t, logt, d):
    mu, log_sigma, q = p
    q = float(q)
    sigma = np.exp(log_sigma)
    w = (logt - mu) / sigma
    log_f, log_s = _gengamma_logf_logs(mu, log_sigma, q, t, logt)
    ll = d * log_f + (1.0 - d) * log_s
    # scores in w: d log f/dw = -expm1(Q w)/Q; d log S/dw = -sigma t h(t)
    dlogf_dw = -w * _expm1_over_x(q * w)
    with np.errstate(over="ignore"):
        dlogs_dw = -np.exp(log_f - log_s + log_sigma + logt)
    dw = d * dlogf_dw + (1.0 - d) * dlogs_dw
    g_mu = -dw / sigma
    g_log_sigma = -d - w * dw
    # d/dQ by central difference (the Q-derivative of the incomplete gamma has no closed form)
    step = 1e-4 * max(1.0, abs(q))
    f_hi, s_hi = _gengamma_logf_logs(mu, log_sigma, q + step, t, logt)
    f_lo, s_lo = _gengamma_logf_logs(mu, log_sigma, q - step, t, logt)
    g_q = (d * (f_hi - f_lo) + (1.0 - d) * (s_hi - s_lo)) / (2 * step)
    return ll, np.array([np.broadcast_to(g_mu, t.shape), g_log_sigma, g_q])


# ---------------------------------------------------------------------------------------------
# Family descriptions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    name: str
    coef_names: tuple[str, ...]
    terms: Callable
    location: int  # index of the coefficient a covariate shifts
    # time rescaling t = c t': coef = coef' * scale_mult + log(c) * log_shift (c a time scale)
    scale_mult: Callable[[float], np.ndarray]
    log_shift: tuple[float, ...]
    effect: str  # "hazard_ratio" or "time_ratio"
    effect_sign: float  # effect = exp(effect_sign * arm coefficient)


def _ones(k):
    return lambda c: np.ones(k)


_FAMILIES: dict[str, _Family] = {
    "exponential": _Family("exponential", ("log_rate",), _terms_exponential, 0,
                           _ones(1), (-1.0,), "hazard_ratio", 1.0),
    "weibull": _Family("weibull", ("log_shape", "log_scale"), _terms_weibull, 1,
                       _ones(2), (0.0, 1.0), "time_ratio", 1.0),
    "gompertz": _Family("gompertz", ("shape", "log_rate"), _terms_gompertz, 1,
                        lambda c: np.array([1.0 / c, 1.0]), (0.0, -1.0), "hazard_ratio", 1.0),
    "lognormal": _Family("lognormal", ("meanlog", "log_sdlog"), _terms_lognormal, 0,
                         _ones(2), (1.0, 0.0), "time_ratio", 1.0),
    "loglogistic": _Family("loglogistic", ("log_shape", "log_scale"), _terms_loglogistic, 1,
                           _ones(2), (0.0, 1.0), "time_ratio", 1.0),
    "gamma": _Family("gamma", ("log_shape", "log_rate"), _terms_gamma, 1,
                     _ones(2), (0.0, -1.0), "time_ratio", -1.0),
    "gengamma": _Family("gengamma", ("mu", "log_sigma", "Q"), _terms_gengamma, 0,
                        _ones(3), (1.0, 0.0, 0.0), "time_ratio", 1.0),
}


# ---------------------------------------------------------------------------------------------
# Data and objective
# ---------------------------------------------------------------------------------------------


@dataclass
class _Data:
    t: np.ndarray  # times divided by time_scale (well-conditioned optimisation)
    logt: np.ndarray
    d: np.ndarray
    w: np.ndarray
    x: np.ndarray | None  # arm indicator or None
    time_scale: float
    n_obs: float
    n_events: float


def _loglik_and_score(family: _Family, theta: np.ndarray, data: _Data):
    """Total weighted log-likelihood and its gradient on the normalised time scale."""
    k = len(family.coef_names)
    p = [float(v) for v in theta[:k]]
    if data.x is not None:
        p[family.location] = theta[family.location] + theta[k] * data.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ll_i, g_i = family.terms(p, data.t, data.logt, data.d)
    ll = float(ll_i @ data.w)
    grad = g_i @ data.w
    if data.x is not None:
        grad = np.append(grad, g_i[family.location] @ (data.w * data.x))
    if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
        return -np.inf, np.full(theta.shape, np.nan)
    return ll, grad


def _hessian(family, theta, data, rel_step=1e-4):
    """Hessian of the log-likelihood: central differences of the analytic score."""
    k = len(theta)
    hess = np.empty((k, k))
    for j in range(k):
        h = rel_step * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        with np.errstate(over="ignore", invalid="ignore"):
            hess[:, j] = (_loglik_and_score(family, up, data)[1]
                          - _loglik_and_score(family, down, data)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


# ---------------------------------------------------------------------------------------------
# Optimisation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Optimum:
    theta: np.ndarray
    loglik: float
    hessian: np.ndarray | None
    converged: bool
    message: str


def _newton_polish(family, theta, data, max_iter=30):
    """Damped Newton steps from a near-optimum; returns (theta, ll, hessian, converged, msg)."""
    ll, grad = _loglik_and_score(family, theta, data)
    hess = None
    for _ in range(max_iter):
        if not np.isfinite(ll):
            return theta, ll, None, False, "log-likelihood is not finite at the optimum"
        hess = _hessian(family, theta, data)
        if not np.all(np.isfinite(hess)):
            return theta, ll, None, False, ("the log-likelihood cannot be differentiated at "
                                            "the optimum (overflow near the parameter edge)")
        info = -hess
        try:
            chol = np.linalg.cholesky(info)
            step = np.linalg.solve(info, grad)
            pd_ok = bool(np.all(np.diag(chol) > 0))
        except np.linalg.LinAlgError:
            pd_ok = False
        if not pd_ok:
            # not a local maximum yet: a regularised step, convergence is judged later
            shift = max(0.0, -np.linalg.eigvalsh(info).min()) + 1e-3 * max(1.0, np.abs(info).max())
            step = np.linalg.solve(info + shift * np.eye(len(theta)), grad)
        decrement = float(grad @ step)  # g' I^-1 g: twice the predicted remaining gain
        if pd_ok and decrement < 1e-9:
            return theta, ll, hess, True, "converged"
        scale = 1.0
        for _ in range(40):
            trial = theta + scale * step
            ll_trial, grad_trial = _loglik_and_score(family, trial, data)
            if np.isfinite(ll_trial) and ll_trial >= ll - 1e-12 * abs(ll):
                break
            scale *= 0.5
        else:
            break
        theta, ll, grad = trial, ll_trial, grad_trial
    hess = _hessian(family, theta, data) if np.isfinite(ll) else None
    ok = False
    if hess is not None and np.all(np.isfinite(hess)) and is_positive_definite(-hess):
        # judged by eigenvalues, not by whether a Cholesky factorisation happens to succeed
        ok = float(grad @ np.linalg.solve(-hess, grad)) < 1e-6
    msg = "converged" if ok else ("the observed information is not positive definite: the "
                                  "likelihood is flat or unbounded in some direction")
    return theta, ll, hess, ok, msg


def _maximise(family, starts, data) -> _Optimum:
    """Best of BFGS runs from the given starts, polished by Newton; Nelder-Mead as fallback."""
    scored = []
    for s in starts:
        s = np.asarray(s, dtype=float)
        ll, _ = _loglik_and_score(family, s, data)
        if np.isfinite(ll):
            scored.append((ll, s))
    if not scored:
        return _Optimum(np.asarray(starts[0], float), -np.inf, None, False,
                        "the log-likelihood is not finite at any starting value")
    scored.sort(key=lambda pair: -pair[0])
    scale = data.n_obs

    def objective(theta):
        ll, grad = _loglik_and_score(family, theta, data)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(theta)
        return -ll / scale, -grad / scale

    def bfgs(start):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = optimize.minimize(objective, start, jac=True, method="BFGS",
                                    options={"gtol": 1e-7, "maxiter": 500})
        theta = res.x if np.isfinite(res.fun) else start
        return _loglik_and_score(family, theta, data)[0], theta

    def refine(theta):
        """Newton polish; if that fails, Nelder-Mead then Newton again."""
        if np.any(np.abs(theta) > _COEF_LIMIT):  # diverging: do not chase it further
            return _Optimum(theta, _loglik_and_score(family, theta, data)[0], None, False, "")
        result = _Optimum(*_newton_polish(family, theta, data))
        if result.converged:
            return result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nm = optimize.minimize(lambda th: objective(th)[0], result.theta, method="Nelder-Mead",
                                   options={"xatol": 1e-9, "fatol": 1e-13,
                                            "maxiter": 1000 * len(theta)})
        if np.isfinite(nm.fun) and np.all(np.abs(nm.x) <= _COEF_LIMIT):
            retry = _Optimum(*_newton_polish(family, nm.x, data))
            if retry.converged or retry.loglik > result.loglik:
                result = retry
        return result

    # multimodality is a practical concern only for the generalised gamma: try all its starts
    first = len(scored) if family.name == "gengamma" else 1
    ends = sorted((bfgs(start) for _, start in scored[:first]), key=lambda p: -p[0])
    best: _Optimum | None = None
    for ll_end, theta in ends + [bfgs(start) for _, start in scored[first:3]]:
        result = refine(theta)
        if best is None or (result.converged, result.loglik) > (best.converged, best.loglik):
            best = result
        if best.converged:
            break
    if np.any(np.abs(best.theta) > _COEF_LIMIT):
        names = list(family.coef_names) + (["arm"] if data.x is not None else [])
        j = int(np.argmax(np.abs(best.theta)))
        best.converged = False
        best.message = (f"coefficient '{names[j]}' ran to {best.theta[j]:.3g} (time-normalised "
                        f"scale): the maximum is at the edge of the parameter space")
    return best


# ---------------------------------------------------------------------------------------------
# Starting values (normalised time scale: mean follow-up = 1)
# ---------------------------------------------------------------------------------------------


def _moments(data):
    """Weighted mean and sd of log time (all observations) and the exponential log rate."""
    w = data.w
    mean = float(w @ data.logt / w.sum())
    sd = float(np.sqrt(max(w @ (data.logt - mean) ** 2 / w.sum(), 1e-4)))
    log_rate = float(np.log(data.n_events / (w @ data.t)))
    return mean, sd, log_rate


def _starts(name, data, fitted) -> list[np.ndarray]:
    mean, sd, log_rate = _moments(data)
    log_sd = np.log(sd)
    if name == "exponential":
        return [np.array([log_rate])]
    if name == "weibull":
        shape = np.pi / (sd * np.sqrt(6.0))  # Gumbel-min sd of log T
        return [np.array([0.0, -log_rate]),
                np.array([np.log(shape), mean + 0.5772 / shape - log_rate / 2]),
                np.array([np.log(shape), -log_rate])]
    if name == "lognormal":
        return [np.array([mean - log_rate / 2, log_sd]), np.array([-log_rate, 0.0]),
                np.array([mean, log_sd])]
    if name == "loglogistic":
        shape = np.pi / (sd * np.sqrt(3.0))  # logistic sd of log T
        return [np.array([np.log(shape), mean - log_rate / 2]), np.array([0.0, -log_rate])]
    if name == "gompertz":
        return [np.array([a, log_rate]) for a in (0.0, -0.5, 0.5, -2.0)]
    if name == "gamma":
        starts = [np.array([0.0, log_rate])]
        if "weibull" in fitted:
            log_a = fitted["weibull"][0]
            starts.append(np.array([log_a, log_a + log_rate]))
        return starts
    if name == "gengamma":
        starts = []
        if "lognormal" in fitted:
            m, ls = fitted["lognormal"]
            starts += [np.array([m, ls, q]) for q in (0.01, -0.01)]
        if "weibull" in fitted:  # Q = 1: Weibull(shape = 1/sigma, scale = e^mu)
            la, lb = fitted["weibull"]
            starts.append(np.array([lb, -la, 1.0]))
        if "gamma" in fitted:  # Q = sigma = shape^-1/2, mu = log shape - log rate
            la, lr = fitted["gamma"]
            q = np.exp(-la / 2)
            starts.append(np.array([la - lr, np.log(q), q]))
        starts += [np.array([mean, log_sd, q]) for q in (0.5, -0.5)]
        return starts
    raise AssertionError(name)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


class InformationCriteria:
    """``n_par``, ``aic`` and ``bic`` of a maximum-likelihood fit with ``coef``, ``loglik``,
    ``n_obs`` and ``converged`` (shared by parametric, spline and cure fits)."""

    @property
    def n_par(self) -> int:
        return len(self.coef)

    @property
    def aic(self) -> float:
        """-2 loglik + 2 p; NaN when the fit did not converge (so it is never chosen)."""
        if not self.converged:
            return float("nan")
        return -2.0 * self.loglik + 2.0 * self.n_par

    @property
    def bic(self) -> float:
        """-2 loglik + log(n_obs) p (n_obs = observations, as flexsurv); NaN if not converged."""
        if not self.converged:
            return float("nan")
        return -2.0 * self.loglik + np.log(self.n_obs) * self.n_par


@dataclass
class FittedModel(InformationCriteria):
    """One fitted family.

    Attributes
    ----------
    distribution : family name (``hta.survival.curves.make_curve`` name).
    coef : unconstrained coefficients (flexsurv order; ``arm`` last with a covariate), in the
        data's time unit.
    cov : their covariance (inverse observed information), a DataFrame; NaN if not converged.
    loglik, n_par, n_obs, n_events, converged, message : as the names say; ``n_obs`` is the
        number of observations (sum of weights when weighted).
    """

    distribution: str
    coef: pd.Series
    cov: pd.DataFrame
    loglik: float
    n_obs: float
    n_events: float
    converged: bool
    message: str
    effect_type: str | None = None
    _effect_sign: float = field(default=1.0, repr=False)

    @property
    def has_arm(self) -> bool:
        return "arm" in self.coef.index

    def _curve_coefs(self, coefs: np.ndarray, arm: int) -> np.ndarray:
        """(n, k) coefficients of the curve for ``arm`` from (n, n_par) fitted coefficients."""
        if arm not in (0, 1):
            raise HtaError(f"{self.distribution} fit: expected arm 0 or 1; found {arm!r}")
        if not self.has_arm:
            if arm == 1:
                raise HtaError(f"{self.distribution} fit: arm 1 requested but the model was "
                               f"fitted without an arm covariate")
            return coefs
        base = coefs[:, :-1].copy()
        base[:, _location_index(self.distribution)] += arm * coefs[:, -1]
        return base

    def curve(self, arm: int = 0):
        """The fitted curve (``hta.survival.curves`` object, n = 1) for ``arm`` (0 or 1)."""
        return make_curve(self.distribution, self._curve_coefs(self.coef.to_numpy()[None, :], arm))

    @property
    def comparator(self):
        """The fitted curve of arm 1 (requires an arm covariate)."""
        return self.curve(arm=1)

    def survival(self, t, arm: int = 0) -> np.ndarray:
        """S(t), shape (1, T), in the data's time unit."""
        return self.curve(arm).survival(t)

    def hazard(self, t, arm: int = 0) -> np.ndarray:
        """h(t) per unit of the data's time, shape (1, T)."""
        return self.curve(arm).hazard(t)

    def cumhaz(self, t, arm: int = 0) -> np.ndarray:
        """H(t), shape (1, T)."""
        return self.curve(arm).cumhaz(t)

    @property
    def effect(self) -> pd.Series | None:
        """The arm effect: ``type`` (hazard_ratio / time_ratio), ``estimate``, 95% CI
        ``lower``/``upper``, ``coef`` (flexsurv's location coefficient) and its ``se``."""
        if not self.has_arm:
            return None
        beta = float(self.coef["arm"])
        se = float(np.sqrt(self.cov.loc["arm", "arm"]))
        z = special.ndtri(0.975)
        sign = self._effect_sign
        lo, hi = sorted((np.exp(sign * (beta - z * se)), np.exp(sign * (beta + z * se))))
        return pd.Series({"type": self.effect_type, "estimate": np.exp(sign * beta),
                          "lower": lo, "upper": hi, "coef": beta, "se": se})

    def sample_coefficients(self, n: int, seed=None) -> np.ndarray:
        """``n`` multivariate-normal draws of the coefficients, shape (n, n_par)."""
        if not self.converged:
            raise HtaError(f"{self.distribution} fit: expected a converged fit to sample from; "
                           f"found '{self.message}'")
        rng = np.random.default_rng(seed)
        chol = covariance_factor(self.cov.to_numpy(), f"{self.distribution} fit: coefficient covariance")
        z = rng.standard_normal((int(n), len(self.coef)))
        return self.coef.to_numpy()[None, :] + z @ chol.T

    def sample_curves(self, n: int, seed=None, arm: int = 0):
        """A curve object with ``n`` PSA draws of the parameters (multivariate normal on the
        unconstrained coefficients). Use the same seed for both arms to keep them paired."""
        return make_curve(self.distribution, self._curve_coefs(self.sample_coefficients(n, seed), arm))


def _location_index(name: str) -> int:
    if name == "weibullph":
        return 1
    return _FAMILIES[name].location


class FitResult(Mapping):
    """Fitted families by name, with a comparison ``table``."""

    def __init__(self, models: dict[str, FittedModel]):
        self._models = dict(models)

    def __getitem__(self, name: str) -> FittedModel:
        if name not in self._models:
            raise HtaError(f"fit result: expected one of {', '.join(self._models)}; found '{name}'")
        return self._models[name]

    def __iter__(self):
        return iter(self._models)

    def __len__(self):
        return len(self._models)

    @property
    def table(self) -> pd.DataFrame:
        """One row per family: loglik, aic, bic (n = observations), n_par, converged, the
        coefficients (wide, NaN where a family lacks one) and the arm effect if fitted."""
        rows = {}
        for name, m in self._models.items():
            row = {"loglik": m.loglik, "aic": m.aic, "bic": m.bic, "n_par": m.n_par,
                   "converged": m.converged}
            row.update(m.coef.to_dict())
            eff = m.effect
            if eff is not None:
                row.update({"effect_type": eff["type"], "effect": eff["estimate"],
                            "effect_lower": eff["lower"], "effect_upper": eff["upper"]})
            rows[name] = row
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "distribution"
        return table

    def best(self, criterion: str = "aic") -> str:
        """Name of the converged family with the lowest AIC (or BIC)."""
        if criterion not in ("aic", "bic"):
            raise HtaError(f"best: expected criterion 'aic' or 'bic'; found '{criterion}'")
        table = self.table[self.table["converged"]]
        if table.empty:
            raise HtaError("best: no family converged")
        return str(table[criterion].idxmin())

    def __repr__(self):
        return f"FitResult(\n{self.table[['loglik', 'aic', 'bic', 'n_par', 'converged']]}\n)"


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def _validate(time, event, weights, arm) -> _Data:
    t = np.asarray(time, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise HtaError(f"time: expected a non-empty 1-D array; found shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise HtaError(f"time: expected finite values; found {np.sum(~np.isfinite(t))} missing "
                       "or infinite")
    if np.any(t <= 0):
        raise HtaError(f"time: expected times > 0; found {np.sum(t <= 0)} time(s) <= 0 "
                       f"(minimum {t.min():g}); add a small offset to zero times")

    def indicator(values, name, hint=""):
        arr = np.asarray(values)
        if arr.shape != t.shape:
            raise HtaError(f"{name}: expected shape {t.shape} like time; found {arr.shape}")
        arr = arr.astype(float)
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            raise HtaError(f"{name}: expected 0/1 values{hint}; found "
                           f"{np.unique(arr[bad])[:5].tolist()}")
        return arr

    d = indicator(event, "event", " (1 = event, 0 = censored; R's lung codes status 1/2: "
                                  "pass status == 2)")
    if weights is None:
        w = np.ones_like(t)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != t.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise HtaError(f"weights: expected finite non-negative values of shape {t.shape}; "
                           f"found shape {w.shape}" + (", with negative or missing values"
                                                       if w.shape == t.shape else ""))
    n_events = float(w @ d)
    if n_events <= 0:
        raise HtaError("event: expected at least one event; found none (all censored), so no "
                       "parametric curve can be fitted")
    x = None
    if arm is not None:
        x = indicator(arm, "arm", " (0 = reference, 1 = comparator)")
        for level in (0.0, 1.0):
            if w @ ((x == level) * d) <= 0:
                raise HtaError(f"arm: expected at least one event in each arm; found none in "
                               f"arm {int(level)}")
    scale = float(w @ t / w.sum())
    return _Data(t=t / scale, logt=np.log(t) - np.log(scale), d=d, w=w, x=x,
                 time_scale=scale, n_obs=float(w.sum()), n_events=n_events)


def _to_original(family: _Family, opt: _Optimum, data: _Data, names: list[str]):
    """Coefficients, covariance and log-likelihood in the data's time unit."""
    k = len(family.coef_names)
    mult = np.ones(len(opt.theta))
    mult[:k] = family.scale_mult(data.time_scale)
    shift = np.zeros(len(opt.theta))
    shift[:k] = np.array(family.log_shift) * np.log(data.time_scale)
    coef = opt.theta * mult + shift
    if opt.converged and opt.hessian is not None:
        cov_norm = np.linalg.inv(-opt.hessian)
        cov = cov_norm * np.outer(mult, mult)
    else:
        cov = np.full((len(coef), len(coef)), np.nan)
    loglik = opt.loglik - data.n_events * np.log(data.time_scale)  # f(t) = f'(t/c) / c
    return (pd.Series(coef, index=names, name="coef"),
            pd.DataFrame(cov, index=names, columns=names), float(loglik))


def _weibull_ph(aft: FittedModel) -> FittedModel:
    """Re-express a Weibull AFT fit as WeibullPH: log m = -a log b, arm_ph = -a arm_aft."""
    c = aft.coef.to_numpy()
    a = np.exp(c[0])
    coef = [c[0], -a * c[1]]
    jac = [[1.0, 0.0], [-a * c[1], -a]]
    if aft.has_arm:
        coef.append(-a * c[2])
        jac = [[1.0, 0.0, 0.0], [-a * c[1], -a, 0.0], [-a * c[2], 0.0, -a]]
    jac = np.array(jac)
    names = list(aft.coef.index)
    cov = jac @ aft.cov.to_numpy() @ jac.T
    return FittedModel("weibullph", pd.Series(coef, index=names, name="coef"),
                       pd.DataFrame(cov, index=names, columns=names), aft.loglik, aft.n_obs,
                       aft.n_events, aft.converged, aft.message,
                       "hazard_ratio" if aft.has_arm else None, 1.0)


def _normalise_names(distributions) -> list[str]:
    if distributions is None:
        return list(DISTRIBUTIONS)
    if isinstance(distributions, str):
        distributions = [distributions]
    names = [str(n).strip().lower() for n in distributions]
    valid = DISTRIBUTIONS + _EXTRA
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise HtaError(f"distributions: expected names from {', '.join(valid)}; found "
                       f"{', '.join(repr(u) for u in unknown)}")
    if not names:
        raise HtaError("distributions: expected at least one name; found an empty list")
    return list(dict.fromkeys(names))


# families whose fits serve as starting values for the requested one
_PREREQUISITES = {"gamma": ["weibull"], "gengamma": ["weibull", "lognormal", "gamma"],
                  "weibullph": ["weibull"]}


def fit(time, event, distributions: str | Sequence[str] | None = None, *, weights=None,
        arm=None) -> FitResult:
    """Fit parametric survival models by maximum likelihood with right censoring.

    Parameters
    ----------
    time : (N,) positive times, any unit (the fitted curves use the same unit).
    event : (N,) 1 = event observed, 0 = right-censored (booleans accepted).
    distributions : a name or list of names from ``exponential, weibull, gompertz, lognormal,
        loglogistic, gamma, gengamma`` (default: all seven) or ``weibullph`` (the Weibull fit
        with proportional-hazards coefficients).
    weights : optional (N,) non-negative case (frequency) weights.
    arm : optional (N,) 0/1 treatment indicator; adds a covariate on each family's location
        parameter (see the module docstring) and reports its effect.

    Returns
    -------
    FitResult mapping each name to a :class:`FittedModel`; ``.table`` compares them. A family
    that fails to converge is kept with ``converged = False`` and a message, and a
    :class:`FitWarning` is issued.
    """
    names = _normalise_names(distributions)
    data = _validate(time, event, weights, arm)
    needed = []
    for name in names:
        for pre in _PREREQUISITES.get(name, []) + [name]:
            if pre != "weibullph" and pre not in needed:
                needed.append(pre)
    order = [n for n in ("exponential", "weibull", "lognormal", "loglogistic", "gompertz",
                         "gamma", "gengamma") if n in needed]

    starts_single: dict[str, np.ndarray] = {}  # single-population optima (normalised scale)
    fitted: dict[str, FittedModel] = {}
    for name in order:
        family = _FAMILIES[name]
        single_data = data if data.x is None else _Data(
            data.t, data.logt, data.d, data.w, None, data.time_scale, data.n_obs, data.n_events)
        opt = _maximise(family, _starts(name, single_data, starts_single), single_data)
        starts_single[name] = opt.theta
        if data.x is not None:
            opt = _maximise(family, _arm_starts(family, opt.theta, data), data)
        coef_names = list(family.coef_names) + (["arm"] if data.x is not None else [])
        coef, cov, loglik = _to_original(family, opt, data, coef_names)
        fitted[name] = FittedModel(name, coef, cov, loglik, data.n_obs, data.n_events,
                                   opt.converged, opt.message,
                                   family.effect if data.x is not None else None,
                                   family.effect_sign)
    if "weibullph" in names:
        fitted["weibullph"] = _weibull_ph(fitted["weibull"])

    models = {name: fitted[name] for name in names}
    failed = [f"{n} ({m.message})" for n, m in models.items() if not m.converged]
    if failed:
        warnings.warn("maximum-likelihood fit did not converge for " + "; ".join(failed),
                      FitWarning, stacklevel=2)
    return FitResult(models)


def _arm_starts(family: _Family, theta_single: np.ndarray, data: _Data) -> list[np.ndarray]:
    """Starts for the arm model: no effect, and the log ratio of the arms' exponential rates."""
    rates = []
    for level in (0.0, 1.0):
        mask = data.x == level
        rates.append(np.log((data.w * data.d)[mask].sum() / (data.w * data.t)[mask].sum()))
    log_hr = rates[1] - rates[0]
    rate_like = family.log_shift[family.location] < 0  # location is a log rate
    beta = log_hr if rate_like else -log_hr
    if family.name == "exponential":
        return [np.array([rates[0], log_hr])]
    starts = []
    for b in (beta, 0.0):
        s = np.append(theta_single, b)
        s[family.location] -= b * float(np.mean(data.x))  # keep the pooled fit's centre
        starts.append(s)
    return starts


def fit_two_arms(time, event, arm, distributions: str | Sequence[str] | None = None, *,
                 weights=None) -> FitResult:
    """Joint fit of two arms with a treatment effect on the location parameter.

    The same as ``fit(time, event, distributions, weights=weights, arm=arm)``: each
    :class:`FittedModel` has ``.effect`` (hazard ratio or time ratio with 95% CI), ``.curve(0)``
    (reference arm) and ``.comparator`` (arm 1).
    """
    return fit(time, event, distributions, weights=weights, arm=arm)
