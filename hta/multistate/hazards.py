"""Elementwise cumulative hazards and their inverses, in flexsurv's parameterisations.

``cumhaz(dist, c, t)`` and ``inverse_cumhaz(dist, c, H)`` take the unconstrained coefficients
``c = (c_0, c_1, ...)`` of :mod:`hta.survival.curves` (``coef_names`` order), each an array that
broadcasts with ``t`` / ``H`` (e.g. one value per PSA draw and patient). They are the kernels of
the individual-level simulation: a time to event with cumulative hazard ``H`` is drawn as
``T = H^-1(E)`` with ``E ~ Exp(1)``, and conditional on survival to ``s`` as
``T = H^-1(H(s) + E)``.

| family | coefficients | H(t) | H^-1(y) |
|---|---|---|---|
| exponential | log rate | r t | y / r |
| weibull | log a, log b | (t/b)^a | b y^(1/a) |
| weibullph | log a, log m | m t^a | (y/m)^(1/a) |
| gompertz | a, log b | b/a (e^(a t) - 1) | log1p(a y / b) / a (inf if a < 0 and a y / b <= -1) |
| lognormal | mu, log s | -log Phi(-(log t - mu)/s) | exp(mu - s Phi^-1(e^-y)) |
| loglogistic | log a, log b | log1p((t/b)^a) | b expm1(y)^(1/a) |
| gamma | log a, log r | -log Q(a, r t) | Q^-1(a, e^-y) / r |
| gengamma | mu, log s, Q | as flexsurv | via the gamma quantile (Q != 0), log-normal at Q = 0 |

Any other family registered in ``hta.survival.curves.DISTRIBUTIONS`` uses its class: ``H`` from
its ``_cumhaz`` and ``H^-1(y)`` from its ``quantile`` at ``1 - e^-y`` (one curve per element).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from hta.errors import HtaError
from hta.survival.curves import DISTRIBUTIONS as REGISTRY

__all__ = ["FAMILIES", "N_COEF", "cumhaz", "inverse_cumhaz"]

#: number of coefficients of every registered family (``hta.survival.curves.DISTRIBUTIONS``)
N_COEF = {name: len(cls.coef_names) for name, cls in REGISTRY.items()}
FAMILIES = tuple(N_COEF)
#: the families with the elementwise formulas below; any other registered family uses its class
_KERNELS = ("exponential", "weibull", "weibullph", "gompertz", "lognormal", "loglogistic", "gamma",
            "gengamma")
_Q_SMALL = 1e-8


def _check(dist: str, c) -> None:
    if dist not in REGISTRY:
        raise HtaError(f"distribution: expected one of {', '.join(REGISTRY)}; found {dist!r}")
    k = len(REGISTRY[dist].coef_names)
    if len(c) != k:
        raise HtaError(f"{dist}: expected {k} coefficients; found {len(c)}")


def _per_element(dist: str, c, x):
    """The family's curves with one sample per element of the broadcast of ``c`` and ``x``,
    the flattened ``x`` and the broadcast shape (for families without elementwise kernels)."""
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in c], np.asarray(x, dtype=float))
    flat = [a.ravel() for a in arrays]
    return REGISTRY[dist].per_observation(flat[:-1], flat[-1].size), flat[-1], arrays[-1].shape


def _generic_cumhaz(dist, c, t):
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in c], np.asarray(t, dtype=float))
    flat = [a.ravel() for a in arrays]
    return REGISTRY[dist].cumhaz_coef(flat[:-1], flat[-1]).reshape(arrays[-1].shape)


def _generic_inverse(dist, c, y):
    """t with H(t) = y from the family's quantile at p = 1 - e^-y (0 at y = 0; inf where the
    curve never falls that far, and where p rounds to 1)."""
    curve, yy, shape = _per_element(dist, c, y)
    p = -np.expm1(-yy)
    inner = (p > 0) & (p < 1)
    out = np.where(p <= 0, 0.0, np.inf)
    if inner.any():
        out[inner] = curve.take(np.flatnonzero(inner)).quantile(p[inner])
    return out.reshape(shape)


def cumhaz(dist: str, c, t) -> np.ndarray:
    """H(t) elementwise (t >= 0; H(0) = 0)."""
    _check(dist, c)
    t = np.asarray(t, dtype=float)
    if dist not in _KERNELS:
        return _generic_cumhaz(dist, c, t)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if dist == "exponential":
            return np.exp(c[0]) * t
        if dist == "weibull":
            return (t * np.exp(-c[1])) ** np.exp(c[0])
        if dist == "weibullph":
            return np.exp(c[1]) * t ** np.exp(c[0])
        if dist == "gompertz":
            a, b = c[0], np.exp(c[1])
            x = a * t
            small = np.abs(x) < 1e-10
            ratio = np.where(small, 1.0 + 0.5 * x, np.expm1(x) / np.where(small, 1.0, x))
            return b * t * ratio
        if dist == "lognormal":
            z = (np.log(t) - c[0]) * np.exp(-c[1])
            return -special.log_ndtr(-z)
        if dist == "loglogistic":
            return np.log1p((t * np.exp(-c[1])) ** np.exp(c[0]))
        if dist == "gamma":
            a = np.exp(c[0])
            return -_log_upper(a, np.exp(c[1]) * t)
        # gengamma
        return -_gengamma_log_surv(c[0], np.exp(c[1]), c[2], t)


def _gengamma_log_surv(mu, sigma, q, t):
    mu, sigma, q, t = np.broadcast_arrays(mu, sigma, q, t)
    w = (np.log(t) - mu) / sigma
    small = np.abs(q) < _Q_SMALL
    qs = np.where(small, 1.0, q)
    shape = 1.0 / (qs * qs)
    u = shape * np.exp(qs * w)
    return np.where(small, special.log_ndtr(-w),
                    np.where(qs > 0, _log_upper(shape, u), _log_upper(shape, u, lower=True)))


def _log_upper(a, x, lower=False):
    """log Q(a, x) (or log P(a, x)), through log1p of the complement when that is small."""
    q, p = special.gammaincc(a, x), special.gammainc(a, x)
    if lower:
        q, p = p, q
    return np.where(q > 0.5, np.log1p(-p), np.log(q))


def _inv_upper(a, y, lower=False):
    """x with Q(a, x) = e^-y (or P(a, x) = e^-y), through the complement -expm1(-y) when e^-y
    is near 1 (small y)."""
    s, comp = np.exp(-y), -np.expm1(-y)
    if lower:
        return np.where(s > 0.5, special.gammainccinv(a, comp), special.gammaincinv(a, s))
    return np.where(s > 0.5, special.gammaincinv(a, comp), special.gammainccinv(a, s))


def inverse_cumhaz(dist: str, c, y) -> np.ndarray:
    """The time ``t`` with ``H(t) = y`` (``inf`` where the cumulative hazard never reaches y)."""
    _check(dist, c)
    y = np.asarray(y, dtype=float)
    if dist not in _KERNELS:
        return _generic_inverse(dist, c, y)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if dist == "exponential":
            return y * np.exp(-c[0])
        if dist == "weibull":
            return np.exp(c[1]) * y ** np.exp(-c[0])
        if dist == "weibullph":
            return (y * np.exp(-c[1])) ** np.exp(-c[0])
        if dist == "gompertz":
            a, b = c[0], np.exp(c[1])
            z = a * y / b
            small = np.abs(a) < 1e-10
            t = np.log1p(z) / np.where(small, 1.0, a)
            t = np.where(small, y / b, t)
            return np.where(~small & (z <= -1.0), np.inf, t)
        if dist == "lognormal":
            return np.exp(c[0] - np.exp(c[1]) * special.ndtri_exp(-y))
        if dist == "loglogistic":
            return np.exp(c[1]) * np.expm1(y) ** np.exp(-c[0])
        if dist == "gamma":
            return _inv_upper(np.exp(c[0]), y) * np.exp(-c[1])
        mu, log_s, q = np.broadcast_arrays(c[0], c[1], c[2], y)[:3]
        s = np.exp(log_s)
        small = np.abs(q) < _Q_SMALL
        qs = np.where(small, 1.0, q)
        shape = 1.0 / (qs * qs)
        g = np.where(qs > 0, _inv_upper(shape, y), _inv_upper(shape, y, lower=True))
        w = np.log(g / shape) / qs
        w = np.where(small, -special.ndtri_exp(-y), w)
        return np.exp(mu + s * w)
