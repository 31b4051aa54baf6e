"""The parametric families with elementary formulas: exponential, Weibull (AFT and PH),
Gompertz, log-normal and log-logistic (flexsurv parameterisations, ``docs/parameterisations.md``).

Each family is ONE class: the curve (survival, hazard, cumulative hazard, vectorised over
samples) and what maximum likelihood needs (``hta.survival.curve_base.ParametricCurve``'s
fitting interface: location coefficient, time rescaling, starting values). ``loglik_terms`` is
each family's analytic fast path (log-likelihood terms with their analytic score);
``tests/test_families.py`` checks it against the generic derivation from the hazard and
cumulative hazard (``ParametricCurve.generic_terms``). The gamma families are in
``hta.survival.families_gamma``; the registry is ``hta.survival.curves.DISTRIBUTIONS``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from hta.survival.curve_base import (
    LOG_2PI,
    ParametricCurve,
    arm_log_rates,
    check_probability,
    log_time_moments,
)

__all__ = [
    "Exponential",
    "Gompertz",
    "LogLogistic",
    "LogNormal",
    "Weibull",
    "WeibullPH",
    "expm1_over_x",
]


def expm1_over_x(x):
    """expm1(x) / x for the likelihood fast paths (1 + x/2 below |x| = 1e-10)."""
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


class Exponential(ParametricCurve):
    """Exponential: h(t) = rate, S(t) = exp(-rate t). flexsurv "exp"."""

    param_names = ("rate",)
    positive = ("rate",)
    coef_names = ("log_rate",)

    # fitting (hta.survival.fit)
    location = 0
    log_shift = (-1.0,)
    effect = "hazard_ratio"

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        (log_rate,) = p
        rate_t = np.exp(log_rate) * t
        ll = d * log_rate - rate_t
        return ll, np.array([np.broadcast_to(d - rate_t, t.shape)])

    @classmethod
    def fit_starts(cls, data, fitted):
        starts = [np.array([log_time_moments(data)[2]])]
        if data.entry is not None:  # left truncation: the truncated MLE in closed form first
            exposure = float(data.w @ (data.t - data.entry))
            starts = [np.array([np.log(data.n_events / exposure)])] + starts
        return starts

    @classmethod
    def arm_starts(cls, theta_single, data):
        rates = arm_log_rates(data)
        return [np.array([rates[0], rates[1] - rates[0]])]

    @classmethod
    def _params_from_coefs(cls, c):
        return {"rate": np.exp(c[:, 0])}

    def _coefs_from_params(self):
        return [np.log(self.rate)]

    def _cumhaz(self, t):
        return self._col("rate") * t

    def _log_hazard(self, t):
        return np.log(self._col("rate")) + np.zeros_like(t)

    def rmst(self, tmax):
        r = self.rate
        tmax = np.asarray(tmax, dtype=float)
        # (1 - exp(-r T)) / r, written with expm1 for small r T
        return -np.expm1(-r * tmax) / r

    def quantile(self, p):
        p = check_probability(p)
        return -np.log1p(-p) / self.rate


class Weibull(ParametricCurve):
    """Weibull, accelerated-failure-time form (flexsurv "weibull", R dweibull).

    S(t) = exp(-(t/scale)^shape); h(t) = (shape/scale) (t/scale)^(shape-1).
    """

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

    # fitting (hta.survival.fit)
    location = 1
    log_shift = (0.0, 1.0)

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
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

    @classmethod
    def fit_starts(cls, data, fitted):
        mean, sd, log_rate = log_time_moments(data)
        shape = np.pi / (sd * np.sqrt(6.0))  # Gumbel-min sd of log T
        return [np.array([0.0, -log_rate]),
                np.array([np.log(shape), mean + 0.5772 / shape - log_rate / 2]),
                np.array([np.log(shape), -log_rate])]

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "scale": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.scale)]

    def _cumhaz(self, t, out=None):
        # (t/scale)^shape written as exp(shape (log t - log scale)): log t is one (T,) row shared
        # by every curve, so each (n, T) value costs a subtraction, a product and an exp, about
        # 30% less than a division and a power (docs/performance.md). The two forms agree within
        # a few units in the last place of H. t = 0 gives log 0 = -inf and H = exp(-inf) = 0.
        with np.errstate(divide="ignore"):
            log_t = np.log(t)
        h = np.subtract(log_t, np.log(self._col("scale")), out=out)  # a fresh (n|m, T) array unless out
        np.multiply(h, self._col("shape"), out=h)
        return np.exp(h, out=h)

    def _survival(self, t):
        # exp(-H) in place: PSA batches make (n, T) arrays of 100+ MB, and each temporary costs a
        # fresh allocation and a pass over memory.
        s = self._cumhaz(t)
        np.negative(s, out=s)
        return np.exp(s, out=s)

    def _survival_into(self, t, out):
        # the same operations as _survival, written into the caller's array
        self._cumhaz(t, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)

    def _log_hazard(self, t):
        k, lam = self._col("shape"), self._col("scale")
        with np.errstate(divide="ignore"):
            return np.log(k) - np.log(lam) + special.xlogy(k - 1.0, t / lam)

    def rmst(self, tmax):
        k, lam = self.shape, self.scale
        tmax = np.asarray(tmax, dtype=float)
        # integral of exp(-(t/lam)^k) on [0, T] = lam Gamma(1 + 1/k) P(1/k, (T/lam)^k)
        return lam * special.gamma(1.0 + 1.0 / k) * special.gammainc(1.0 / k, (tmax / lam) ** k)

    def quantile(self, p):
        p = check_probability(p)
        return self.scale * (-np.log1p(-p)) ** (1.0 / self.shape)


class WeibullPH(ParametricCurve):
    """Weibull, proportional-hazards form (flexsurv "weibullPH").

    h(t) = shape scale t^(shape-1); S(t) = exp(-scale t^shape). Equals ``Weibull(shape,
    scale_aft)`` with ``scale = scale_aft^(-shape)``.
    """

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

    # fitting: the Weibull AFT fit re-expressed (log m = -a log b, arm_ph = -a arm_aft)
    location = 1
    effect = "hazard_ratio"
    fitted_by_default = False
    derived_from = "weibull"

    @classmethod
    def from_parent(cls, coef, has_arm):
        c = coef
        a = np.exp(c[0])
        out = [c[0], -a * c[1]]
        jac = [[1.0, 0.0], [-a * c[1], -a]]
        if has_arm:
            out.append(-a * c[2])
            jac = [[1.0, 0.0, 0.0], [-a * c[1], -a, 0.0], [-a * c[2], 0.0, -a]]
        return out, np.array(jac)

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "scale": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.scale)]

    def to_aft(self) -> Weibull:
        """The same curves as :class:`Weibull` (AFT scale = scale^(-1/shape))."""
        return Weibull(self.shape, self.scale ** (-1.0 / self.shape))

    def _cumhaz(self, t):
        return self._col("scale") * t ** self._col("shape")

    def _log_hazard(self, t):
        k, b = self._col("shape"), self._col("scale")
        with np.errstate(divide="ignore"):
            return np.log(k) + np.log(b) + special.xlogy(k - 1.0, t)

    def rmst(self, tmax):
        return self.to_aft().rmst(tmax)

    def quantile(self, p):
        return self.to_aft().quantile(p)


def _expm1_ratio(x):
    """expm1(x) / x, equal to 1 at x = 0 and accurate near it."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 + 0.5 * x, np.expm1(safe) / safe)


