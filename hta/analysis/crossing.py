"""PFS/OS crossing counted in every batch a run evaluates (base case, one-way, PSA, Sobol).

A partitioned-survival engine caps an earlier curve (PFS) at the later one (OS) where it rises
above it, and records the uncapped excess per sample (:class:`hta.engine.psm.Crossing` in
``Cohort.report["crossing"]``). This module evaluates each batch of a run in chunks and sums
those records into one table, so the cap is reported, not applied in silence:

* a model offering ``crossing(batch, threshold)`` (:class:`hta.protocol.HasCrossing`, e.g. the
  flagship, which computes its curves without the accounting) is asked directly;
* otherwise the batch is evaluated and the reports the outcomes carry
  (:class:`hta.engine.outcomes.StrategyOutcome` ``.report``) are summarised;
* a model with neither (a state-transition model: OS follows from PFS) gives no rows.

Units: gaps are survival proportions; ``time`` is years since the model's start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.analysis.evaluate import map_chunks, resolve_workers
from hta.engine.outcomes import Outcomes
from hta.engine.psm import crossing_summary
from hta.errors import HtaError
from hta.protocol import capabilities

__all__ = ["COLUMNS", "batch_crossing", "combine", "run_crossing"]

#: Columns of a crossing table (one row per batch, strategy and earlier curve).
COLUMNS = ["batch", "strategy", "earlier", "later", "draws", "threshold", "n_over", "share_over", "largest_gap",
           "sample", "time_index", "time"]


def _one_chunk(model, batch, threshold: float, caps, times) -> pd.DataFrame:
    if caps.crossing:
        return model.crossing(batch, threshold)
    out = model.evaluate(batch)
    if not isinstance(out, Outcomes):
        return crossing_summary({}, threshold)
    return crossing_summary({s: out[s].report for s in out.strategies}, threshold, times=times)


def combine(parts: list, offsets: list) -> pd.DataFrame:
    """One crossing table from the tables of consecutive chunks of one batch (``offsets``: the
    first row of each chunk): draws and counts add up, the largest gap is the largest of the
    chunks' (its ``sample`` counted from the start of the batch)."""
    frames = [p.assign(sample=p["sample"] + off) for p, off in zip(parts, offsets) if len(p)]
    if not frames:
        return crossing_summary({})
    whole = pd.concat(frames, ignore_index=True)
    rows = []
    for _, g in whole.groupby(["strategy", "earlier", "later"], sort=False):
        worst = g.loc[g["largest_gap"].idxmax()]
        draws, n_over = int(g["draws"].sum()), int(g["n_over"].sum())
        rows.append({**worst.to_dict(), "draws": draws, "n_over": n_over, "share_over": n_over / draws})
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "batch"])


def batch_crossing(model, batch, threshold: float = 0.01, chunk_size: int = 2000, times=None,
                   workers: int | None = None) -> pd.DataFrame:
    """Crossing of ``model``'s partitioned-survival curves over every row of ``batch``, evaluated
    in chunks of ``chunk_size`` rows on ``workers`` threads (default every core; memory stays
    bounded; the result depends on neither).
    Columns as :func:`hta.engine.psm.crossing_summary`; no rows for a model without partitioned
    curves. ``times``: the model's time points in years, ``(T+1,)``, for the time of the largest
    gap of a model without ``crossing()`` (e.g. ``model.grid.times``; NaN without)."""
    if not (np.isfinite(threshold) and threshold >= 0):
        raise HtaError(f"crossing threshold: expected a survival proportion >= 0; found {threshold!r}")
    caps = capabilities(model)
    n = int(batch.n)
    if n <= chunk_size:
        return _one_chunk(model, batch, threshold, caps, times)
    offsets = list(range(0, n, chunk_size))
    parts = map_chunks(lambda a, b: _one_chunk(model, batch.take(slice(a, b)), threshold, caps, times),
                       [(a, min(a + chunk_size, n)) for a in offsets], resolve_workers(None, workers))
    return combine(parts, offsets)


def run_crossing(model, batches: dict, threshold: float = 0.01, chunk_size: int = 2000, times=None,
                 workers: int | None = None) -> pd.DataFrame:
    """The crossing table of every batch in ``batches`` ({name: Batch}), a ``batch`` column first
    (each batch's chunks on ``workers`` threads, as :func:`batch_crossing`)."""
    frames = [batch_crossing(model, b, threshold, chunk_size, times, workers).assign(batch=name)
              for name, b in batches.items()]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]
