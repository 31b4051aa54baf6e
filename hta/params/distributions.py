"""Probability distributions for probabilistic sensitivity analysis (PSA).

Every distribution maps uniforms to values through its inverse CDF (``ppf``), so Monte Carlo,
Latin hypercube and SALib samples all go through the same code path:

* ``dim``: 1 for a scalar distribution, ``k`` for a multivariate one (Dirichlet, multivariate
  normal).
* ``mean``: ndarray ``(dim,)``.
* ``ppf(u)``: uniforms ``(n, dim)`` in [0, 1] -> values ``(n, dim)``. A 1-D ``u`` of length n is
  accepted for ``dim == 1``. Multivariate distributions take a block of *independent* uniforms:
  the multivariate normal turns them into standard-normal quantiles and multiplies by a factor of
  the covariance; the Dirichlet turns them into gamma quantiles and normalises each row.
* ``interval(level=0.95)``: ``(2, dim)`` marginal percentiles ``(1-level)/2`` and ``(1+level)/2``.
* ``describe()``: short text such as ``"Beta(alpha=12.0, beta=88.0)"``; ``kind``: the family name.

Every constructor validates its inputs and raises :class:`hta.errors.HtaError` with one message
that names the parameter (``name=``), says what was expected and what was found. The
``from_mean_se`` constructors use the method of moments on the natural scale (formulas in each
docstring and in ``docs/parameters.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from hta.errors import HtaError
from hta.numerics import covariance_factor
from hta.params.gammainv import gamma_quantile

__all__ = [
    "Distribution",
    "Fixed",
    "Normal",
    "LogNormal",
    "Beta",
    "Gamma",
    "Uniform",
    "Triangular",
    "Dirichlet",
    "MultivariateNormal",
    "from_spec",
    "KINDS",
]


# ---------------------------------------------------------------------------------------------
# Validation helpers


def _who(name: str | None) -> str:
    return f"parameter '{name}'" if name else "distribution"


_LOG_MAX_FLOAT = math.log(np.finfo(float).max)  # 709.78


def _fail(name: str | None, message: str) -> HtaError:
    return HtaError(f"{_who(name)}: {message}")


def _fmt(x: float) -> str:
    """Compact number for messages and descriptions (12.0, 0.3, 1.5e-05)."""
    x = float(x)
    if math.isfinite(x) and x == round(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    return f"{x:.6g}"


def _fmt_array(a: np.ndarray) -> str:
    return "[" + ", ".join(_fmt(v) for v in np.ravel(a)) + "]"


def _number(name: str | None, what: str, value: Any) -> float:
    """A finite float, or an HtaError naming ``what``."""
    if isinstance(value, (bool, np.bool_)):
        raise _fail(name, f"{what} must be a number; found {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _fail(name, f"{what} must be a number; found {value!r}") from None
    if not math.isfinite(x):
        raise _fail(name, f"{what} must be a finite number; found {_fmt(x)}")
    return x


def _positive(name: str | None, what: str, value: Any) -> float:
    x = _number(name, what, value)
    if x <= 0:
        raise _fail(name, f"{what} must be > 0; found {_fmt(x)}")
    return x


def _array(name: str | None, what: str, value: Any, ndim: int) -> np.ndarray:
    try:
        a = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(name, f"{what} must be numeric; found {value!r}") from None
    if a.ndim != ndim:
        shape = "a list of numbers" if ndim == 1 else "a square matrix"
        raise _fail(name, f"{what} must be {shape}; found an array of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise _fail(name, f"{what} must contain only finite numbers; found {_fmt_array(a)}")
    a.setflags(write=False)
    return a


def _level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise HtaError(f"interval level must be in (0, 1); found {level!r}")
    return level


# ---------------------------------------------------------------------------------------------
# Base class


class Distribution:
    """Common surface of every PSA distribution (see the module docstring)."""

    kind: str = ""
    dim: int = 1

    def __init__(self, name: str | None = None):
        self.name = name

    @property
    def mean(self) -> np.ndarray:
        raise NotImplementedError

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        """Values for uniforms ``u`` of shape ``(n, dim)``; inputs already checked."""
        raise NotImplementedError

    def ppf(self, u: Any) -> np.ndarray:
        """Inverse CDF: uniforms ``(n, dim)`` in [0, 1] -> values ``(n, dim)``."""
        u = np.asarray(u, dtype=float)
        if u.ndim == 1 and self.dim == 1:
            u = u[:, None]
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise _fail(
                self.name,
                f"ppf expects uniforms of shape (n, {self.dim}); found shape {u.shape}",
            )
        if u.size and not (np.all(u >= 0.0) and np.all(u <= 1.0)):
            raise _fail(self.name, "ppf expects uniforms in [0, 1]; found values outside")
        return self._ppf(u)

    def _marginal_ppf(self, q: np.ndarray) -> np.ndarray:
        """Marginal quantiles: ``q`` of shape (m,) -> (m, dim). Scalar families reuse ppf."""
        return self._ppf(np.repeat(q[:, None], self.dim, axis=1))

    def interval(self, level: float = 0.95) -> np.ndarray:
        """Marginal percentiles ``(1-level)/2`` and ``(1+level)/2``, shape ``(2, dim)``."""
        level = _level(level)
        return self._marginal_ppf(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))

    def describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        suffix = f", name={self.name!r}" if self.name else ""
        return f"<{self.describe()}{suffix}>"


# ---------------------------------------------------------------------------------------------
# Scalar distributions


class Fixed(Distribution):
    """A constant: every draw equals ``value``. Consumes no random stream in a PSA."""

    kind = "fixed"

    def __init__(self, value: float, *, name: str | None = None):
        super().__init__(name)
        self.value = _number(name, "fixed value", value)

    @property
    def mean(self) -> np.ndarray:
        return np.array([self.value])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(u.shape, self.value)

    def describe(self) -> str:
        return f"Fixed(value={_fmt(self.value)})"


class Normal(Distribution):
    """Normal distribution with mean ``mean`` and standard deviation ``sd`` (> 0)."""

    kind = "normal"

    def __init__(self, mean: float, sd: float, *, name: str | None = None):
        super().__init__(name)
        self.mu = _number(name, "normal mean", mean)
        self.sd = _positive(name, "normal SD", sd)

    @property
    def mean(self) -> np.ndarray:
        return np.array([self.mu])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return self.mu + self.sd * special.ndtri(u)

    def describe(self) -> str:
        return f"Normal(mean={_fmt(self.mu)}, sd={_fmt(self.sd)})"


class LogNormal(Distribution):
    """Log-normal: ``log X ~ Normal(meanlog, sdlog)``, ``sdlog > 0``.

    Natural-scale mean ``exp(meanlog + sdlog^2/2)``; median ``exp(meanlog)``.
    """

    kind = "lognormal"

    def __init__(self, meanlog: float, sdlog: float, *, name: str | None = None):
        super().__init__(name)
        self.meanlog = _number(name, "lognormal meanlog", meanlog)
        self.sdlog = _positive(name, "lognormal sdlog", sdlog)
        # Draws reach about 8.3 sdlog above meanlog (u = 1 - 2^-53) and the mean sits sdlog^2/2
        # above it: both must stay below log(largest float) or they overflow to infinity.
        top = max(self.meanlog + 8.5 * self.sdlog, self.meanlog + self.sdlog**2 / 2.0)
        if top > _LOG_MAX_FLOAT:
            raise _fail(name, f"lognormal meanlog: expected meanlog + 8.5 sdlog and meanlog + sdlog^2/2 below "
                              f"{_LOG_MAX_FLOAT:.2f} (larger values overflow to infinity); found meanlog "
                              f"{_fmt(self.meanlog)}, sdlog {_fmt(self.sdlog)}")

    @classmethod
    def from_mean_se(cls, mean: float, se: float, *, name: str | None = None) -> "LogNormal":
        """Moment matching on the natural scale: the result has mean ``mean`` and SD ``se``.

        ``sdlog^2 = log(1 + se^2/mean^2)``, ``meanlog = log(mean) - sdlog^2/2``. This is *not*
        the ratio-scale convention ``meanlog = log(mean)``, ``sdlog = se_log`` used for hazard
        ratios reported with a CI; build those with ``LogNormal(log(hr), se_log)``.
        """
        m = _positive(name, "lognormal mean", mean)
        s = _positive(name, "lognormal SE", se)
        var_log = math.log1p((s / m) ** 2)
        return cls(math.log(m) - var_log / 2.0, math.sqrt(var_log), name=name)

    @property
    def mean(self) -> np.ndarray:
        return np.array([math.exp(self.meanlog + self.sdlog**2 / 2.0)])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.meanlog + self.sdlog * special.ndtri(u))

    def describe(self) -> str:
        return f"LogNormal(meanlog={_fmt(self.meanlog)}, sdlog={_fmt(self.sdlog)})"


class Beta(Distribution):
    """Beta distribution on [0, 1] with shape parameters ``alpha``, ``beta`` (both > 0)."""

    kind = "beta"

    def __init__(self, alpha: float, beta: float, *, name: str | None = None):
        super().__init__(name)
        self.alpha = _positive(name, "beta alpha", alpha)
        self.beta = _positive(name, "beta beta", beta)

    @classmethod
    def from_mean_se(cls, mean: float, se: float, *, name: str | None = None) -> "Beta":
        """Method of moments: ``alpha + beta = mean(1-mean)/se^2 - 1``, split by the mean.

        Needs ``0 < mean < 1`` and ``se^2 < mean(1-mean)`` (otherwise no beta distribution has
        that mean and SD).
        """
        m = _number(name, "beta mean", mean)
        if not 0.0 < m < 1.0:
            raise _fail(name, f"beta mean must be in (0, 1); found {_fmt(m)}")
        s = _positive(name, "beta SE", se)
        var_max = m * (1.0 - m)
        if s * s >= var_max:
            raise _fail(
                name,
                f"beta SE must be below sqrt(mean*(1-mean)) = {_fmt(math.sqrt(var_max))} "
                f"for mean {_fmt(m)}; found {_fmt(s)}",
            )
        total = var_max / (s * s) - 1.0
        return cls(m * total, (1.0 - m) * total, name=name)

    @property
    def mean(self) -> np.ndarray:
        return np.array([self.alpha / (self.alpha + self.beta)])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return special.betaincinv(self.alpha, self.beta, u)

    def describe(self) -> str:
        return f"Beta(alpha={_fmt(self.alpha)}, beta={_fmt(self.beta)})"


class Gamma(Distribution):
    """Gamma distribution with ``shape`` and ``scale`` (both > 0); mean ``shape * scale``."""

    kind = "gamma"

    def __init__(self, shape: float, scale: float, *, name: str | None = None):
        super().__init__(name)
        self.shape = _positive(name, "gamma shape", shape)
        self.scale = _positive(name, "gamma scale", scale)

    @classmethod
    def from_mean_se(cls, mean: float, se: float, *, name: str | None = None) -> "Gamma":
        """Method of moments: ``shape = mean^2/se^2``, ``scale = se^2/mean`` (mean > 0)."""
        m = _positive(name, "gamma mean", mean)
        s = _positive(name, "gamma SE", se)
        return cls((m / s) ** 2, s * s / m, name=name)

    @property
    def mean(self) -> np.ndarray:
        return np.array([self.shape * self.scale])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        # hta.params.gammainv: a table of this shape's quantile function, within 1e-14 of the exact
        # quantile (scipy.special.gammaincinv solves for every element, 15x slower)
        return self.scale * gamma_quantile(self.shape, u)

    def describe(self) -> str:
        return f"Gamma(shape={_fmt(self.shape)}, scale={_fmt(self.scale)})"


class Uniform(Distribution):
    """Continuous uniform distribution on ``[low, high]`` with ``low < high``."""

    kind = "uniform"

    def __init__(self, low: float, high: float, *, name: str | None = None):
        super().__init__(name)
        self.low = _number(name, "uniform low", low)
        self.high = _number(name, "uniform high", high)
        if not self.low < self.high:
            raise _fail(
                name,
                f"uniform low must be below high; found low {_fmt(self.low)}, "
                f"high {_fmt(self.high)}",
            )

    @property
    def mean(self) -> np.ndarray:
        return np.array([(self.low + self.high) / 2.0])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * u

    def describe(self) -> str:
        return f"Uniform(low={_fmt(self.low)}, high={_fmt(self.high)})"


class Triangular(Distribution):
    """Triangular distribution on ``[low, high]`` peaking at ``mode`` (low <= mode <= high)."""

    kind = "triangular"

    def __init__(self, low: float, mode: float, high: float, *, name: str | None = None):
        super().__init__(name)
        self.low = _number(name, "triangular low", low)
        self.mode = _number(name, "triangular mode", mode)
        self.high = _number(name, "triangular high", high)
        if not self.low < self.high:
            raise _fail(
                name,
                f"triangular low must be below high; found low {_fmt(self.low)}, "
                f"high {_fmt(self.high)}",
            )
        if not self.low <= self.mode <= self.high:
            raise _fail(
                name,
                f"triangular mode must be in [low, high] = [{_fmt(self.low)}, "
                f"{_fmt(self.high)}]; found {_fmt(self.mode)}",
            )

    @property
    def mean(self) -> np.ndarray:
        return np.array([(self.low + self.mode + self.high) / 3.0])

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        width = self.high - self.low
        split = (self.mode - self.low) / width  # CDF at the mode
        rising = self.low + np.sqrt(u * width * (self.mode - self.low))
        falling = self.high - np.sqrt((1.0 - u) * width * (self.high - self.mode))
        return np.where(u < split, rising, falling)

    def describe(self) -> str:
        return (
            f"Triangular(low={_fmt(self.low)}, mode={_fmt(self.mode)}, high={_fmt(self.high)})"
        )


# ---------------------------------------------------------------------------------------------
# Multivariate distributions


class Dirichlet(Distribution):
    """Dirichlet distribution over ``k >= 2`` proportions that sum to 1, from ``counts`` (> 0).

    ``ppf`` takes ``k`` independent uniforms per row, turns column ``i`` into a
    ``Gamma(counts[i], 1)`` quantile and divides each row by its sum. Marginals are
    ``Beta(counts[i], sum(counts) - counts[i])``, used by :meth:`interval`. Counts far below
    0.01 can make gamma quantiles underflow to 0; use realistic counts (patients, events).
    """

    kind = "dirichlet"

    def __init__(self, counts: Any, *, name: str | None = None):
        super().__init__(name)
        c = _array(name, "Dirichlet counts", counts, ndim=1)
        if c.size < 2:
            raise _fail(name, f"Dirichlet needs at least 2 counts; found {c.size}")
        if np.any(c <= 0):
            raise _fail(name, f"Dirichlet counts must all be > 0; found {_fmt_array(c)}")
        self.counts = c
        self.dim = int(c.size)

    @property
    def mean(self) -> np.ndarray:
        return self.counts / self.counts.sum()

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        g = np.empty(u.shape)
        for i, count in enumerate(self.counts.tolist()):  # one gamma table per count
            g[:, i] = gamma_quantile(count, u[:, i])
        return g / g.sum(axis=1, keepdims=True)

    def _marginal_ppf(self, q: np.ndarray) -> np.ndarray:
        rest = self.counts.sum() - self.counts
        return special.betaincinv(self.counts, rest, q[:, None])

    def describe(self) -> str:
        return f"Dirichlet(counts={_fmt_array(self.counts)})"


class MultivariateNormal(Distribution):
    """Multivariate normal with mean ``(k,)`` and covariance ``(k, k)``.

    The covariance must be symmetric positive semi-definite. ``ppf`` maps ``k`` independent
    uniforms to standard-normal quantiles ``z`` and returns ``mean + z @ L.T`` with
    ``L @ L.T == cov``: ``L`` is the Cholesky factor when ``cov`` is positive definite (so the
    first component depends on the first uniform only) and otherwise the eigen factor
    ``V diag(sqrt(max(w, 0)))``, which handles singular (semi-definite) matrices.
    """

    kind = "mvnormal"

    def __init__(self, mean: Any, cov: Any, *, name: str | None = None):
        super().__init__(name)
        mu = _array(name, "multivariate normal mean", mean, ndim=1)
        c = _array(name, "multivariate normal covariance", cov, ndim=2)
        k = mu.size
        if k < 1:
            raise _fail(name, "multivariate normal mean must have at least 1 element; found 0")
        if c.shape != (k, k):
            raise _fail(
                name,
                f"multivariate normal covariance must be {k} x {k} to match a mean of length "
                f"{k}; found shape {c.shape}",
            )
        scale = float(np.max(np.abs(c))) if c.size else 0.0
        asym = float(np.max(np.abs(c - c.T))) if c.size else 0.0
        if asym > 1e-8 * max(scale, 1e-300):
            raise _fail(
                name,
                "multivariate normal covariance must be symmetric; found a largest "
                f"|cov[i,j] - cov[j,i]| of {asym:.3g}",
            )
        c = (c + c.T) / 2.0
        w = np.linalg.eigvalsh(c)
        if w[0] < -1e-10 * max(float(np.max(np.abs(w))), 1e-300):
            raise _fail(
                name,
                "multivariate normal covariance must be positive semi-definite; found "
                f"smallest eigenvalue {w[0]:.6g}",
            )
        # Cholesky of the covariance, its smallest eigenvalue lifted to a tiny floor when it is
        # singular: one factor on every BLAS kernel (hta.numerics).
        factor = covariance_factor(c, f"parameter '{name}': multivariate normal covariance")
        c.setflags(write=False)
        factor.setflags(write=False)
        self.mu = mu
        self.cov = c
        self.factor = factor
        self.dim = int(k)

    @property
    def mean(self) -> np.ndarray:
        return self.mu.copy()

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        # An explicit sum in a fixed order rather than `z @ factor.T`: BLAS may sum in an
        # order that depends on n, which would break bit-for-bit chunk invariance.
        z = special.ndtri(u)
        out = np.empty_like(z)
        for i in range(self.dim):
            acc = np.full(z.shape[0], self.mu[i])
            for j in range(self.dim):
                if self.factor[i, j] != 0.0:
                    acc += self.factor[i, j] * z[:, j]
            out[:, i] = acc
        return out

    def _marginal_ppf(self, q: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.diag(self.cov))
        return self.mu + special.ndtri(q)[:, None] * sd

    def describe(self) -> str:
        rows = "; ".join(" ".join(_fmt(x) for x in row) for row in self.cov)
        return f"MultivariateNormal(mean={_fmt_array(self.mu)}, cov=[{rows}])"


# ---------------------------------------------------------------------------------------------
# Construction from a name and keyword arguments (the Excel reader uses this)

_ALIASES = {
    "fixed": "fixed",
    "constant": "fixed",
    "normal": "normal",
    "gaussian": "normal",
    "lognormal": "lognormal",
    "log-normal": "lognormal",
    "log normal": "lognormal",
    "beta": "beta",
    "gamma": "gamma",
    "uniform": "uniform",
    "triangular": "triangular",
    "dirichlet": "dirichlet",
    "mvnormal": "mvnormal",
    "mvn": "mvnormal",
    "multivariate normal": "mvnormal",
    "multivariate_normal": "mvnormal",
    "multivariatenormal": "mvnormal",
}

#: Accepted argument sets per distribution, in the order they are tried.
_SIGNATURES: dict[str, list[tuple[str, ...]]] = {
    "fixed": [("value",)],
    "normal": [("mean", "sd"), ("mean", "se")],
    "lognormal": [("mean", "se"), ("meanlog", "sdlog")],
    "beta": [("mean", "se"), ("alpha", "beta")],
    "gamma": [("mean", "se"), ("shape", "scale"), ("shape", "rate")],
    "uniform": [("low", "high")],
    "triangular": [("low", "mode", "high")],
    "dirichlet": [("counts",)],
    "mvnormal": [("mean", "cov")],
}

KINDS: tuple[str, ...] = tuple(_SIGNATURES)


def _build(kind: str, args: dict[str, Any], name: str | None) -> Distribution:
    if kind == "fixed":
        return Fixed(args["value"], name=name)
    if kind == "normal":
        return Normal(args["mean"], args.get("sd", args.get("se")), name=name)
    if kind == "lognormal":
        if "se" in args:
            return LogNormal.from_mean_se(args["mean"], args["se"], name=name)
        return LogNormal(args["meanlog"], args["sdlog"], name=name)
    if kind == "beta":
        if "se" in args:
            return Beta.from_mean_se(args["mean"], args["se"], name=name)
        return Beta(args["alpha"], args["beta"], name=name)
    if kind == "gamma":
        if "se" in args:
            return Gamma.from_mean_se(args["mean"], args["se"], name=name)
        if "rate" in args:
            rate = _positive(name, "gamma rate", args["rate"])
            return Gamma(args["shape"], 1.0 / rate, name=name)
        return Gamma(args["shape"], args["scale"], name=name)
    if kind == "uniform":
        return Uniform(args["low"], args["high"], name=name)
    if kind == "triangular":
        return Triangular(args["low"], args["mode"], args["high"], name=name)
    if kind == "dirichlet":
        return Dirichlet(args["counts"], name=name)
    return MultivariateNormal(args["mean"], args["cov"], name=name)


def from_spec(kind: str, name: str | None = None, **params: Any) -> Distribution:
    """Build a distribution from a case-insensitive family name and keyword arguments.

    Accepted argument sets (keyword names are case-insensitive; ``None`` values count as
    absent, so blank spreadsheet cells can be passed through):

    ``fixed``: value; ``normal``: mean, sd (or se); ``lognormal``: mean, se (natural-scale
    moments) or meanlog, sdlog; ``beta``: mean, se or alpha, beta; ``gamma``: mean, se or
    shape, scale (or shape, rate); ``uniform``: low, high; ``triangular``: low, mode, high;
    ``dirichlet``: counts; ``mvnormal`` (aliases ``mvn``, ``multivariate normal``): mean, cov.
    """
    if not isinstance(kind, str) or not kind.strip():
        raise _fail(name, f"distribution name must be text such as 'beta'; found {kind!r}")
    key = " ".join(kind.strip().lower().split())
    family = _ALIASES.get(key)
    if family is None:
        raise _fail(
            name, f"unknown distribution '{kind}'; expected one of {', '.join(KINDS)}"
        )
    args = {k.strip().lower(): v for k, v in params.items() if v is not None}
    signatures = _SIGNATURES[family]
    for signature in signatures:
        if set(signature) == set(args):
            return _build(family, args, name)
    expected = " or ".join("(" + ", ".join(sig) + ")" for sig in signatures)
    found = ", ".join(sorted(args)) if args else "no arguments"
    raise _fail(name, f"{family} distribution takes {expected}; found ({found})")
