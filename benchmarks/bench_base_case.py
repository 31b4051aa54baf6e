"""The base case end to end (issue 24): ``hta run scenarios/base_case.py``, wall time and the split by step.

Run on demand, never in CI::

    python benchmarks/bench_base_case.py              # 5 runs, about 2-3 minutes
    python benchmarks/bench_base_case.py --runs 3 --workers 1

Each run is a **fresh process** running exactly the README's main job, ``python -m hta run
scenarios/base_case.py`` (bundled inputs, default settings: every core), into a temporary output
folder, so the wall time includes starting Python, importing hta, reading the workbook and writing
every output. The parent measures each run's wall time (``time.perf_counter`` around the process)
and CPU time (user + system of the child, ``resource.getrusage(RUSAGE_CHILDREN)``), and prints the
median over runs and the per-run figures, with the load average before and after each run (other
work on the machine takes cores from the 2-worker steps first). On a shared virtual machine the
host's own load also changes how fast a core is, which the load average does not show: a fixed
single-core reference workload (numpy ``exp`` over 10^6 values 30 times and a Python loop of
2 x 10^6 additions, best of 3) is timed before the first and after the last run, so runs on a
slowed host can be told apart (docs/performance.md gives this machine's figures).

The split by step comes from a second kind of run (``--split``, also a fresh process): the same
scenario through ``hta.app.scripts.run_script``, whose progress reporter records the wall seconds
of each step of the plan (``StepProgress.seconds``) and of writing the outputs ("publish"); the
time before the plan (imports, reading and building the model) is the process's time up to the
first step. Target (issue 24): median wall <= 12 s on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scenarios" / "base_case.py"


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def host_reference() -> float:
    """Seconds of a fixed single-core workload (best of 3): how fast a core of this host is now."""
    import numpy as np

    x = np.linspace(-5.0, 5.0, 1_000_000)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(30):
            np.exp(x)
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def one_run(workers: int | None) -> dict:
    """Wall and CPU seconds of one ``python -m hta run scenarios/base_case.py`` in a fresh process."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "hta", "run", str(SCRIPT), "--out", out]
        if workers:
            cmd += ["--workers", str(workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"hta run failed (exit {proc.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "load_before": load, "load_after": os.getloadavg()[0]}


def split_worker(workers: int | None) -> dict:
    """Inside a fresh process: the base case through run_script, seconds by step."""
    t_start = time.perf_counter()
    import contextlib
    import io

    from hta.app.scripts import run_script

    first = {}
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        import hta.app.progress as progress

        record = progress.StepProgress.__call__

        def on_step(self, event, key, *rest):  # the time of the first step's start: imports and model built
            first.setdefault("t", time.perf_counter())
            return record(self, event, key, *rest)

        progress.StepProgress.__call__ = on_step
        context = run_script(SCRIPT, out=Path(out), workers=workers)
    total = time.perf_counter() - t_start
    steps = {"before the plan (imports, read the workbook, build the model)": first["t"] - t_start}
    names = {"background": "waiting for the work beside the plan (EVPPI) after the last step"}
    steps.update({names.get(k, k): v for k, v in context.steps.seconds.items()})
    return {"steps": steps, "total": total}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="hta run --workers (default: every core)")
    parser.add_argument("--no-split", action="store_true", help="skip the split-by-step runs")
    parser.add_argument("--json")
    parser.add_argument("--split-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.split_worker:
        print(json.dumps(split_worker(args.workers)))
        return
    print(f"hta run scenarios/base_case.py: {args.runs} runs, fresh process each; "
          f"{len(os.sched_getaffinity(0))} cores; workers {args.workers or 'default (every core)'}; "
          f"load average at start {_load()}; host reference workload {host_reference():.3f} s", flush=True)
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.workers))
        r = runs[-1]
        print(f"run {i + 1}: wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s (load {r['load_before']:.2f} -> "
              f"{r['load_after']:.2f})", flush=True)
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    print(f"\nmedian of {args.runs}: wall {wall:.2f} s, CPU {cpu:.2f} s "
          f"(wall range {min(r['wall'] for r in runs):.2f}-{max(r['wall'] for r in runs):.2f} s); "
          f"target <= 12 s wall: {'yes' if wall <= 12 else 'NO'}; host reference workload after the runs "
          f"{host_reference():.3f} s")
    splits = []
    if not args.no_split:
        cmd = [sys.executable, __file__, "--split-worker"] + (["--workers", str(args.workers)] if args.workers else [])
        for _ in range(max(1, min(3, args.runs))):
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit("split run failed")
            splits.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        keys = list(splits[0]["steps"])
        print(f"\nsplit by step: wall seconds, median of {len(splits)} runs (fresh process each)")
        for k in keys:
            print(f"  {k:<62}{statistics.median(s['steps'].get(k, 0.0) for s in splits):>7.2f}")
        print(f"  {'total (process start to end)':<62}{statistics.median(s['total'] for s in splits):>7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "splits": splits}, indent=1))


if __name__ == "__main__":
    main()
