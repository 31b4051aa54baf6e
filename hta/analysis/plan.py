"""The run plan: typed analysis requests, how they execute, and :func:`analyse`.

A scenario script asks for analyses as small typed objects::

    analyse(model, OneWay(), Psa(draws=5000, evppi=True), Threshold("c_eqcel_price", upper=20e6),
            name="base_case", execution=Execution(seed=1, workers=2))

Each request is a frozen dataclass (an unknown option is a ``TypeError`` naming it; a bad value
an :class:`HtaError`) with ``key`` (its name in ``Results.analyses``) and ``run(state)``, which
computes and returns its typed result (:mod:`hta.analysis.requests`). Execution settings (seed,
workers, Dask scheduler, progress) are given once, in :class:`Execution`, and every analysis
uses them. Presentation (sheets, figures, console text) is :mod:`hta.report`'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from hta.analysis.results import Results, base_case
from hta.errors import HtaError
from hta.protocol import capabilities

__all__ = ["Analysis", "Execution", "RunState", "analyse"]


@dataclass(frozen=True)
class Execution:
    """How analyses run: ``seed`` (default: the settings' seed, else 1), ``workers`` (local
    worker processes; None = in-process), ``scheduler`` (an existing Dask cluster),
    ``progress`` (progress bars on a terminal) and ``on_step`` (None, or a callable
    ``on_step(event, key, index, total, seconds)`` that :func:`analyse` calls with ``"start"``
    before and ``"done"`` after the base case (key ``"base case"``, index 0) and each analysis
    (index 1..total), ``seconds`` being the step's wall time). Never changes a result."""

    seed: int | None = None
    workers: int | None = None
    scheduler: Any = None
    progress: bool = False
    on_step: Any = field(default=None, compare=False)


@dataclass
class RunState:
    """What an analysis sees while it runs: the model, its alternatives, the WTPs, the seed and
    execution settings, and the results of the analyses that ran before it."""

    model: Any
    alternatives: dict
    wtp: list
    seed: Any
    execution: Execution
    results: Results
    planned: tuple = ()
    pending: list = field(default_factory=list)

    def earlier(self, key: str):
        """The result of an earlier analysis of the plan, or None."""
        return self.results.analyses.get(key)

    def in_background(self, fn, label: str):
        """``fn(workers)`` computed beside the later analyses, for a field of this analysis's result
        that nothing later in the plan reads (the report only): a :class:`hta.analysis.background.Pending`
        that :func:`analyse` replaces by its value once every analysis has run. ``workers`` is the
        execution's. Where no helper process can be forked (one worker, a Dask scheduler, not
        Linux, another thread running), ``fn`` runs here at once and its value is returned as is.
        The value is the same either way."""
        from hta.analysis import background

        workers = self.execution.workers
        if self.execution.scheduler is not None:
            return fn(workers)
        job = background.start(lambda: fn(workers), workers=workers, label=label)
        if not job.in_helper:
            return job.result()
        self.pending.append(job)
        return job


class Analysis(Protocol):
    """A request of the plan: ``key`` names its result; ``run(state)`` returns it."""

    key: str

    def run(self, state: RunState) -> Any: ...


def analyse(model, *analyses: Analysis, name: str, title: str = "", alternatives: dict | None = None,
            execution: Execution | None = None) -> Results:
    """Run the base case and each requested analysis of ``model``, in the order given.

    Parameters
    ----------
    model : a model following :class:`hta.protocol.Model`
    *analyses : requests from :mod:`hta.analysis.requests` (``OneWay()``, ``Psa(...)``, ...)
    name, title : file stem and human title of the results
    alternatives : {label: model}, structural alternatives reported beside the base case; the
        threshold curve and the verification checks run on them too
    execution : :class:`Execution` (seed, workers, scheduler, progress)
    """
    t0 = time.perf_counter()
    execution = execution or Execution()
    capabilities(model)  # the required protocol, checked once with a message naming what is missing
    for alt in (alternatives or {}).values():
        capabilities(alt)
    wtp = list(model.settings.wtp)
    if not wtp:
        raise HtaError("settings: expected at least one WTP (wtp_1); found none")
    settings_seed = getattr(model.settings, "seed", None)
    seed = execution.seed if execution.seed is not None else (settings_seed if settings_seed is not None else 1)
    keys = [a.key for a in analyses]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise HtaError(f"analyse: expected each analysis once; found {', '.join(duplicated)} more than once")
    for a in analyses:
        if not callable(getattr(a, "run", None)):
            raise HtaError(f"analyse: expected analysis requests such as Psa(...) or OneWay(); found {a!r}")
    step = execution.on_step if callable(execution.on_step) else (lambda *args: None)
    total = len(analyses)
    step("start", "base case", 0, total, 0.0)
    t_step = time.perf_counter()
    results = base_case(model, name=name, title=title, wtp=wtp, alternatives=alternatives)
    step("done", "base case", 0, total, time.perf_counter() - t_step)
    state = RunState(model=model, alternatives=dict(alternatives or {}), wtp=wtp, seed=seed, execution=execution,
                     results=results, planned=tuple(keys))
    try:
        for i, a in enumerate(analyses, start=1):
            step("start", a.key, i, total, 0.0)
            t_step = time.perf_counter()
            results.analyses[a.key] = a.run(state)
            step("done", a.key, i, total, time.perf_counter() - t_step)
        t_step = time.perf_counter()
        _fill_pending(results, state.pending)
        if state.pending:
            step("done", "background", total, total, time.perf_counter() - t_step)
    except BaseException as err:
        _settle_after_error(state.pending, err)
        raise
    results.run_info.update({"seed": seed, "elapsed_seconds": time.perf_counter() - t0})
    return results


def _fill_pending(results: Results, pending: list) -> None:
    """Replace every :class:`hta.analysis.background.Pending` field of the analyses' results by its
    value, waiting for the helper processes in the order they started; the first that failed
    raises its error, as the analysis that started it would have when run in this process."""
    from hta.analysis.background import Pending

    for job in pending:
        job.result()
    for result in results.analyses.values():
        for name, value in list(getattr(result, "__dict__", {}).items()):
            if isinstance(value, Pending):
                setattr(result, name, value.result())


def _settle_after_error(pending: list, err: BaseException) -> None:
    """After ``err`` in a later analysis: an error of background work started earlier is the one a
    run in this process would have met first, so it is raised instead (waiting for that work);
    Ctrl-C (or any exception that is not an ``Exception``) ends the helpers at once."""
    if not isinstance(err, Exception):
        for job in pending:
            job.cancel()
        return
    try:
        for job in pending:
            job.result()
    except BaseException as earlier:
        for job in pending:
            job.cancel()
        raise earlier from None
