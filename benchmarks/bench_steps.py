"""Wall and CPU time of each analysis step of the base case (issue 24), with model calls and rows.

    python benchmarks/bench_steps.py [--workers 1,2] [--repeat 3] [--steps psa,threshold,...]

Runs ``scenarios/base_case.py``'s plan without publishing (no workbook, no figures), through an
``on_step`` callback of :class:`hta.analysis.plan.Execution`: per step the wall time, the
process CPU time (``time.process_time``: every thread of the process) and the flagship model's
``evaluate`` calls and rows. Each worker count runs ``--repeat`` times in fresh subprocesses,
interleaved, and the best wall time per step is kept (the machine may be shared: with another
session holding a core, a 2-thread step gets one core and its wall time equals its CPU time).
``--steps`` keeps only those analyses (plus, always, the ones they need: the PSA for the
threshold's probabilistic part and the EVSI, the budget impact, payers and capacity for the
negotiation and EVSI).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDS = {"evsi": {"psa", "bia", "payers", "capacity", "negotiation"}, "negotiation": {"psa", "bia", "payers", "capacity"},
         "threshold": {"psa"}, "scenarios": {"threshold"}, "capacity": {"bia"}, "crossing": {"psa", "sobol", "tornado"}}


def one_run(workers: int, steps: set | None) -> dict:
    """The steps of one run of the base-case plan in this process: {key: [wall, cpu, calls, rows]}."""
    sys.path.insert(0, str(ROOT))
    import hta.analysis.plan as plan
    from hta.app.scripts import load_script
    from models import fucaso_rrmm

    counts = {"calls": 0, "rows": 0}
    evaluate = fucaso_rrmm.FucasoModel.evaluate

    def counted(self, batch, **kwargs):
        counts["calls"] += 1
        counts["rows"] += batch.n
        return evaluate(self, batch, **kwargs)

    fucaso_rrmm.FucasoModel.evaluate = counted
    started, record = {}, {}

    def on_step(event, key, index, total, seconds):
        if event == "start":
            started[key] = (time.perf_counter(), time.process_time(), counts["calls"], counts["rows"])
        else:
            w, c, n, r = started[key]
            record[key] = [time.perf_counter() - w, time.process_time() - c, counts["calls"] - n, counts["rows"] - r]

    keep = None
    if steps:
        keep = set(steps)
        for s in steps:
            keep |= NEEDS.get(s, set())
    script = load_script(ROOT / "scenarios" / "base_case.py")

    def analyse(model, *analyses, **kwargs):
        kwargs["execution"] = plan.Execution(workers=workers, on_step=on_step)
        return plan.analyse(model, *[a for a in analyses if keep is None or a.key in keep], **kwargs)

    script.analyse = analyse

    class Context:
        execution = None

        def publish(self, results, **kwargs):
            return []

    script.run(Context())
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", default="", help="comma-separated analysis keys (default: every step)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    steps = {s for s in args.steps.split(",") if s} or None
    if args.child is not None:
        print(json.dumps(one_run(args.child, steps)))
        return 0
    workers = [int(w) for w in args.workers.split(",")]
    best: dict = {w: {} for w in workers}
    for _ in range(args.repeat):
        for w in workers:
            cmd = [sys.executable, __file__, "--child", str(w)] + (["--steps", args.steps] if args.steps else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            for key, row in json.loads(out.stdout.strip().splitlines()[-1]).items():
                if key not in best[w] or row[0] < best[w][key][0]:
                    best[w][key] = row
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"best of {args.repeat} per step (1-minute load after the run {load})")
    print(f"{'step':24s}" + "".join(f"| {w} worker(s): wall s, CPU s, calls, rows      " for w in workers))
    for key in best[workers[0]]:
        cells = []
        for w in workers:
            wall, cpu, calls, rows = best[w].get(key, [float("nan")] * 4)
            cells.append(f"| {wall:6.2f} {cpu:6.2f} {calls:6d} {rows:7d}                 ")
        print(f"{key:24s}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