def _log1p_ratio(x):
    """log1p(x) / x, equal to 1 at x = 0 and accurate near it."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(small, 1.0 - 0.5 * x, np.log1p(safe) / safe)


class Gompertz(ParametricCurve):
    """Gompertz (flexsurv "gompertz"): h(t) = rate exp(shape t).

    H(t) = (rate/shape)(exp(shape t) - 1), tending to ``rate t`` (exponential) as shape -> 0.
    A negative shape gives a falling hazard and a survival plateau at exp(rate/shape) > 0.
    """

    param_names = ("shape", "rate")
    positive = ("rate",)
    coef_names = ("shape", "log_rate")

    # fitting (hta.survival.fit)
    location = 1
    log_shift = (0.0, -1.0)
    effect = "hazard_ratio"

    @classmethod
    def scale_mult(cls, c):
        return np.array([1.0 / c, 1.0])

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        # h = b e^(a t), H = b t expm1(a t)/(a t)
        a, log_b = p
        b = np.exp(log_b)
        x = a * t
        with np.errstate(over="ignore"):
            cumhaz = b * t * expm1_over_x(x)
            ll = d * (log_b + x) - cumhaz
            g_a = d * t - b * t * t * _gompertz_g(x)
        return ll, np.array([g_a, d - cumhaz])

    @classmethod
    def fit_starts(cls, data, fitted):
        log_rate = log_time_moments(data)[2]
        return [np.array([a, log_rate]) for a in (0.0, -0.5, 0.5, -2.0)]

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": c[:, 0], "rate": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [self.shape, np.log(self.rate)]

    def _cumhaz(self, t):
        a, b = self._col("shape"), self._col("rate")
        with np.errstate(over="ignore"):
            return b * t * _expm1_ratio(a * t)

    def _log_hazard(self, t):
        return np.log(self._col("rate")) + self._col("shape") * t

    def quantile(self, p):
        p = check_probability(p)
        h = -np.log1p(-p)  # cumulative hazard at the quantile
        x = self.shape * h / self.rate
        with np.errstate(invalid="ignore"):
            t = (h / self.rate) * _log1p_ratio(x)
        return np.where(x <= -1.0, np.inf, t)  # plateau above 1 - p: never reached


class LogNormal(ParametricCurve):
    """Log-normal (flexsurv "lnorm"): log T ~ Normal(meanlog, sdlog)."""

    param_names = ("meanlog", "sdlog")
    positive = ("sdlog",)
    coef_names = ("meanlog", "log_sdlog")

    # fitting (hta.survival.fit)
    location = 0
    log_shift = (1.0, 0.0)

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        meanlog, log_sd = p
        sd = np.exp(log_sd)
        w = (logt - meanlog) / sd
        log_s = special.log_ndtr(-w)
        ll = d * (-0.5 * w * w - 0.5 * LOG_2PI - log_sd - logt) + (1.0 - d) * log_s
        mills = np.exp(-0.5 * w * w - 0.5 * LOG_2PI - log_s)  # phi(w) / Phi(-w)
        dw = -d * w - (1.0 - d) * mills  # d ll / d w
        return ll, np.array([np.broadcast_to(-dw / sd, t.shape), -d - w * dw])

    @classmethod
    def fit_starts(cls, data, fitted):
        mean, sd, log_rate = log_time_moments(data)
        log_sd = np.log(sd)
        return [np.array([mean - log_rate / 2, log_sd]), np.array([-log_rate, 0.0]),
                np.array([mean, log_sd])]

    @classmethod
    def _params_from_coefs(cls, c):
        return {"meanlog": c[:, 0], "sdlog": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [self.meanlog, np.log(self.sdlog)]

    def _z(self, t):
        with np.errstate(divide="ignore"):
            return (np.log(t) - self._col("meanlog")) / self._col("sdlog")

    def _cumhaz(self, t):
        return -special.log_ndtr(-self._z(t))

    def _log_hazard(self, t):
        z = self._z(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_f = -np.log(t) - np.log(self._col("sdlog")) - 0.5 * LOG_2PI - 0.5 * z * z
            out = log_f - special.log_ndtr(-z)
        return np.where(t == 0, -np.inf, out)

    def rmst(self, tmax):
        tmax = np.atleast_1d(np.asarray(tmax, dtype=float))
        mu, s = self.meanlog, self.sdlog
        with np.errstate(divide="ignore"):
            z = (np.log(tmax) - mu) / s
        # integral of S = T S(T) + E[T; T <= T_max]
        partial = np.exp(mu + 0.5 * s * s) * special.ndtr(z - s)
        with np.errstate(invalid="ignore"):
            boundary = np.where((tmax > 0) & np.isfinite(tmax), tmax * special.ndtr(-z), 0.0)
        return boundary + partial

    def quantile(self, p):
        p = check_probability(p)
        return np.exp(self.meanlog + self.sdlog * special.ndtri(p))


class LogLogistic(ParametricCurve):
    """Log-logistic (flexsurv "llogis"): S(t) = 1 / (1 + (t/scale)^shape)."""

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

    # fitting (hta.survival.fit)
    location = 1
    log_shift = (0.0, 1.0)

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        # S = 1/(1+e^z), log h = log a - log t + z - log(1+e^z), z = a (log t - log b)
        log_a, log_b = p
        a = np.exp(log_a)
        z = a * (logt - log_b)
        softplus = np.logaddexp(0.0, z)
        ll = d * (log_a - logt + z - softplus) - softplus
        dz = d * special.expit(-z) - special.expit(z)  # d ll / d z
        return ll, np.array([d + dz * z, np.broadcast_to(-a * dz, t.shape)])

    @classmethod
    def fit_starts(cls, data, fitted):
        mean, sd, log_rate = log_time_moments(data)
        shape = np.pi / (sd * np.sqrt(3.0))  # logistic sd of log T
        return [np.array([np.log(shape), mean - log_rate / 2]), np.array([0.0, -log_rate])]

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "scale": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.scale)]

    def _logz(self, t):
        with np.errstate(divide="ignore"):
            return self._col("shape") * np.log(t / self._col("scale"))

    def _cumhaz(self, t):
        return np.logaddexp(0.0, self._logz(t))  # log1p((t/scale)^shape), overflow-safe

    def _log_hazard(self, t):
        k, lam = self._col("shape"), self._col("scale")
        with np.errstate(divide="ignore"):
            out = (np.log(k) - np.log(lam) + special.xlogy(k - 1.0, t / lam)
                   - np.logaddexp(0.0, self._logz(t)))
        return out

    def quantile(self, p):
        p = check_probability(p)
        return self.scale * (p / (1.0 - p)) ** (1.0 / self.shape)
