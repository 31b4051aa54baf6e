"""Parametric survival curves, vectorised over PSA samples, in flexsurv's parameterisations.

Conventions
-----------
* **Time unit.** A curve is unit-agnostic: ``t`` is in the unit of the data the curve was fitted
  to (months if the Kaplan-Meier curve was in months). The model's time is years
  (see ``docs/architecture.md``); a model that evaluates a curve fitted in months passes
  ``years * 12``. Rates and hazards are per unit of the curve's time.
* **Sample axis first.** Parameters are arrays of shape ``(n,)`` (scalars become ``n = 1``).
  Times ``t`` have shape ``(T,)`` (the same times for every sample) or ``(n, T)`` (per-sample
  times, used by adjustments such as acceleration factors). Every method returns ``(n, T)``;
  ``rmst`` and ``quantile`` return ``(n,)``.
* **Formulas** are those of R flexsurv (Jackson 2016, J Stat Softw 70(8)); each is written out in
  ``docs/parameterisations.md`` with its mapping to R's ``survreg`` and to ``scipy.stats``.
* ``coef_names`` are the unconstrained coefficients (flexsurv's ``res.t`` scale, in flexsurv's
  order) used by maximum likelihood and by multivariate-normal PSA draws; ``from_coefficients``
  and ``coefficients`` convert between them and the natural parameters.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from hta.errors import HtaError

__all__ = [
    "SurvivalCurve",
    "ParametricCurve",
    "Exponential",
    "Weibull",
    "WeibullPH",
    "Gompertz",
    "LogNormal",
    "LogLogistic",
    "Gamma",
    "GenGamma",
    "DISTRIBUTIONS",
    "make_curve",
    "as_times",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
_TINY = np.finfo(float).tiny


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def as_times(t, what: str = "t") -> np.ndarray:
    """Return times as a 2-D float array ``(1, T)`` or ``(m, T)``; reject negative or NaN times."""
    arr = np.asarray(t, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise HtaError(
            f"{what}: expected times of shape (T,) or (n, T); found an array of shape {arr.shape}"
        )
    if np.isnan(arr).any():
        raise HtaError(f"{what}: expected times without NaN; found NaN")
    if (arr < 0).any():
        raise HtaError(f"{what}: expected non-negative times; found minimum {arr.min():g}")
    return arr


def as_param(value, name: str, positive: bool = False) -> np.ndarray:
    """A scalar or ``(n,)`` parameter as a finite 1-D float array (optionally > 0)."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1:
        raise HtaError(f"parameter '{name}': expected a scalar or an array of shape (n,); "
                       f"found shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise HtaError(f"parameter '{name}': expected finite values; found {arr[~np.isfinite(arr)][0]}")
    if positive and (arr <= 0).any():
        raise HtaError(f"parameter '{name}': expected values > 0; found {arr[arr <= 0][0]:g}")
    return arr


def _common_n(arrays: dict[str, np.ndarray], owner: str) -> int:
    sizes = {len(a) for a in arrays.values()} - {1}
    if len(sizes) > 1:
        detail = ", ".join(f"{k}: {len(v)}" for k, v in arrays.items())
        raise HtaError(f"{owner}: parameters must have the same number of samples (or 1); "
                       f"found {detail}")
    return sizes.pop() if sizes else 1


def broadcast_n(*ns: int, owner: str = "curve") -> int:
    """The common sample count of several components (each n or 1)."""
    sizes = set(ns) - {1}
    if len(sizes) > 1:
        raise HtaError(f"{owner}: components must have the same number of samples (or 1); "
                       f"found {sorted(set(ns))}")
    return sizes.pop() if sizes else 1


# ---------------------------------------------------------------------------------------------
# Numerical helpers
# ---------------------------------------------------------------------------------------------


def _gauss_legendre_nodes(tmax: np.ndarray, per_panel: int = 10,
                          n_uniform: int = 60, n_geometric: int = 24):
    """Composite Gauss-Legendre nodes and weights on ``[0, tmax]``, ascending per sample.

    Geometrically graded panels near 0 (down to ``tmax * 1e-12``) absorb the ``t**a``
    singularities of Weibull-type curves; uniform panels resolve steep drops in the body.
    Returns ``(n, K)`` nodes and weights.
    """
    x, w = np.polynomial.legendre.leggauss(per_panel)
    x = (x + 1.0) / 2.0
    w = w / 2.0
    geometric = np.logspace(-12, np.log10(1.0 / n_uniform), n_geometric + 1)
    edges = np.concatenate([[0.0], geometric, np.linspace(1.0 / n_uniform, 1.0, n_uniform + 1)[1:]])
    lo, hi = edges[:-1], edges[1:]
    nodes = (lo[:, None] + (hi - lo)[:, None] * x[None, :]).ravel()
    weights = ((hi - lo)[:, None] * w[None, :]).ravel()
    tmax = np.asarray(tmax, dtype=float).reshape(-1, 1)
    return tmax * nodes[None, :], tmax * weights[None, :]


def _log_gammainc_lower(a, x):
    """log P(a, x), the regularised lower incomplete gamma, accurate where P underflows."""
    a, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    with np.errstate(divide="ignore"):
        out = np.log(special.gammainc(a, x))
    near_one = out > -np.log(2.0)
    # near 1, log1p of the small complement keeps the relative accuracy of -log S
    out[near_one] = np.log1p(-special.gammaincc(a[near_one], x[near_one]))
    bad = (out < -600.0) & (x > 0) & np.isfinite(x)
    if bad.any():
        aa, xx = a[bad], x[bad]
        # series: P = x^a e^-x / Gamma(a+1) * sum_k x^k / ((a+1)...(a+k)); used only where x < a
        term = np.ones_like(xx)
        total = np.ones_like(xx)
        for k in range(1, 400):
            term = term * xx / (aa + k)
            total = total + term
        out[bad] = aa * np.log(xx) - xx - special.gammaln(aa + 1.0) + np.log(total)
    return out


def _log_gammainc_upper(a, x):
    """log Q(a, x), the regularised upper incomplete gamma, accurate where Q underflows."""
    a, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    with np.errstate(divide="ignore"):
        out = np.log(special.gammaincc(a, x))
    near_one = out > -np.log(2.0)
    out[near_one] = np.log1p(-special.gammainc(a[near_one], x[near_one]))
    bad = (out < -600.0) & np.isfinite(x)
    if bad.any():
        aa, xx = a[bad], x[bad]
        # modified Lentz continued fraction for Gamma(a, x) e^x x^-a (Numerical Recipes 6.2.7)
        b = xx + 1.0 - aa
        c = np.full_like(xx, 1e300)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, 300):
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < 1e-300, 1e-300, d)
            c = b + an / c
            c = np.where(np.abs(c) < 1e-300, 1e-300, c)
            d = 1.0 / d
            h = h * d * c
        out[bad] = aa * np.log(xx) - xx - special.gammaln(aa) + np.log(h)
    return out


