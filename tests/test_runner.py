"""Chunked evaluation and reproducible PSA runs (hta.analysis.evaluate).

Reference: design.md invariant "the same seed gives bit-identical PSA results, in-process or
distributed, whatever the chunk size"; the HIV model reproduces Briggs et al. (2006) Ex 2.5.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hta.analysis.evaluate import FunctionModel, evaluate, evaluate_all, run_psa
from hta.errors import HtaError
from models import hiv_chancellor as hiv

N = 3000
SEED = 20240607


@pytest.fixture(scope="module")
def model():
    return FunctionModel("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)


@pytest.fixture(scope="module")
def reference(model):
    return run_psa(model, N, SEED, chunk_size=1000)


def test_base_case_through_evaluate_matches_briggs(model):
    # Briggs, Claxton & Sculpher (2006) Exercise 2.5: costs 44,663.45 / 50,601.65; LYs 7.9912 / 8.9374
    costs, lys = evaluate(model, model.parameters.base(), effect="lys")
    np.testing.assert_allclose(costs[0], [44663.45, 50601.65], atol=0.005)
    np.testing.assert_allclose(lys[0], [7.9912, 8.9374], atol=5e-5)


def test_chunked_evaluation_equals_one_call(model):
    batch = model.parameters.sample(257, 3)
    whole = evaluate_all(model, batch)
    chunked = evaluate_all(model, batch, chunk_size=50)
    for a, b in zip(whole, chunked):
        assert a.shape == (257, 2)
        np.testing.assert_array_equal(a, b)


def test_psa_is_the_model_on_the_seeded_draws(model, reference):
    batch = model.parameters.sample(N, SEED)
    out = model.evaluate(batch)
    np.testing.assert_array_equal(reference.costs, out.costs)
    np.testing.assert_array_equal(reference.lys, out.lys)
    assert list(reference.inputs.columns) == model.parameters.unit_columns
    np.testing.assert_array_equal(reference.inputs["rr"], batch["rr"])
    assert reference.n == N and reference.seed == SEED and reference.elapsed > 0
    assert reference.strategies == hiv.STRATEGIES


@pytest.mark.parametrize("chunk_size", [1000, 10000, 777])
def test_same_seed_bit_identical_whatever_the_chunk_size(model, reference, chunk_size):
    res = run_psa(model, N, SEED, chunk_size=chunk_size)
    for attr in ("costs", "qalys", "lys"):
        np.testing.assert_array_equal(getattr(res, attr), getattr(reference, attr))
    np.testing.assert_array_equal(res.inputs.to_numpy(), reference.inputs.to_numpy())


def test_different_seed_differs(model, reference):
    res = run_psa(model, 50, SEED + 1)
    assert not np.array_equal(res.costs, reference.costs[:50])


@pytest.mark.parametrize("n_workers", [1, 2])
def test_dask_threads_cluster_bit_identical(model, reference, n_workers):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = run_psa(model, N, SEED, chunk_size=400, scheduler=client)
    assert res.meta["chunks"] == 8
    np.testing.assert_array_equal(res.costs, reference.costs)
    np.testing.assert_array_equal(res.lys, reference.lys)
    np.testing.assert_array_equal(res.inputs.to_numpy(), reference.inputs.to_numpy())


def test_dask_worker_processes_bit_identical(model, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_psa(model, N, SEED, chunk_size=1000, scheduler=cluster)
    assert res.meta["execution"].startswith("dask cluster")
    np.testing.assert_array_equal(res.costs, reference.costs)
    np.testing.assert_array_equal(res.qalys, reference.qalys)


def test_progress_flag_is_harmless_off_a_terminal(model, reference):
    res = run_psa(model, 100, SEED, chunk_size=30, progress=True)
    np.testing.assert_array_equal(res.costs, reference.costs[:100])


@pytest.mark.parametrize("kwargs, text", [
    (dict(n=0), "PSA draws n"),
    (dict(n=10, chunk_size=0), "chunk_size"),
    (dict(n=10, workers=0), "workers"),
    (dict(n=10, workers=1, scheduler="tcp://127.0.0.1:1"), "either scheduler"),
])
def test_bad_arguments_raise_hta_error(model, kwargs, text):
    with pytest.raises(HtaError, match=text):
        run_psa(model, seed=1, **kwargs)


def test_bad_effect_name(model):
    with pytest.raises(HtaError, match="effect"):
        evaluate(model, model.parameters.base(), effect="dalys")


@pytest.mark.parametrize("n_workers", [1, 2])
def test_sobol_chunks_on_dask_bit_identical(model, n_workers):
    distributed = pytest.importorskip("distributed")
    from hta.analysis.gsa import sobol

    local = sobol(model, n_base=64, wtp=20000, seed=3, chunk_size=300)
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = sobol(model, n_base=64, wtp=20000, seed=3, chunk_size=300, scheduler=client)
    pd.testing.assert_frame_equal(local, remote)


# --------------------------------------------------------------------------------------------
# Numerical guard: a non-finite result is reported with its draw, never averaged away


def _model_that_breaks_when(rr_above):
    """The HIV model, but its QALYs are NaN (a log of a negative) where rr > ``rr_above``."""

    def evaluate(batch):
        out = hiv.evaluate(batch)
        broken = np.where(np.asarray(batch["rr"])[:, None] > rr_above, np.nan, 1.0)
        return SimpleNamespace(costs=out.costs, qalys=out.qalys * broken, lys=out.lys)

    return FunctionModel("hiv_broken", hiv.STRATEGIES, hiv.parameter_table(), evaluate)


def test_psa_draw_with_a_nan_result_is_reported_with_its_index_and_values(model, reference):
    threshold = float(np.quantile(reference.inputs["rr"], 0.999))
    broken = _model_that_breaks_when(threshold)
    first = int(np.flatnonzero(reference.inputs["rr"].to_numpy() > threshold)[0])
    count = int((reference.inputs["rr"].to_numpy() > threshold).sum())
    for chunk_size in (1000, 777):  # the index is the draw's, whatever the chunking
        with pytest.raises(HtaError) as info:
            run_psa(broken, N, SEED, chunk_size=chunk_size)
        message = str(info.value)
        assert message.startswith(f"PSA draw {first} (of {N}; {count} affected) gives QALYs = nan")
        assert f"rr={reference.inputs['rr'].iloc[first]:.6g}" in message


def test_deterministic_batch_with_a_non_finite_result_names_the_row(model):
    batch = model.parameters.base().with_values(rr=np.array([0.5, 0.6, 2.0]))
    with pytest.raises(HtaError, match=r"parameter set 2 \(of 3; 1 affected\) gives QALYs = nan .*rr=2"):
        evaluate_all(_model_that_breaks_when(1.0), batch)
