"""Brent's method step by step (hta.analysis.roots): the same roots and the same points as
scipy.optimize.brentq, bit for bit, and searches run side by side give the roots of separate runs.

Reference: scipy.optimize.brentq (scipy/optimize/Zeros/brentq.c), which the threshold analysis
called before its searches shared model calls.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from hta.analysis.roots import brent_steps, lockstep

RTOL = 4 * np.finfo(float).eps


def _functions():
    """Smooth functions of many shapes (lines, parabolas, steep and flat ones) with their brackets."""
    rng = np.random.default_rng(20261205)
    out = []
    while len(out) < 400:
        kind = len(out) % 5
        a, b, c = rng.standard_normal(3) * 10 ** rng.uniform(-3, 6, 3)
        if kind == 0:
            f = lambda x, a=a, b=b: a + b * x  # noqa: E731
        elif kind == 1:
            f = lambda x, a=a, b=b, c=c: a + b * x + c * x * x  # noqa: E731
        elif kind == 2:
            f = lambda x, a=a, b=b: float(np.tanh(b * (x - a / 1e3)))  # noqa: E731
        elif kind == 3:
            f = lambda x, a=a: float(np.exp(x)) - abs(a) / 1e3  # noqa: E731
        else:
            f = lambda x, a=a, b=b: float(np.sin(x * b / 1e3)) + a / 1e6  # noqa: E731
        lo, hi = sorted(float(v) for v in rng.uniform(-20, 20, 2))
        if f(lo) * f(hi) < 0:
            out.append((f, lo, hi, [1e-12 * max(abs(lo), abs(hi), 1.0), 1e-3][len(out) % 2]))
    return out


def _run(search, f):
    """Drive one generator search by hand: (root, points asked for)."""
    points = []
    try:
        x = next(search)
        while True:
            points.append(x)
            x = search.send(f(x))
    except StopIteration as stop:
        return stop.value, points


def test_brent_steps_is_brentq_bit_for_bit():
    for f, lo, hi, xtol in _functions():
        seen = []
        ref = brentq(lambda x: seen.append(x) or f(x), lo, hi, xtol=xtol, rtol=RTOL)
        root, points = _run(brent_steps(lo, hi, f(lo), f(hi), xtol, RTOL), f)
        assert root == ref  # exactly, not approximately
        assert points == seen[2:]  # brentq evaluates both ends first; the scan gives them here


def test_brent_steps_errors_as_brentq():
    with pytest.raises(ValueError, match="different signs"):
        next(brent_steps(0.0, 1.0, 1.0, 2.0, 1e-12, RTOL))
    search = brent_steps(0.0, 1.0, -1.0, 1.0, 1e-12, RTOL)
    next(search)
    with pytest.raises(ValueError, match="is NaN"):
        search.send(float("nan"))
    # a flat cube converges slowly: both give up after the same number of iterations
    f = lambda x: (x - 0.3) ** 3  # noqa: E731
    with pytest.raises(RuntimeError, match="Failed to converge after 5 iterations"):
        brentq(f, -1.0, 2.0, xtol=1e-300, rtol=RTOL, maxiter=5)
    with pytest.raises(RuntimeError, match="Failed to converge after 5 iterations"):
        _run(brent_steps(-1.0, 2.0, f(-1.0), f(2.0), 1e-300, RTOL, maxiter=5), f)


def test_an_end_at_a_root_is_returned_at_once():
    assert _run(brent_steps(2.0, 5.0, 0.0, 1.0, 1e-12, RTOL), None) == (2.0, [])
    assert _run(brent_steps(2.0, 5.0, -1.0, 0.0, 1e-12, RTOL), None) == (5.0, [])


def test_lockstep_gives_the_roots_of_separate_searches_with_one_call_per_round():
    cases = _functions()[:40]
    separate = [_run(brent_steps(lo, hi, f(lo), f(hi), xtol, RTOL), f) for f, lo, hi, xtol in cases]
    rounds = []

    def evaluate(pending):
        rounds.append(len(pending))
        return [cases[i][0](x) for i, x in pending]

    roots = lockstep([brent_steps(lo, hi, f(lo), f(hi), xtol, RTOL) for f, lo, hi, xtol in cases], evaluate)
    assert roots == [root for root, _ in separate]
    assert len(rounds) == max(len(points) for _, points in separate)  # one call per round, not per point
    assert sum(rounds) == sum(len(points) for _, points in separate)
    assert lockstep([], evaluate) == []


def test_tiny_values_whose_product_underflows_keep_the_sign_change():
    # brentq tests the sign change with signbit, not with the product of the two values, which
    # underflows to -0.0 for values below ~1e-162: the same points and root as brentq here.
    for scale in (1e-160, 1e-170, 1e-200):
        f = lambda x, s=scale: (x - 0.3) * (1.0 + x) * s  # noqa: E731
        seen = []
        ref = brentq(lambda x: seen.append(x) or f(x), 0.0, 1.0, xtol=1e-12, rtol=RTOL)
        root, points = _run(brent_steps(0.0, 1.0, f(0.0), f(1.0), 1e-12, RTOL), f)
        assert root == ref and points == seen[2:]
