"""hta.params.gammainv: the tabulated gamma quantile against scipy.special.gammaincinv and mpmath.

The table replaced ``gammaincinv`` in ``Gamma.ppf`` and ``Dirichlet.ppf`` (issue 10), so PSA
draws of gamma and Dirichlet parameters moved at the rounding level. These tests bound how far:
within 2e-13 relative of ``gammaincinv`` everywhere (``gammaincinv`` itself is off by up to
~1.7e-13 deep in the lower tail of small shapes), within 2e-14 of the exact quantile (mpmath,
40 digits), and bit-for-bit independent of how the uniforms are split into chunks.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from hta.params import gammainv
from hta.params.distributions import Dirichlet, Gamma
from hta.params.gammainv import GammaQuantile, gamma_quantile

SHAPES = [0.05, 0.1, 0.3, 0.5, 0.9, 1.0, 1.7, 2.0, 5.0, 15.0, 17.0, 50.0, 116.0, 147.0, 150.0,
          350.0, 731.0, 1251.0, 1312.0, 5000.0, 1e4]
RTOL_SCIPY = 2e-13
RTOL_EXACT = 2e-14


def _uniforms(seed: int = 7) -> np.ndarray:
    """Both tails from 1e-300 and 1 - 1e-16 (and the extreme doubles), and the body."""
    rng = np.random.default_rng(seed)
    u = np.concatenate([
        10.0 ** -rng.uniform(0.0, 300.0, 4000),        # lower tail down to 1e-300
        1.0 - 10.0 ** -rng.uniform(0.0, 16.0, 4000),   # upper tail up to 1 - 1e-16
        rng.random(4000),
        np.linspace(1e-6, 1.0 - 1e-6, 2001),
        [1e-300, 2.0**-54, 2.0**-53, 0.5, 1.0 - 1e-16, 1.0 - 2.0**-53],
    ])
    return u[(u >= 1e-300) & (u < 1.0)]


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_scipy_gammaincinv(shape):
    u = _uniforms()
    q = GammaQuantile(shape)
    assert not q.exact or shape == 1.0  # every shape here is tabulated (1.0: closed form)
    x, ref = q(u), special.gammaincinv(shape, u)
    normal = ref > 1e-290  # below, both are subnormal or 0 (no relative precision to compare)
    np.testing.assert_allclose(x[normal], ref[normal], rtol=RTOL_SCIPY, atol=0)
    assert np.all(x[~normal] < 1e-280)


@pytest.mark.parametrize("seed", range(3))
def test_random_shapes_match_scipy(seed):
    rng = np.random.default_rng(100 + seed)
    u = _uniforms(seed)
    for shape in 10.0 ** rng.uniform(np.log10(0.05), 5.0, 8):
        x, ref = gamma_quantile(shape, u), special.gammaincinv(shape, u)
        normal = ref > 1e-290
        np.testing.assert_allclose(x[normal], ref[normal], rtol=RTOL_SCIPY, atol=0, err_msg=f"shape {shape}")


def test_matches_exact_quantile_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def exact(a, u):
        a, u = mp.mpf(a), mp.mpf(u)
        x0 = mp.log(mp.mpf(float(special.gammaincinv(float(a), float(u)))))
        if u < 0.5:
            f = lambda lx: mp.log(mp.gammainc(a, 0, mp.e**lx, regularized=True)) - mp.log(u)  # noqa: E731
        else:
            f = lambda lx: mp.log(mp.gammainc(a, mp.e**lx, mp.inf, regularized=True)) - mp.log(1 - u)  # noqa: E731
        return float(mp.e ** mp.findroot(f, x0))

    points = [(a, u) for a in (0.05, 0.3, 2.0, 17.0, 116.0, 1251.0)
              for u in (1e-300, 1e-100, 3.3e-15, 1e-6, 0.02, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-12, 1.0 - 2.0**-53)]
    worst = 0.0
    for a, u in points:
        t = exact(a, u)
        if t < 1e-290:  # subnormal: no relative precision
            continue
        worst = max(worst, abs(float(gamma_quantile(a, np.array([u]))[0]) - t) / t)
    assert worst < RTOL_EXACT


def test_special_values_as_gammaincinv():
    q = GammaQuantile(17.0)
    u = np.array([0.0, 1.0, 5e-324, 1e-310, 1e-301, np.nan])
    x = q(u)
    assert x[0] == 0.0 and x[1] == np.inf and np.isnan(x[5])
    np.testing.assert_array_equal(x[2:5], special.gammaincinv(17.0, u[2:5]))  # below 1e-300: gammaincinv


def test_exponential_closed_form():
    u = _uniforms()
    np.testing.assert_array_equal(gamma_quantile(1.0, u), -np.log1p(-u))


@pytest.mark.parametrize("shape", [1e-3, 2e7])
def test_outside_the_tabulated_range_uses_gammaincinv(shape):
    q = GammaQuantile(shape)
    assert q.exact
    u = _uniforms()
    np.testing.assert_array_equal(q(u), special.gammaincinv(shape, u))


@pytest.mark.parametrize("shape", [0.3, 17.0, 1251.0])
def test_elementwise_so_chunk_invariant(shape):
    u = np.random.default_rng(3).random(10_007)
    whole = gamma_quantile(shape, u)
    for size in (1, 7, 1000, 4096):
        parts = np.concatenate([gamma_quantile(shape, u[i:i + size]) for i in range(0, u.size, size)])
        np.testing.assert_array_equal(parts, whole)
    np.testing.assert_array_equal(gamma_quantile(shape, u[:10_000].reshape(100, 100)).ravel(), whole[:10_000])
    np.testing.assert_array_equal(gamma_quantile(shape, u[::3]), whole[::3])  # strided input


@pytest.mark.parametrize("shape", [0.05, 2.0, 116.0, 1e4])
def test_monotone_to_rounding(shape):
    u = np.sort(np.concatenate([np.linspace(1e-9, 1 - 1e-9, 200_001), _uniforms()]))
    x = gamma_quantile(shape, u)
    assert np.all(x[1:] >= x[:-1] * (1.0 - 1e-14))


def test_tables_are_cached_per_shape():
    assert gammainv._table(17.0) is gammainv._table(17.0)


def test_gamma_and_dirichlet_ppf_within_rounding_of_the_old_draws():
    """The draws before issue 10 were scale * gammaincinv(shape, u) and normalised gammaincinv."""
    u = np.random.default_rng(11).random((50_000, 4))
    u[0] = [2.0**-54, 1.0 - 2.0**-53, 0.5, 1e-12]
    g = Gamma(0.64, 1500.0)
    np.testing.assert_allclose(g.ppf(u[:, :1]), 1500.0 * special.gammaincinv(0.64, u[:, :1]), rtol=RTOL_SCIPY, atol=0)
    counts = np.array([1251.0, 350.0, 116.0, 17.0])
    old = special.gammaincinv(counts, u)
    old /= old.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(Dirichlet(counts).ppf(u), old, rtol=RTOL_SCIPY, atol=0)
