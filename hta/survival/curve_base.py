"""The base of every survival curve: input handling, numerical helpers, :class:`SurvivalCurve` and
:class:`ParametricCurve`, the class each parametric family derives from.

A family is defined once (in ``hta.survival.families`` or ``hta.survival.families_gamma``): its
class gives the curve (survival, hazard, cumulative hazard, vectorised over samples, in
flexsurv's parameterisation) and everything maximum likelihood needs (``ParametricCurve``'s
"fitting interface": coefficient names, log hazard and cumulative hazard as functions of the
unconstrained coefficients, the generic log-likelihood terms derived from them, starting values,
the covariate's location and the time rescaling). ``hta.survival.curves`` holds the registry.

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
    "LOG_2PI",
    "TINY",
    "ParametricCurve",
    "SurvivalCurve",
    "arm_log_rates",
    "as_param",
    "as_times",
    "broadcast_n",
    "check_probability",
    "log_gammainc_lower",
    "log_gammainc_upper",
    "log_time_moments",
]

LOG_2PI = float(np.log(2.0 * np.pi))
TINY = np.finfo(float).tiny


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


def log_gammainc_lower(a, x):
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


def log_gammainc_upper(a, x):
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

    def take(self, idx) -> SurvivalCurve:
        """The curves for the samples ``idx`` (an index array or slice)."""
        raise NotImplementedError(f"{type(self).__name__} does not support take()")

    def __getitem__(self, idx) -> SurvivalCurve:
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
        p = check_probability(p)
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


def check_probability(p) -> np.ndarray:
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



    # -- the fitting interface (used by hta.survival.fit; one definition per family) -----------
    #: index of the coefficient a 0/1 covariate shifts (flexsurv's location parameter)
    location: int = 0
    #: rescaling the time, t = c t', moves coefficient j to coef'_j * scale_mult(c)_j +
    #: log_shift_j log(c) (+1: a log scale, -1: a log rate, 0: unchanged)
    log_shift: tuple[float, ...] = ()
    #: the arm effect is reported as ``exp(effect_sign * coefficient)``, of this type
    effect: str = "time_ratio"
    effect_sign: float = 1.0
    #: fitted when no families are named (False: only on request)
    fitted_by_default: bool = True
    #: families whose fits give this family's starting values (fitted first)
    prerequisites: tuple[str, ...] = ()
    #: several local maxima occur in practice: every start is searched
    multimodal: bool = False
    #: a family fitted as a re-expression of another family's fit (see ``from_parent``)
    derived_from: str | None = None

    @classmethod
    def scale_mult(cls, c: float) -> np.ndarray:
        """Multipliers of the coefficients when time is rescaled by ``c`` (see ``log_shift``)."""
        return np.ones(len(cls.coef_names))

    @classmethod
    def per_observation(cls, p, size: int) -> ParametricCurve:
        """The curves at coefficients ``p`` (a list, each a scalar or ``(size,)`` array): one
        sample per observation, so that ``t`` of shape ``(size, 1)`` gives one value each."""
        cols = [np.broadcast_to(np.asarray(v, dtype=float), (size,)) for v in p]
        return cls.from_coefficients(np.column_stack(cols))

    @classmethod
    def log_hazard_coef(cls, p, t) -> np.ndarray:
        """log h(t) per observation, ``(N,)``, at unconstrained coefficients ``p`` (scalars or
        ``(N,)`` arrays, ``coef_names`` order) for times ``t`` ``(N,)``."""
        t = np.asarray(t, dtype=float)
        return cls.per_observation(p, t.size)._log_hazard(t[:, None])[:, 0]

    @classmethod
    def cumhaz_coef(cls, p, t) -> np.ndarray:
        """H(t) per observation, ``(N,)``, at unconstrained coefficients ``p`` (as above)."""
        t = np.asarray(t, dtype=float)
        return cls.per_observation(p, t.size)._cumhaz(t[:, None])[:, 0]

    @classmethod
    def generic_loglik(cls, p, t, d) -> np.ndarray:
        """``d log h(t) - H(t)`` per observation (the log density of an event, the log
        survival of a censored time), derived from the curve's hazard and cumulative hazard;
        ``-inf`` where the coefficients give no valid curve."""
        try:
            log_h = cls.log_hazard_coef(p, t)
            cumhaz = cls.cumhaz_coef(p, t)
        except HtaError:  # coefficients overflow to parameters the curve rejects
            return np.full(np.shape(t), -np.inf)
        with np.errstate(invalid="ignore"):
            return np.where(d > 0, d * log_h, 0.0) - cumhaz

    @classmethod
    def generic_terms(cls, p, t, logt, d, rel_step: float = 1e-6):
        """Log-likelihood terms ``(ll, score)`` derived generically: ``ll`` (N,) from
        :meth:`generic_loglik`, ``score`` (k, N) its central-difference derivative in each
        coefficient. Same contract as :meth:`loglik_terms`; ``logt`` is unused."""
        p = [np.asarray(v, dtype=float) for v in p]
        ll = cls.generic_loglik(p, t, d)
        score = np.empty((len(p), np.size(t)))
        for j, v in enumerate(p):
            h = rel_step * np.maximum(1.0, np.abs(v))
            up, down = list(p), list(p)
            up[j], down[j] = v + h, v - h
            with np.errstate(invalid="ignore"):
                score[j] = (cls.generic_loglik(up, t, d) - cls.generic_loglik(down, t, d)) / (2 * h)
        return ll, score

    @classmethod
    def loglik_terms(cls, p, t, logt, d):
        """Per-observation log-likelihood terms and their scores at coefficients ``p``.

        ``p`` is a list of the unconstrained coefficients (each a scalar or, for the location
        coefficient with a covariate, an ``(N,)`` array); ``t``, ``logt`` (N,) times and their
        logs; ``d`` (N,) 0/1 event indicators. Returns ``(ll, g)``: ``ll = d log h(t) - H(t)``
        (N,) and ``g`` (k, N) its derivative in each coefficient. This default is the generic
        derivation; a family may override it with an analytic fast path, which
        ``tests/test_families.py`` checks against :meth:`generic_terms`.
        """
        return cls.generic_terms(p, t, logt, d)

    @classmethod
    def fit_starts(cls, data, fitted: dict) -> list[np.ndarray]:
        """Starting coefficients on the normalised time scale (mean follow-up 1) for data
        ``data`` (``hta.survival.mle.SurvivalData``); ``fitted`` holds the optima of the
        ``prerequisites``. Default: all coefficients 0 (unit shape and scale)."""
        return [np.zeros(len(cls.coef_names))]

    @classmethod
    def arm_starts(cls, theta_single: np.ndarray, data) -> list[np.ndarray]:
        """Starts of the two-arm model: no effect, and the log ratio of the arms' exponential
        rates on the location coefficient, keeping the pooled fit's centre."""
        rates = arm_log_rates(data)
        log_hr = rates[1] - rates[0]
        rate_like = cls.log_shift[cls.location] < 0  # location is a log rate
        beta = log_hr if rate_like else -log_hr
        starts = []
        for b in (beta, 0.0):
            s = np.append(theta_single, b)
            s[cls.location] -= b * float(np.mean(data.x))  # keep the pooled fit's centre
            starts.append(s)
        return starts

    @classmethod
    def from_parent(cls, coef: np.ndarray, has_arm: bool):
        """For a ``derived_from`` family: its coefficients from the parent's fitted ones, and
        the Jacobian of the map (the covariance maps as ``J cov J'``)."""
        raise NotImplementedError(f"{cls.__name__} is fitted directly")


def arm_log_rates(data) -> list[float]:
    """The exponential log rate of arm 0 and arm 1 (normalised time scale)."""
    rates = []
    for level in (0.0, 1.0):
        mask = data.x == level
        rates.append(np.log((data.w * data.d)[mask].sum() / (data.w * data.t)[mask].sum()))
    return rates


def log_time_moments(data):
    """Weighted mean and sd of log time (all observations) and the exponential log rate, on
    the normalised time scale: the common ingredients of starting values."""
    w = data.w
    mean = float(w @ data.logt / w.sum())
    sd = float(np.sqrt(max(w @ (data.logt - mean) ** 2 / w.sum(), 1e-4)))
    log_rate = float(np.log(data.n_events / (w @ data.t)))
    return mean, sd, log_rate
