"""Fast inverse CDF of the gamma distribution for one shape and many uniforms.

``scipy.special.gammaincinv(a, u)`` solves ``P(a, x) = u`` by iteration for every element; for
a PSA (one shape per parameter, thousands of uniforms) that is most of the sampling time. Here
the quantile function of one shape ``a`` is tabulated once, as piecewise Chebyshev
interpolants in variables where it is smooth and well conditioned, and then evaluated for any
number of uniforms with a few vectorised multiply-adds:

* **core**, ``u >= u_L``: ``log(x / a)`` as a function of ``z = ndtri(u)`` on
  ``[z_L, 8.3]`` (``ndtri(1 - 2^-53) = 8.21``), ``z_L = max(-sqrt(10 a), ndtri(1e-300))``;
  equal-width pieces in ``z``.
* **lower tail**, ``1e-300 <= u < u_L`` (only when ``z_L > ndtri(1e-300)``, i.e. small
  shapes): ``x / w`` as a function of ``w = Gamma(a+1)^(1/a) u^(1/a)``, which is analytic at
  ``w = 0`` (``x ~ w`` as ``u -> 0``); ``u^(1/a)`` is computed as ``u^y_hi * exp(y_lo log u)``
  with ``y_hi + y_lo = 1/a`` to double-double accuracy, so the rounding of ``1/a`` does not
  reach the result. Working in ``z`` there would multiply the rounding of ``ndtri`` by
  ``z^2 / a``.
* shape 1 (the exponential distribution) is ``-log1p(-u)``, no table.
* ``u < 1e-300`` (never drawn: PSA uniforms are at least 2^-54) goes to ``gammaincinv``;
  ``u = 0`` gives 0 and ``u = 1`` gives infinity, as ``gammaincinv`` does.

Node values come from ``gammaincinv`` (``gammainccinv`` above the median, where it keeps
relative accuracy), and each table is checked when it is built against ``gammaincinv`` at the
midpoint between every pair of nodes and at the piece edges; a shape whose table does not
pass (relative error above ``BUILD_CHECK_RTOL``), or lies outside ``[SHAPE_MIN, SHAPE_MAX]``,
uses ``gammaincinv`` for every element instead (:attr:`GammaQuantile.exact` is then True).

Accuracy (``tests/test_gammainv.py``): within 1e-14 relative of the exact quantile
(``mpmath``, 50 digits) on shapes 0.05 to 1e4 and uniforms 1e-300 to 1 - 2^-53, and within
2e-13 of ``gammaincinv`` (which is itself off by up to ~1.7e-13 deep in the lower tail of
small shapes). The result is a pure elementwise function of ``u``, so it does not depend on
how a batch is split into chunks.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import special

__all__ = ["GammaQuantile", "gamma_quantile", "SHAPE_MIN", "SHAPE_MAX"]

#: Shapes outside this range use scipy.special.gammaincinv (not tabulated).
SHAPE_MIN = 0.01
SHAPE_MAX = 1e7
#: Uniforms below this use gammaincinv (x may be subnormal there).
U_MIN = 1e-300
#: A table must match gammaincinv this closely at its check points, or the shape uses gammaincinv.
BUILD_CHECK_RTOL = 1e-12

_DEGREE = 10         # polynomial degree of every piece
_CORE_PIECES = 64
_LOW_PIECES = 8
_Z_MAX = 8.3         # above ndtri(1 - 2**-53) = 8.2095, the largest uniform below 1
_Z_MIN = float(special.ndtri(U_MIN))  # -37.0
_LOWER_SPLIT = 10.0  # core from z_L >= -sqrt(10 a): ndtri's rounding times z^2/a stays < 10 ulp
_LOWER_X = 0.1       # and from x >= a / 10: below, the lower-tail table


def _nodes(d: int) -> np.ndarray:
    """Chebyshev points of the first kind on [-1, 1] (the ends excluded)."""
    return np.cos(np.pi * (np.arange(d + 1) + 0.5) / (d + 1))


def _fit(values: np.ndarray, d: int) -> np.ndarray:
    """Chebyshev coefficients ``(d + 1, m)`` of ``m`` pieces from their values ``(m, d + 1)`` at ``_nodes(d)``."""
    theta = np.pi * (np.arange(d + 1) + 0.5) / (d + 1)
    T = np.cos(np.outer(np.arange(d + 1), theta))   # T_j at node k
    c = values @ T.T * (2.0 / (d + 1))
    c[:, 0] /= 2.0
    return np.ascontiguousarray(c.T)


def _clenshaw(C: np.ndarray, piece: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Sum of ``C[j, piece] T_j(s)`` by Clenshaw's recurrence (elementwise)."""
    d = C.shape[0] - 1
    s2 = 2.0 * s
    b1 = C[d].take(piece)
    b2 = np.zeros_like(s)
    for j in range(d - 1, 0, -1):
        b0 = s2 * b1
        b0 -= b2
        b0 += C[j].take(piece)
        b1, b2 = b0, b1
    out = s * b1
    out -= b2
    out += C[0].take(piece)
    return out


