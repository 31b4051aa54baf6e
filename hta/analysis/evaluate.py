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
* in-process evaluation is the default and imports nothing from Dask: the chunks run on a pool
  of ``workers`` threads (default: every core this process may use, :func:`default_workers`;
  ``workers=1`` evaluates them one after another). numpy releases the GIL inside its array
  loops and BLAS calls, so the threads run on separate cores; BLAS itself is kept to one thread
  while they run (threadpoolctl), so the threads do not oversubscribe the cores. Chunks are
  gathered in order, so the results are bit-identical whatever the number of workers;
* ``scheduler=`` (an address such as ``"tcp://host:port"``, a ``distributed.Client`` or a
  cluster object) runs the chunks on Dask instead, the route past one machine: chunks are
  submitted as tasks (the model is pickled with cloudpickle and scattered once) and gathered
  in order, with the same results;
* the default chunk size comes from memory (:func:`auto_chunk_size`): a probe evaluation
  measures the bytes one draw needs, and chunks are sized so that one chunk's arrays stay
  under :data:`CHUNK_MEMORY_BYTES` (64 MiB), and so that every worker gets at least one chunk.

Units: costs in the model's currency, QALYs and LYs in (discounted) years, as the model reports
them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import tracemalloc
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.params import Batch

__all__ = ["evaluate", "evaluate_all", "evaluate_batch", "BatchOutcome", "crossing_records", "run_psa", "PsaResult", "FunctionModel", "model_parameters",
           "default_workers", "auto_chunk_size", "map_chunks", "CHUNK_MEMORY_BYTES"]

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


def _outcome_arrays(model, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict | None]:
    """``(costs, qalys, lys, crossing)`` of one model call: three ``(n, S)`` float arrays and the
    call's partitioned-survival crossing records (:func:`crossing_records`; None without)."""
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
    return arrays[0], arrays[1], arrays[2], crossing_records(out)


def crossing_records(out) -> dict | None:
    """``{strategy: {"crossing": {earlier curve: Crossing}}}`` of an evaluation's outcomes: the
    uncapped PFS-above-OS records the partitioned-survival engine keeps per sample
    (:class:`hta.engine.psm.Crossing`, read by :func:`hta.engine.psm.crossing_summary`), so a
    crossing report can count them in the batches a run has already evaluated instead of
    evaluating them again. None when the outcomes carry no reports (a plain-array model);
    ``{}`` when no strategy has partitioned curves (a state-transition model)."""
    results = getattr(out, "results", None)
    if not isinstance(results, dict):
        return None
    records = {}
    for strategy, outcome in results.items():
        crossing = (getattr(outcome, "report", None) or {}).get("crossing")
        if crossing:
            records[strategy] = {"crossing": dict(crossing)}
    return records


def join_crossing(parts: list) -> dict | None:
    """The crossing records of consecutive chunks of one batch as records of the whole batch
    (each sample's largest gap and its time index, in row order); None unless every chunk has
    records of the same strategies and curves."""
    from hta.engine.psm import Crossing

    if not parts or any(p is None for p in parts):
        return None
    keys = [sorted((s, e) for s, r in p.items() for e in r["crossing"]) for p in parts]
    if any(k != keys[0] for k in keys):
        return None
    if len(parts) == 1:
        return parts[0]
    joined: dict = {}
    for strategy, report in parts[0].items():
        joined[strategy] = {"crossing": {}}
        for earlier, first in report["crossing"].items():
            recs = [p[strategy]["crossing"][earlier] for p in parts]
            joined[strategy]["crossing"][earlier] = Crossing(
                first.later, np.concatenate([r.largest_gap for r in recs]),
                np.concatenate([r.time_index for r in recs]))
    return joined


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


# --------------------------------------------------------------------------------------------
# Workers, chunk sizes from memory, and the thread pool

#: Memory budget of one chunk, in bytes: a default chunk size keeps the estimated working set of
#: one chunk (its sampled batch and every array the model allocates while evaluating it) under
#: this. With W workers, W chunks are in memory at once, so the run needs about W times this
#: plus the per-draw totals it keeps.
CHUNK_MEMORY_BYTES = 64 * 2**20
# A batch of fewer rows than this is evaluated in one call (no probe, no split): splitting it
# would cost more in per-call overhead than it gains.
_MIN_SPLIT_ROWS = 256
# The memory probe evaluates this many rows, then twice as many; the difference of the two
# peaks is the memory of this many rows (fixed overhead cancels, and both sizes take the
# engines' batch paths rather than their one-row ones).
_PROBE_ROWS = 32


