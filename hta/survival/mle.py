"""The maximum-likelihood base shared by every survival fit: parametric families
(``hta.survival.fit``), mixture cure (``hta.survival.cure``), Royston-Parmar splines
(``hta.survival.splines``) and multi-state transitions (``hta.multistate.fit``).

* :func:`validate` checks time/event/weights/arm/entry and puts times on a normalised scale
  (mean follow-up 1), a :class:`SurvivalData`.
* A :class:`Likelihood` is what the optimiser needs of a model: coefficient names and
  per-observation terms ``terms(p, t, logt, d) -> (ll, score)``. :func:`left_truncated` adds
  delayed entry (minus the terms' log-survival at the entry time).
* :func:`maximise` runs BFGS from the starts, damped Newton polishing (Hessian = central
  differences of the score) and a Nelder-Mead fallback, and judges convergence (positive
  definite information, Newton decrement < 1e-6, coefficients inside +-30 on the normalised
  scale); :func:`covariance` is the inverse observed information (``hta.numerics``) mapped back
  to the data's time unit; :class:`InformationCriteria` gives ``n_par``, ``aic`` and ``bic``.

Methods: ``docs/fitting.md``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from hta.errors import HtaError
from hta.numerics import inverse_information, is_positive_definite

__all__ = [
    "COEF_LIMIT",
    "InformationCriteria",
    "Likelihood",
    "Optimum",
    "SurvivalData",
    "covariance",
    "hessian",
    "left_truncated",
    "loglik_and_score",
    "maximise",
    "validate",
]

COEF_LIMIT = 30.0  # |coefficient| beyond this on the normalised time scale = boundary


@dataclass
class SurvivalData:
    """Data of a fit on the normalised time scale (times divided by ``time_scale``)."""

    t: np.ndarray  # times divided by time_scale (well-conditioned optimisation)
    logt: np.ndarray
    d: np.ndarray
    w: np.ndarray
    x: np.ndarray | None  # arm indicator or None
    time_scale: float
    n_obs: float
    n_events: float
    entry: np.ndarray | None = None  # left-truncation times / time_scale, or None

    def without_arm(self) -> SurvivalData:
        """The same data without the arm covariate (the pooled fit that gives arm starts)."""
        return dataclasses.replace(self, x=None)


@dataclass(frozen=True)
class Likelihood:
    """What :func:`maximise` needs of a model.

    ``terms(p, t, logt, d) -> (ll, g)``: per-observation log-likelihood ``ll`` (N,) and its
    derivative ``g`` (k, N) in each coefficient (``p`` a list of k coefficients, scalars or
    (N,) arrays); ``location``: the coefficient an arm covariate shifts; ``multimodal``:
    search from every start.
    """

    name: str
    coef_names: tuple[str, ...]
    terms: Callable
    location: int = 0
    multimodal: bool = False


def left_truncated(family: Likelihood, entry: np.ndarray) -> Likelihood:
    """``family`` with each term minus its log-survival at ``entry`` (normalised time; 0 = no
    truncation): ``d log h(t) - H(t) + H(entry)``, flexsurv's ``Surv(entry, time, event)``."""
    mask = entry > 0
    t0 = np.where(mask, entry, 1.0)
    logt0, zero, m = np.log(t0), np.zeros_like(t0), mask.astype(float)
    base = family.terms

    def terms(p, t, logt, d):
        ll, g = base(p, t, logt, d)
        ll0, g0 = base(p, t0, logt0, zero)  # log S(t0) and its score
        return ll - m * ll0, g - m * g0

    return dataclasses.replace(family, terms=terms)


def loglik_and_score(family: Likelihood, theta: np.ndarray, data: SurvivalData):
    """Total weighted log-likelihood and its gradient on the normalised time scale.

    The terms are ``family.terms`` per observation (``d log h(t) - H(t)``, minus the same at
    the entry time when the family is left-truncated, see :func:`left_truncated`); weights
    multiply them; with an arm the location coefficient is shifted per observation.
    """
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


