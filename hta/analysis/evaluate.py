"""Evaluating a model on large batches: chunked, reproducible, optionally on Dask.

Every analysis ends in the same call: build a :class:`~hta.params.Batch`, hand it to
``model.evaluate`` (the model protocol of ``docs/architecture.md``) and keep the per-sample
totals. This module does that in chunks so memory stays bounded, and runs a probabilistic
sensitivity analysis (PSA) whose results do not depend on the chunk size or on where a chunk
ran:

* chunk ``k`` of a PSA evaluates ``model.parameters.sample(size, seed, start=k * chunk_size)``,
  i.e. draws ``k*chunk_size .. k*chunk_size+size-1`` of one seeded PSA (``ParameterTable.sample``
  is chunk-invariant), so the same seed gives bit-identical results whatever the chunk size;
* only the per-sample totals (costs, QALYs, LYs of each strategy: ``(size, S)`` arrays) leave a
  chunk, so traces and disaggregated lines never pile up;
* in-process evaluation is the default and imports nothing from Dask. ``workers=N`` starts a
  local Dask cluster of N single-threaded worker processes; ``scheduler="tcp://host:port"``
  connects to an existing one. Chunks are submitted as tasks (the model is pickled with
  cloudpickle and scattered once) and gathered in order.

Units: costs in the model's currency, QALYs and LYs in (discounted) years, as the model reports
them.
"""

from __future__ import annotations

import contextlib

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.params import Batch

__all__ = ["evaluate", "evaluate_all", "run_psa", "PsaResult", "FunctionModel", "model_parameters"]

_EFFECTS = ("qalys", "lys")


@dataclass(frozen=True)
class FunctionModel:
    """The model protocol around a plain function ``evaluate(batch) -> outcomes``.

    ``evaluate`` must return an object with ``costs``, ``qalys`` and ``lys`` arrays of shape
    ``(n, S)`` in ``strategies`` order (e.g. :class:`hta.engine.outcomes.Outcomes`). Define
    ``evaluate`` at module level so the wrapper pickles (Dask workers need that).
    """

    name: str
    strategies: tuple
    parameters: Any
    evaluate: Any
    strategy_labels: dict = field(default_factory=dict)
    settings: Any = None


def model_parameters(model):
    """``model.parameters`` read once (some models build the table on every access)."""
    try:
        return model.parameters
    except AttributeError:
        raise HtaError(
            f"model {getattr(model, 'name', type(model).__name__)!r}: expected a 'parameters' "
            "attribute (a ParameterTable); found none"
        ) from None


