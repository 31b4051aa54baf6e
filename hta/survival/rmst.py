"""Restricted mean survival time (RMST) with its standard error and confidence interval.

* :func:`rmst` -- of a fitted model (:class:`hta.survival.fit.FittedModel`; also a
  Royston-Parmar :class:`hta.survival.splines.FittedSpline` or a mixture cure
  :class:`hta.survival.cure.CureFit`), for one arm or as the difference between arms, by the delta method on the model's unconstrained
  coefficients (gradient by central differences of the closed-form or quadrature RMST) or by
  sampling the coefficients from their asymptotic multivariate normal distribution.
* :func:`km_rmst` -- of the Kaplan-Meier curve, with the standard error R's ``survival``
  package prints (``print(survfit(...), rmean=tau)``).

Times and ``tau`` are in the unit of the data the curve was fitted to (months if the data were
in months); the RMST is in the same unit (e.g. months of survival within the first ``tau``
months).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from hta.errors import HtaError
from hta.survival.curves import make_curve
from hta.survival.km import kaplan_meier
from hta.survival.splines import SplineCurve

__all__ = ["RmstResult", "rmst", "km_rmst"]

_METHODS = ("delta", "sample")
# Relative step of the central differences for the delta-method gradient (coefficients are on
# an unconstrained log-type scale, so an absolute step of this size is well scaled).
_STEP = 1e-5


@dataclass(frozen=True)
class RmstResult:
    """Restricted mean up to ``tau`` (the data's time unit), with SE and a two-sided CI.

    ``method`` is ``"delta"``, ``"sample"`` (then ``lower``/``upper`` are percentiles of the
    sampled RMSTs and ``se`` their standard deviation) or ``"kaplan-meier"``. ``what`` says
    which quantity: ``"arm 0"``, ``"arm 1"``, ``"arm 1 - arm 0"`` or ``"kaplan-meier"``.
    """

    tau: float
    estimate: float
    se: float
    lower: float
    upper: float
    conf_level: float
    method: str
    what: str


def _check_tau(tau) -> float:
    value = np.asarray(tau, dtype=float)
    if value.ndim != 0 or not np.isfinite(value) or value <= 0:
        raise HtaError(f"RMST tau: expected one finite time > 0 (in the data's time unit); found {tau!r}")
    return float(value)


def _check_level(conf_level) -> float:
    level = float(conf_level)
    if not 0.0 < level < 1.0:
        raise HtaError(f"RMST conf_level: expected a number in (0, 1); found {conf_level!r}")
    return level


def _curves(model, coefs: np.ndarray, arm: int):
    """The curves ``(m,)`` of coefficient rows ``(m, n_par)`` of a parametric, spline or cure fit."""
    if hasattr(model, "_curve_coefs"):  # FittedModel (hta.survival.fit)
        return make_curve(model.distribution, model._curve_coefs(coefs, arm))
    if hasattr(model, "_curve_from"):  # CureFit (hta.survival.cure)
        return model._curve_from(coefs)
    if hasattr(model, "knots") and hasattr(model, "scale"):  # FittedSpline (hta.survival.splines)
        return SplineCurve(coefs, model.knots, model.scale)
    raise HtaError(f"RMST model: expected a fitted parametric, spline or cure model; found {type(model).__name__}")


def _rmst_of_coefficients(model, coefs: np.ndarray, tau: float, arm) -> np.ndarray:
    """RMST ``(m,)`` for coefficient rows ``(m, n_par)``; ``arm="difference"`` gives arm 1 - arm 0."""
    if arm == "difference":
        return _curves(model, coefs, 1).rmst(tau) - _curves(model, coefs, 0).rmst(tau)
    return _curves(model, coefs, arm).rmst(tau)


def rmst(model, tau, arm=0, *, conf_level: float = 0.95, method: str = "delta",
         n_draws: int = 10_000, seed=None) -> RmstResult:
    """RMST up to ``tau`` of a fitted parametric model, with SE and CI.

    Args:
        model: a converged :class:`hta.survival.fit.FittedModel` (``fit(...)[name]``), or a
            single-arm :class:`~hta.survival.splines.FittedSpline` or
            :class:`~hta.survival.cure.CureFit`.
        tau: the horizon, in the data's time unit.
        arm: 0 or 1 (the arm's curve; 1 needs a fit with an arm covariate), or
            ``"difference"`` for RMST(arm 1) - RMST(arm 0).
        conf_level: two-sided level of the interval.
        method: ``"delta"`` -- SE = sqrt(g' V g) with g the gradient of the RMST in the
            unconstrained coefficients (central differences) and V their covariance; the CI is
            estimate +/- z SE. ``"sample"`` -- ``n_draws`` multivariate-normal draws of the
            coefficients (``seed``); SE is the SD of the RMSTs and the CI their percentiles
            (the estimate stays the RMST of the fitted coefficients).

    RMST uses each family's closed form where one exists (exponential, Weibull: a regularised
    lower incomplete gamma) and Gauss-Legendre quadrature otherwise
    (:meth:`hta.survival.curves.SurvivalCurve.rmst`; splines and cure models use quadrature).
    """
    tau = _check_tau(tau)
    level = _check_level(conf_level)
    if method not in _METHODS:
        raise HtaError(f"RMST method: expected one of {', '.join(_METHODS)}; found {method!r}")
    if arm not in (0, 1, "difference"):
        raise HtaError(f"RMST arm: expected 0, 1 or 'difference'; found {arm!r}")
    has_arm = bool(getattr(model, "has_arm", False))
    if arm == 1 and not has_arm:
        raise HtaError(f"RMST arm 1: expected a {model.distribution} fit with an arm covariate; "
                       "found a single-arm fit")
    if arm == "difference" and not has_arm:
        raise HtaError(f"RMST arm 'difference': expected a {model.distribution} fit with an arm covariate; "
                       "found a single-arm fit")
    if not model.converged:
        raise HtaError(f"RMST: expected a converged {model.distribution} fit; found '{model.message}'")
    coef = model.coef.to_numpy(dtype=float)
    estimate = float(_rmst_of_coefficients(model, coef[None, :], tau, arm)[0])
    z = float(ndtri(0.5 + level / 2.0))
    what = {0: "arm 0", 1: "arm 1", "difference": "arm 1 - arm 0"}[arm]
    if method == "delta":
        p = coef.size
        steps = _STEP * np.maximum(1.0, np.abs(coef))
        shifted = np.concatenate([coef + np.diag(steps), coef - np.diag(steps)])  # (2p, p)
        values = _rmst_of_coefficients(model, shifted, tau, arm)
        grad = (values[:p] - values[p:]) / (2.0 * steps)
        var = float(grad @ model.cov.to_numpy(dtype=float) @ grad)
        se = float(np.sqrt(max(var, 0.0)))
        return RmstResult(tau, estimate, se, estimate - z * se, estimate + z * se, level, "delta", what)
    draws = model.sample_coefficients(int(n_draws), seed)
    values = _rmst_of_coefficients(model, draws, tau, arm)
    lower, upper = np.quantile(values, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return RmstResult(tau, estimate, float(np.std(values, ddof=1)), float(lower), float(upper), level,
                      "sample", what)


def km_rmst(time, event, tau, *, conf_level: float = 0.95) -> RmstResult:
    """RMST up to ``tau`` of the Kaplan-Meier curve, as R ``survival`` computes it.

    Area under the KM step function on ``[0, tau]`` (beyond the last observed time the last
    value is carried forward, as R does). Standard error (R ``survmean``, the Greenwood-type
    formula of Klein & Moeschberger 2003, section 4.5):
    ``var = sum_{event times t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i))`` with
    ``A_i = integral_{t_i}^{tau} S(u) du``; CI = estimate +/- z SE. Time unit: the data's.
    """
    tau = _check_tau(tau)
    level = _check_level(conf_level)
    km = kaplan_meier(time, event)
    t = km["time"].to_numpy(dtype=float)
    s = km["survival"].to_numpy(dtype=float)
    d = km["n_events"].to_numpy(dtype=float)
    n = km["n_at_risk"].to_numpy(dtype=float)
    inside = t <= tau
    t, s, d, n = t[inside], s[inside], d[inside], n[inside]
    # S after the jump at t_j holds on [t_j, t_{j+1}); the last step runs to tau
    widths = np.diff(np.append(t, tau))
    pieces = s * widths
    estimate = float(pieces.sum())
    after = np.cumsum(pieces[::-1])[::-1]  # A_j = integral from t_j to tau
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where((d > 0) & (n > d), after**2 * d / (n * (n - d)), 0.0)
    se = float(np.sqrt(terms.sum()))
    z = float(ndtri(0.5 + level / 2.0))
    return RmstResult(tau, estimate, se, estimate - z * se, estimate + z * se, level, "kaplan-meier",
                      "kaplan-meier")
