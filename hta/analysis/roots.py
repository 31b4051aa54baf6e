"""Brent's root finder one step at a time, so that several searches share each model call.

A threshold analysis refines every sign change of its scan with Brent's method, and each step
of a search needs the model at one new point. Searches at different WTPs (or of different
strategy pairs, or of a sweep over a WTP grid) do not depend on one another, so their next
points can be evaluated together: :func:`lockstep` runs the searches side by side and hands
the points of each round to one batch evaluation. A model evaluates every row alike whatever
the batch it is in, so the roots are the same bit for bit as those of separate searches, with
a few model calls instead of one per point (each call costs a few milliseconds of Python).

:func:`brent_steps` is ``scipy.optimize.brentq`` (scipy's ``Zeros/brentq.c``, Brent 1973, the
same floating-point operations in the same order) written as a generator: it yields each point
it needs and receives the function's value there; the two bracket ends' values are given (a
scan has already evaluated them). ``tests/test_roots.py`` checks it against ``brentq``:
the same root and the same points, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence

__all__ = ["brent_steps", "lockstep"]

#: scipy.optimize.brentq's default iteration limit.
MAX_ITERATIONS = 100


def brent_steps(xa: float, xb: float, fa: float, fb: float, xtol: float, rtol: float,
                maxiter: int = MAX_ITERATIONS) -> Generator[float, float, float]:
    """Brent's method on ``[xa, xb]`` with ``f(xa) = fa``, ``f(xb) = fb`` of opposite signs.

    A generator: each ``yield`` gives the next point ``x``; send it ``f(x)`` (a float). Its
    return value (``StopIteration.value``) is the root, as ``scipy.optimize.brentq(f, xa, xb,
    xtol=xtol, rtol=rtol, maxiter=maxiter)`` returns it. Like ``brentq`` it raises
    ``ValueError`` when the ends have the same sign or a value is NaN, and ``RuntimeError``
    after ``maxiter`` iterations without convergence.
    """
    xpre, xcur = float(xa), float(xb)
    fpre, fcur = float(fa), float(fb)
    xblk = fblk = spre = scur = 0.0
    for x, fx in ((xpre, fpre), (xcur, fcur)):
        _check_value(x, fx)
    if fpre * fcur > 0:
        raise ValueError("f(a) and f(b) must have different signs")
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    for _ in range(maxiter):
        # brentq.c: fpre != 0 && fcur != 0 && signbit(fpre) != signbit(fcur) (a product of two
        # tiny values could underflow to -0.0 and miss the sign change)
        if fpre != 0 and fcur != 0 and math.copysign(1.0, fpre) != math.copysign(1.0, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            try:
                if xpre == xblk:  # interpolate
                    stry = -fcur * (xcur - xpre) / (fcur - fpre)
                else:  # extrapolate
                    dpre = (fpre - fcur) / (xpre - xcur)
                    dblk = (fblk - fcur) / (xblk - xcur)
                    stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            except ZeroDivisionError:  # C gives an infinity or NaN here, which fails the test below
                stry = math.inf
            bound = abs(spre) if abs(spre) < 3 * abs(sbis) - delta else 3 * abs(sbis) - delta
            if 2 * abs(stry) < bound:  # good short step
                spre, scur = scur, stry
            else:  # bisect
                spre = scur = sbis
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        if abs(scur) > delta:
            xcur += scur
        else:
            xcur += delta if sbis > 0 else -delta
        fcur = float((yield xcur))
        _check_value(xcur, fcur)
    raise RuntimeError(f"Failed to converge after {maxiter} iterations.")


def _check_value(x: float, fx: float) -> None:
    if math.isnan(fx):
        raise ValueError(f"The function value at x={x} is NaN; solver cannot continue.")


def lockstep(searches: Sequence[Generator], evaluate: Callable[[list], Sequence[float]]) -> list:
    """Run generator searches (as :func:`brent_steps`) side by side; their roots, in order.

    Each round collects the next point of every search still running and calls
    ``evaluate(points)`` once, where ``points`` is a list of ``(search index, x)``; it returns
    the function value for each, in the same order (each search may have its own function).
    """
    roots: list = [None] * len(searches)
    pending = []
    for i, search in enumerate(searches):
        try:
            pending.append((i, next(search)))
        except StopIteration as stop:
            roots[i] = stop.value
    while pending:
        values = evaluate(pending)
        running = []
        for (i, _), value in zip(pending, values):
            try:
                running.append((i, searches[i].send(value)))
            except StopIteration as stop:
                roots[i] = stop.value
        pending = running
    return roots
