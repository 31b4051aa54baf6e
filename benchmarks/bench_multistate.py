"""Individual-level simulation benchmark (issue 23): a 6-state semi-Markov model with Weibull
transitions, 1,000 patients x 1,000 PSA draws, then growth to 10,000 x 1,000.

The structure is that of hesim's published benchmark (the EBMT transplant model of R mstate's
``ebmt4``: transplant, recovery, adverse event, recovery + adverse event, relapse, death; Incerti &
Jansen 2021, hesim: 1,000 x 1,000 in 6 s), with relapse -> death added so every life ends; 13
transitions, all clock-reset (semi-Markov) Weibull. The Weibull coefficients and their PSA spread
are assumptions (illustrative); costs and utilities by state likewise. Horizon 50 years, so lives
end in death. Run: ``python benchmarks/bench_multistate.py`` (from the repository root).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hta.multistate.model import MultiStateModel, Transition
from hta.multistate.simulate import simulate

STATES = ("transplant", "recovery", "adverse event", "recovery+AE", "relapse", "death")
# (from, to, log shape, log scale in years): assumptions
EDGES = [(0, 1, 0.1, 0.2), (0, 2, -0.2, 0.8), (0, 4, 0.0, 2.0), (0, 5, -0.3, 2.5),
         (1, 3, 0.0, 1.5), (1, 4, 0.1, 1.8), (1, 5, -0.2, 3.0),
         (2, 3, 0.2, 0.9), (2, 4, 0.0, 2.2), (2, 5, -0.1, 2.4),
         (3, 4, 0.1, 2.0), (3, 5, 0.0, 2.6), (4, 5, 0.2, 1.0)]
COSTS = {"transplant": 50_000.0, "recovery": 5_000.0, "adverse event": 20_000.0,
         "recovery+AE": 10_000.0, "relapse": 30_000.0}
UTILITIES = {"transplant": 0.6, "recovery": 0.85, "adverse event": 0.5, "recovery+AE": 0.7, "relapse": 0.4}


def model(n_draws: int, seed: int = 1) -> MultiStateModel:
    rng = np.random.default_rng(seed)
    trans = [Transition(a, b, "weibull",
                        np.column_stack([ls + 0.05 * rng.standard_normal(n_draws),
                                         lsc + 0.1 * rng.standard_normal(n_draws)]),
                        clock="reset")
             for a, b, ls, lsc in EDGES]
    return MultiStateModel(STATES, trans)


def run(n_patients: int, n_draws: int, memory: bool = False):
    m = model(n_draws)
    if memory:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(m, n_patients, horizon=50.0, seed=2021, state_costs=COSTS, state_utilities=UTILITIES,
                   event_costs={"recovery->relapse": 10_000.0})
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if memory else float("nan")
    if memory:
        tracemalloc.stop()
    return elapsed, cpu, peak, res


if __name__ == "__main__":
    print(f"6-state semi-Markov, 13 Weibull transitions, horizon 50 y; cpus: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} (the machine is shared: CPU time is the steadier figure)")
    run(200, 50)  # warm-up (imports, first calls)
    for n in (1_000, 2_000, 5_000, 10_000):
        elapsed, cpu, _, res = run(n, 1_000)
        _, _, peak, _ = run(n, 1_000, memory=True)
        print(f"{n:>6} patients x 1000 draws: {elapsed:6.2f} s wall, {cpu:6.2f} s CPU, peak traced memory {peak:7.0f} MiB; "
              f"mean QALYs {res.qalys.mean():.4f} (MC se per draw {res.se_qalys.mean():.4f}), "
              f"transitions per life {res.events.sum(axis=1).mean():.2f}")
