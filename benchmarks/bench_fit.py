"""Speed of hta.survival.fit: all seven families on 1,000 simulated Weibull rows, vs lifelines.

Run on demand (not in CI): ``python benchmarks/bench_fit.py``. Target: <= 0.2 s for all seven.
Each timing is the best of ``REPEATS`` runs on this machine; lifelines (if installed) is timed
on the same data for the families it has.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from hta.survival.fit import DISTRIBUTIONS, fit

REPEATS = 5


def simulated_data(n=1000, seed=2024):
    """Weibull(shape 1.4, scale 12) event times, uniform(0, 30) censoring (~25% censored)."""
    rng = np.random.default_rng(seed)
    t_true = 12.0 * rng.weibull(1.4, n)
    cens = rng.uniform(0, 30, n)
    return np.minimum(t_true, cens), (t_true <= cens).astype(float)


def best_time(func):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def lifelines_fitters():
    try:
        import lifelines
    except ImportError:
        return {}
    return {"exponential": lifelines.ExponentialFitter, "weibull": lifelines.WeibullFitter,
            "lognormal": lifelines.LogNormalFitter, "loglogistic": lifelines.LogLogisticFitter,
            "gengamma": lifelines.GeneralizedGammaFitter}


def main():
    t, e = simulated_data()
    print(f"n = {len(t)}, events = {int(e.sum())}")
    total = best_time(lambda: fit(t, e))
    lifelines = lifelines_fitters()
    print(f"{'distribution':<13}{'hta (ms)':>10}{'lifelines (ms)':>16}{'ratio':>8}")
    for name in DISTRIBUTIONS:
        # a family fitted alone also fits the families it starts from (gamma: Weibull;
        # gengamma: Weibull, log-normal, gamma), so these single timings overlap
        ours = best_time(lambda: fit(t, e, name))
        if name in lifelines:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = best_time(lambda: lifelines[name]().fit(t, e))
            print(f"{name:<13}{ours * 1e3:>10.1f}{theirs * 1e3:>16.1f}{theirs / ours:>8.1f}x")
        else:
            print(f"{name:<13}{ours * 1e3:>10.1f}{'-':>16}{'':>8}")
    print(f"all seven in one call: {total * 1e3:.1f} ms (target <= 200 ms)")
    arm = np.arange(len(t)) % 2
    print(f"all seven with an arm covariate: {best_time(lambda: fit(t, e, arm=arm)) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
