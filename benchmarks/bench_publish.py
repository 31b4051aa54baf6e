"""The publish step of ``hta run scenarios/base_case.py`` (issue 24): wall and CPU time of
:func:`hta.report.publish.publish` on one process (``workers=1``) and on two (the default).

The base-case analyses run once (about 30 s); their results are pickled (cloudpickle, installed
with dask) and every measurement is a fresh process that loads them and publishes once, as
``hta run`` does (so the first-call costs, e.g. importing matplotlib, are included). CPU time is
this process's plus its helper's. Rounds alternate the two settings; medians are printed.

    python benchmarks/bench_publish.py            # 3 rounds
    python benchmarks/bench_publish.py --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
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
if str(ROOT) not in sys.path:  # models/ (the pickled results refer to it) from a fresh process
    sys.path.insert(0, str(ROOT))


def _results(pickle_path: Path) -> None:
    import cloudpickle

    from hta.app.scripts import RunContext, load_script

    captured = {}

    def keep(self, results, *, inputs=(), figures=True):
        captured.update(results=results, inputs=[Path(p) for p in inputs])

    RunContext.publish = keep
    script = ROOT / "scenarios" / "base_case.py"
    load_script(script).run(RunContext(script=script, out=pickle_path.parent, quiet=True))
    pickle_path.write_bytes(cloudpickle.dumps(captured))


def _one(pickle_path: Path, out: Path, workers: int | None) -> dict:
    import cloudpickle

    from hta.report.publish import publish

    captured = cloudpickle.loads(pickle_path.read_bytes())
    results = captured["results"]
    cpu0, kids0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        publish(results, out, input_files=captured["inputs"], seed=results.run_info.get("seed"), quiet=True,
                workers=workers)
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    helper = (kids.ru_utime - kids0.ru_utime) + (kids.ru_stime - kids0.ru_stime)
    return {"wall": wall, "cpu": time.process_time() - cpu0 + helper, "helper_cpu": helper}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # pickle, out folder, workers
    args = parser.parse_args()
    if args.one:
        pickle_path, out, workers = args.one
        print(json.dumps(_one(Path(pickle_path), Path(out), None if workers == "all" else int(workers))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        pickle_path = Path(tmp) / "results.pkl"
        t0 = time.perf_counter()
        _results(pickle_path)
        print(f"analyses: {time.perf_counter() - t0:.1f} s; load {os.getloadavg()[0]:.2f}")
        times: dict[str, list[dict]] = {"1": [], "all": []}
        for r in range(args.rounds):
            for workers in times:
                out = Path(tmp) / f"out_{workers}_{r}"
                proc = subprocess.run([sys.executable, __file__, "--one", str(pickle_path), str(out), workers],
                                      capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stderr)
                    raise SystemExit(f"publish run failed (exit {proc.returncode})")
                times[workers].append(json.loads(proc.stdout.splitlines()[-1]))
            print(f"round {r + 1}: " + "; ".join(f"workers={w}: wall {t[-1]['wall']:.2f} s, cpu {t[-1]['cpu']:.2f} s"
                                                for w, t in times.items()) + f"; load {os.getloadavg()[0]:.2f}")
        for workers, t in times.items():
            print(f"workers={workers}: median wall {statistics.median(x['wall'] for x in t):.2f} s, "
                  f"median cpu {statistics.median(x['cpu'] for x in t):.2f} s "
                  f"(helper {statistics.median(x['helper_cpu'] for x in t):.2f} s)")


if __name__ == "__main__":
    main()
