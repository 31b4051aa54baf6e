"""The gamma families: gamma and the generalised gamma (Prentice 1974), flexsurv parameterisations
(``docs/parameterisations.md``). One class per family, as in ``hta.survival.families``:
the curve plus the fitting interface, with an analytic fast path for the log-likelihood terms
checked against the generic derivation in ``tests/test_families.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from hta.survival.curve_base import (
    LOG_2PI,
    TINY,
    ParametricCurve,
    check_probability,
    log_gammainc_lower,
    log_gammainc_upper,
    log_time_moments,
)
from hta.survival.families import expm1_over_x

__all__ = ["Gamma", "GenGamma"]

_Q_LOGNORMAL = 1e-8  # |Q| below this: the log-normal limit in the fast path (the direct formula loses digits)


def _expm1_minus_x_over_x2(x):
    """(e^x - 1 - x) / x^2, equal to 1/2 at x = 0 and accurate near it."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    with np.errstate(over="ignore"):
        direct = (np.expm1(safe) - safe) / (safe * safe)
    series = 0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x / 120.0))
    return np.where(small, series, direct)


def _stirlerr(a):
    """lgamma(a) - [(a - 1/2) log a - a + log(2 pi)/2], the Stirling remainder (0 at a = inf)."""
    a = np.asarray(a, dtype=float)
    large = a >= 15.0
    inv = 1.0 / np.where(large, a, 15.0)
    inv2 = inv * inv
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    small_a = np.where(large, 1.0, a)
    direct = special.gammaln(small_a) - (small_a - 0.5) * np.log(small_a) + small_a - 0.5 * LOG_2PI
    return np.where(large, series, direct)


def _log_upper_gamma(a, x):
    """log Q(a, x), floored at log(tiny) so that far-tail data never give -inf (fast paths)."""
    return np.log(np.maximum(special.gammaincc(a, x), TINY))


def _log_lower_gamma(a, x):
    return np.log(np.maximum(special.gammainc(a, x), TINY))


