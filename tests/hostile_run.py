"""Run every hostile workbook of ``tests/hostile_workbooks.py`` once and print the counts (issue 25).

    python tests/hostile_run.py [--big] [--family NAME]

``--big`` adds the 3 GiB sparse non-zip file; ``--run`` also runs the flagship's base case on every
valid flagship-derived workbook (finite costs and QALYs; the controls give HK$597,772/QALY). Each case is built in a fresh folder, judged by
``hostile_workbooks.judge`` (``hta validate`` in this process, 10 s per case) and removed. The
counts per family and the slowest cases are printed; docs/robustness.md records a run.
"""

from __future__ import annotations

import collections
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import hostile_workbooks as hw  # noqa: E402


def base_case(path: Path) -> str:
    """For a valid flagship-derived workbook: 'ok' if the base case gives finite costs and QALYs."""
    import numpy as np

    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm

    model = fucaso_rrmm.build(read_inputs(path))
    out = model.evaluate(model.parameters.base())
    if not (np.isfinite(out.costs).all() and np.isfinite(out.qalys).all()):
        return "non-finite result"
    icer = (out.costs[0, 1] - out.costs[0, 0]) / (out.qalys[0, 1] - out.qalys[0, 0])
    return f"ok {icer:,.0f}"


def main(argv: list[str]) -> int:
    big = "--big" in argv
    run = "--run" in argv
    family = argv[argv.index("--family") + 1] if "--family" in argv else None
    cases = [(c.family, c.name, c.expect, c.build) for c in hw.cases()]
    cases += [("file", name, expect, build) for name, expect, build in hw.file_cases(big=big)]
    if family:
        cases = [c for c in cases if c[0] == family]
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    defects, times, runs = [], [], []
    started = time.perf_counter()
    for fam, name, expect, build in cases:
        folder = Path(tempfile.mkdtemp(prefix="hostile-"))
        try:
            path = build(folder)
            t0 = time.perf_counter()
            outcome, detail = hw.judge(path, expect)
            times.append((time.perf_counter() - t0, fam, name))
            if run and outcome == "ok" and expect == hw.VALID and fam not in ("template", "blocks"):
                try:
                    result = base_case(path)
                except Exception as exc:  # the model refusing a workbook validate accepted is a defect
                    result = f"run failed: {type(exc).__name__}: {str(exc)[:200]}"
                runs.append((fam, name, result))
                if not result.startswith("ok"):
                    outcome, detail = "run failed", result
        except Exception as exc:  # a generator failure is reported, not hidden
            outcome, detail = "generator failed", f"{type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        key = ("refused (located)" if expect == hw.ERROR else "valid (read)") if outcome == "ok" else outcome
        counts[fam][key] += 1
        if outcome != "ok":
            defects.append((fam, name, outcome, detail))
    total = collections.Counter()
    print(f"{'family':<14} {'cases':>6}  outcomes")
    for fam, c in counts.items():
        total.update(c)
        print(f"{fam:<14} {sum(c.values()):>6}  " + ", ".join(f"{k}: {v}" for k, v in sorted(c.items())))
    print(f"{'all':<14} {sum(total.values()):>6}  " + ", ".join(f"{k}: {v}" for k, v in sorted(total.items())))
    print(f"defects: {len(defects)}")
    for d in defects:
        print("  ", " | ".join(map(str, d))[:400])
    if run:
        print(f"base case run on {len(runs)} valid flagship workbooks:", "; ".join(f"{n}: {r}" for _, n, r in runs if "control" in _ or "shipped" == n))
        icers = collections.Counter(r for _, _, r in runs)
        print("  results:", ", ".join(f"{k} x{v}" for k, v in icers.most_common(8)))
    times.sort(reverse=True)
    print("slowest:", "; ".join(f"{fam} {name} {t:.2f} s" for t, fam, name in times[:5]))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"wall {time.perf_counter() - started:.0f} s; peak resident memory of the run {rss:.0f} MiB")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
