"""Chunks on every core (hta.analysis.evaluate worker threads) and chunk sizes chosen from memory.

Reference: design.md invariant "the same seed gives bit-identical PSA results, in-process or
distributed, whatever the chunk size", extended by issue 24 to "whatever the number of worker
threads": every comparison here is np.array_equal (or an exact frame comparison), never a
tolerance. The HIV model reproduces Briggs et al. (2006) Ex 2.5, the THR model Briggs et al.
(2006) Ex 4.7 (see tests/test_hiv_reference.py and tests/test_thr_model.py).
"""

import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hta.analysis import evaluate as runner
from hta.analysis.evaluate import (
    FunctionModel,
    auto_chunk_size,
    bytes_per_row,
    default_workers,
    evaluate_all,
    run_psa,
)
from hta.errors import HtaError
from models import hiv_chancellor as hiv
from models import thr_briggs as thr

SEED = 20240624


# --------------------------------------------------------------------------------------------
# Models: HIV (Markov, Dirichlet + gamma draws), THR (time-dependent Markov), a small PSM


@pytest.fixture(scope="module")
def hiv_model():
    return FunctionModel("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)


def _thr_evaluate(batch):
    return thr.evaluate(batch, q_bg=thr.background_death())


@pytest.fixture(scope="module")
def thr_model():
    return FunctionModel("thr_briggs", ("standard", "np1"), thr.parameter_table(), _thr_evaluate)


def _psm_table():
    """Weibull PFS and OS (log shape, log scale; months) as MVN blocks in 2 arms, 2 utilities, 3 costs."""
    from hta.params import ParameterTable
    from hta.params.distributions import Beta, Gamma, MultivariateNormal

    table = ParameterTable()
    curves = {("soc", "pfs"): (1.10, 8.0), ("soc", "os"): (1.20, 18.0),
              ("new", "pfs"): (1.00, 14.0), ("new", "os"): (1.10, 30.0)}
    for (arm, endpoint), (shape, scale) in curves.items():
        table.add_block([f"{arm}_{endpoint}_log_shape", f"{arm}_{endpoint}_log_scale"],
                        MultivariateNormal((np.log(shape), np.log(scale)), ((0.005, -0.001), (-0.001, 0.007))))
    table.add("u_pf", dist=Beta.from_mean_se(0.75, 0.03))
    table.add("u_pd", dist=Beta.from_mean_se(0.55, 0.05))
    table.add("c_pf_soc", dist=Gamma.from_mean_se(3000.0, 300.0))
    table.add("c_pf_new", dist=Gamma.from_mean_se(6000.0, 600.0))
    table.add("c_pd", dist=Gamma.from_mean_se(2000.0, 300.0))
    return table


def _psm_evaluate(batch):
    from hta.engine import outcomes, psm
    from hta.engine.timegrid import CycleGrid
    from hta.survival.curves import Weibull

    grid = CycleGrid.from_horizon(20.0, "month")
    t_months = grid.times * 12.0
    zero = np.zeros(batch.n)
    res = []
    for arm in ("soc", "new"):
        curves = [Weibull.from_coefficients(np.column_stack([batch[f"{arm}_{e}_log_shape"], batch[f"{arm}_{e}_log_scale"]]))
                  .survival(t_months) for e in ("pfs", "os")]
        res.append(outcomes.account(
            psm.cohort(curves, strategy=arm), grid, within_cycle="half-cycle", discount_costs=0.03,
            discount_outcomes=0.03, utilities=np.column_stack([batch["u_pf"], batch["u_pd"], zero]),
            state_costs={"care": np.column_stack([batch[f"c_pf_{arm}"], batch["c_pd"], zero])}))
    return SimpleNamespace(**{m: np.column_stack([getattr(r, m) for r in res]) for m in ("costs", "qalys", "lys")})


@pytest.fixture(scope="module")
def psm_model():
    return FunctionModel("psm", ("soc", "new"), _psm_table(), _psm_evaluate)


MODELS = ["hiv_model", "thr_model", "psm_model"]


def _assert_same_psa(a, b):
    for attr in ("costs", "qalys", "lys"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
    assert np.array_equal(a.inputs.to_numpy(), b.inputs.to_numpy())
    assert list(a.inputs.columns) == list(b.inputs.columns)


# --------------------------------------------------------------------------------------------
# PSA: 1, 2 and 3 workers, default (memory) and explicit chunk sizes, against one batch


@pytest.mark.parametrize("name", MODELS)
def test_psa_identical_with_1_2_and_3_workers_and_any_chunking(request, name):
    model = request.getfixturevalue(name)
    n = 1500
    one_batch = run_psa(model, n, SEED, chunk_size=n, workers=1)
    assert one_batch.meta["chunks"] == 1
    # the model on the seeded draws themselves (no runner at all)
    direct = model.evaluate(model.parameters.sample(n, SEED))
    assert np.array_equal(one_batch.costs, np.asarray(direct.costs))
    for workers in (1, 2, 3):
        for chunk_size in (None, 277, 500):
            res = run_psa(model, n, SEED, chunk_size=chunk_size, workers=workers)
            _assert_same_psa(res, one_batch)
            if chunk_size is None:  # from memory: the probe's 2 chunks (first run only), then the same number per worker
                probed = res.meta["chunk_size_from"] == "memory probe"
                assert (res.meta["chunks"] - 2 * probed) % workers == 0
            else:
                assert res.meta["chunks"] == -(-n // chunk_size)
            if workers > 1:
                assert res.meta["execution"] == f"in-process, {workers} worker threads"


def test_default_workers_is_every_core_this_process_may_use(hiv_model):
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == expected
    res = run_psa(hiv_model, 2000, SEED)  # workers=None: all of them
    probed = res.meta["chunk_size_from"] == "memory probe"
    assert (res.meta["chunks"] - 2 * probed) % default_workers() == 0


def test_a_model_is_probed_once_and_the_result_remembered():
    calls = []

    def evaluate(batch):
        calls.append(batch.n)
        return hiv.evaluate(batch)

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), evaluate)
    first = run_psa(model, 1000, SEED, workers=2)
    assert first.meta["chunk_size_from"] == "memory probe" and calls[:2] == [32, 64]
    calls.clear()
    again = run_psa(model, 1000, SEED, workers=2)
    assert again.meta["chunk_size_from"] == "memory (remembered for this model)"
    assert again.meta["bytes_per_draw"] == first.meta["bytes_per_draw"] and calls == [500, 500]
    _assert_same_psa(again, first)


def test_worker_threads_really_run_the_chunks(hiv_model):
    seen = set()

    def evaluate(batch):
        seen.add(threading.get_ident())
        return hiv.evaluate(batch)

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), evaluate)
    run_psa(model, 2000, SEED, chunk_size=100, workers=2)
    assert threading.get_ident() not in seen and len(seen) == 2
    seen.clear()
    run_psa(model, 2000, SEED, chunk_size=100, workers=1)
    assert seen == {threading.get_ident()}