def _stirling_correction(x):
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), accurate for large x (fast path)."""
    big = x >= 30.0
    xs = np.where(big, x, 30.0)
    series = 1 / (12 * xs) - 1 / (360 * xs**3) + 1 / (1260 * xs**5) - 1 / (1680 * xs**7)
    xd = np.where(big, 1.0, x)
    direct = special.gammaln(xd) - ((xd - 0.5) * np.log(xd) - xd + 0.5 * LOG_2PI)
    return np.where(big, series, direct)


def _gengamma_logf_logs(mu, log_sigma, q, t, logt):
    """(log f, log S) of the generalised gamma for the fast path; q is a scalar."""
    sigma = np.exp(log_sigma)
    w = (logt - mu) / sigma
    if abs(q) < _Q_LOGNORMAL:
        return -0.5 * w * w - 0.5 * LOG_2PI - log_sigma - logt, special.log_ndtr(-w)
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
    log_f = -logt - log_sigma - 0.5 * LOG_2PI - _stirling_correction(shape) - excess
    log_s = _log_upper_gamma(shape, u) if q > 0 else _log_lower_gamma(shape, u)
    return log_f, log_s


class Gamma(ParametricCurve):
    """Gamma (flexsurv "gamma", R dgamma): f(t) = rate^shape t^(shape-1) e^(-rate t) / Gamma(shape)."""

    param_names = ("shape", "rate")
    positive = ("shape", "rate")
    coef_names = ("log_shape", "log_rate")

    # fitting (hta.survival.fit)
    location = 1
    log_shift = (0.0, -1.0)
    effect_sign = -1.0
    prerequisites = ("weibull",)

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
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

    @classmethod
    def fit_starts(cls, data, fitted):
        log_rate = log_time_moments(data)[2]
        starts = [np.array([0.0, log_rate])]
        if "weibull" in fitted:
            log_a = fitted["weibull"][0]
            starts.append(np.array([log_a, log_a + log_rate]))
        return starts

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "rate": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.rate)]

    def _cumhaz(self, t):
        a, b = self._col("shape"), self._col("rate")
        return -log_gammainc_upper(a, b * t)

    def _log_hazard(self, t):
        a, b = self._col("shape"), self._col("rate")
        x = b * t
        with np.errstate(divide="ignore", invalid="ignore"):
            log_f = a * np.log(b) + special.xlogy(a - 1.0, t) - x - special.gammaln(a)
        return log_f - log_gammainc_upper(a, x)

    def rmst(self, tmax):
        tmax = np.atleast_1d(np.asarray(tmax, dtype=float))
        a, b = self.shape, self.rate
        # T S(T) + (a/b) P(a+1, b T)
        with np.errstate(invalid="ignore"):
            boundary = np.where(np.isfinite(tmax), tmax * special.gammaincc(a, b * tmax), 0.0)
        return boundary + (a / b) * special.gammainc(a + 1.0, b * tmax)

    def quantile(self, p):
        p = check_probability(p)
        return special.gammaincinv(self.shape, p) / self.rate


class GenGamma(ParametricCurve):
    """Generalised gamma, Prentice (1974) parameterisation (flexsurv "gengamma").

    With w = (log t - mu)/sigma and Q != 0: if G ~ Gamma(Q^-2, 1) then w = log(Q^2 G)/Q, so with
    u = Q^-2 exp(Q w), S(t) = Q(Q^-2, u) (upper regularised incomplete gamma) for Q > 0 and
    S(t) = P(Q^-2, u) for Q < 0. Q = 0 is the log-normal(mu, sigma). Special cases: Q = 1 is
    Weibull(shape = 1/sigma, scale = e^mu); Q = sigma is Gamma(shape = sigma^-2,
    rate = e^-mu / sigma^2).

    Near Q = 0 the incomplete-gamma formula loses accuracy (its shape Q^-2 is huge), so for
    |Q| < 1e-5 the log-survival is interpolated linearly in Q between the log-normal (Q = 0) and
    the direct formula at |Q| = 1e-5 (interpolation error O(1e-10); continuous in Q). The
    log-density is written in a form that is exact and stable for every Q, including 0.
    """

    param_names = ("mu", "sigma", "Q")
    positive = ("sigma",)
    coef_names = ("mu", "log_sigma", "Q")

    # fitting (hta.survival.fit)
    location = 0
    log_shift = (1.0, 0.0, 0.0)
    prerequisites = ("weibull", "lognormal", "gamma")
    multimodal = True

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        mu, log_sigma, q = p
        q = float(q)
        sigma = np.exp(log_sigma)
        w = (logt - mu) / sigma
        log_f, log_s = _gengamma_logf_logs(mu, log_sigma, q, t, logt)
        ll = d * log_f + (1.0 - d) * log_s
        # scores in w: d log f/dw = -expm1(Q w)/Q; d log S/dw = -sigma t h(t)
        dlogf_dw = -w * expm1_over_x(q * w)
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

    @classmethod
    def fit_starts(cls, data, fitted):
        mean, sd, _ = log_time_moments(data)
        log_sd = np.log(sd)
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
    _Q_SMALL = 1e-5

    @classmethod
    def _params_from_coefs(cls, c):
        return {"mu": c[:, 0], "sigma": np.exp(c[:, 1]), "Q": c[:, 2]}

    def _coefs_from_params(self):
        return [self.mu, np.log(self.sigma), self.Q]

    def _log_survival_direct(self, t, q):
        """log S from the gamma representation at Q = q (q != 0), shape (m, T)."""
        mu, s = self._col("mu"), self._col("sigma")
        t_pos = np.maximum(t, TINY)  # the t = 0 limits are taken at the smallest positive time
        w = (np.log(t_pos) - mu) / s
        a = 1.0 / (q * q)
        with np.errstate(over="ignore"):
            u = a * np.exp(q * w)
        a_full, u_full = np.broadcast_arrays(a, u)
        positive = np.broadcast_to(q > 0, u_full.shape)
        log_s = np.empty(u_full.shape)
        log_s[positive] = log_gammainc_upper(a_full[positive], u_full[positive])
        log_s[~positive] = log_gammainc_lower(a_full[~positive], u_full[~positive])
        return np.where(t == 0, 0.0, log_s)

    def _log_survival_lognormal(self, t):
        mu, s = self._col("mu"), self._col("sigma")
        with np.errstate(divide="ignore"):
            z = (np.log(t) - mu) / s
        return special.log_ndtr(-z)

    def _log_density(self, t):
        """log f, rearranged so that nothing cancels as Q -> 0 (exact log-normal at Q = 0).

        log f = log|Q| + a log a - log(sigma t) - lgamma(a) + a Q w - a e^(Qw) with a = Q^-2.
        Stirling, lgamma(a) = (a - 1/2) log a - a + log(2 pi)/2 + stirlerr(a), and
        log|Q| + log(a)/2 = 0 turn this into
        -log(2 pi)/2 - log(sigma t) - stirlerr(a) - w^2 (e^(Qw) - 1 - Qw)/(Qw)^2.
        """
        mu, sigma, q = self._col("mu"), self._col("sigma"), self._col("Q")
        t_pos = np.maximum(t, TINY)
        w = (np.log(t_pos) - mu) / sigma
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            a = np.where(q == 0, np.inf, 1.0 / np.where(q == 0, 1.0, q * q))
            return (-0.5 * LOG_2PI - np.log(sigma) - np.log(t_pos) - _stirlerr(a)
                    - w * w * _expm1_minus_x_over_x2(q * w))

    def _log_survival(self, t):
        q = self._col("Q")
        small = np.abs(q) < self._Q_SMALL
        q_eval = np.where(small, np.where(q < 0, -self._Q_SMALL, self._Q_SMALL), q)
        log_s = self._log_survival_direct(t, q_eval)
        if small.any():
            ln_s = self._log_survival_lognormal(t)
            weight = np.abs(q) / self._Q_SMALL  # 0 at Q = 0 (pure log-normal), 1 at |Q| = 1e-5
            with np.errstate(invalid="ignore"):
                log_s = np.where(small, (1 - weight) * ln_s + weight * log_s, log_s)
        return log_s

    def _cumhaz(self, t):
        return np.maximum(-self._log_survival(t), 0.0)

    def _log_hazard(self, t):
        with np.errstate(invalid="ignore"):
            return self._log_density(t) - self._log_survival(t)

    def quantile(self, p):
        p = check_probability(p)
        mu, s, q = self.mu, self.sigma, self.Q
        small = np.abs(q) < self._Q_SMALL
        q_safe = np.where(small, 1.0, q)
        a = 1.0 / (q_safe * q_safe)
        # event by time t <=> G <= u (Q > 0) or G >= u (Q < 0)
        u = np.where(q_safe > 0, special.gammaincinv(a, p), special.gammainccinv(a, p))
        w = np.log(q_safe * q_safe * u) / q_safe
        direct = np.exp(mu + s * w)
        if small.any():  # interpolated region: invert the survival actually used
            return np.where(small, self._quantile_numeric(p), direct)
        return direct

    def to_scipy(self):
        """Equivalent frozen ``scipy.stats.gengamma`` (only for Q != 0 and n = 1; for testing)."""
        from scipy import stats

        q, s, mu = float(self.Q[0]), float(self.sigma[0]), float(self.mu[0])
        return stats.gengamma(a=1.0 / q**2, c=q / s, scale=np.exp(mu) * (q * q) ** (s / q))