# ---------------------------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------------------------


class SurvivalCurve:
    """A batch of ``n`` survival curves in the curve's own time unit.

    Subclasses implement ``_cumhaz(t)`` and ``_log_hazard(t)`` (or ``_hazard``) for ``t`` of
    shape ``(1, T)`` or ``(m, T)``; the public methods validate ``t`` and broadcast the result to
    ``(n, T)``.
    """

    n: int = 1

    # -- public surface ------------------------------------------------------------------------
    def survival(self, t, out: np.ndarray | None = None) -> np.ndarray:
        """S(t), shape ``(n, T)``; 1 at t = 0 and never rising.

        ``out``: an ``(n, T)`` float64 array to write the result into (returned), e.g. a slice
        of the array given to :func:`hta.engine.psm.cohort_from_stack`. A family with an in-place
        formula (Weibull) then allocates nothing; the values are the same either way.
        """
        t2 = as_times(t)
        if out is None:
            return self._shape(self._survival(t2), t2)
        shape = np.broadcast_shapes((self.n, 1), t2.shape)
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float64:
            found = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise HtaError(f"{type(self).__name__}.survival: out must be a float64 array of shape {shape}; found {found}")
        self._survival_into(t2, out)
        return out

    def _survival_into(self, t, out):
        """Write S(t) into ``out`` (n, T); families with an in-place formula override this."""
        out[...] = self._survival(t)

    def cumhaz(self, t) -> np.ndarray:
        """Cumulative hazard H(t) = -log S(t), shape ``(n, T)``; 0 at t = 0."""
        t2 = as_times(t)
        return self._shape(self._cumhaz(t2), t2)

    def hazard(self, t) -> np.ndarray:
        """Hazard h(t) per unit of the curve's time, shape ``(n, T)``; never negative."""
        t2 = as_times(t)
        return self._shape(self._hazard(t2), t2)

    def log_hazard(self, t) -> np.ndarray:
        """log h(t), shape ``(n, T)``, computed in log space where the tails need it."""
        t2 = as_times(t)
        return self._shape(self._log_hazard(t2), t2)

    def log_density(self, t) -> np.ndarray:
        """log f(t) = log h(t) - H(t), shape ``(n, T)``; the event term of a log-likelihood."""
        t2 = as_times(t)
        with np.errstate(invalid="ignore"):
            return self._shape(self._log_hazard(t2) - self._cumhaz(t2), t2)

    def rmst(self, tmax) -> np.ndarray:
        """Restricted mean survival time on ``[0, tmax]`` (curve time unit), shape ``(n,)``.

        ``tmax`` is a scalar or ``(n,)``. The generic method is composite Gauss-Legendre
        quadrature on 1,000+ nodes (graded near 0); distributions with a closed form override it.
        """
        return self._rmst_numeric(tmax)

    def quantile(self, p) -> np.ndarray:
        """Time by which a fraction ``p`` of the cohort has had the event, shape ``(n,)``.

        ``p`` is a scalar or ``(n,)`` in (0, 1); ``quantile(0.5)`` is the median. Returns ``inf``
        where survival never falls to ``1 - p`` (cure plateaus). Generic method: bisection.
        """
        return self._quantile_numeric(p)

    def median(self) -> np.ndarray:
        """Median survival time, shape ``(n,)``."""
        return self.quantile(0.5)

    def take(self, idx) -> "SurvivalCurve":
        """The curves for the samples ``idx`` (an index array or slice)."""
        raise NotImplementedError(f"{type(self).__name__} does not support take()")

    def __getitem__(self, idx) -> "SurvivalCurve":
        return self.take(idx)

    # -- defaults in terms of each other -------------------------------------------------------
    def _survival(self, t):
        return np.exp(-self._cumhaz(t))

    def _hazard(self, t):
        return np.exp(self._log_hazard(t))

    def _log_hazard(self, t):
        with np.errstate(divide="ignore"):
            return np.log(self._hazard(t))

    def _cumhaz(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------
    def _shape(self, values, t2):
        shape = np.broadcast_shapes((self.n, 1), t2.shape)
        values = np.asarray(values, dtype=float)
        if values.shape != shape:
            values = np.broadcast_to(values, shape).copy()
        return values

    def _rmst_numeric(self, tmax):
        tmax = np.asarray(tmax, dtype=float)
        if (tmax < 0).any() or not np.isfinite(tmax).all():
            raise HtaError(f"rmst: expected a finite horizon tmax >= 0 (closed-form means exist "
                           f"only for some distributions); found {tmax}")
        nodes, weights = _gauss_legendre_nodes(np.atleast_1d(tmax))
        s = self.survival(nodes)
        return np.sum(s * weights, axis=1)

    def _quantile_numeric(self, p):
        p = _check_probability(p)
        target = 1.0 - p
        n = int(np.broadcast_shapes((self.n,), p.shape)[0])
        target = np.broadcast_to(target, (n,))
        hi = np.ones(n)
        for _ in range(1100):  # grow the bracket until S(hi) <= 1 - p (up to ~1e300)
            above = self.survival(hi[:, None])[:, 0] > target
            if not above.any():
                break
            hi = np.where(above, hi * 2.0, hi)
            if np.all(hi[above] > 1e300):
                break
        never = self.survival(hi[:, None])[:, 0] > target
        lo = np.zeros(n)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            above = self.survival(mid[:, None])[:, 0] > target
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
            if np.all(hi - lo <= 1e-13 * hi):
                break
        out = 0.5 * (lo + hi)
        out[never] = np.inf
        return out


def _check_probability(p) -> np.ndarray:
    p = np.atleast_1d(np.asarray(p, dtype=float))
    if p.ndim != 1 or ((p <= 0) | (p >= 1) | np.isnan(p)).any():
        raise HtaError(f"quantile: expected probabilities strictly between 0 and 1; found {p}")
    return p


# ---------------------------------------------------------------------------------------------
# Parametric families
# ---------------------------------------------------------------------------------------------


class ParametricCurve(SurvivalCurve):
    """A parametric family; parameters are stored as ``(n,)`` arrays in ``param_names`` order."""

    param_names: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    coef_names: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        names = self.param_names
        if len(args) > len(names):
            raise HtaError(f"{type(self).__name__}: expected parameters {names}; "
                           f"found {len(args)} positional values")
        values = dict(zip(names, args))
        for key, val in kwargs.items():
            if key not in names:
                raise HtaError(f"{type(self).__name__}: unknown parameter '{key}'; "
                               f"expected one of {names}")
            values[key] = val
        missing = [k for k in names if k not in values]
        if missing:
            raise HtaError(f"{type(self).__name__}: missing parameter(s) {missing}")
        arrays = {k: as_param(values[k], k, k in self.positive) for k in names}
        self.n = _common_n(arrays, type(self).__name__)
        for k, a in arrays.items():
            a = np.broadcast_to(a, (self.n,)).copy()
            a.setflags(write=False)
            setattr(self, k, a)

    # parameters as (n, 1) columns for broadcasting against (m, T) times
    def _col(self, name):
        return getattr(self, name)[:, None]

    def params(self) -> dict[str, np.ndarray]:
        """Natural parameters as a dict of ``(n,)`` arrays."""
        return {k: getattr(self, k) for k in self.param_names}

    def take(self, idx):
        return type(self)(**{k: np.atleast_1d(v[idx]) for k, v in self.params().items()})

    @classmethod
    def from_coefficients(cls, coefs):
        """Build from unconstrained coefficients ``(n, p)`` or ``(p,)`` in ``coef_names`` order."""
        c = np.asarray(coefs, dtype=float)
        if c.ndim == 1:
            c = c[None, :]
        if c.ndim != 2 or c.shape[1] != len(cls.coef_names):
            raise HtaError(f"{cls.__name__}.from_coefficients: expected shape (n, "
                           f"{len(cls.coef_names)}) for coefficients {cls.coef_names}; "
                           f"found shape {c.shape}")
        return cls(**cls._params_from_coefs(c))

    def coefficients(self) -> np.ndarray:
        """Unconstrained coefficients ``(n, p)`` in ``coef_names`` order."""
        return np.column_stack(self._coefs_from_params())

    def __repr__(self):
        inner = ", ".join(
            f"{k}={v[0]:.6g}" if self.n == 1 else f"{k}=<{self.n}>" for k, v in self.params().items()
        )
        return f"{type(self).__name__}({inner})"


class Exponential(ParametricCurve):
    """Exponential: h(t) = rate, S(t) = exp(-rate t). flexsurv "exp"."""

    param_names = ("rate",)
    positive = ("rate",)
    coef_names = ("log_rate",)

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
        p = _check_probability(p)
        return -np.log1p(-p) / self.rate


class Weibull(ParametricCurve):
    """Weibull, accelerated-failure-time form (flexsurv "weibull", R dweibull).

    S(t) = exp(-(t/scale)^shape); h(t) = (shape/scale) (t/scale)^(shape-1).
    """

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "scale": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.scale)]

    def _cumhaz(self, t):
        h = t / self._col("scale")  # a fresh (n|m, T) array, so the power can be taken in place
        return np.power(h, self._col("shape"), out=h)

    def _survival(self, t):
        # exp(-(t/scale)^shape) in place: PSA batches make (n, T) arrays of 100+ MB, and each
        # temporary costs a fresh allocation and a pass over memory.
        s = self._cumhaz(t)
        np.negative(s, out=s)
        return np.exp(s, out=s)

    def _survival_into(self, t, out):
        # the same operations as _survival, written into the caller's array
        np.divide(t, self._col("scale"), out=out)
        np.power(out, self._col("shape"), out=out)
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
        p = _check_probability(p)
        return self.scale * (-np.log1p(-p)) ** (1.0 / self.shape)