# --------------------------------------------------------------------------------------------
# One-way, Sobol and deterministic batches


def test_one_way_identical_with_1_2_and_3_workers(hiv_model, monkeypatch):
    from hta.analysis import dsa

    ref = dsa.one_way(hiv_model, wtp=20000, workers=1)
    # force the one-way batch (33 rows) into chunks of a few rows, so the workers really split it
    monkeypatch.setattr(runner, "_MIN_SPLIT_ROWS", 1)
    monkeypatch.setattr(runner, "_PROBE_ROWS", 2)  # the probe takes rows 0-5
    monkeypatch.setattr(runner, "CHUNK_MEMORY_BYTES", 5_000)
    calls = []
    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(),
                          lambda b: calls.append(b.n) or hiv.evaluate(b))
    for workers in (1, 2, 3):
        calls.clear()
        frame = dsa.one_way(model, wtp=20000, workers=workers)
        pd.testing.assert_frame_equal(frame, ref, check_exact=True)
        probe_calls = 2
        assert len(calls) - probe_calls >= 3  # split into chunks, not one call


def test_sobol_identical_with_1_2_and_3_workers(thr_model):
    from hta.analysis.gsa import sobol

    frames = [sobol(thr_model, n_base=64, wtp=2000, seed=3, workers=w) for w in (1, 2, 3)]
    assert frames[0].attrs["n_evaluations"] >= 256  # large enough to be probed and split
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0], check_exact=True)
    explicit = sobol(thr_model, n_base=64, wtp=2000, seed=3, chunk_size=100, workers=3)
    pd.testing.assert_frame_equal(explicit, frames[0], check_exact=True)