def default_workers() -> int:
    """Cores this process may run on: ``len(os.sched_getaffinity(0))`` (respects ``taskset``
    and container CPU sets), else ``os.cpu_count()``; at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, int(n))


def resolve_workers(scheduler, workers) -> int:
    """Worker threads for an in-process run (``default_workers()`` when ``workers`` is None)."""
    _check_workers(scheduler, workers)
    return default_workers() if workers is None else int(workers)


#: One memory probe at a time: tracemalloc is process-wide, so two threads starting and stopping
#: it at once would race (and each would count the other's arrays).
_PROBE_LOCK = threading.RLock()  # re-entrant: a model that runs a PSA inside its evaluation


def _traced_peak(fn) -> tuple[int, Any]:
    """``(peak bytes traced by tracemalloc while fn() runs, above what was traced before, fn())``.

    numpy reports every array's data to tracemalloc, so this counts the arrays of the call.
    Probes run one at a time (:data:`_PROBE_LOCK`).
    """
    with _PROBE_LOCK:
        return _traced_peak_unlocked(fn)


def _traced_peak_unlocked(fn) -> tuple[int, Any]:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - before), result


def probe(evaluate_span, rows: int = _PROBE_ROWS) -> tuple[float, list, int]:
    """Estimated bytes one row (draw) needs while its chunk is evaluated, from the first rows.

    ``evaluate_span(a, b)`` evaluates rows ``a .. b-1`` (sampling included for a PSA). With
    ``m = rows`` (default 32) it evaluates rows ``0 .. m-1`` untraced (one-time work such as lazy
    imports and tables lands there), then rows ``m .. 3m-1`` under tracemalloc, whose peak ``p``
    (above what was allocated before) gives the estimate ``p / (2m)``. Why this is safe: if the
    model's peak is the largest of several phases, each ``a_i + b_i * rows`` (fixed arrays plus
    per-row arrays, all >= 0), then ``p >= a_i + 2m b_i`` for every phase, so a chunk of
    ``c >= 2m`` rows peaks at ``max_i (a_i + b_i c) <= c p / (2m)``, even for a phase that only
    dominates at sizes larger than the probe; fixed arrays make the estimate conservative, never
    short. One traced evaluation only: tracing slows Python allocations about fivefold (10 ms
    instead of 2 ms for the HIV model's 64 rows).

    Returns ``(bytes per row, [the two results], 3m)``: the probe's evaluations are the run's
    first chunks (rows ``0 .. 3m-1``), so no work is lost.
    """
    m = max(1, int(rows))
    head = [evaluate_span(0, m)]
    peak, second = _traced_peak(lambda: evaluate_span(m, 3 * m))
    return float(max(peak / (2 * m), 8.0)), head + [second], 3 * m


def bytes_per_row(evaluate_rows, rows: int = _PROBE_ROWS) -> float:
    """:func:`probe` for a function ``evaluate_rows(m)`` of the number of rows only."""
    return probe(lambda a, b: evaluate_rows(b - a), rows)[0]


def auto_chunk_size(n: int, row_bytes: float, workers: int = 1, budget: int | None = None) -> int:
    """Rows per chunk for ``n`` rows of ``row_bytes`` each on ``workers`` threads.

    The largest size whose chunk stays under ``budget`` bytes (default
    :data:`CHUNK_MEMORY_BYTES`), with the number of chunks rounded up to a multiple of
    ``workers`` (every worker gets the same number of chunks, so none idles at the end) and the
    rows spread evenly over the chunks. The results do not depend on it: chunk ``k`` of a PSA
    evaluates draws of one seeded PSA, and the engines evaluate every row alike whatever the
    batch it is in.
    """
    budget = CHUNK_MEMORY_BYTES if budget is None else int(budget)
    by_memory = max(1, int(budget // max(float(row_bytes), 1.0)))
    chunks = -(-n // min(by_memory, n))
    chunks = -(-chunks // workers) * workers
    chunks = min(chunks, n)
    return max(1, -(-n // chunks))


_CONTROLLER = None
_CONTROLLER_LOCK = threading.Lock()


def _single_threaded_blas():
    """BLAS limited to one thread while chunks run (threadpoolctl), so that W worker threads use
    W cores and not W times BLAS's own threads. A no-op without threadpoolctl."""
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    with _CONTROLLER_LOCK:
        if _CONTROLLER is None:
            _CONTROLLER = ThreadpoolController()  # scans the loaded libraries once (about 1 ms)
        controller = _CONTROLLER
    return controller.limit(limits=1, user_api="blas")


def map_chunks(fn, spans, workers: int, on_done=None) -> list:
    """``[fn(a, b) for a, b in spans]`` on up to ``workers`` threads, results in ``spans`` order.

    ``workers=1`` (or a single span) calls ``fn`` in this thread, one span after the other.
    Otherwise the spans run on a thread pool with BLAS limited to one thread; the first failing
    span (in ``spans`` order) raises its exception and the spans not yet started are cancelled.
    ``on_done(rows)`` is called in this thread for each span, in order (a progress bar).
    """
    spans = list(spans)
    if workers <= 1 or len(spans) <= 1:
        out = []
        with _single_threaded_blas():
            for a, b in spans:
                out.append(fn(a, b))
                if on_done is not None:
                    on_done(b - a)
        return out
    with _single_threaded_blas(), ThreadPoolExecutor(max_workers=min(workers, len(spans)),
                                                     thread_name_prefix="hta-chunk") as pool:
        futures = [pool.submit(fn, a, b) for a, b in spans]
        try:
            out = []
            for f, (a, b) in zip(futures, spans):
                out.append(f.result())  # in order: the first failing span raises, after the earlier ones
                if on_done is not None:
                    on_done(b - a)
            return out
        finally:
            for f in futures:
                f.cancel()


# Bytes per row measured for a model: id(model) -> (weak reference to it, kind, bytes), so a model
# is probed once per process and kind of evaluation ("psa": sampling included; "batch").
_ROW_BYTES: dict = {}


def _cached_row_bytes(model, kind: str) -> float | None:
    entry = _ROW_BYTES.get((id(model), kind))
    if entry is not None and entry[0]() is model:
        return entry[1]
    return None


def _remember_row_bytes(model, kind: str, row_bytes: float) -> None:
    try:
        ref = weakref.ref(model)
    except TypeError:  # a model that cannot be weakly referenced is probed every time
        return
    _ROW_BYTES[(id(model), kind)] = (ref, row_bytes)


def _plan(n: int, chunk_size, workers_for, evaluate_span, model=None, kind: str = "batch"):
    """Chunks of ``n`` rows: ``(head results, spans still to evaluate, chunk size, bytes per row)``.

    With ``chunk_size=None`` and at least 256 rows, the chunk size comes from the model's bytes
    per row: measured by :func:`probe` the first time (its evaluations of the first rows are
    kept as the first chunks), remembered for ``model`` after that; :func:`auto_chunk_size`
    cuts the rest for ``workers_for()`` workers. Fewer rows are one chunk. Otherwise chunks of
    ``chunk_size``.
    """
    if chunk_size is not None:
        size = _check_chunk_size(chunk_size, n)
        return [], _chunks(n, size), size, None
    if n < _MIN_SPLIT_ROWS or n < 4:
        return [], [(0, n)], n, None
    row_bytes = _cached_row_bytes(model, kind) if model is not None else None
    head, done = [], 0
    if row_bytes is None:
        row_bytes, head, done = probe(evaluate_span, rows=min(_PROBE_ROWS, n // 3))
        if model is not None:
            _remember_row_bytes(model, kind, row_bytes)
    size = auto_chunk_size(n - done, row_bytes, workers_for())
    return head, [(a + done, b + done) for a, b in _chunks(n - done, size)], size, row_bytes


@dataclass
class BatchOutcome:
    """Per-row totals of a batch: ``costs``, ``qalys``, ``lys`` ``(n, S)`` and the crossing
    records of its partitioned-survival curves (:func:`crossing_records` of the whole batch, or
    None when the model's outcomes carry none)."""

    costs: np.ndarray
    qalys: np.ndarray
    lys: np.ndarray
    crossing: dict | None = None


def evaluate_all(model, batch: Batch, chunk_size: int | None = None, scheduler: Any = None,
                 workers: int | None = None):
    """``(costs, qalys, lys)``, each ``(n, S)``: :func:`evaluate_batch` without the crossing records."""
    out = evaluate_batch(model, batch, chunk_size, scheduler, workers)
    return out.costs, out.qalys, out.lys


def evaluate_batch(model, batch: Batch, chunk_size: int | None = None, scheduler: Any = None,
                   workers: int | None = None) -> BatchOutcome:
    """The totals of every row of ``batch`` (:class:`BatchOutcome`), evaluated in chunks of rows.

    ``chunk_size=None`` chooses the chunk size from memory (:func:`probe`, whose evaluations of
    the first rows are kept, and :func:`auto_chunk_size`; a batch of fewer than 256 rows is one
    call). The chunks run on ``workers`` threads (default :func:`default_workers`; ``workers=1``
    one after another) or, with ``scheduler``, on Dask. Results are the same bit for bit in
    every case, since every row is evaluated the same way wherever it runs.
    """
    n = batch.n

    def span(a, b):
        return _outcome_arrays(model, batch if b - a == n else batch.take(slice(a, b)))

    if scheduler is not None:
        _check_workers(scheduler, workers)
        with _dask_client(scheduler, None) as (client, _where):
            head, spans, _, _ = _plan(n, chunk_size, lambda: _dask_workers(client), span, model, "batch")
            remote_model = client.scatter(model, broadcast=True)
            futures = [client.submit(_outcome_arrays, remote_model, batch.take(slice(a, b)), pure=False)
                       for a, b in spans]
            parts = head + client.gather(futures)
    else:
        w = resolve_workers(scheduler, workers)
        head, spans, _, _ = _plan(n, chunk_size, lambda: w, span, model, "batch")
        parts = head + map_chunks(span, spans, w)
    costs, qalys, lys = (np.concatenate([p[i] for p in parts]) if len(parts) > 1 else parts[0][i] for i in range(3))
    check_finite_outcomes(costs, qalys, lys, tuple(getattr(model, "strategies", ())),
                          lambda i: {name: float(np.broadcast_to(batch[name], (batch.n,))[i]) for name in batch.names})
    return BatchOutcome(costs, qalys, lys, join_crossing([p[3] for p in parts]))


def evaluate(model, batch: Batch, chunk_size: int | None = None, effect: str = "qalys", scheduler: Any = None,
             workers: int | None = None):
    """Costs and effects ``(n, S)`` of every row of ``batch``, evaluated in chunks.

    ``effect`` is ``"qalys"`` (default) or ``"lys"``. Columns follow ``model.strategies``.
    ``chunk_size``, ``scheduler`` and ``workers`` as in :func:`evaluate_all`.
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
    crossing: dict | None = None   # the draws' crossing records (evaluate.crossing_records), if the model keeps them

    def effects(self, effect: str = "qalys") -> np.ndarray:
        if effect not in _EFFECTS:
            raise HtaError(f"effect: expected one of {', '.join(_EFFECTS)}; found {effect!r}")
        return self.qalys if effect == "qalys" else self.lys


def _psa_chunk(model, table, seed, start: int, size: int):
    """Evaluate draws ``start .. start+size-1``; returns totals and the sampled columns."""
    batch = table.sample(size, seed, start=start)
    costs, qalys, lys, crossing = _outcome_arrays(model, batch)
    columns = table.unit_columns
    drawn = np.stack([batch[c] for c in columns], axis=1) if columns else np.empty((size, 0))
    return costs, qalys, lys, drawn, crossing


def _progress(total: int, enabled: bool):
    if not (enabled and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="draw", desc="PSA", file=sys.stderr)


def run_psa(
    model,
    n: int,
    seed: Any,
    chunk_size: int | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool = False,
) -> PsaResult:
    """Run a PSA of ``n`` draws of ``model.parameters`` with ``seed``.

    Chunk ``k`` evaluates draws ``k*chunk_size ..`` of the same seeded PSA, so results are
    bit-identical for any ``chunk_size``, any number of ``workers`` and for in-process or Dask
    execution. ``chunk_size=None`` (default) sizes chunks from memory (:func:`auto_chunk_size`:
    the bytes per draw, measured by :func:`probe` on the model's first run in the process
    (draws 32-95 traced), then remembered; each chunk stays under :data:`CHUNK_MEMORY_BYTES`,
    and every worker gets a chunk). ``workers`` threads evaluate the
    chunks in this process (default :func:`default_workers`, every core this process may use;
    ``workers=1`` one chunk after the other). ``scheduler`` (an address such as
    ``"tcp://10.0.0.5:8786"``, a ``distributed.Client`` or a cluster object) runs the chunks on
    an existing Dask cluster instead; a client passed in is left open. A tqdm progress bar is
    shown only when ``progress=True`` and stderr is a terminal.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise HtaError(f"PSA draws n must be a whole number >= 1; found {n!r}")
    n = int(n)
    if chunk_size is not None:
        _check_chunk_size(chunk_size, n)
    _check_workers(scheduler, workers)
    table = model_parameters(model)
    t0 = time.perf_counter()

    def span(a, b):
        return _psa_chunk(model, table, seed, a, b - a)

    bar = _progress(n, progress)
    try:
        if scheduler is None:
            w = resolve_workers(scheduler, workers)
            head, spans, size, row_bytes = _plan(n, chunk_size, lambda: w, span, model, "psa")
            if bar is not None and head:
                bar.update(sum(len(h[0]) for h in head))
            parts = head + map_chunks(span, spans, w, on_done=None if bar is None else bar.update)
            probed = bool(head)
            where = "in-process" if w == 1 else f"in-process, {w} worker threads"
        else:
            parts, where, size, row_bytes, probed = _run_on_dask(model, table, seed, n, chunk_size, span, scheduler, bar)
    finally:
        if bar is not None:
            bar.close()
    costs, qalys, lys, drawn = (np.concatenate([p[i] for p in parts]) for i in range(4))
    elapsed = time.perf_counter() - t0
    inputs = pd.DataFrame(drawn, columns=list(table.unit_columns))
    strategies = tuple(getattr(model, "strategies", range(costs.shape[1])))
    check_finite_outcomes(costs, qalys, lys, strategies, lambda i: inputs.iloc[i].to_dict(), what="PSA draw")
    meta = {"execution": where, "chunks": len(parts)}
    if row_bytes is not None:
        meta["bytes_per_draw"] = row_bytes
        meta["chunk_size_from"] = "memory probe" if probed else "memory (remembered for this model)"
    return PsaResult(costs, qalys, lys, inputs, strategies, seed, n, size, elapsed, meta=meta,
                     crossing=join_crossing([p[4] for p in parts]))


def _check_workers(scheduler, workers) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise HtaError(f"workers must be a whole number >= 1; found {workers!r}")
    if scheduler is not None and workers is not None:
        raise HtaError("give either scheduler (a Dask cluster) or workers (threads in this process); found both")


@contextlib.contextmanager
def _dask_client(scheduler, _workers=None):
    """A Dask client for ``scheduler``: an address, a ``distributed.Client`` or a cluster object."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the environment
        raise HtaError(
            "workers/scheduler: Dask runs need the optional extra 'distributed'; install it with "
            "pip install \"hta[distributed]\" (found the package 'distributed' missing)"
        ) from None
    own_client = True
    if isinstance(scheduler, Client):
        client, own_client = scheduler, False
        where = f"dask client {scheduler.scheduler.address}"
    elif not isinstance(scheduler, str):
        client = Client(scheduler)  # a cluster object (LocalCluster, ...) owned by the caller
        where = f"dask cluster {type(scheduler).__name__}"
    else:
        try:
            client = Client(scheduler)
        except OSError as exc:
            raise HtaError(f"Dask scheduler '{scheduler}': could not connect ({exc})") from None
        where = f"dask scheduler {scheduler}"
    try:
        yield client, where
    finally:
        if own_client:
            client.close()


def _dask_workers(client) -> int:
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 - a count for chunk sizing only
        return 1


def _run_on_dask(model, table, seed, n, chunk_size, span, scheduler, bar):
    from distributed import as_completed

    with _dask_client(scheduler) as (client, where):
        head, spans, size, row_bytes = _plan(n, chunk_size, lambda: _dask_workers(client), span, model, "psa")
        remote_model, remote_table = client.scatter([model, table], broadcast=True)
        futures = [client.submit(_psa_chunk, remote_model, remote_table, seed, a, b - a, pure=False)
                   for a, b in spans]
        if bar is not None:
            for future in as_completed(futures):
                bar.update(len(future.result()[0]))
        parts = head + client.gather(futures)  # in submission order, so draws stay in order
    return parts, where, size, row_bytes, bool(head)