class WeibullPH(ParametricCurve):
    """Weibull, proportional-hazards form (flexsurv "weibullPH").

    h(t) = shape scale t^(shape-1); S(t) = exp(-scale t^shape). Equals ``Weibull(shape,
    scale_aft)`` with ``scale = scale_aft^(-shape)``.
    """

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

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
    direct = special.gammaln(small_a) - (small_a - 0.5) * np.log(small_a) + small_a - 0.5 * _LOG_2PI
    return np.where(large, series, direct)


class Gompertz(ParametricCurve):
    """Gompertz (flexsurv "gompertz"): h(t) = rate exp(shape t).

    H(t) = (rate/shape)(exp(shape t) - 1), tending to ``rate t`` (exponential) as shape -> 0.
    A negative shape gives a falling hazard and a survival plateau at exp(rate/shape) > 0.
    """

    param_names = ("shape", "rate")
    positive = ("rate",)
    coef_names = ("shape", "log_rate")

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
        p = _check_probability(p)
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
            log_f = -np.log(t) - np.log(self._col("sdlog")) - 0.5 * _LOG_2PI - 0.5 * z * z
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
        p = _check_probability(p)
        return np.exp(self.meanlog + self.sdlog * special.ndtri(p))


class LogLogistic(ParametricCurve):
    """Log-logistic (flexsurv "llogis"): S(t) = 1 / (1 + (t/scale)^shape)."""

    param_names = ("shape", "scale")
    positive = ("shape", "scale")
    coef_names = ("log_shape", "log_scale")

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
        p = _check_probability(p)
        return self.scale * (p / (1.0 - p)) ** (1.0 / self.shape)