@pytest.mark.parametrize("name", MODELS)
def test_evaluate_all_identical_whatever_the_workers(request, name):
    model = request.getfixturevalue(name)
    batch = model.parameters.sample(700, 11)
    ref = [np.asarray(getattr(model.evaluate(batch), m)) for m in ("costs", "qalys", "lys")]
    for workers in (1, 2, 3):
        for chunk_size in (None, 99):
            out = evaluate_all(model, batch, chunk_size=chunk_size, workers=workers)
            for a, b in zip(out, ref):
                assert np.array_equal(a, b)


def test_evppi_table_identical_with_1_and_3_workers(hiv_model):
    from hta.analysis.voi import evppi_table

    res = run_psa(hiv_model, 1000, SEED)
    nb = 20000 * res.qalys - res.costs
    params = ["rr", "c_dmed_A", ["tp_A_B", "tp_A_C"]]
    a = evppi_table(nb, res.inputs, params, workers=1)
    b = evppi_table(nb, res.inputs, params, workers=3)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_evppi_table_with_gaussian_process_groups_identical_with_1_and_2_workers(hiv_model):
    from hta.analysis import voi
    from hta.analysis.regression import EvppiFitError

    res = run_psa(hiv_model, 600, SEED)
    nb = 6300 * res.qalys - res.costs   # near the ICER (about 6,300 per QALY): the decision is uncertain
    varying = [c for c in res.inputs.columns if np.ptp(res.inputs[c].to_numpy()) > 0]
    params = {"rr": "rr", "pair": varying[:2], "gp five": varying[:5], "c_dmed_A": "c_dmed_A", "gp six": varying[:6]}
    one = voi.evppi_table(nb, res.inputs, params, workers=1, gp_n=120)
    assert set(one.loc[one["n_parameters"] >= 5, "method"]) == {"gp"}
    two = voi.evppi_table(nb, res.inputs, params, workers=2, gp_n=120)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    # each group's value is that of its own evppi() call, whichever thread fitted it; a GP whose
    # hyperparameters do not converge (this can depend on the BLAS kernel, e.g. the six-parameter
    # group under OPENBLAS_CORETYPE=Haswell) is a NaN row with its reason in both
    for name, group in params.items():
        row = one.loc[one["name"] == name].iloc[0]
        try:
            own = voi.evppi(nb, res.inputs, group, gp_n=120)
        except EvppiFitError as error:
            assert np.isnan(row["evppi"]) and str(error) in row["note"]
        else:
            assert row["evppi"] == own and row["note"] == ""


def test_verification_request_honours_the_plans_workers(hiv_model):
    from hta.analysis.requests import verification

    one, three = (verification({"hiv": hiv_model}, psa_draws=600, seed=4, workers=w).reports["hiv"] for w in (1, 3))
    assert [(c.check, c.status, c.observed) for c in one.checks] == [(c.check, c.status, c.observed) for c in three.checks]
    assert one.rows == three.rows and one.calls < three.calls  # the PSA check's chunks: a multiple of the workers


def test_verification_psa_check_identical_with_1_and_3_workers(hiv_model, monkeypatch):
    from hta.analysis.verify import verify

    reports = []
    for workers in (1, 3):
        monkeypatch.setattr(runner, "default_workers", lambda w=workers: w)
        reports.append(verify(hiv_model, psa_draws=600, seed=4))
    one, three = ([(c.check, c.status, c.observed, c.detail) for c in r.checks] for r in reports)
    assert one == three
    psa = [c for c in reports[1].checks if c.check.startswith("PSA means")]
    assert len(psa) == 1 and "standard errors" in psa[0].observed  # the check ran on its 600 draws
    assert reports[1].calls > reports[0].calls  # ... split over the 3 workers (and the memory probe)


