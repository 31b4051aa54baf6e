"""Every core by default, and the analysis layer at numpy speed (issue 24), measured side by side.

Run on demand, never in CI (``joblib`` is needed for the joblib rows only: ``pip install joblib``;
it is not a dependency of hta)::

    python benchmarks/bench_parallel.py                  # 5 rounds, about 2 minutes
    python benchmarks/bench_parallel.py --cases ceac     # a subset

Same method as ``bench_speed.py``: every (case, impl) runs in a **fresh subprocess**; a round runs
every case and impl once, rotating their order; a subprocess runs the workload once untimed, then
``--reps`` timed runs, and keeps the fastest; the table shows the **median over rounds**, ratios
of medians, and the range of the per-round ratios. BLAS is limited to one thread in every
subprocess (``OPENBLAS_NUM_THREADS=1`` etc.), so no contender gets cores from BLAS.

Cases:

``psm``   the 3-state partitioned-survival PSA of ``bench_speed.py`` (Weibull PFS and OS in 2 arms,
          weekly cycles over 30 years, 1,566 cycles, 10,000 draws): time = drawing the parameters +
          evaluating both arms, as a PSA does.

          ``numpy``         hand-written numpy, one core, one batch (``bench_speed.psm_numpy`` on the
                            same draws, ``bench_speed.numpy_sampler``): the baseline.
          ``hta``           ``hta.analysis.evaluate.run_psa(model, 10_000, seed)`` with the defaults: every core
                            (``workers`` = ``len(os.sched_getaffinity(0))`` = 2 here), chunk size
                            from memory (the untimed warm-up run probes the model's bytes per draw
                            and run_psa remembers them for the model, so the timed runs do not
                            trace; the probe's cost on a first run is about 10-25 ms here).
                            Target: <= 0.6x ``numpy``, and below ``joblib``.
          ``hta-1``         the same with ``workers=1`` (one chunk after another), for information.
          ``joblib``        the same numpy callable on 2 cores with ``joblib.Parallel(n_jobs=2)``
                            (loky worker processes, reused across runs as joblib does): each job
                            draws and evaluates half of the draws (the same draws: each PCG64
                            stream advanced to the job's first draw).
          ``joblib-threads`` the same with ``prefer="threads"``, for information.

``ceac``  CEAC + EVPI over 100 WTP values (0 to 50,000) of a 2-strategy PSA of 10,000 draws (the HIV
          model's costs and LYs from ``run_psa``, drawn once per subprocess, not timed).

          ``numpy``         hand-written numpy: the ``(W, n, S)`` NMB array, ``argmax`` for the CEAC,
                            ``max(...).mean() - mean(...).max()`` for the EVPI.
          ``hta``           ``hta.analysis.psa.ceac(...)`` and ``hta.analysis.psa.evpi_curve(...)`` (two calls, DataFrames
                            out). Target: <= 1.2x ``numpy``.
          ``hta-wtp_curves`` ``hta.analysis.psa.wtp_curves(...)`` (one call: CEAC, CEAF, EVPI) and its two
                            frames, for information.
          ``hta-old``       the previous hta implementation (whole ``(W, n, S)`` array; copied from
                            ``tests/test_wtp_curves.py``), for information.

Before timing, the driver checks that the contenders compute the same numbers: PSM totals equal
to 1e-10 relative between hta and numpy, numpy and joblib bit for bit, hta with 1 and 2 workers
bit for bit; CEAC identical, EVPI within 1e-12 of the NMB's size (the hand-written EVPI is
``mean(max) - max(mean)``, hta's the mean opportunity loss), hta and hta-old bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

# every subprocess (and the joblib workers it starts, which inherit its environment) with one BLAS thread
ONE_THREAD = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

SEED = 20240601
N = 10_000
WTP = np.linspace(0.0, 50_000.0, 100)
CASES = {
    "psm": {"impls": ("numpy", "hta", "hta-1", "joblib", "joblib-threads"), "target": 0.6},
    "ceac": {"impls": ("numpy", "hta", "hta-wtp_curves", "hta-old"), "target": 1.2},
}


# =============================================================================================
# PSM
# =============================================================================================

_GRID = None


def _grid():
    global _GRID
    if _GRID is None:
        import bench_engine

        _GRID = bench_engine.psm_grid()
    return _GRID


def psm_outcomes(batch):
    """The PSM of bench_speed.py on the engine (curves written in place), as an outcomes object."""
    import bench_speed

    t = bench_speed.psm_evaluate_stack(batch, _grid())
    return SimpleNamespace(costs=t[:, :, 0], qalys=t[:, :, 1], lys=t[:, :, 2])


def psm_model():
    import bench_engine

    from hta.analysis.evaluate import FunctionModel

    return FunctionModel("psm", ("soc", "new"), bench_engine.psm_table(), psm_outcomes)


def numpy_sample_span(table):
    """``(n, seed, start) -> columns``: bench_speed.numpy_sampler's draws ``start .. start+n-1``
    (each PCG64 stream advanced by ``start`` outputs, as ParameterTable.sample does)."""
    from scipy import special

    from hta.params import distributions as D

    entries = []
    for e in table._entries:  # noqa: SLF001 - the benchmark mirrors the documented scheme
        d = e.dist
        if isinstance(d, D.Gamma):
            entries.append((e.names, "gamma", (d.shape, d.scale)))
        elif isinstance(d, D.Beta):
            entries.append((e.names, "beta", (d.alpha, d.beta)))
        elif isinstance(d, D.MultivariateNormal):
            entries.append((e.names, "mvnormal", (np.array(d.mu), np.array(d.factor))))
        else:
            raise SystemExit(f"no hand-written sampler for {d.kind}")

    def sample(n, seed, start=0):
        children = np.random.SeedSequence(seed).spawn(len(entries))
        out = {}
        for (names, kind, par), child in zip(entries, children):
            streams = [child] if len(names) == 1 else child.spawn(len(names))
            cols = []
            for s in streams:
                bg = np.random.PCG64(s)
                bg.advance(start)
                cols.append(np.random.Generator(bg).random(n))
            u = np.stack(cols, axis=1)
            u[u == 0.0] = 2.0**-54
            if kind == "gamma":
                v = par[1] * special.gammaincinv(par[0], u)
            elif kind == "beta":
                v = special.betaincinv(par[0], par[1], u)
            else:
                mu, L = par
                z = special.ndtri(u)
                v = np.empty_like(z)
                for i in range(len(names)):
                    acc = np.full(n, mu[i])
                    for j in range(len(names)):
                        if L[i, j] != 0.0:
                            acc += L[i, j] * z[:, j]
                    v[:, i] = acc
            for i, name in enumerate(names):
                out[name] = v[:, i]
        return out

    return sample


def _psm_numpy_job(start, size):
    """One joblib job: draw ``start .. start+size-1`` and evaluate them (hand-written numpy)."""
    import bench_engine
    import bench_speed

    grid = _grid()
    cols = numpy_sample_span(bench_engine.psm_table())(size, SEED, start)
    return bench_speed.psm_numpy(cols, grid.times, grid.cycle_years)


def psm_workload(impl):
    import bench_engine
    import bench_speed

    grid = _grid()
    if impl == "numpy":
        sample = bench_speed.numpy_sampler(bench_engine.psm_table())
        return lambda: bench_speed.psm_numpy(sample(N, SEED), grid.times, grid.cycle_years)
    if impl in ("hta", "hta-1"):
        from hta.analysis.evaluate import run_psa

        model = psm_model()
        workers = None if impl == "hta" else 1

        def run():
            r = run_psa(model, N, SEED, workers=workers)
            return np.stack([r.costs, r.qalys, r.lys], axis=-1)

        return run
    if impl.startswith("joblib"):
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=2, prefer="threads" if impl == "joblib-threads" else None)
        half = N // 2
        return lambda: np.concatenate(parallel(delayed(_psm_numpy_job)(a, half) for a in (0, half)))
    raise SystemExit(f"unknown psm impl {impl}")


# =============================================================================================
# CEAC + EVPI
# =============================================================================================


def ceac_data():
    from hta.analysis.evaluate import FunctionModel, run_psa
    from models import hiv_chancellor as hiv

    r = run_psa(FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate), N, SEED)
    return r.costs, r.lys


def numpy_ceac_evpi(c, e, k):
    """Hand-written: the (W, n, S) NMB array, argmax for the CEAC, max-mean minus mean-max for EVPI."""
    nmb = k[:, None, None] * e - c
    best = nmb.argmax(axis=2)
    ceac = np.stack([(best == s).mean(axis=1) for s in range(c.shape[1])], axis=1)
    evpi = nmb.max(axis=2).mean(axis=1) - nmb.mean(axis=1).max(axis=1)
    return ceac, evpi


def old_hta_ceac_evpi(c, e, k):
    """The previous hta.analysis.psa (commit 01b7b81): whole-array CEAC and EVPI (two NMB arrays, as ceac()
    and evpi_curve() each built one)."""
    from test_wtp_curves import _old_evpi, _old_share_of_best

    ceac = _old_share_of_best(k[:, None, None] * e[None] - c[None])
    evpi = _old_evpi(k[:, None, None] * e[None] - c[None])
    return ceac, evpi


def ceac_workload(impl):
    from hta.analysis import psa

    c, e = ceac_data()
    if impl == "numpy":
        return lambda: numpy_ceac_evpi(c, e, WTP)
    if impl == "hta":
        return lambda: (psa.ceac(c, e, WTP, ["a", "b"]), psa.evpi_curve(c, e, WTP))
    if impl == "hta-wtp_curves":
        def run():
            w = psa.wtp_curves(c, e, WTP, ["a", "b"])
            return w.ceac_frame(), w.evpi_frame()
        return run
    if impl == "hta-old":
        sys.path.insert(0, str(ROOT / "tests"))
        return lambda: old_hta_ceac_evpi(c, e, WTP)
    raise SystemExit(f"unknown ceac impl {impl}")


# =============================================================================================
# Checks, worker, driver
# =============================================================================================


def check(case: str) -> str:
    if case == "psm":
        numpy_out = psm_workload("numpy")()
        hta_out = psm_workload("hta")()
        hta_1 = psm_workload("hta-1")()
        if not np.array_equal(hta_out, hta_1):
            raise AssertionError("psm: run_psa with 1 and 2 workers differ")
        err = float(np.max(np.abs(hta_out - numpy_out) / np.abs(hta_out)))
        if err > 1e-10:
            raise AssertionError(f"psm: hta and numpy differ by {err:.1e} relative")
        msg = f"psm: hta (2 workers) == hta (1 worker) bit for bit; hta vs numpy {err:.1e} relative"
        try:
            jl = psm_workload("joblib")()
            if not np.array_equal(jl, numpy_out):
                jerr = float(np.max(np.abs(jl - numpy_out) / np.abs(numpy_out)))
                if jerr > 1e-12:
                    raise AssertionError(f"psm: joblib and numpy differ by {jerr:.1e}")
                msg += f"; joblib vs numpy {jerr:.1e} relative"
            else:
                msg += "; joblib == numpy bit for bit"
        except ImportError:
            msg += "; joblib not installed"
        return msg
    from hta.analysis import psa

    sys.path.insert(0, str(ROOT / "tests"))
    c, e = ceac_data()
    ceac_np, evpi_np = numpy_ceac_evpi(c, e, WTP)
    w = psa.wtp_curves(c, e, WTP)
    ceac_old, evpi_old = old_hta_ceac_evpi(c, e, WTP)
    if not (np.array_equal(w.ceac, ceac_old) and np.array_equal(w.evpi, evpi_old)):
        raise AssertionError("ceac: hta and the previous hta differ")
    if not np.array_equal(w.ceac, ceac_np):
        raise AssertionError("ceac: hta and numpy CEACs differ")
    scale = WTP * np.abs(e).mean() + np.abs(c).mean()  # size of the NMB at each WTP
    err = float(np.max(np.abs(w.evpi - evpi_np) / scale))
    if err > 1e-12:
        raise AssertionError(f"ceac: EVPI differs from numpy by {err:.1e} of the NMB")
    return (f"ceac: CEAC identical (hta, previous hta, numpy); EVPI hta == previous hta bit for bit, "
            f"vs numpy within {err:.1e} of the NMB's size (k mean|e| + mean|c|)")


def worker(case: str, impl: str, reps: int) -> dict:
    run = psm_workload(impl) if case == "psm" else ceac_workload(impl)
    run()  # warm-up, untimed
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {"case": case, "impl": impl, "time": min(times), "times": times,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def _subprocess(args: list[str]) -> str:
    env = {**os.environ, **ONE_THREAD}
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")
    return proc.stdout.strip().splitlines()[-1]


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--check", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.reps)))
        return
    if args.check:
        print(check(args.check))
        return
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    import numpy

    print(f"issue 24 side by side: {len(os.sched_getaffinity(0))} cores available; Python {sys.version.split()[0]}; "
          f"numpy {numpy.__version__}; load average at start {_load()} (1, 5, 15 min)", flush=True)
    for c in cases:
        print("check  " + _subprocess(["--check", c]), flush=True)
    results = {(c, i): [] for c in cases for i in CASES[c]["impls"]}
    loads = []
    t_start = time.perf_counter()
    for r in range(args.rounds):
        for c in cases:
            impls = CASES[c]["impls"]
            k = r % len(impls)
            for impl in impls[k:] + impls[:k]:
                results[(c, impl)].append(json.loads(_subprocess(["--worker", c, impl, "--reps", str(args.reps)])))
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.rounds} done ({time.perf_counter() - t_start:.0f} s; load {loads[-1]:.2f})", flush=True)
    print(f"\nmedian over {args.rounds} rounds (fresh subprocess each; fastest of {args.reps} runs); ratio = median impl / "
          f"median numpy [per-round range]; load average at the end {_load()}; 1-min load after each round "
          f"{', '.join(f'{x:.2f}' for x in loads)}")
    header = f"{'case':<6}{'impl':<16}{'time s':>9}{'ratio':>7}  {'per-round range':<16}{'RSS MB':>8}  target"
    print(header)
    print("-" * len(header))
    summary = []
    for c in cases:
        base = results[(c, "numpy")]
        t_base = statistics.median(x["time"] for x in base)
        for impl in CASES[c]["impls"]:
            rs = results[(c, impl)]
            t = statistics.median(x["time"] for x in rs)
            per_round = [a["time"] / b["time"] for a, b in zip(rs, base)]
            verdict = ""
            if impl == "hta":
                verdict = f"<= {CASES[c]['target']:g}x numpy: {'yes' if t / t_base <= CASES[c]['target'] else 'NO'}"
                if c == "psm" and (c, "joblib") in results:
                    t_jl = statistics.median(x["time"] for x in results[(c, "joblib")])
                    verdict += f"; below joblib ({t_jl:.3f} s): {'yes' if t < t_jl else 'NO'}"
            rss = statistics.median(x["rss_mb"] for x in rs)
            print(f"{c:<6}{impl:<16}{t:>9.4f}{t / t_base:>7.2f}  [{min(per_round):.2f}, {max(per_round):.2f}]{'':<4}"
                  f"{rss:>8.0f}  {verdict}", flush=True)
            summary.append({"case": c, "impl": impl, "time": t, "ratio": t / t_base,
                            "ratio_range": [min(per_round), max(per_round)], "rss_mb": rss, "runs": rs})
    if args.json:
        Path(args.json).write_text(json.dumps({"loads": loads, "results": summary}, indent=1))


if __name__ == "__main__":
    main()