def _locate(v: np.ndarray, v0: float, inv_h: float, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Piece index and local coordinate in [-1, 1] of ``v`` on ``m`` equal pieces from ``v0``."""
    t = (v - v0) * inv_h
    piece = np.floor(t)
    np.clip(piece, 0, m - 1, out=piece)
    s = t - piece
    s *= 2.0
    s -= 1.0
    return piece.astype(np.intp), s


def _reference(a: float, z: np.ndarray) -> np.ndarray:
    """Gamma(a) quantiles at standard-normal quantiles ``z`` (upper half via the complement)."""
    lower = special.gammaincinv(a, special.ndtr(np.minimum(z, 0.0)))
    upper = special.gammainccinv(a, special.ndtr(-np.maximum(z, 0.0)))
    return np.where(z <= 0.0, lower, upper)


class GammaQuantile:
    """The Gamma(shape, 1) quantile function of one shape; call it on an array of uniforms."""

    def __init__(self, shape: float, *, pieces: int = _CORE_PIECES):
        a = float(shape)
        if not (a > 0.0 and math.isfinite(a)):
            raise ValueError(f"gamma shape must be a positive finite number; found {shape!r}")
        self.shape = a
        self.exact = True
        if not SHAPE_MIN <= a <= SHAPE_MAX:
            return
        with np.errstate(all="ignore"):
            for m in (pieces, 2 * pieces, 4 * pieces):
                if self._build(a, m) and self._check():
                    self.exact = False
                    return

    # Building ---------------------------------------------------------------------------------
    def _build(self, a: float, m: int) -> bool:
        d = _DEGREE
        nodes = (_nodes(d) + 1.0) / 2.0                         # in (0, 1) within each piece
        # the core starts where x >= a / 10 (|log(x/a)| stays small) or, for larger shapes,
        # at -sqrt(10 a) (the rounding of ndtri, amplified by z^2 / a, stays below 10 ulp)
        z_split = float(special.ndtri(special.gammainc(a, _LOWER_X * a)))
        z_lo = max(-math.sqrt(_LOWER_SPLIT * a), z_split, _Z_MIN)
        self.z0, self.m = z_lo, m
        self.h = (_Z_MAX - z_lo) / m
        self.inv_h = 1.0 / self.h
        z = z_lo + (np.arange(m)[:, None] + nodes[None, :]) * self.h
        x = _reference(a, z)
        if not np.all(np.isfinite(x) & (x > 1e-300)):
            return False
        self.core = _fit(np.log(x / a), d)
        self.u_low = float(special.ndtr(z_lo)) if z_lo > _Z_MIN else U_MIN
        self.has_low = z_lo > _Z_MIN
        if self.has_low:
            y = 1.0 / a
            self.y = y
            self.y_lo = float((1 - Fraction(a) * Fraction(y)) / Fraction(a))  # 1/a - y, exactly rounded
            self.g = math.exp(special.gammaln(a + 1.0) / a)
            self.w0 = float(self._w(np.array([U_MIN]))[0])
            w1 = float(self._w(np.array([self.u_low]))[0])
            ml = _LOW_PIECES
            self.ml, self.hl = ml, (w1 - self.w0) / ml
            if not self.hl > 0.0:
                return False
            self.inv_hl = 1.0 / self.hl
            w = self.w0 + (np.arange(ml)[:, None] + nodes[None, :]) * self.hl
            u = (w / self.g) ** a
            xl = special.gammaincinv(a, u)
            ratio = xl / w
            if not np.all(np.isfinite(ratio) & (ratio > 0.0)):
                return False
            self.low = _fit(ratio, d)
        return True

    def _check(self) -> bool:
        """Compare with gammaincinv between every pair of nodes and at the piece edges."""
        a = self.shape
        d = _DEGREE
        nodes = np.concatenate([[0.0], (_nodes(d)[::-1] + 1.0) / 2.0, [1.0]])
        mids = (nodes[1:] + nodes[:-1]) / 2.0
        z = self.z0 + (np.arange(self.m)[:, None] + mids[None, :]).ravel() * self.h
        u = special.ndtr(z[z <= 8.2])
        u = u[u < 1.0]
        ok = self._agrees(u, special.gammaincinv(a, u))
        if self.has_low:
            w = self.w0 + (np.arange(self.ml)[:, None] + mids[None, :]).ravel() * self.hl
            u = np.clip((w / self.g) ** a, U_MIN, self.u_low)
            ok = ok and self._agrees(u, special.gammaincinv(a, u))
        return bool(ok)

    def _agrees(self, u: np.ndarray, reference: np.ndarray) -> bool:
        x = self._fast(u)
        tiny = reference < 1e-290
        err = np.abs(x[~tiny] - reference[~tiny]) / reference[~tiny]
        return bool(np.all(err <= BUILD_CHECK_RTOL)) and bool(np.all(np.abs(x[tiny]) < 1e-280))

    def _w(self, u: np.ndarray) -> np.ndarray:
        """``Gamma(a+1)^(1/a) u^(1/a)``, the exponent to double-double accuracy."""
        w = np.power(u, self.y)
        if self.y_lo != 0.0:
            w *= np.exp(self.y_lo * np.log(u))
        w *= self.g
        return w

    # Evaluation -------------------------------------------------------------------------------
    def _fast(self, u: np.ndarray) -> np.ndarray:
        """Table values for uniforms in [U_MIN, 1) (no special cases)."""
        piece, s = _locate(special.ndtri(u), self.z0, self.inv_h, self.m)
        x = _clenshaw(self.core, piece, s)
        np.exp(x, out=x)
        x *= self.shape
        if self.has_low:
            low = u < self.u_low
            if low.any():
                w = self._w(u[low])
                piece, s = _locate(w, self.w0, self.inv_hl, self.ml)
                x[low] = w * _clenshaw(self.low, piece, s)
        return x

    def __call__(self, u) -> np.ndarray:
        """Quantiles of Gamma(shape, 1) for uniforms ``u`` in [0, 1] (any shape of array)."""
        u = np.asarray(u, dtype=float)
        if self.shape == 1.0:  # the exponential distribution: closed form, correct to 1 ulp
            with np.errstate(divide="ignore"):
                return -np.log1p(-u)
        if self.exact:
            return special.gammaincinv(self.shape, u)
        flat = u.reshape(-1)
        outside = ~(flat >= U_MIN) | (flat >= 1.0)      # tiny, 0, 1 and NaN: as gammaincinv
        some_outside = bool(outside.any())
        with np.errstate(all="ignore"):
            x = self._fast(np.where(outside, 0.5, flat) if some_outside else flat)
        if some_outside:
            x[outside] = special.gammaincinv(self.shape, flat[outside])
        return x.reshape(u.shape)


@lru_cache(maxsize=512)
def _table(shape: float) -> GammaQuantile:
    return GammaQuantile(shape)


def gamma_quantile(shape: float, u) -> np.ndarray:
    """Quantiles of Gamma(``shape``, 1) at uniforms ``u``; the table per shape is built once."""
    return _table(float(shape))(u)