# --------------------------------------------------------------------------------------------
# Errors raised in a worker thread, argument checks


def test_the_first_failing_chunk_raises_its_error(hiv_model):
    def evaluate(batch):
        if np.any(np.asarray(batch["rr"]) > 0.6):
            raise HtaError("rr above 0.6 in this chunk")
        return hiv.evaluate(batch)

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), evaluate)
    with pytest.raises(HtaError, match="rr above 0.6"):
        run_psa(model, 3000, SEED, chunk_size=100, workers=3)


def test_non_finite_draw_is_named_with_its_index_whatever_the_workers(hiv_model):
    def evaluate(batch):
        out = hiv.evaluate(batch)
        bad = np.where(np.asarray(batch["rr"])[:, None] > 0.62, np.nan, 1.0)
        return SimpleNamespace(costs=out.costs, qalys=out.qalys * bad, lys=out.lys)

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), evaluate)
    inputs = run_psa(hiv_model, 3000, SEED, workers=1).inputs["rr"].to_numpy()
    first = int(np.flatnonzero(inputs > 0.62)[0])
    for workers in (1, 3):
        with pytest.raises(HtaError, match=f"^PSA draw {first} "):
            run_psa(model, 3000, SEED, chunk_size=250, workers=workers)


@pytest.mark.parametrize("kwargs, text", [
    ({"workers": 0}, "workers"),
    ({"workers": 2.5}, "workers"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "either scheduler"),
])
def test_bad_worker_arguments(hiv_model, kwargs, text):
    with pytest.raises(HtaError, match=text):
        run_psa(hiv_model, 10, 1, **kwargs)


# --------------------------------------------------------------------------------------------
# Chunk size from memory


def test_auto_chunk_size_keeps_chunks_under_the_budget_and_gives_every_worker_a_chunk():
    mib = 2**20
    # 52 kB per draw (the weekly 30-year PSM of benchmarks/bench_speed.py), 64 MiB budget
    size = auto_chunk_size(10_000, 52_000, workers=2, budget=64 * mib)
    chunks = -(-10_000 // size)
    assert size * 52_000 <= 64 * mib and chunks % 2 == 0
    assert auto_chunk_size(10_000, 1_000, workers=2, budget=64 * mib) == 5_000  # memory allows one: split in 2
    assert auto_chunk_size(10_000, 1_000, workers=1, budget=64 * mib) == 10_000
    assert auto_chunk_size(10, 1e9, workers=3, budget=mib) == 1
    assert auto_chunk_size(7, 1, workers=3) == 3  # 3 chunks of 3, 3, 1 rows


def test_bytes_per_row_measures_the_models_arrays():
    # a "model" allocating a fixed 4 MB array and 8 arrays of 1,000 doubles per row: 64,000 bytes per row
    def evaluate_rows(m):
        fixed = np.ones(500_000)
        per_row = [np.ones((m, 1000)) for _ in range(8)]
        return fixed.sum() + sum(a.sum() for a in per_row)

    est = bytes_per_row(evaluate_rows, rows=64)
    assert 64_000 <= est <= 64_000 + 4_000_000 / 128 + 1_000  # never below the per-row cost


def test_psm_chunks_from_memory_stay_under_the_budget(psm_model, monkeypatch):
    import tracemalloc

    n = 2000
    monkeypatch.setattr(runner, "CHUNK_MEMORY_BYTES", 2 * 2**20)  # about 8 kB per draw: chunks of ~250
    res = run_psa(psm_model, n, SEED, workers=1)
    assert res.meta["chunks"] > 4
    per_draw = res.meta["bytes_per_draw"]
    assert res.chunk_size * per_draw <= runner.CHUNK_MEMORY_BYTES
    # the measured peak of one chunk of that size (sampling + evaluation) is under the budget
    table = psm_model.parameters
    tracemalloc.start()
    try:
        runner._psa_chunk(psm_model, table, SEED, 0, res.chunk_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= runner.CHUNK_MEMORY_BYTES
