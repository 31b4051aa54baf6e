"""Royston-Parmar flexible parametric survival models (natural cubic splines in log time).

Royston P, Parmar MKB. Flexible parametric proportional-hazards and proportional-odds models for
censored survival data. Stat Med 2002;21:2175-97. Formulas and defaults follow R
``flexsurv::flexsurvspline`` (Jackson 2016), so that log-likelihoods and coefficients agree.

Model
-----
With x = log t and knots k_min < k_1 < ... < k_m < k_max (on the log-time scale),

    eta(x) = gamma_0 + gamma_1 x + sum_j gamma_{j+1} v_j(x),
    v_j(x) = (x - k_j)_+^3 - lambda_j (x - k_min)_+^3 - (1 - lambda_j) (x - k_max)_+^3,
    lambda_j = (k_max - k_j) / (k_max - k_min),

and ``scale`` says what eta models:

* ``"hazard"``: log cumulative hazard, S = exp(-e^eta) (0 knots: Weibull, shape = gamma_1,
  scale = exp(-gamma_0 / gamma_1));
* ``"odds"``: log cumulative odds, S = 1 / (1 + e^eta) (0 knots: log-logistic, same mapping);
* ``"normal"``: S = Phi(-eta) (0 knots: log-normal, meanlog = -gamma_0/gamma_1,
  sdlog = 1/gamma_1).

The density is f(t) = (eta'(x) / t) g(eta) (g the derivative of 1 - S in eta), so the likelihood
contains the Jacobian log(1/t) at every event, exactly as flexsurv; an event at a time where
eta' <= 0 has zero density and the likelihood is -inf there. The spline is linear in log time
beyond the boundary knots (a natural spline), which is how it extrapolates (as flexsurv).

Knots (default, as flexsurvspline): the boundary knots are the smallest and largest log
*event* times, and ``knots`` internal knots sit at equally spaced quantiles of the log event
times (R's default quantile type 7, ``numpy.quantile``'s default).

Monotonicity guard
------------------
A draw (or a poor fit) can have eta decreasing over some range, which would make survival
rise. Every output uses eta*(x) = max of eta over [k_min, x] instead (and, when gamma_1 <= 0,
survival 1 before the first event time): survival never rises and the hazard is 0 where eta*
is flat (the hazard is clipped at 0). ``SplineCurve.monotone`` says which samples needed this;
``fit_spline`` warns when the fitted curve did.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import special

from hta.errors import HtaError
from hta.numerics import covariance_factor
from hta.survival.curves import SurvivalCurve
from hta.survival.fit import fit as fit_parametric
from hta.survival.mle import (
    InformationCriteria,
    Likelihood,
    covariance,
    maximise,
    validate,
)

__all__ = ["SplineCurve", "FittedSpline", "fit_spline", "spline_basis", "default_knots",
           "SCALES", "SplineWarning"]

SCALES = ("hazard", "odds", "normal")
_LOG_TINY = float(np.log(np.finfo(float).tiny))
_HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))


class SplineWarning(RuntimeWarning):
    """A fitted spline is not monotone (survival would rise) or did not converge."""


# ---------------------------------------------------------------------------------------------
# Basis
# ---------------------------------------------------------------------------------------------


def spline_basis(x, knots) -> tuple[np.ndarray, np.ndarray]:
    """Royston-Parmar basis at log times ``x`` (any shape) for ``knots`` ``(m+2,)``.

    Returns ``(B, D)`` of shape ``x.shape + (m+2,)``: B = [1, x, v_1(x), ..., v_m(x)] and its
    derivative in x, D = [0, 1, v_1'(x), ...], so eta = B @ gamma and eta' = D @ gamma.
    """
    x = np.asarray(x, dtype=float)
    k = np.asarray(knots, dtype=float)
    kmin, kmax = k[0], k[-1]
    cols_b = [np.ones_like(x), x]
    cols_d = [np.zeros_like(x), np.ones_like(x)]
    lo = np.maximum(x - kmin, 0.0)
    hi = np.maximum(x - kmax, 0.0)
    for kj in k[1:-1]:
        lam = (kmax - kj) / (kmax - kmin)
        mid = np.maximum(x - kj, 0.0)
        cols_b.append(mid**3 - lam * lo**3 - (1.0 - lam) * hi**3)
        cols_d.append(3.0 * (mid**2 - lam * lo**2 - (1.0 - lam) * hi**2))
    return np.stack(cols_b, axis=-1), np.stack(cols_d, axis=-1)


def default_knots(time, event, knots: int = 1) -> np.ndarray:
    """flexsurvspline's knots: quantiles 0, 1/(m+1), ..., 1 of the log event times, ``(m+2,)``."""
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    log_events = np.log(t[d == 1])
    if log_events.size < 2 or np.ptp(log_events) <= 0:
        raise HtaError("spline knots: expected at least two distinct event times to place the "
                       f"boundary knots; found {np.unique(log_events).size}")
    return np.quantile(log_events, np.linspace(0.0, 1.0, knots + 2))


# ---------------------------------------------------------------------------------------------
# Link functions: S, h as functions of eta
# ---------------------------------------------------------------------------------------------


def _log_survival(eta, scale):
    if scale == "hazard":
        with np.errstate(over="ignore"):
            return -np.exp(eta)
    if scale == "odds":
        return -np.logaddexp(0.0, eta)
    return special.log_ndtr(-eta)


def _log_g(eta, scale):
    """log of d(1 - S)/d eta divided by S, i.e. log(hazard * t / eta')."""
    if scale == "hazard":
        return eta
    if scale == "odds":
        return special.log_expit(eta)
    return -0.5 * eta * eta - _HALF_LOG_2PI - special.log_ndtr(-eta)


# ---------------------------------------------------------------------------------------------
# Curve
# ---------------------------------------------------------------------------------------------


class SplineCurve(SurvivalCurve):
    """A batch of Royston-Parmar curves: ``gamma`` ``(n, m+2)`` or ``(m+2,)``, fixed ``knots``.

    ``knots`` are on the log scale of the curve's time unit; ``scale`` is hazard, odds or normal.
    See the module docstring for the formulas and the monotonicity guard.
    """

    def __init__(self, gamma, knots, scale: str = "hazard"):
        g = np.atleast_2d(np.asarray(gamma, dtype=float))
        k = np.asarray(knots, dtype=float).ravel()
        if scale not in SCALES:
            raise HtaError(f"spline scale: expected one of {', '.join(SCALES)}; found '{scale}'")
        if k.size < 2 or np.any(np.diff(k) <= 0) or not np.isfinite(k).all():
            raise HtaError(f"spline knots: expected at least 2 strictly increasing finite log "
                           f"times; found {k.tolist()}")
        if g.ndim != 2 or g.shape[1] != k.size:
            raise HtaError(f"spline coefficients: expected shape (n, {k.size}) for {k.size - 2} "
                           f"internal knot(s); found shape {np.shape(gamma)}")
        if not np.isfinite(g).all():
            raise HtaError("spline coefficients: expected finite values; found NaN or inf")
        self.gamma = g
        self.knots = k
        self.scale = scale
        self.n = g.shape[0]
        self._prepare_guard()

    # -- monotonicity guard --------------------------------------------------------------------
    def _prepare_guard(self):
        """Candidate maxima of eta on [k_min, k_max] and the running max over them."""
        k = self.knots
        roots = []
        for a, b in zip(k[:-1], k[1:]):
            # eta' is a quadratic on [a, b]: recover it from three points, then its roots
            xs = np.array([a, 0.5 * (a + b), b])
            _, d = spline_basis(xs, k)
            vals = self.gamma @ d.T  # (n, 3)
            coef = np.polyfit(xs - a, vals.T, 2)  # (3, n): c2, c1, c0 in (x - a)
            c2, c1, c0 = coef
            disc = c1 * c1 - 4 * c2 * c0
            with np.errstate(invalid="ignore", divide="ignore"):
                sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
                quad = np.abs(c2) > 1e-12 * (np.abs(c1) + np.abs(c0) + 1e-300)
                r1 = np.where(quad, (-c1 - sq) / (2 * c2), -c0 / np.where(c1 != 0, c1, np.nan))
                r2 = np.where(quad, (-c1 + sq) / (2 * c2), np.nan)
            for r in (r1, r2):
                r = r + a
                roots.append(np.where((r > a) & (r < b), r, np.nan))
        cand = np.concatenate([np.broadcast_to(k, (self.n, k.size))] + [r[:, None] for r in roots],
                              axis=1)
        eta = np.where(np.isnan(cand), -np.inf, self._eta_raw(np.nan_to_num(cand, nan=k[0])))
        self._cand = np.where(np.isnan(cand), np.inf, cand)  # (n, C); inf never counts
        self._cand_eta = eta
        # eta decreasing somewhere in [k_min, inf): a candidate above a later value, or a
        # negative slope beyond the last knot or before the first one
        _, d_end = spline_basis(np.array([k[-1] + 1.0]), k)
        slope_right = self.gamma @ d_end[0]
        order = np.argsort(self._cand, axis=1)
        eta_sorted = np.take_along_axis(eta, order, axis=1)
        finite = np.isfinite(np.take_along_axis(self._cand, order, axis=1))
        running = np.maximum.accumulate(np.where(finite, eta_sorted, -np.inf), axis=1)
        dips = np.any(finite & (eta_sorted < running - 1e-12), axis=1)
        self.monotone = ~(dips | (slope_right < 0) | (self.gamma[:, 1] <= 0))
        self.monotone.setflags(write=False)

    def _eta_raw(self, x):
        """eta at log times ``x`` of shape (n, C) or (1, T) -> (n, .)."""
        b, _ = spline_basis(x, self.knots)
        return np.einsum("...j,...j->...", b, self.gamma[:, None, :])

    def _eta(self, x):
        """(eta*, eta', active) at log times ``x`` (1, T) or (n, T); eta* is the guarded eta."""
        b, d = spline_basis(x, self.knots)
        g = self.gamma[:, None, :]
        eta = np.einsum("...j,...j->...", b, g)
        slope = np.einsum("...j,...j->...", d, g)
        if self.monotone.all():
            return eta, slope, np.ones(eta.shape, dtype=bool)
        xb = np.broadcast_to(x, eta.shape)
        kmin = self.knots[0]
        # running max over candidates at or before x (only from k_min on)
        seen = self._cand[:, :, None] <= xb[:, None, :]
        best = np.max(np.where(seen, self._cand_eta[:, :, None], -np.inf), axis=1)
        guarded = np.where(xb >= kmin, np.maximum(eta, best), eta)
        # gamma_1 <= 0: eta would fall towards -inf only as x grows; survival 1 before k_min
        bad_left = (self.gamma[:, 1] <= 0)[:, None] & (xb < kmin)
        guarded = np.where(bad_left, -np.inf, guarded)
        active = (guarded <= eta) & ~bad_left
        return guarded, slope, active

    def _log_t(self, t):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(t), _LOG_TINY)

    def _cumhaz(self, t):
        eta, _, _ = self._eta(self._log_t(t))
        with np.errstate(over="ignore"):
            h = -_log_survival(eta, self.scale)
        return np.where(t == 0, 0.0, np.maximum(h, 0.0))

    def _hazard(self, t):
        eta, slope, active = self._eta(self._log_t(t))
        t_pos = np.maximum(t, np.finfo(float).tiny)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            h = np.maximum(slope, 0.0) / t_pos * np.exp(_log_g(eta, self.scale))
        return np.where(active & np.isfinite(eta), np.nan_to_num(h, nan=0.0), 0.0)

    def take(self, idx):
        return SplineCurve(np.atleast_2d(self.gamma[idx]), self.knots, self.scale)

    def __repr__(self):
        return (f"SplineCurve(scale='{self.scale}', internal knots={self.knots.size - 2}, "
                f"n={self.n})")


