"""Speed of the flagship analyses (run on demand, never in CI).

    python benchmarks/bench_analyses.py [--draws 10000] [--n-base 1024] [--chunk-size 1000]

Targets: a 10,000-draw PSA of the eque-cel model in <= 2 s; a Sobol analysis with N = 1,024
base samples on every stochastic flagship parameter (N x (D + 2) model runs) in <= 30 s. Each is
compared with a per-draw Python loop (the way a spreadsheet or a naive script runs a PSA): the
loop is timed on --loop-draws draws (default 100) and *extrapolated* linearly to the full size.
When a target is missed, the profile's top functions are printed (the lead owns models/).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hta.analysis import gsa  # noqa: E402
from hta.analysis.evaluate import run_psa  # noqa: E402
from hta.excel.reader import read_inputs  # noqa: E402
from models import fucaso_rrmm  # noqa: E402


def loop_seconds_per_draw(model, n: int, seed: int) -> float:
    """Seconds per draw when every draw is evaluated on its own (batch of one)."""
    batch = model.parameters.sample(n, seed)
    t0 = time.perf_counter()
    for i in range(n):
        model.evaluate(batch.take(i))
    return (time.perf_counter() - t0) / n


def profile(fn, top: int = 12) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", default=str(ROOT / "inputs" / "fucaso_hk.xlsx"))
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--n-base", type=int, default=1024)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--loop-draws", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20251127)
    args = ap.parse_args(argv)

    model = fucaso_rrmm.build(read_inputs(args.inputs))
    d = len(model.parameters.unit_columns)
    per_draw = loop_seconds_per_draw(model, args.loop_draws, args.seed)
    print(f"model: {model.name}, {model.grid.n_cycles} cycles, {d} stochastic dimensions")
    print(f"per-draw Python loop: {per_draw * 1e3:.2f} ms per draw (timed on {args.loop_draws} draws)")

    run_psa(model, 200, args.seed, chunk_size=args.chunk_size)  # warm-up
    t0 = time.perf_counter()
    res = run_psa(model, args.draws, args.seed, chunk_size=args.chunk_size)
    psa_s = time.perf_counter() - t0
    loop_psa = per_draw * args.draws
    print(f"PSA {args.draws:,} draws (chunk {args.chunk_size}): {psa_s:.2f} s (target <= 2 s) | loop, "
          f"extrapolated: {loop_psa:.1f} s | speed-up x{loop_psa / psa_s:.0f}")
    print(f"  mean incremental cost HK${(res.costs[:, 1] - res.costs[:, 0]).mean():,.0f}, "
          f"QALYs {(res.qalys[:, 1] - res.qalys[:, 0]).mean():.3f}")

    n_runs = args.n_base * (d + 2)
    t0 = time.perf_counter()
    frame = gsa.sobol(model, n_base=args.n_base, seed=args.seed, chunk_size=args.chunk_size)
    sobol_s = time.perf_counter() - t0
    loop_sobol = per_draw * n_runs
    print(f"Sobol N={args.n_base} ({n_runs:,} runs): {sobol_s:.2f} s (target <= 30 s) | loop, extrapolated: "
          f"{loop_sobol:.0f} s | speed-up x{loop_sobol / sobol_s:.0f}")
    print(frame.head(5).to_string(index=False))

    if psa_s > 2.0 or sobol_s > 30.0:
        print("\nTarget missed; profile of one PSA chunk:")
        batch = model.parameters.sample(args.chunk_size, args.seed)
        print(profile(lambda: model.evaluate(batch)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
