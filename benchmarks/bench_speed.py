"""hta against hand-written numpy versions of the same models, measured side by side (issue 10).

Run on demand, never in CI::

    python benchmarks/bench_speed.py                  # 5 rounds, about 3 minutes
    python benchmarks/bench_speed.py --rounds 3       # quicker, noisier
    python benchmarks/bench_speed.py --cases hiv,thr  # a subset

Cases (time = drawing the PSA parameters + evaluating every strategy, as a PSA does):

``hiv``       the Chancellor HIV model (``models/hiv_chancellor.py``), 4 states, 20 annual cycles,
              10,000 draws (3 Dirichlet blocks, 6 gamma costs, a lognormal relative risk).
              Target: hta <= 2x ``numpy-native`` (numpy written the natural way, with numpy's
              own samplers); the ratio to ``numpy`` (same draws) is shown alongside.
``hiv-100k``  the same with 100,000 draws in one batch.
``psm``       3-state partitioned survival, Weibull PFS and OS in 2 arms, weekly cycles over 30
              years (1,566 cycles), half-cycle correction, 3% discounting, 10,000 draws (the model
              of ``bench_engine.py`` case (a); the numpy version here computes the curves in place,
              faster than ``bench_engine.psm_numpy``). Target: hta <= 1.2x numpy.
``thr``       a Briggs-style total hip replacement model (``models/thr_briggs.py``): 5 states,
              60 annual cycles, Weibull revision hazard in time since the operation, age-dependent
              Hong Kong mortality, 1,000 draws. Target: hta <= 2x numpy.

Implementations (``impl``):

``hta``     ``ParameterTable.sample`` + the model written on the engine.
``numpy``   hand-written numpy/scipy, no ``hta`` in the timed code: the same draws (the same
            PCG64 streams and the same inverse CDFs, written with ``scipy.special``:
            ``gammaincinv``, ``betaincinv``, ``ndtri``), then the model as plain array code (a
            cycle loop over state vectors). hta evaluates the gamma inverse CDF from tables
            (``hta.params.gammainv``), so the draws are asserted equal to hta's to 1e-12 relative (the
            largest difference is printed; about 5e-15), the other families bit for bit, and the
            outcomes to 1e-10 relative, before any timing.
``numpy-native`` (HIV only) the same model with numpy's own samplers (``Generator.dirichlet``,
            ``.gamma``, ``.lognormal`` from one ``default_rng(seed)``): what a reviewer writing
            the model by hand would do. Other draws (not inverse-CDF, so unusable for Latin
            hypercube / Sobol designs and not comparable draw for draw); the HIV target is
            against this row.
``hta-tuned-malloc`` (HIV only, for information) ``hta`` in a process started with
            ``MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432`` (glibc keeps
            freed memory instead of returning it to the system, so the engine's large arrays are
            not page-faulted afresh in every evaluation). Same code and results; an allocator
            setting, not a change to hta.
``hta-run_psa`` (HIV only, for information) ``hta.analysis.evaluate.run_psa`` (chunks of 2,000 draws,
            keeps the drawn inputs as a table).
``hta-list`` (PSM only, for information) the PSM written with ``psm.cohort([pfs, os])``
            (curves copied into the cohort) instead of ``psm.cohort_from_stack``.

Method: every (case, impl) runs in a **fresh subprocess**; a round runs every case and impl
once, the order of the impls rotating from round to round (**round-robin**), so load from other
work on the machine falls on all of them alike. Inside a subprocess the model runs once untimed
(warm-up), then ``--reps`` timed runs; the subprocess reports the fastest (on a shared machine
the slower runs measure the other work). Reported time is the **median over rounds** of those;
ratio = median hta / median numpy, with the range of the per-round ratios. Peak RSS is the subprocess's ``ru_maxrss`` (includes ~100 MB of imported libraries);
heap is the ``tracemalloc`` peak of one extra untimed run (live numpy arrays).
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
import tracemalloc
from pathlib import Path

import numpy as np
from scipy import special

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

SEED = 20240601
RTOL = 1e-10
DRAW_RTOL = 1e-12  # hta's tabulated gamma quantile vs scipy.special.gammaincinv
CASES = {
    "hiv": {"n": 10_000, "impls": ("hta", "numpy", "numpy-native", "hta-run_psa", "hta-tuned-malloc"), "target": 2.0,
            "baseline": "numpy-native"},
    "hiv-100k": {"n": 100_000, "impls": ("hta", "numpy", "numpy-native"), "target": None, "baseline": "numpy-native"},
    "psm": {"n": 10_000, "impls": ("hta", "numpy", "hta-list"), "target": 1.2},
    "thr": {"n": 1_000, "impls": ("hta", "numpy"), "target": 2.0},
}


# =============================================================================================
# Hand-written sampling: the same draws as ParameterTable.sample (to rounding), in numpy and scipy.special
# =============================================================================================


def numpy_sampler(table):
    """A function ``(n, seed) -> {name: (n,) array}`` drawing what ``table.sample`` draws (gamma and
    Dirichlet columns to rounding: here through ``gammaincinv``, in hta through ``hta.params.gammainv``).

    The table is read once here for its distributions' numbers (data only); the returned
    function uses numpy and scipy.special alone: ``SeedSequence(seed)`` spawns one child per
    entry, a scalar draws from ``PCG64(child)``, a k-block from the child's k spawned children;
    uniforms of exactly 0 become 2^-54; each family's inverse CDF is written out.
    """
    from hta.params import distributions as D

    entries = []
    for e in table._entries:  # noqa: SLF001 - the benchmark mirrors the documented scheme
        d = e.dist
        if isinstance(d, D.Fixed):
            entries.append((e.names, "fixed", d.value))
        elif isinstance(d, D.Dirichlet):
            entries.append((e.names, "dirichlet", np.array(d.counts)))
        elif isinstance(d, D.Gamma):
            entries.append((e.names, "gamma", (d.shape, d.scale)))
        elif isinstance(d, D.Beta):
            entries.append((e.names, "beta", (d.alpha, d.beta)))
        elif isinstance(d, D.LogNormal):
            entries.append((e.names, "lognormal", (d.meanlog, d.sdlog)))
        elif isinstance(d, D.MultivariateNormal):
            entries.append((e.names, "mvnormal", (np.array(d.mu), np.array(d.factor))))
        else:
            raise SystemExit(f"numpy_sampler: no hand-written sampler for {d.kind}")

    def sample(n, seed):
        children = np.random.SeedSequence(seed).spawn(len(entries))
        out = {}
        for (names, kind, par), child in zip(entries, children):
            if kind == "fixed":
                out[names[0]] = np.full(n, par)
                continue
            streams = [child] if len(names) == 1 else child.spawn(len(names))
            u = np.stack([np.random.Generator(np.random.PCG64(s)).random(n) for s in streams], axis=1)
            u[u == 0.0] = 2.0**-54
            if kind == "dirichlet":
                g = special.gammaincinv(par, u)
                v = g / g.sum(axis=1, keepdims=True)
            elif kind == "gamma":
                v = par[1] * special.gammaincinv(par[0], u)
            elif kind == "beta":
                v = special.betaincinv(par[0], par[1], u)
            elif kind == "lognormal":
                v = np.exp(par[0] + par[1] * special.ndtri(u))
            else:  # mvnormal: mean + factor @ z, summed in a fixed order
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


# =============================================================================================
# HIV (Chancellor 1997): numpy versions
# =============================================================================================


def hiv_numpy(cols, n_cycles=20, rate=0.06, rr_years=2):
    """The HIV model in plain numpy: state vectors updated cycle by cycle, end-of-cycle counting."""
    a_b, a_c, a_d = cols["tp_A_B"], cols["tp_A_C"], cols["tp_A_D"]
    b_c, b_d, c_d = cols["tp_B_C"], cols["tp_B_D"], cols["tp_C_D"]
    care_a = cols["c_dmed_A"] + cols["c_ccare_A"]
    care_b = cols["c_dmed_B"] + cols["c_ccare_B"]
    care_c = cols["c_dmed_C"] + cols["c_ccare_C"]
    n = a_b.size
    out = np.empty((n, 2, 3))
    for i in range(2):
        xa, xb, xc = np.ones(n), np.zeros(n), np.zeros(n)
        cost, ly = np.zeros(n), np.zeros(n)
        for j in range(1, n_cycles + 1):
            rr = cols["rr"] if (i == 1 and j <= rr_years) else 1.0
            pab, pac, pad = a_b * rr, a_c * rr, a_d * rr
            pbc, pbd, pcd = b_c * rr, b_d * rr, c_d * rr
            xa, xb, xc = (xa * (1.0 - pab - pac - pad),
                          xa * pab + xb * (1.0 - pbc - pbd),
                          xa * pac + xb * pbc + xc * (1.0 - pcd))
            alive = xa + xb + xc
            c = xa * care_a + xb * care_b + xc * care_c + alive * cols["c_zidovudine"]
            if i == 1 and j <= rr_years:
                c = c + alive * cols["c_lamivudine"]
            cost += c * (1.0 + rate) ** -j
            ly += alive
        out[:, i] = np.stack([cost, ly, ly], axis=1)
    return out


def hiv_sample_native(n, seed):
    """numpy's own samplers, as a reviewer would write them (not inverse-CDF; other draws than hta's)."""
    from models.hiv_chancellor import COSTS, RELATIVE_RISK, TRANSITION_COUNTS  # data only

    rng = np.random.default_rng(seed)
    cols = {}
    for a, row in TRANSITION_COUNTS.items():
        draws = rng.dirichlet(list(row.values()), n)
        for k, b in enumerate(row):
            cols[f"tp_{a}_{b}"] = draws[:, k]
    for name, value in COSTS.items():
        if name.startswith(("c_dmed", "c_ccare")):
            cols[name] = rng.gamma(1.0, value, n)  # SE = mean: shape 1, scale = mean
        else:
            cols[name] = np.full(n, value)
    se = (np.log(0.710) - np.log(0.365)) / (2 * 1.959964)
    cols["rr"] = rng.lognormal(np.log(RELATIVE_RISK), se, n)
    return cols


# =============================================================================================
# PSM: the hta model written with cohort_from_stack (the numpy version is bench_engine.psm_numpy)
# =============================================================================================


def psm_evaluate_stack(batch, grid):
    """The PSM on the engine, curves written in place: survival(out=) -> cohort_from_stack."""
    from bench_engine import PSM_ARMS, PSM_DISCOUNT

    from hta.engine import outcomes, psm
    from hta.survival.curves import Weibull

    t_months = grid.times * 12.0
    zero = np.zeros(batch.n)
    results = []
    for arm in PSM_ARMS:
        S = np.empty((2, batch.n, t_months.size))
        for i, endpoint in enumerate(("pfs", "os")):
            coefs = np.column_stack([batch[f"{arm}_{endpoint}_log_shape"], batch[f"{arm}_{endpoint}_log_scale"]])
            Weibull.from_coefficients(coefs).survival(t_months, out=S[i])
        cohort = psm.cohort_from_stack(S, strategy=arm)
        results.append(outcomes.account(
            cohort, grid, within_cycle="half-cycle", discount_costs=PSM_DISCOUNT, discount_outcomes=PSM_DISCOUNT,
            utilities=np.column_stack([batch["u_pf"], batch["u_pd"], zero]),
            state_costs={"care": np.column_stack([batch[f"c_pf_{arm}"], batch["c_pd"], zero])}))
    return np.stack([np.stack([r.costs, r.qalys, r.lys], axis=-1) for r in results], axis=1)


def psm_numpy(cols, times_years, cycle_years):
    """The PSM in plain numpy, written with care for memory: each (n, T+1) curve is computed in
    place (one allocation per curve), PFS is capped at OS in place, and each state's person-time
    is one matrix-vector product with the discounted trapezoid weights."""
    from bench_engine import PSM_ARMS, PSM_DISCOUNT

    t_months = times_years * 12.0
    weights = np.ones(times_years.size)
    weights[0] = weights[-1] = 0.5                           # trapezoid (half-cycle correction)
    w_disc = weights * (1.0 + PSM_DISCOUNT) ** -times_years  # person-cycles, discounted
    out = np.empty((cols["u_pf"].size, len(PSM_ARMS), 3))
    for i, arm in enumerate(PSM_ARMS):
        s = {}
        for endpoint in ("pfs", "os"):
            shape = np.exp(cols[f"{arm}_{endpoint}_log_shape"])[:, None]
            scale = np.exp(cols[f"{arm}_{endpoint}_log_scale"])[:, None]
            h = t_months / scale
            np.power(h, shape, out=h)
            np.negative(h, out=h)
            s[endpoint] = np.exp(h, out=h)
        pf = np.minimum(s["pfs"], s["os"], out=s["pfs"])      # PFS capped at OS
        alive_cycles = s["os"] @ w_disc
        pf_cycles = pf @ w_disc
        pd_cycles = alive_cycles - pf_cycles
        out[:, i, 0] = cols[f"c_pf_{arm}"] * pf_cycles + cols["c_pd"] * pd_cycles
        out[:, i, 1] = (cols["u_pf"] * pf_cycles + cols["u_pd"] * pd_cycles) * cycle_years
        out[:, i, 2] = alive_cycles * cycle_years
    return out


# =============================================================================================
# THR (Briggs style): numpy version
# =============================================================================================


def thr_numpy(cols, q_bg):
    """The THR model in plain numpy: 4 living-state vectors updated cycle by cycle, trapezoid weights."""
    from models.thr_briggs import DISCOUNT_COSTS, DISCOUNT_OUTCOMES, PRIMARY_COST, PROSTHESIS_COST  # data only

    n, T = cols["omr_primary"].size, q_bg.size
    t = np.arange(T + 1.0)
    w = np.ones(T + 1)
    w[0] = w[-1] = 0.5
    wc = w * (1.0 + DISCOUNT_COSTS) ** -t
    wo = w * (1.0 + DISCOUNT_OUTCOMES) ** -t
    alive = 1.0 - q_bg
    omr_p, omr_r, rerev = cols["omr_primary"], cols["omr_revision"], cols["p_rerevision"]
    u_r, u_p, u_s = cols["u_revision"], cols["u_success_primary"], cols["u_success_revision"]
    c_rev = cols["c_revision"]
    j = np.arange(1, T + 1.0)
    out = np.empty((n, 2, 3))
    for i, strategy in enumerate(("standard", "np1")):
        ln_lambda = cols["ln_lambda"] + (cols["ln_rr_np1"] if strategy == "np1" else 0.0)
        lam, gam = np.exp(ln_lambda)[:, None], np.exp(cols["ln_gamma"])[:, None]
        revise = -np.expm1(lam * ((j - 1.0) ** gam - j ** gam))  # (n, T)
        x0, x1, x2, x3 = np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n)
        cost = np.zeros(n)
        qaly = wo[0] * u_r * x0
        ly = wo[0] * x0
        for k in range(1, T + 1):
            a, r = alive[k - 1], revise[:, k - 1]
            x0, x1, x2, x3 = (0.0 * x0,
                              x0 * (1.0 - omr_p) + x1 * (a * (1.0 - r)),
                              x1 * (a * r) + x3 * (a * rerev),
                              x2 * ((1.0 - omr_r) * a) + x3 * (a * (1.0 - rerev)))
            cost += wc[k] * c_rev * x2
            qaly += wo[k] * (u_r * (x0 + x2) + u_p * x1 + u_s * x3)
            ly += wo[k] * (x0 + x1 + x2 + x3)
        out[:, i, 0] = cost + PRIMARY_COST + PROSTHESIS_COST[strategy]
        out[:, i, 1] = qaly
        out[:, i, 2] = ly
    return out


# =============================================================================================
# Workloads: run() -> totals (n, S, 3) for one (case, impl)
# =============================================================================================


def _totals(res):
    return np.stack([res.costs, res.qalys, res.lys], axis=-1)


def workload(case: str, impl: str):
    """``(sample, evaluate)`` of one timed run: ``evaluate(sample())`` -> totals (n, S, 3).

    ``sample`` is None where drawing happens inside ``evaluate`` (``run_psa``).
    """
    n = CASES[case]["n"]
    if case.startswith("hiv"):
        from models import hiv_chancellor

        table = hiv_chancellor.parameter_table()
        if impl in ("hta", "hta-tuned-malloc"):
            return (lambda: table.sample(n, SEED)), (lambda b: _totals(hiv_chancellor.evaluate(b)))
        if impl == "hta-run_psa":
            from hta.analysis.evaluate import FunctionModel, run_psa

            model = FunctionModel("hiv_chancellor", hiv_chancellor.STRATEGIES, table, hiv_chancellor.evaluate)
            return None, (lambda _: np.stack(_run_psa_totals(run_psa(model, n, SEED)), axis=-1))
        if impl == "numpy":
            sample = numpy_sampler(table)
            return (lambda: sample(n, SEED)), hiv_numpy
        if impl == "numpy-native":
            return (lambda: hiv_sample_native(n, SEED)), hiv_numpy
    if case == "psm":
        import bench_engine

        grid, table = bench_engine.psm_grid(), bench_engine.psm_table()
        if impl == "hta":
            return (lambda: table.sample(n, SEED)), (lambda b: psm_evaluate_stack(b, grid))
        if impl == "hta-list":
            return (lambda: table.sample(n, SEED)), (lambda b: bench_engine.psm_evaluate(b, grid))
        if impl == "numpy":
            sample = numpy_sampler(table)
            times, dt = grid.times.copy(), grid.cycle_years
            return (lambda: sample(n, SEED)), (lambda c: psm_numpy(c, times, dt))
    if case == "thr":
        from models import thr_briggs

        table, q_bg = thr_briggs.parameter_table(), thr_briggs.background_death()
        if impl == "hta":
            return (lambda: table.sample(n, SEED)), (lambda b: _totals(thr_briggs.evaluate(b, q_bg=q_bg)))
        if impl == "numpy":
            sample = numpy_sampler(table)
            return (lambda: sample(n, SEED)), (lambda c: thr_numpy(c, q_bg))
    raise SystemExit(f"unknown case/impl {case}/{impl}")


def _run_psa_totals(r):
    return r.costs, r.qalys, r.lys


# =============================================================================================
# Checks (before timing): same draws (gamma/Dirichlet to 1e-12, others bit for bit), outcomes to 1e-10
# =============================================================================================


def check(case: str, n_check: int = 2_000) -> str:
    n = min(CASES[case]["n"], n_check)
    if case.startswith("hiv"):
        from models import hiv_chancellor

        table = hiv_chancellor.parameter_table()
        engine = lambda b: _totals(hiv_chancellor.evaluate(b))  # noqa: E731
        plain = hiv_numpy
    elif case == "psm":
        import bench_engine

        grid, table = bench_engine.psm_grid(), bench_engine.psm_table()
        engine = lambda b: psm_evaluate_stack(b, grid)  # noqa: E731
        plain = lambda c: psm_numpy(c, grid.times, grid.cycle_years)  # noqa: E731
        listed = bench_engine.psm_evaluate
    else:
        from models import thr_briggs

        table, q_bg = thr_briggs.parameter_table(), thr_briggs.background_death()
        engine = lambda b: _totals(thr_briggs.evaluate(b, q_bg=q_bg))  # noqa: E731
        plain = lambda c: thr_numpy(c, q_bg)  # noqa: E731
    from hta.params.distributions import Dirichlet, Gamma

    batch = table.sample(n, SEED)
    cols = numpy_sampler(table)(n, SEED)
    gamma_based = {name for e in table._entries if isinstance(e.dist, (Gamma, Dirichlet)) for name in e.names}  # noqa: SLF001
    draw_err = 0.0
    for name in table.names:
        if name in gamma_based:
            err_name = float(np.max(np.abs(batch[name] - cols[name]) / np.abs(cols[name])))
            draw_err = max(draw_err, err_name)
            if not err_name <= DRAW_RTOL:
                raise AssertionError(f"{case}: hand-written draws of '{name}' differ from hta's by {err_name:.2e} relative")
        elif not np.array_equal(batch[name], cols[name]):
            raise AssertionError(f"{case}: hand-written draws of '{name}' differ from hta's")
    a, b = engine(batch), plain(cols)
    err = np.abs(a - b) / np.maximum(np.abs(a), 1e-300)
    if err.max() > RTOL:
        i = np.unravel_index(np.argmax(err), a.shape)
        raise AssertionError(f"{case}: hta and numpy differ at {i}: {a[i]!r} vs {b[i]!r}")
    if case == "psm" and not np.array_equal(a, listed(batch, grid)):
        raise AssertionError("psm: cohort_from_stack and cohort([...]) differ")
    return (f"{case}: {len(table.names)} parameters drawn alike on {n:,} draws ({len(table.names) - len(gamma_based)} bit for bit, "
            f"{len(gamma_based)} gamma/Dirichlet within {draw_err:.1e} relative); outcomes agree to {err.max():.1e} relative")


# =============================================================================================
# Worker and driver
# =============================================================================================


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def worker(case: str, impl: str, reps: int) -> dict:
    sample, evaluate = workload(case, impl)
    draw = sample if sample is not None else (lambda: None)

    def run():
        t0 = time.perf_counter()
        batch = draw()
        t1 = time.perf_counter()
        evaluate(batch)
        return t1 - t0, time.perf_counter() - t1

    run()  # warm-up, untimed
    splits = [run() for _ in range(reps)]
    times = [a + b for a, b in splits]
    best = min(range(reps), key=lambda i: times[i])  # the fastest run: least disturbed by other work
    rss = _rss_mb()
    tracemalloc.start()
    evaluate(draw())
    heap = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"case": case, "impl": impl, "time": times[best], "times": times,
            "time_sample": splits[best][0], "time_eval": splits[best][1],
            "rss_mb": rss, "heap_mb": heap}


TUNED_MALLOC = {"MALLOC_TRIM_THRESHOLD_": "268435456", "MALLOC_MMAP_THRESHOLD_": "33554432"}


def _subprocess(args: list[str]) -> str:
    env = {**os.environ, **TUNED_MALLOC} if "hta-tuned-malloc" in args else None
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")
    return proc.stdout.strip().splitlines()[-1]


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds (fresh subprocesses each)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per subprocess (the fastest is kept)")
    parser.add_argument("--json", help="also write the raw results to this file")
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
    for c in cases:
        if c not in CASES:
            raise SystemExit(f"unknown case '{c}'; cases are {', '.join(CASES)}")
    print(f"hta vs hand-written numpy (issue 10): {machine()}")
    for c in cases:
        print("check  " + _subprocess(["--check", c]), flush=True)
    results: dict = {(c, i): [] for c in cases for i in CASES[c]["impls"]}
    t_start = time.perf_counter()
    for r in range(args.rounds):
        for c in cases:
            impls = CASES[c]["impls"]
            k = r % len(impls)
            for impl in impls[k:] + impls[:k]:  # rotate the order every round
                results[(c, impl)].append(json.loads(_subprocess(["--worker", c, impl, "--reps", str(args.reps)])))
        print(f"round {r + 1}/{args.rounds} done ({time.perf_counter() - t_start:.0f} s)", flush=True)

    print(f"\nmedian over {args.rounds} rounds (fresh subprocess per case, impl and round; {args.reps} timed runs each, "
          f"fastest kept); ratio = median impl / median numpy (same draws) [range of per-round ratios]; native = median impl / "
          f"median numpy-native (HIV; the HIV target); eval ratio = evaluation only, vs numpy; load average now "
          f"{os.getloadavg()[0]:.1f} (1, 5, 15 min: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    header = (f"{'case':<10}{'n':>9}  {'impl':<17}{'time s':>9}{'ratio':>7}  {'per-round range':<16}{'native':>7}  "
              f"{'per-round range':<16}{'sample s':>9}{'eval s':>9}{'eval ratio':>11}{'heap MB':>9}{'RSS MB':>8}  target")
    print(header)
    print("-" * len(header))
    summary = []
    for c in cases:
        base = results[(c, "numpy")]
        t_base = statistics.median(x["time"] for x in base)
        e_base = statistics.median(x["time_eval"] for x in base)
        native = results.get((c, "numpy-native"))
        t_native = statistics.median(x["time"] for x in native) if native else None
        for impl in CASES[c]["impls"]:
            rs = results[(c, impl)]
            t = statistics.median(x["time"] for x in rs)
            per_round = [a["time"] / b["time"] for a, b in zip(rs, base)]
            ratio = t / t_base
            if native:
                per_round_native = [a["time"] / b["time"] for a, b in zip(rs, native)]
                ratio_native = t / t_native
                native_text = f"{ratio_native:>7.2f}  [{min(per_round_native):.2f}, {max(per_round_native):.2f}]{'':<4}"
            else:
                per_round_native, ratio_native = [], None
                native_text = f"{'-':>7}  {'':<16}"
            target = CASES[c]["target"]
            verdict = ""
            if impl == "hta" and target is not None:
                against = ratio_native if CASES[c].get("baseline") == "numpy-native" else ratio
                name = CASES[c].get("baseline", "numpy")
                verdict = f"<= {target:g}x {name}: {'yes' if against <= target else 'NO'}"
            heap = statistics.median(x["heap_mb"] for x in rs)
            rss = statistics.median(x["rss_mb"] for x in rs)
            ts = statistics.median(x["time_sample"] for x in rs)
            te = statistics.median(x["time_eval"] for x in rs)
            sample_text = f"{ts:>9.4f}" if impl != "hta-run_psa" else f"{'(in eval)':>9}"
            print(f"{c:<10}{CASES[c]['n']:>9,}  {impl:<17}{t:>9.4f}{ratio:>7.2f}  "
                  f"[{min(per_round):.2f}, {max(per_round):.2f}]{'':<4}{native_text}{sample_text}{te:>9.4f}{te / e_base:>11.2f}"
                  f"{heap:>9.0f}{rss:>8.0f}  {verdict}", flush=True)
            summary.append({"case": c, "n": CASES[c]["n"], "impl": impl, "time": t, "ratio": ratio,
                            "ratio_native": ratio_native,
                            "ratio_native_range": [min(per_round_native), max(per_round_native)] if per_round_native else None,
                            "time_sample": ts, "time_eval": te, "eval_ratio": te / e_base,
                            "ratio_range": [min(per_round), max(per_round)], "heap_mb": heap, "rss_mb": rss,
                            "runs": rs})
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