def hessian(family, theta, data, rel_step=1e-4):
    """Hessian of the log-likelihood: central differences of the analytic score."""
    k = len(theta)
    hess = np.empty((k, k))
    for j in range(k):
        h = rel_step * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        with np.errstate(over="ignore", invalid="ignore"):
            hess[:, j] = (loglik_and_score(family, up, data)[1]
                          - loglik_and_score(family, down, data)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


# ---------------------------------------------------------------------------------------------
# Optimisation
# ---------------------------------------------------------------------------------------------


@dataclass
class Optimum:
    theta: np.ndarray
    loglik: float
    hessian: np.ndarray | None
    converged: bool
    message: str


def newton_polish(family, theta, data, max_iter=30):
    """Damped Newton steps from a near-optimum; returns (theta, ll, hessian, converged, msg)."""
    ll, grad = loglik_and_score(family, theta, data)
    hess = None
    for _ in range(max_iter):
        if not np.isfinite(ll):
            return theta, ll, None, False, "log-likelihood is not finite at the optimum"
        hess = hessian(family, theta, data)
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
            ll_trial, grad_trial = loglik_and_score(family, trial, data)
            if np.isfinite(ll_trial) and ll_trial >= ll - 1e-12 * abs(ll):
                break
            scale *= 0.5
        else:
            break
        theta, ll, grad = trial, ll_trial, grad_trial
    hess = hessian(family, theta, data) if np.isfinite(ll) else None
    ok = False
    if hess is not None and np.all(np.isfinite(hess)) and is_positive_definite(-hess):
        # judged by eigenvalues, not by whether a Cholesky factorisation happens to succeed
        ok = float(grad @ np.linalg.solve(-hess, grad)) < 1e-6
    msg = "converged" if ok else ("the observed information is not positive definite: the "
                                  "likelihood is flat or unbounded in some direction")
    return theta, ll, hess, ok, msg


def maximise(family: Likelihood, starts, data: SurvivalData) -> Optimum:
    """Best of BFGS runs from the given starts, polished by Newton; Nelder-Mead as fallback.

    ``family``: the :class:`Likelihood`; ``starts``: coefficient vectors on the normalised time
    scale (``data``'s); returns the :class:`Optimum` (converged or with a message why not).
    """
    scored = []
    for s in starts:
        s = np.asarray(s, dtype=float)
        ll, _ = loglik_and_score(family, s, data)
        if np.isfinite(ll):
            scored.append((ll, s))
    if not scored:
        return Optimum(np.asarray(starts[0], float), -np.inf, None, False,
                        "the log-likelihood is not finite at any starting value")
    scored.sort(key=lambda pair: -pair[0])
    scale = data.n_obs

    def objective(theta):
        ll, grad = loglik_and_score(family, theta, data)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(theta)
        return -ll / scale, -grad / scale

    def bfgs(start):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = optimize.minimize(objective, start, jac=True, method="BFGS",
                                    options={"gtol": 1e-7, "maxiter": 500})
        theta = res.x if np.isfinite(res.fun) else start
        return loglik_and_score(family, theta, data)[0], theta

    def refine(theta):
        """Newton polish; if that fails, Nelder-Mead then Newton again."""
        if np.any(np.abs(theta) > COEF_LIMIT):  # diverging: do not chase it further
            return Optimum(theta, loglik_and_score(family, theta, data)[0], None, False, "")
        result = Optimum(*newton_polish(family, theta, data))
        if result.converged:
            return result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nm = optimize.minimize(lambda th: objective(th)[0], result.theta, method="Nelder-Mead",
                                   options={"xatol": 1e-9, "fatol": 1e-13,
                                            "maxiter": 1000 * len(theta)})
        if np.isfinite(nm.fun) and np.all(np.abs(nm.x) <= COEF_LIMIT):
            retry = Optimum(*newton_polish(family, nm.x, data))
            if retry.converged or retry.loglik > result.loglik:
                result = retry
        return result

    # multimodality is a practical concern only for the generalised gamma: try all its starts
    first = len(scored) if family.multimodal else 1
    ends = sorted((bfgs(start) for _, start in scored[:first]), key=lambda p: -p[0])
    best: Optimum | None = None
    for ll_end, theta in ends + [bfgs(start) for _, start in scored[first:3]]:
        result = refine(theta)
        if best is None or (result.converged, result.loglik) > (best.converged, best.loglik):
            best = result
        if best.converged:
            break
    if np.any(np.abs(best.theta) > COEF_LIMIT):
        names = list(family.coef_names) + (["arm"] if data.x is not None else [])
        j = int(np.argmax(np.abs(best.theta)))
        best.converged = False
        best.message = (f"coefficient '{names[j]}' ran to {best.theta[j]:.3g} (time-normalised "
                        f"scale): the maximum is at the edge of the parameter space")
    return best


def validate(time, event, weights=None, arm=None, entry=None) -> SurvivalData:
    """Check the data of a fit and put it on the normalised time scale (mean follow-up 1).

    ``time`` (N,) > 0, any unit; ``event`` 0/1; ``weights`` optional case weights; ``arm``
    optional 0/1; ``entry`` optional left-truncation times >= 0, below ``time``.
    """
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
    data = SurvivalData(t=t / scale, logt=np.log(t) - np.log(scale), d=d, w=w, x=x,
                        time_scale=scale, n_obs=float(w.sum()), n_events=n_events)
    if entry is not None:
        t0 = np.asarray(entry, dtype=float)
        if t0.shape != data.t.shape or not np.all(np.isfinite(t0)) or np.any(t0 < 0):
            raise HtaError(f"entry: expected finite times >= 0 of shape {data.t.shape}; found shape "
                           f"{t0.shape}" + (" with negative or missing values" if t0.shape == data.t.shape else ""))
        raw_t = data.t * data.time_scale
        if np.any(t0 >= raw_t):
            i = int(np.flatnonzero(t0 >= raw_t)[0])
            raise HtaError(f"entry: expected each entry time below its exit time; found entry "
                           f"{t0[i]:g} >= time {raw_t[i]:g} at position {i}")
        data.entry = t0 / data.time_scale
    return data


def covariance(opt: Optimum, jac: np.ndarray | None = None, mult: np.ndarray | None = None) -> np.ndarray:
    """Covariance of the coefficients: the inverse observed information at a converged optimum
    (NaN otherwise), mapped to the reported coefficients by ``mult`` (elementwise,
    ``cov * outer(mult, mult)``) or by a Jacobian ``jac`` (``jac cov jac'``)."""
    k = len(opt.theta)
    if not (opt.converged and opt.hessian is not None):
        return np.full((k, k), np.nan)
    cov = inverse_information(opt.hessian)
    if mult is not None:
        cov = cov * np.outer(mult, mult)
    if jac is not None:
        cov = jac @ cov @ jac.T
    return cov


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