class Gamma(ParametricCurve):
    """Gamma (flexsurv "gamma", R dgamma): f(t) = rate^shape t^(shape-1) e^(-rate t) / Gamma(shape)."""

    param_names = ("shape", "rate")
    positive = ("shape", "rate")
    coef_names = ("log_shape", "log_rate")

    @classmethod
    def _params_from_coefs(cls, c):
        return {"shape": np.exp(c[:, 0]), "rate": np.exp(c[:, 1])}

    def _coefs_from_params(self):
        return [np.log(self.shape), np.log(self.rate)]

    def _cumhaz(self, t):
        a, b = self._col("shape"), self._col("rate")
        return -_log_gammainc_upper(a, b * t)

    def _log_hazard(self, t):
        a, b = self._col("shape"), self._col("rate")
        x = b * t
        with np.errstate(divide="ignore", invalid="ignore"):
            log_f = a * np.log(b) + special.xlogy(a - 1.0, t) - x - special.gammaln(a)
        return log_f - _log_gammainc_upper(a, x)

    def rmst(self, tmax):
        tmax = np.atleast_1d(np.asarray(tmax, dtype=float))
        a, b = self.shape, self.rate
        # T S(T) + (a/b) P(a+1, b T)
        with np.errstate(invalid="ignore"):
            boundary = np.where(np.isfinite(tmax), tmax * special.gammaincc(a, b * tmax), 0.0)
        return boundary + (a / b) * special.gammainc(a + 1.0, b * tmax)

    def quantile(self, p):
        p = _check_probability(p)
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
    _Q_SMALL = 1e-5

    @classmethod
    def _params_from_coefs(cls, c):
        return {"mu": c[:, 0], "sigma": np.exp(c[:, 1]), "Q": c[:, 2]}

    def _coefs_from_params(self):
        return [self.mu, np.log(self.sigma), self.Q]

    def _log_survival_direct(self, t, q):
        """log S from the gamma representation at Q = q (q != 0), shape (m, T)."""
        mu, s = self._col("mu"), self._col("sigma")
        t_pos = np.maximum(t, _TINY)  # the t = 0 limits are taken at the smallest positive time
        w = (np.log(t_pos) - mu) / s
        a = 1.0 / (q * q)
        with np.errstate(over="ignore"):
            u = a * np.exp(q * w)
        a_full, u_full = np.broadcast_arrays(a, u)
        positive = np.broadcast_to(q > 0, u_full.shape)
        log_s = np.empty(u_full.shape)
        log_s[positive] = _log_gammainc_upper(a_full[positive], u_full[positive])
        log_s[~positive] = _log_gammainc_lower(a_full[~positive], u_full[~positive])
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
        t_pos = np.maximum(t, _TINY)
        w = (np.log(t_pos) - mu) / sigma
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            a = np.where(q == 0, np.inf, 1.0 / np.where(q == 0, 1.0, q * q))
            return (-0.5 * _LOG_2PI - np.log(sigma) - np.log(t_pos) - _stirlerr(a)
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
        p = _check_probability(p)
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


DISTRIBUTIONS: dict[str, type[ParametricCurve]] = {
    "exponential": Exponential,
    "weibull": Weibull,
    "weibullph": WeibullPH,
    "gompertz": Gompertz,
    "lognormal": LogNormal,
    "loglogistic": LogLogistic,
    "gamma": Gamma,
    "gengamma": GenGamma,
}


def make_curve(name: str, coefs) -> ParametricCurve:
    """Build a curve from a distribution name and unconstrained coefficients ``(n, p)``/``(p,)``."""
    key = str(name).strip().lower()
    if key not in DISTRIBUTIONS:
        raise HtaError(f"survival distribution '{name}': expected one of "
                       f"{', '.join(DISTRIBUTIONS)}; found '{name}'")
    return DISTRIBUTIONS[key].from_coefficients(coefs)