def _outcome_arrays(model, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(costs, qalys, lys)`` of one model call, each ``(n, S)`` float arrays."""
    out = model.evaluate(batch)
    arrays = []
    for attr in ("costs", "qalys", "lys"):
        a = np.asarray(getattr(out, attr), dtype=float)
        if a.ndim != 2 or a.shape[0] != batch.n:
            raise HtaError(
                f"model {getattr(model, 'name', '')!r}: evaluate() must return {attr} of shape "
                f"(n={batch.n}, strategies); found {a.shape}"
            )
        arrays.append(a)
    return arrays[0], arrays[1], arrays[2]


def check_finite_outcomes(costs, qalys, lys, strategies, row_values, what: str = "parameter set") -> None:
    """Raise HtaError naming the first row whose costs, QALYs or LYs are NaN or infinite.

    A non-finite result is never averaged away: the message gives the row (the PSA draw index,
    counted from 0), how many rows are affected, the output and strategy, and that row's
    parameter values (``row_values(i)`` -> mapping name -> value), so the draw can be rerun.
    """
    bad = ~(np.isfinite(costs) & np.isfinite(qalys) & np.isfinite(lys))
    if not bad.any():
        return
    rows = np.flatnonzero(bad.any(axis=1))
    i = int(rows[0])
    j = int(np.flatnonzero(bad[i])[0])
    output, value = next((name, float(a[i, j])) for name, a in (("costs", costs), ("QALYs", qalys), ("LYs", lys))
                         if not np.isfinite(a[i, j]))
    shown = ", ".join(f"{k}={v:.6g}" for k, v in row_values(i).items())
    strategy = strategies[j] if j < len(strategies) else j
    raise HtaError(
        f"{what} {i} (of {costs.shape[0]}; {rows.size} affected) gives {output} = {value} for strategy "
        f"'{strategy}': expected finite results. Its parameter values: {shown or 'none'}"
    )


def _check_chunk_size(chunk_size: Any, n: int) -> int:
    if chunk_size is None:
        return max(n, 1)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise HtaError(f"chunk_size must be a whole number >= 1; found {chunk_size!r}")
    return int(chunk_size)


def _chunks(n: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


def evaluate_all(model, batch: Batch, chunk_size: int | None = None, scheduler: Any = None,
                 workers: int | None = None):
    """``(costs, qalys, lys)``, each ``(n, S)``, evaluating ``batch`` in chunks of rows.

    With ``scheduler`` or ``workers`` the chunks run on a Dask cluster (as in :func:`run_psa`);
    results are the same bit for bit, since every row is evaluated the same way wherever it runs.
    """
    size = _check_chunk_size(chunk_size, batch.n)
    spans = _chunks(batch.n, size)
    if scheduler is not None or workers is not None:
        _check_workers(scheduler, workers)
        with _dask_client(scheduler, workers) as (client, _where):
            remote_model = client.scatter(model, broadcast=True)
            futures = [client.submit(_outcome_arrays, remote_model, batch.take(slice(a, b)), pure=False)
                       for a, b in spans]
            parts = client.gather(futures)
    elif size >= batch.n:
        parts = [_outcome_arrays(model, batch)]
    else:
        parts = [_outcome_arrays(model, batch.take(slice(a, b))) for a, b in spans]
    costs, qalys, lys = (np.concatenate([p[i] for p in parts]) if len(parts) > 1 else parts[0][i] for i in range(3))
    check_finite_outcomes(costs, qalys, lys, tuple(getattr(model, "strategies", ())),
                          lambda i: {name: float(np.broadcast_to(batch[name], (batch.n,))[i]) for name in batch.names})
    return costs, qalys, lys


def evaluate(model, batch: Batch, chunk_size: int | None = None, effect: str = "qalys", scheduler: Any = None,
             workers: int | None = None):
    """Costs and effects ``(n, S)`` of every row of ``batch``, evaluated in chunks.

    ``effect`` is ``"qalys"`` (default) or ``"lys"``. Columns follow ``model.strategies``.
    ``chunk_size=None`` evaluates the batch in one call; ``scheduler``/``workers`` run the chunks
    on Dask.
    """
    if effect not in _EFFECTS:
        raise HtaError(f"effect: expected one of {', '.join(_EFFECTS)}; found {effect!r}")
    costs, qalys, lys = evaluate_all(model, batch, chunk_size, scheduler, workers)
    return costs, (qalys if effect == "qalys" else lys)


# --------------------------------------------------------------------------------------------
# PSA


@dataclass
class PsaResult:
    """Results of a probabilistic sensitivity analysis.

    ``costs``, ``qalys``, ``lys``: ``(n, S)`` per draw and strategy (discounted), columns in
    ``strategies`` order. ``inputs``: one row per draw, one column per stochastic parameter
    (``ParameterTable.unit_columns``), as drawn. ``elapsed`` is wall-clock seconds.
    """

    costs: np.ndarray
    qalys: np.ndarray
    lys: np.ndarray
    inputs: pd.DataFrame
    strategies: tuple
    seed: Any
    n: int
    chunk_size: int
    elapsed: float
    meta: dict = field(default_factory=dict)

    def effects(self, effect: str = "qalys") -> np.ndarray:
        if effect not in _EFFECTS:
            raise HtaError(f"effect: expected one of {', '.join(_EFFECTS)}; found {effect!r}")
        return self.qalys if effect == "qalys" else self.lys


def _psa_chunk(model, table, seed, start: int, size: int):
    """Evaluate draws ``start .. start+size-1``; returns totals and the sampled columns."""
    batch = table.sample(size, seed, start=start)
    costs, qalys, lys = _outcome_arrays(model, batch)
    columns = table.unit_columns
    drawn = np.stack([batch[c] for c in columns], axis=1) if columns else np.empty((size, 0))
    return costs, qalys, lys, drawn


def _progress(total: int, enabled: bool):
    if not (enabled and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="draw", desc="PSA", file=sys.stderr)


def run_psa(
    model,
    n: int,
    seed: Any,
    chunk_size: int = 2000,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool = False,
) -> PsaResult:
    """Run a PSA of ``n`` draws of ``model.parameters`` with ``seed``.

    Chunk ``k`` evaluates draws ``k*chunk_size ..`` of the same seeded PSA, so results are
    bit-identical for any ``chunk_size`` and for in-process or Dask execution. ``workers=N``
    starts a local Dask cluster (N processes, one thread each) for this run; ``scheduler``
    (an address such as ``"tcp://10.0.0.5:8786"``, a ``distributed.Client`` or a cluster
    object) uses an existing Dask cluster; a client passed in is left open. A tqdm
    progress bar is shown only when ``progress=True`` and stderr is a terminal.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise HtaError(f"PSA draws n must be a whole number >= 1; found {n!r}")
    n = int(n)
    size = _check_chunk_size(chunk_size, n)
    _check_workers(scheduler, workers)
    table = model_parameters(model)
    spans = _chunks(n, size)
    t0 = time.perf_counter()
    bar = _progress(n, progress)
    try:
        if scheduler is None and workers is None:
            parts = []
            for a, b in spans:
                parts.append(_psa_chunk(model, table, seed, a, b - a))
                if bar is not None:
                    bar.update(b - a)
            where = "in-process"
        else:
            parts, where = _run_on_dask(model, table, seed, spans, scheduler, workers, bar)
    finally:
        if bar is not None:
            bar.close()
    costs, qalys, lys, drawn = (np.concatenate([p[i] for p in parts]) for i in range(4))
    elapsed = time.perf_counter() - t0
    inputs = pd.DataFrame(drawn, columns=list(table.unit_columns))
    strategies = tuple(getattr(model, "strategies", range(costs.shape[1])))
    check_finite_outcomes(costs, qalys, lys, strategies, lambda i: inputs.iloc[i].to_dict(), what="PSA draw")
    return PsaResult(costs, qalys, lys, inputs, strategies, seed, n, size, elapsed,
                     meta={"execution": where, "chunks": len(spans)})


def _check_workers(scheduler, workers) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise HtaError(f"workers must be a whole number >= 1; found {workers!r}")
    if scheduler is not None and workers is not None:
        raise HtaError("Dask: give either scheduler (an existing Dask cluster) or workers (a local one), not both")


@contextlib.contextmanager
def _dask_client(scheduler, workers):
    """A Dask client for ``scheduler`` (address, Client or cluster) or a local cluster of ``workers``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the environment
        raise HtaError(
            "workers/scheduler: Dask runs need the optional extra 'distributed'; install it with "
            "pip install \"hta[distributed]\" (found the package 'distributed' missing)"
        ) from None
    cluster = None
    own_client = True
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
        where = f"dask client {scheduler.scheduler.address}"
    elif scheduler is not None:
        if not isinstance(scheduler, str):
            client = Client(scheduler)  # a cluster object (LocalCluster, ...) owned by the caller
            where = f"dask cluster {type(scheduler).__name__}"
        else:
            try:
                client = Client(scheduler)
            except OSError as exc:
                raise HtaError(f"Dask scheduler '{scheduler}': could not connect ({exc})") from None
            where = f"dask scheduler {scheduler}"
    else:
        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        where = f"local dask cluster, {workers} worker(s)"
    try:
        yield client, where
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


def _run_on_dask(model, table, seed, spans, scheduler, workers, bar):
    from distributed import as_completed

    with _dask_client(scheduler, workers) as (client, where):
        remote_model, remote_table = client.scatter([model, table], broadcast=True)
        futures = [client.submit(_psa_chunk, remote_model, remote_table, seed, a, b - a, pure=False)
                   for a, b in spans]
        if bar is not None:
            for future in as_completed(futures):
                bar.update(len(future.result()[0]))
        parts = client.gather(futures)  # in submission order, so draws stay in order
    return parts, where