# ---------------------------------------------------------------------------------------------
# Likelihood (per-observation terms in the convention of hta.survival.fit)
# ---------------------------------------------------------------------------------------------


def _make_terms(knots: np.ndarray, scale: str):
    """Per-observation log-likelihood terms and scores for fixed knots (normalised time)."""

    def terms(p, t, logt, d):
        gamma = np.asarray(p, dtype=float)
        b, dd = spline_basis(logt, knots)
        eta = b @ gamma
        slope = dd @ gamma
        log_s = _log_survival(eta, scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_slope = np.where(slope > 0, np.log(np.where(slope > 0, slope, 1.0)), -np.inf)
            inv_slope = np.where(slope > 0, 1.0 / np.where(slope > 0, slope, 1.0), 0.0)
        if scale == "hazard":
            with np.errstate(over="ignore"):
                e = np.exp(eta)
            log_f = log_slope - logt + eta - e
            dlog_s = -e
            dlog_f_eta = 1.0 - e
        elif scale == "odds":
            p_ev = special.expit(eta)
            log_f = log_slope - logt + eta - 2.0 * np.logaddexp(0.0, eta)
            dlog_s = -p_ev
            dlog_f_eta = 1.0 - 2.0 * p_ev
        else:
            log_f = log_slope - logt - 0.5 * eta * eta - _HALF_LOG_2PI
            dlog_s = -np.exp(-0.5 * eta * eta - _HALF_LOG_2PI - log_s)  # -phi / Phi(-eta)
            dlog_f_eta = -eta
        ll = np.where(d == 1, log_f, log_s)
        g_eta = np.where(d == 1, dlog_f_eta, dlog_s)
        grad = b * g_eta[:, None] + dd * (d * inv_slope)[:, None]
        return ll, grad.T

    return terms


# ---------------------------------------------------------------------------------------------
# Fitted model
# ---------------------------------------------------------------------------------------------


class FittedSpline(SplineCurve, InformationCriteria):
    """A maximum-likelihood Royston-Parmar fit: the curve (n = 1) plus its estimates.

    Attributes: ``coef`` (Series gamma0..gamma{m+1}, data time unit), ``cov`` (DataFrame,
    inverse observed information; NaN if not converged), ``loglik`` (full likelihood with the
    log(1/t) Jacobian, as flexsurv), ``n_obs``, ``n_events``, ``converged``, ``message``.
    """

    def __init__(self, coef: pd.Series, cov: pd.DataFrame, knots, scale, loglik, n_obs,
                 n_events, converged, message):
        super().__init__(coef.to_numpy()[None, :], knots, scale)
        self.coef, self.cov, self.loglik = coef, cov, float(loglik)
        self.n_obs, self.n_events = float(n_obs), float(n_events)
        self.converged, self.message = bool(converged), message
        self.distribution = f"spline_{scale}_{knots.size - 2}k"

    def curve(self, arm: int = 0) -> SplineCurve:
        """The fitted curve as a plain :class:`SplineCurve` (for symmetry with ``FittedModel``)."""
        return SplineCurve(self.gamma, self.knots, self.scale)

    def sample_coefficients(self, n: int, seed=None) -> np.ndarray:
        """``n`` multivariate-normal draws of gamma, shape ``(n, m+2)``."""
        if not self.converged:
            raise HtaError(f"{self.distribution} fit: expected a converged fit to sample from; "
                           f"found '{self.message}'")
        rng = np.random.default_rng(seed)
        chol = covariance_factor(self.cov.to_numpy(), f"{self.distribution} fit: coefficient covariance")
        z = rng.standard_normal((int(n), self.n_par))
        return self.coef.to_numpy()[None, :] + z @ chol.T

    def sample(self, n: int, seed=None) -> SplineCurve:
        """A :class:`SplineCurve` with ``n`` PSA draws of gamma (multivariate normal)."""
        return SplineCurve(self.sample_coefficients(n, seed), self.knots, self.scale)

    sample_curves = sample

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficients with standard errors and 95% Wald intervals."""
        se = np.sqrt(np.diag(self.cov.to_numpy()))
        z = special.ndtri(0.975)
        c = self.coef.to_numpy()
        return pd.DataFrame({"est": c, "se": se, "lower": c - z * se, "upper": c + z * se},
                            index=self.coef.index)

    def __repr__(self):
        return (f"FittedSpline(scale='{self.scale}', internal knots={self.knots.size - 2}, "
                f"loglik={self.loglik:.4f}, aic={self.aic:.4f})")


_ZERO_KNOT_FAMILY = {"hazard": "weibull", "odds": "loglogistic", "normal": "lognormal"}


def _zero_knot_start(time, event, scale) -> np.ndarray:
    """(gamma0, gamma1) of the equivalent two-parameter family fitted by hta.survival.fit."""
    name = _ZERO_KNOT_FAMILY[scale]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_parametric(time, event, name)[name]
    c = model.coef.to_numpy()
    if name == "lognormal":  # eta = (log t - meanlog) / sdlog
        g1 = np.exp(-c[1])
        return np.array([-c[0] * g1, g1])
    g1 = np.exp(c[0])  # shape; eta = shape (log t - log scale)
    return np.array([-g1 * c[1], g1])


def fit_spline(time, event, knots=1, scale: str = "hazard", *, weights=None,
               knot_positions=None) -> FittedSpline:
    """Fit a Royston-Parmar spline model by maximum likelihood with right censoring.

    Parameters
    ----------
    time, event : (N,) times > 0 (any unit) and 0/1 event indicators.
    knots : number of internal knots, 0-5 (placed as flexsurvspline does; module docstring).
    scale : ``"hazard"`` (log cumulative hazard), ``"odds"`` (log cumulative odds) or
        ``"normal"`` (probit).
    weights : optional (N,) case weights.
    knot_positions : optional explicit knots on the **log** time scale, boundary knots included,
        ``(m+2,)``; overrides ``knots``.

    Returns a :class:`FittedSpline`, which is a curve (``survival``, ``hazard``, ...) with
    ``coef``, ``cov``, ``loglik``, ``aic``, ``bic`` and ``sample(n, seed)``.
    """
    if scale not in SCALES:
        raise HtaError(f"spline scale: expected one of {', '.join(SCALES)}; found '{scale}'")
    data = validate(time, event, weights, None)
    t_orig = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    if knot_positions is not None:
        kn = np.asarray(knot_positions, dtype=float).ravel()
        if kn.size < 2 or np.any(np.diff(kn) <= 0):
            raise HtaError(f"knot_positions: expected >= 2 strictly increasing log times; "
                           f"found {kn.tolist()}")
    else:
        if not isinstance(knots, (int, np.integer)) or not 0 <= knots <= 5:
            raise HtaError(f"knots: expected a number of internal knots from 0 to 5; found {knots!r}")
        kn = default_knots(t_orig, d, int(knots))
    m = kn.size - 2
    names = [f"gamma{j}" for j in range(m + 2)]
    log_c = np.log(data.time_scale)
    kn_norm = kn - log_c  # the basis is translation-invariant in log time

    family = Likelihood(f"spline_{scale}", tuple(names), _make_terms(kn_norm, scale), 0)
    g01 = _zero_knot_start(t_orig, d, scale)  # unweighted: only a starting value
    start = np.zeros(m + 2)
    start[:2] = [g01[0] + g01[1] * log_c, g01[1]]  # eta on the normalised scale
    starts = [start]
    alt = start.copy()
    alt[1] *= 1.2
    starts.append(alt)
    opt = maximise(family, starts, data)

    # back to the data's time unit: eta = gamma0' + gamma1 (x - log c) + ...
    jac = np.eye(m + 2)
    jac[0, 1] = -log_c
    coef = jac @ opt.theta
    cov = covariance(opt, jac=jac)
    loglik = opt.loglik - data.n_events * log_c
    result = FittedSpline(pd.Series(coef, index=names, name="coef"),
                          pd.DataFrame(cov, index=names, columns=names), kn, scale, loglik,
                          data.n_obs, data.n_events, opt.converged, opt.message)
    if not opt.converged:
        warnings.warn(f"spline fit ({scale}, {m} knots) did not converge: {opt.message}",
                      SplineWarning, stacklevel=2)
    if not result.monotone.all():
        warnings.warn(f"fitted spline ({scale}, {m} knots) is not monotone: survival would rise "
                      "somewhere; outputs hold survival flat there (hazard clipped at 0)",
                      SplineWarning, stacklevel=2)
    return result
