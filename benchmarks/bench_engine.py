"""Speed and memory of the cohort engines (``hta.engine.psm``, ``hta.engine.markov``, ``hta.engine.outcomes``).

Run on demand, never in CI::

    python benchmarks/bench_engine.py            # full run, about 2-3 minutes
    python benchmarks/bench_engine.py --quick    # smaller batches, a few seconds per case
    python benchmarks/bench_engine.py --cases a,b --repeats 5

Cases (each also timed as a hand-written plain-numpy baseline of the same model):

(a) ``psm``:    3-state partitioned survival, Weibull PFS and OS per arm (2 arms), weekly cycles
                over 30 years (1,566 cycles), 13 PSA parameters incl. four multivariate-normal
                (log-shape, log-scale) blocks; state costs and utilities, half-cycle correction,
                3% discounting; 10,000 draws. Targets: <= 1 s (sampling + evaluation) and
                <= 1.5 x the plain-numpy baseline.
(b) ``hiv``:    the Chancellor et al. (1997) HIV model of ``models/hiv_chancellor.py`` with
                10,000 draws of its PSA table. Target: <= 0.1 s.
(c) ``markov``: a 5-state time-dependent Markov model, 60 annual cycles, age-dependent mortality
                from the Hong Kong life table, per-cycle matrices ``(n, T, 5, 5)`` built
                vectorised; 10,000 draws.
(d) ``psm-100k``: 100,000 draws of (a) in chunks of 5,000 keeping only per-sample totals.
                Target: peak RSS <= 1.5 GB.

Each case runs in a fresh subprocess so the peak resident set size (``ru_maxrss``) is that
case's own. Reported per case: best wall time of ``--repeats`` runs (sampling + evaluation,
with the split), the tracemalloc peak of one extra run (Python-heap and numpy allocations),
the process's peak RSS, the ratio to the case's plain-numpy baseline, and the speed-up of the
vectorised evaluation over a per-sample Python loop through the same engine. The loop is timed
on a subset (``--loop`` samples) and extrapolated linearly to the full batch. Inside each case
the looped results are asserted equal to the vectorised ones (relative 1e-10), and each
baseline is asserted equal to the engine on its first 1,000 draws.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so that `models` imports when run as a script
    sys.path.insert(0, str(ROOT))

SEED = 20240601
RTOL = 1e-10
TARGETS = {"a": "time <= 1 s and <= 1.5x numpy", "b": "time <= 0.1 s", "c": "-", "d": "peak RSS <= 1.5 GB"}


# =============================================================================================
# Case (a)/(d): a 3-state partitioned-survival model with Weibull curves
# =============================================================================================

PSM_ARMS = ("soc", "new")
PSM_DISCOUNT = 0.03
#: Weibull (log shape, log scale) means, months; covariances typical of a ~200-patient arm.
PSM_CURVES = {
    ("soc", "pfs"): ((np.log(1.10), np.log(8.0)), ((0.0049, -0.0012), (-0.0012, 0.0064))),
    ("soc", "os"): ((np.log(1.20), np.log(18.0)), ((0.0064, -0.0015), (-0.0015, 0.0081))),
    ("new", "pfs"): ((np.log(1.00), np.log(14.0)), ((0.0056, -0.0014), (-0.0014, 0.0100))),
    ("new", "os"): ((np.log(1.10), np.log(30.0)), ((0.0072, -0.0018), (-0.0018, 0.0144))),
}


def psm_grid():
    from hta.engine.timegrid import CycleGrid

    return CycleGrid.from_horizon(30.0, "week")


def psm_table():
    """13 PSA parameters: 4 MVN blocks of 2 Weibull coefficients, 2 utilities, 3 weekly costs."""
    from hta.params import ParameterTable
    from hta.params.distributions import Beta, Gamma, MultivariateNormal

    table = ParameterTable()
    for (arm, endpoint), (mean, cov) in PSM_CURVES.items():
        table.add_block([f"{arm}_{endpoint}_log_shape", f"{arm}_{endpoint}_log_scale"],
                        MultivariateNormal(mean, cov), group=f"{arm} {endpoint}")
    table.add("u_pf", dist=Beta.from_mean_se(0.75, 0.03))
    table.add("u_pd", dist=Beta.from_mean_se(0.55, 0.05))
    table.add("c_pf_soc", dist=Gamma.from_mean_se(3000.0, 300.0), unit="HK$/week")
    table.add("c_pf_new", dist=Gamma.from_mean_se(6000.0, 600.0), unit="HK$/week")
    table.add("c_pd", dist=Gamma.from_mean_se(2000.0, 300.0), unit="HK$/week")
    return table


def psm_evaluate(batch, grid):
    """The model written on the engine: curves -> psm.cohort -> outcomes.account. -> (n, 2, 3)."""
    from hta.engine import outcomes, psm
    from hta.survival.curves import Weibull

    t_months = grid.times * 12.0
    zero = np.zeros(batch.n)
    results = []
    for arm in PSM_ARMS:
        curves = []
        for endpoint in ("pfs", "os"):
            coefs = np.column_stack([batch[f"{arm}_{endpoint}_log_shape"], batch[f"{arm}_{endpoint}_log_scale"]])
            curves.append(Weibull.from_coefficients(coefs).survival(t_months))
        cohort = psm.cohort(curves, strategy=arm)
        results.append(outcomes.account(
            cohort, grid, within_cycle="half-cycle", discount_costs=PSM_DISCOUNT, discount_outcomes=PSM_DISCOUNT,
            utilities=np.column_stack([batch["u_pf"], batch["u_pd"], zero]),
            state_costs={"care": np.column_stack([batch[f"c_pf_{arm}"], batch["c_pd"], zero])}))
    return np.stack([np.stack([r.costs, r.qalys, r.lys], axis=-1) for r in results], axis=1)


def psm_numpy(cols, times_years, cycle_years):
    """The same model in plain numpy (no hta): ``cols`` maps parameter names to (n,) arrays."""
    t_months = times_years * 12.0
    weights = np.ones(times_years.size)
    weights[0] = weights[-1] = 0.5                         # trapezoid (half-cycle correction)
    w_disc = weights * (1.0 + PSM_DISCOUNT) ** -times_years  # person-cycles, discounted
    out = np.empty((cols["u_pf"].size, len(PSM_ARMS), 3))
    for i, arm in enumerate(PSM_ARMS):
        s = {}
        for endpoint in ("pfs", "os"):
            shape = np.exp(cols[f"{arm}_{endpoint}_log_shape"])[:, None]
            scale = np.exp(cols[f"{arm}_{endpoint}_log_scale"])[:, None]
            s[endpoint] = np.exp(-(t_months / scale) ** shape)
        pf = np.minimum(s["pfs"], s["os"])       # PFS capped at OS
        alive_cycles = s["os"] @ w_disc
        pf_cycles = pf @ w_disc
        pd_cycles = alive_cycles - pf_cycles
        out[:, i, 0] = cols[f"c_pf_{arm}"] * pf_cycles + cols["c_pd"] * pd_cycles
        out[:, i, 1] = (cols["u_pf"] * pf_cycles + cols["u_pd"] * pd_cycles) * cycle_years
        out[:, i, 2] = alive_cycles * cycle_years
    return out


# =============================================================================================
# Case (b): the HIV model (Chancellor 1997; Briggs et al. 2006)
# =============================================================================================


def hiv_totals(res):
    return np.stack([res.costs, res.qalys, res.lys], axis=-1)


def hiv_numpy(cols, n_cycles=20, rate=0.06, rr_years=2):
    """The HIV model in plain numpy: end-of-cycle counting, costs discounted, LYs not."""
    from models.hiv_chancellor import STATES, TRANSITION_COUNTS  # data only

    n = cols["rr"].size
    idx = {s: i for i, s in enumerate(STATES)}

    def matrix(rr):
        P = np.zeros((n, 4, 4))
        for a, row in TRANSITION_COUNTS.items():
            for b in row:
                if a != b:
                    P[:, idx[a], idx[b]] = cols[f"tp_{a}_{b}"] * rr
        for i in range(3):
            P[:, i, i] = 1.0 - P[:, i].sum(axis=1)
        P[:, 3, 3] = 1.0
        return P

    care = np.stack([cols[f"c_dmed_{s}"] + cols[f"c_ccare_{s}"] for s in "ABC"], axis=1)
    out = np.empty((n, 2, 3))
    for i, (P_early, P_late) in enumerate(((matrix(1.0), matrix(1.0)), (matrix(cols["rr"]), matrix(1.0)))):
        x = np.zeros((n, 4))
        x[:, 0] = 1.0
        cost = np.zeros(n)
        ly = np.zeros(n)
        for j in range(1, n_cycles + 1):
            x = np.einsum("nk,nkl->nl", x, P_early if j <= rr_years else P_late)
            alive = x[:, :3].sum(axis=1)
            c = (x[:, :3] * care).sum(axis=1) + alive * cols["c_zidovudine"]
            if i == 1 and j <= rr_years:
                c = c + alive * cols["c_lamivudine"]
            cost += c * (1.0 + rate) ** -j
            ly += alive
        out[:, i] = np.stack([cost, ly, ly], axis=1)
    return out


# =============================================================================================
# Case (c): a 5-state time-dependent Markov model with Hong Kong background mortality
# =============================================================================================

MK_STATES = ("stage 1", "stage 2", "stage 3", "stage 4", "dead")
MK_STRATEGIES = ("usual care", "treatment")
MK_CYCLES = 60
MK_START_AGE = 60.0
MK_MALE_SHARE = 0.5
MK_DISCOUNT = 0.03
MK_TREATMENT_COST = 12000.0  # HK$ per year in stages 1-3 (fixed)


def markov_table():
    """16 PSA parameters: progression, excess mortality, treatment effect, costs, utilities."""
    from hta.params import ParameterTable
    from hta.params.distributions import Beta, Gamma, LogNormal

    table = ParameterTable()
    for k, (mean, se) in enumerate(((0.10, 0.015), (0.12, 0.02), (0.15, 0.025)), start=1):
        table.add(f"p_prog_{k}", dist=Beta.from_mean_se(mean, se), unit="per year")
    for k, hr in ((2, 1.5), (3, 2.5), (4, 5.0)):
        table.add(f"hr_death_{k}", dist=LogNormal(np.log(hr), 0.1), description="vs general population")
    table.add("rr_treatment", dist=LogNormal(np.log(0.7), 0.08))
    for k, (cost, utility) in enumerate(((2000.0, 0.85), (6000.0, 0.75), (15000.0, 0.6), (40000.0, 0.4)), start=1):
        table.add(f"c_stage_{k}", dist=Gamma.from_mean_se(cost, 0.1 * cost), unit="HK$/year")
        table.add(f"u_stage_{k}", dist=Beta.from_mean_se(utility, 0.03))
    return table


def markov_background_hazard():
    """Integrated HK general-population hazard in each annual cycle, shape (T,)."""
    from hta.population.lifetables import LifeTable

    t = np.arange(MK_CYCLES + 1, dtype=float)
    H = LifeTable.hong_kong().cohort_cumhaz(t, MK_START_AGE, MK_MALE_SHARE)[0]
    return np.diff(H)


def markov_matrices(cols, h_bg, treated: bool):
    """Per-sample, per-cycle transition matrices (n, T, 5, 5), built without a sample loop.

    Death in stage k: 1 - exp(-hr_k h_bg(cycle)) (hr_1 = 1); survivors progress with the
    annual probability p_k (times the relative risk when treated); stage 4 only dies.
    """
    n, T = cols["p_prog_1"].size, h_bg.size
    P = np.zeros((n, T, 5, 5))
    hr = [np.ones(n)] + [cols[f"hr_death_{k}"] for k in (2, 3, 4)]
    rr = cols["rr_treatment"] if treated else np.ones(n)
    for k in range(4):
        q = -np.expm1(-hr[k][:, None] * h_bg[None, :])  # (n, T)
        P[:, :, k, 4] = q
        if k < 3:
            prog = (1.0 - q) * (cols[f"p_prog_{k + 1}"] * rr)[:, None]
            P[:, :, k, k + 1] = prog
            P[:, :, k, k] = 1.0 - q - prog
        else:
            P[:, :, k, k] = 1.0 - q
    P[:, :, 4, 4] = 1.0
    return P


def markov_rewards(cols, n, treated: bool):
    zero = np.zeros(n)
    costs = np.column_stack([cols[f"c_stage_{k}"] for k in (1, 2, 3, 4)] + [zero])
    if treated:
        costs = costs + np.array([MK_TREATMENT_COST] * 3 + [0.0, 0.0])
    utilities = np.column_stack([cols[f"u_stage_{k}"] for k in (1, 2, 3, 4)] + [zero])
    return costs, utilities


def markov_evaluate(batch, h_bg):
    from hta.engine import markov, outcomes
    from hta.engine.timegrid import CycleGrid

    grid = CycleGrid(1.0, MK_CYCLES)
    start = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    results = []
    for strategy in MK_STRATEGIES:
        treated = strategy == "treatment"
        P = markov_matrices(batch, h_bg, treated)
        cohort = markov.cohort(P, start, MK_CYCLES, states=MK_STATES, strategy=strategy, dead_states=("dead",))
        costs, utilities = markov_rewards(batch, batch.n, treated)
        results.append(outcomes.account(cohort, grid, within_cycle="half-cycle", discount_costs=MK_DISCOUNT,
                                        discount_outcomes=MK_DISCOUNT, utilities=utilities,
                                        state_costs={"care": costs}))
    return np.stack([np.stack([r.costs, r.qalys, r.lys], axis=-1) for r in results], axis=1)


def markov_numpy(cols, h_bg):
    """Plain numpy: a cycle loop accumulating trapezoid-weighted, discounted rewards."""
    n = cols["p_prog_1"].size
    out = np.empty((n, 2, 3))
    disc = (1.0 + MK_DISCOUNT) ** -np.arange(MK_CYCLES + 1.0)
    alive_mask = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    for i, strategy in enumerate(MK_STRATEGIES):
        treated = strategy == "treatment"
        P = markov_matrices(cols, h_bg, treated)
        costs, utilities = markov_rewards(cols, n, treated)
        x = np.zeros((n, 5))
        x[:, 0] = 1.0
        tot = np.zeros((n, 3))
        for j in range(MK_CYCLES + 1):
            if j > 0:
                x = np.einsum("nk,nkl->nl", x, P[:, j - 1])
            w = (0.5 if j in (0, MK_CYCLES) else 1.0) * disc[j]
            tot[:, 0] += w * (x * costs).sum(axis=1)
            tot[:, 1] += w * (x * utilities).sum(axis=1)
            tot[:, 2] += w * (x @ alive_mask)
        out[:, i] = tot
    return out


# =============================================================================================
# Workloads: each returns sample(), evaluate(batch) -> totals (n, S, 3), and the batch size
# =============================================================================================


def _columns(batch):
    return {k: np.asarray(batch[k]) for k in batch}


def workload(case: str, quick: bool):
    """(n, sample, evaluate, loop_evaluate): sample() -> batch; evaluate(batch) -> (n, S, 3)."""
    n = 2_000 if quick else 10_000
    if case in ("a", "a-numpy", "d", "d-numpy"):
        grid = psm_grid()
        table = psm_table()
        engine = lambda b: psm_evaluate(b, grid)  # noqa: E731
        plain = lambda b: psm_numpy(_columns(b), grid.times, grid.cycle_years)  # noqa: E731
        if case.startswith("d"):
            return chunked(table, 20_000 if quick else 100_000, 5_000, engine if case == "d" else plain, engine)
        return n, (lambda: table.sample(n, SEED)), (engine if case == "a" else plain), engine
    if case in ("b", "b-numpy"):
        from models import hiv_chancellor

        table = hiv_chancellor.parameter_table()
        engine = lambda b: hiv_totals(hiv_chancellor.evaluate(b))  # noqa: E731
        plain = lambda b: hiv_numpy(_columns(b))  # noqa: E731
        return n, (lambda: table.sample(n, SEED)), (engine if case == "b" else plain), engine
    if case in ("c", "c-numpy"):
        table = markov_table()
        h_bg = markov_background_hazard()
        engine = lambda b: markov_evaluate(b, h_bg)  # noqa: E731
        plain = lambda b: markov_numpy(_columns(b), h_bg)  # noqa: E731
        return n, (lambda: table.sample(n, SEED)), (engine if case == "c" else plain), engine
    raise SystemExit(f"unknown case '{case}'")


def chunked(table, n_total, chunk, evaluate, engine):
    """A PSA of ``n_total`` draws evaluated ``chunk`` at a time, keeping only (n, S, 3) totals.

    ``sample`` returns None: sampling happens chunk by chunk inside ``evaluate`` (chunk-invariant
    draws: ``table.sample(chunk, seed, start)``). The loop reference uses the first chunk.
    """
    def run(_):
        totals = None
        for start in range(0, n_total, chunk):
            size = min(chunk, n_total - start)
            part = evaluate(table.sample(size, SEED, start=start))
            if totals is None:
                totals = np.empty((n_total,) + part.shape[1:])
            totals[start:start + size] = part
        return totals

    return n_total, (lambda: None), run, engine, (lambda: table.sample(min(chunk, n_total), SEED))


# =============================================================================================
# Worker: one case in this process
# =============================================================================================


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _assert_close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.maximum(np.abs(a), np.abs(b))
    err = np.abs(a - b)
    bad = err > RTOL * scale + 1e-300
    if bad.any():
        i = np.unravel_index(np.argmax(err / np.where(scale > 0, scale, 1.0)), a.shape)
        raise AssertionError(f"{what}: results differ at {i}: {a[i]!r} vs {b[i]!r} (relative tolerance {RTOL})")


def worker(case: str, quick: bool, repeats: int, loop_n: int) -> dict:
    rss_start = _rss_mb()
    spec = workload(case, quick)
    n, sample, evaluate, engine = spec[:4]
    reference_sample = spec[4] if len(spec) > 4 else sample

    best = best_sample = best_eval = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        batch = sample()
        t1 = time.perf_counter()
        totals = evaluate(batch)
        t2 = time.perf_counter()
        if t2 - t0 < best:
            best, best_sample, best_eval = t2 - t0, t1 - t0, t2 - t1
        del batch
    del totals

    tracemalloc.start()
    totals = evaluate(sample())
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss_peak = _rss_mb()
    result = {"case": case, "n": n, "time": best, "time_sample": best_sample, "time_eval": best_eval,
              "heap_mb": heap_peak, "rss_mb": rss_peak, "rss_start_mb": rss_start, "repeats": repeats}

    # The reference batch: the whole batch, or the first chunk of a chunked case.
    ref_batch = reference_sample()
    ref_totals = totals[:ref_batch.n]
    if case.endswith("-numpy"):
        # the baseline must be the same model: compare with the engine on the first 1,000 draws
        m = min(1000, ref_batch.n)
        _assert_close(ref_totals[:m], engine(ref_batch.take(slice(0, m))), f"{case} vs engine")
        result["checked_vs_engine"] = m
    else:
        # per-sample Python loop through the same engine, on the first loop_n draws
        m = min(loop_n, ref_batch.n)
        t0 = time.perf_counter()
        looped = np.concatenate([engine(ref_batch.take([i])) for i in range(m)])
        per_sample = (time.perf_counter() - t0) / m
        _assert_close(ref_totals[:m], looped, f"{case}: vectorised vs looped")
        result.update(loop_samples=m, loop_per_sample=per_sample, loop_extrapolated=per_sample * n,
                      speedup=per_sample * n / best_eval)
    result["mean_totals"] = totals.mean(axis=0).tolist()
    return result


# =============================================================================================
# Driver: every case in its own subprocess, then one table
# =============================================================================================


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}); Python {sys.version.split()[0]}; numpy {np.__version__}; "
            f"load average {os.getloadavg()[0]:.1f}")


def run_case(case: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", case, "--repeats", str(args.repeats), "--loop", str(args.loop)]
    if args.quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"case {case} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def verdict(case: str, r: dict, base: dict, quick: bool) -> str:
    if quick:
        return "n/a (quick)"
    if case == "a":
        ok = r["time"] <= 1.0 and r["time"] <= 1.5 * base["time"]
    elif case == "b":
        ok = r["time"] <= 0.1
    elif case == "d":
        ok = r["rss_mb"] <= 1.5 * 1024
    else:
        return "-"
    return "yes" if ok else "NO"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small batches (2,000 / 20,000 draws), 2 repeats")
    parser.add_argument("--cases", default="a,b,c,d", help="comma-separated subset of a,b,c,d")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (best is reported)")
    parser.add_argument("--loop", type=int, default=200, help="samples in the per-sample loop reference")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.worker:
        repeats = min(args.repeats, 2) if args.worker.startswith("d") else args.repeats
        print(json.dumps(worker(args.worker, args.quick, repeats, args.loop)))
        return

    print(f"hta engine benchmark{' (quick)' if args.quick else ''}: {machine()}")
    print("time = best wall time of the repeats, sampling + evaluation; heap = tracemalloc peak; "
          "RSS = process peak (fresh subprocess per row)")
    print(f"loop = per-sample Python loop through the same engine, timed on {args.loop} samples "
          "and extrapolated linearly; speed-up = loop / vectorised evaluation time")
    header = (f"{'case':<10}{'n':>8}{'time s':>9}{'(sample':>9}{'+ eval)':>9}{'heap MB':>9}{'RSS MB':>8}"
              f"{'numpy s':>9}{'ratio':>7}{'loop s':>9}{'speed-up':>10}  target met?")
    print(header)
    print("-" * len(header))
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        r = run_case(case, args)
        base = run_case(f"{case}-numpy", args)
        print(f"{case:<10}{r['n']:>8,}{r['time']:>9.3f}{r['time_sample']:>9.3f}{r['time_eval']:>9.3f}"
              f"{r['heap_mb']:>9.0f}{r['rss_mb']:>8.0f}{base['time']:>9.3f}{r['time'] / base['time']:>7.2f}"
              f"{r['loop_extrapolated']:>9.1f}{r['speedup']:>9.0f}x  {verdict(case, r, base, args.quick)}",
              flush=True)
        print(f"{'  numpy':<10}{base['n']:>8,}{base['time']:>9.3f}{base['time_sample']:>9.3f}"
              f"{base['time_eval']:>9.3f}{base['heap_mb']:>9.0f}{base['rss_mb']:>8.0f}"
              f"   (evaluation-only ratio {r['time_eval'] / base['time_eval']:.2f}; agrees with the engine "
              f"on {base['checked_vs_engine']} draws)", flush=True)
    print(f"vectorised and looped results agree to {RTOL:g} relative in every case (asserted).")


if __name__ == "__main__":
    main()
