"""Global sensitivity analysis with SALib: Sobol indices and Morris screening.

Both methods sample the unit hypercube of ``model.parameters.salib_problem()`` (one column per
stochastic dimension, ``ParameterTable.unit_columns``) and map each design point through
``ParameterTable.from_unit``, i.e. through each distribution's inverse CDF. So a beta stays a
beta and a gamma a gamma: the indices describe the PSA's own input distributions.

Correlated blocks (multivariate normal, Dirichlet) enter as independent uniforms that the block's
joint transform turns into correlated values (Cholesky factor / normalised gammas). Indices of a
single column of a block therefore describe an *underlying independent factor* (e.g. the first
Cholesky component), not the named parameter; read such blocks through group indices.
``groups="blocks"`` reports one index per block (every other parameter alone), ``groups="table"``
one per table group, or pass a mapping ``unit column -> group``.

The analysed output is a scalar per design point: by default incremental net monetary benefit
``INMB = wtp * dQALY - dCost`` of ``strategy`` (default: the first non-comparator strategy) vs the
comparator (first strategy); ``outcome="inc_cost"`` or ``"inc_qaly"`` analyse the increments.
Designs are evaluated in chunks (``chunk_size``; by default sized from memory) with one model call per
chunk, on every core by default (``workers``; see :mod:`hta.analysis.evaluate`).

:func:`sobol_function` and :func:`morris_function` analyse any vectorised callable instead of a
model: ``f(X)`` with ``X`` of shape ``(N, D)`` returning ``(N,)``, or ``f(columns)`` with a dict
of named ``(N,)`` arrays, over parameters given by bounds (uniform) or by distributions (any
object with a ``ppf``, e.g. :mod:`hta.params.distributions` or a frozen ``scipy.stats`` distribution).
No strategies, costs or willingness to pay are involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hta.analysis.dsa import _check_wtp, _increments, _pairs, wtp_list
from hta.analysis.evaluate import evaluate_batch, map_chunks, model_parameters, resolve_workers
from hta.errors import HtaError
from hta.params import Batch

__all__ = ["sobol", "morris", "sobol_design", "saltelli_design", "model_output", "sobol_function", "morris_function"]

_OUTCOMES = ("inmb", "inc_cost", "inc_qaly")
# Sobol points may sit exactly on 0 or 1, which the inverse CDF of an unbounded distribution maps
# to an infinite value; points are clipped into the open interval by this margin.
_EDGE = 1e-12


def _problem(table, groups) -> dict:
    problem = table.salib_problem(use_groups=(groups == "table"))
    if problem["num_vars"] == 0:
        raise HtaError("global sensitivity analysis: the model has no stochastic parameters")
    if groups is None:
        problem.pop("groups")
    elif isinstance(groups, Mapping):
        unknown = [k for k in groups if k not in problem["names"]]
        if unknown:
            raise HtaError(f"groups: expected names of stochastic parameters ({', '.join(problem['names'])}); "
                           f"found {unknown[0]!r}")
        problem["groups"] = [str(groups.get(n, n)) for n in problem["names"]]
    elif groups not in ("blocks", "table"):
        raise HtaError(f"groups: expected None, 'blocks', 'table' or a mapping name -> group; found {groups!r}")
    if "groups" in problem and len(set(problem["groups"])) < 2:
        raise HtaError("groups: SALib needs at least two groups; found one")
    return problem


def model_output(model, u: np.ndarray, wtp: float, outcome: str = "inmb", strategy: str | None = None,
                 comparator: str | None = None, chunk_size: int | None = None, effect: str = "qalys",
                 scheduler: Any = None, workers: int | None = None) -> np.ndarray:
    """The analysed scalar output ``(n,)`` for a unit-hypercube design ``u`` ``(n, D)``.

    The design is evaluated in chunks (:func:`hta.analysis.evaluate.evaluate`): ``chunk_size=None`` sizes
    them from memory, ``workers`` threads evaluate them (default every core; ``workers=1`` one
    after another) or ``scheduler`` runs them on Dask; the output is the same bit for bit.
    """
    return _design_outcomes(model, u, wtp, outcome, strategy, comparator, chunk_size, effect, scheduler, workers)[0]


def _design_outcomes(model, u, wtp, outcome, strategy, comparator, chunk_size, effect, scheduler, workers):
    """``(y, BatchOutcome)``: :func:`model_output` and the design's totals and crossing records."""
    if outcome not in _OUTCOMES:
        raise HtaError(f"outcome: expected one of {', '.join(_OUTCOMES)}; found {outcome!r}")
    if effect not in ("qalys", "lys"):
        raise HtaError(f"effect: expected one of qalys, lys; found {effect!r}")
    table = model_parameters(model)
    pair = _pairs(model, strategy, comparator)[0]
    batch = _from_unit(table, np.clip(u, _EDGE, 1.0 - _EDGE), 1 if scheduler is not None else workers)
    totals = evaluate_batch(model, batch, chunk_size=chunk_size, scheduler=scheduler, workers=workers)
    costs, effects = totals.costs, (totals.qalys if effect == "qalys" else totals.lys)
    dc, de, _, inmb = _increments(costs, effects, [pair], wtp)
    y = {"inmb": inmb, "inc_cost": dc, "inc_qaly": de}[outcome][:, 0]
    if not np.all(np.isfinite(y)):
        raise HtaError(f"global sensitivity analysis: the model gives non-finite {outcome} for "
                       f"{np.count_nonzero(~np.isfinite(y))} design point(s)")
    return y, totals


def _from_unit(table, u: np.ndarray, workers: int | None):
    """``table.from_unit(u)``, its rows cut into one part per worker thread (the inverse CDFs,
    e.g. ``betaincinv``, release the GIL). Each row's values depend on that row only, so the
    batch is the same bit for bit (``tests/test_gsa.py``)."""
    w = resolve_workers(None, workers)
    if w <= 1 or u.shape[0] < 4096:
        return table.from_unit(u)
    cuts = np.linspace(0, u.shape[0], w + 1).astype(int)
    parts = map_chunks(lambda a, b: table.from_unit(u[a:b]), list(zip(cuts[:-1].tolist(), cuts[1:].tolist())), w)
    return Batch({name: np.concatenate([p[name] for p in parts]) for name in parts[0].names}, n=u.shape[0])


def saltelli_design(problem: dict, n_base: int, calc_second_order: bool = False, seed: Any = 1) -> np.ndarray:
    """Saltelli's design for ``problem`` (a SALib problem), ``(n_base * (Dg + 2), D)`` rows
    (``n_base * (2 Dg + 2)`` with second order; ``Dg`` = number of groups, or of columns).

    The same points in the same order as ``SALib.sample.sobol.sample(problem, n_base,
    calc_second_order=..., scramble=True, seed=seed)``, which :func:`SALib.analyze.sobol.analyze`
    reads: for each base point ``i`` the row of matrix A, the ``Dg`` rows of A with group ``k``'s
    columns taken from B (and, with second order, the ``Dg`` rows of B with group ``k``'s columns
    from A), then the row of B; A and B are the two halves of one scrambled Sobol' point in
    ``2 D`` dimensions (``scipy.stats.qmc.Sobol``, seeded as SALib seeds it). SALib fills the
    design element by element in Python (about 0.9 s for 1,024 points in 39 dimensions); here it
    is a few array copies (``tests/test_gsa.py`` checks equality with SALib bit for bit).
    """
    from SALib.util import compute_groups_matrix, scale_samples
    from scipy.stats import qmc

    d = int(problem["num_vars"])
    groups = problem.get("groups")
    base = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random(int(n_base))
    a, b = base[:, :d], base[:, d:]
    if groups:
        _, group_names = compute_groups_matrix(groups)
        swap = np.array([[g == col for col in groups] for g in group_names])        # (Dg, D)
    else:
        swap = np.eye(d, dtype=bool)
    blocks = [a[:, None, :], np.where(swap[None], b[:, None, :], a[:, None, :])]    # A, then A with B's group k
    if calc_second_order:
        blocks.append(np.where(swap[None], a[:, None, :], b[:, None, :]))           # B with A's group k
    blocks.append(b[:, None, :])
    design = np.concatenate(blocks, axis=1).reshape(-1, d)
    return scale_samples(design, problem)


def sobol_design(model, n_base: int = 1024, seed: Any = 1, calc_second_order: bool = False,
                 groups: Any = None) -> tuple[dict, np.ndarray]:
    """The SALib problem and the Saltelli design on the unit hypercube (scrambled Sobol',
    :func:`saltelli_design`)."""
    n_base = int(n_base)
    if n_base < 2 or n_base & (n_base - 1):
        raise HtaError(f"Sobol base sample size n_base: expected a power of 2 (e.g. 1024); found {n_base}")
    problem = _problem(model_parameters(model), groups)
    u = saltelli_design(problem, n_base, calc_second_order, seed)
    return problem, u


def sobol(model, n_base: int = 1024, wtp: Any = None, outcome: str = "inmb", seed: Any = 1,
          calc_second_order: bool = False, groups: Any = None, strategy: str | None = None,
          comparator: str | None = None, chunk_size: int | None = None, num_resamples: int = 100,
          conf_level: float = 0.95, effect: str = "qalys", scheduler: Any = None,
          workers: int | None = None) -> pd.DataFrame:
    """Sobol first-order (S1) and total (ST) indices of ``outcome`` at ``wtp``.

    Saltelli design of ``n_base * (D + 2)`` points (``n_base * (2D + 2)`` with second order;
    D = number of columns or groups): :func:`saltelli_design`, the points of ``SALib.sample.sobol``
    (scrambled, ``seed``), analysed
    with ``SALib.analyze.sobol`` (bootstrap CIs at ``conf_level``, ``num_resamples``).
    ``wtp`` defaults to the model's first WTP. Returns one row per unit column (or group),
    sorted by ST: ``factor``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (conf = CI half-width),
    plus attributes ``frame.attrs`` with ``n_evaluations``, ``wtp``, ``outcome`` and, with
    second order, ``S2`` (a DataFrame).
    """
    return sobol_run(model, n_base, wtp, outcome, seed, calc_second_order, groups, strategy, comparator,
                     chunk_size, num_resamples, conf_level, effect, scheduler, workers)[0]


def sobol_run(model, n_base: int = 1024, wtp: Any = None, outcome: str = "inmb", seed: Any = 1,
              calc_second_order: bool = False, groups: Any = None, strategy: str | None = None,
              comparator: str | None = None, chunk_size: int | None = None, num_resamples: int = 100,
              conf_level: float = 0.95, effect: str = "qalys", scheduler: Any = None,
              workers: int | None = None):
    """``(frame, totals)``: :func:`sobol`'s table and the design's per-point totals and crossing
    records (:class:`hta.analysis.evaluate.BatchOutcome`), for analyses that count something
    in the same evaluations (the crossing report)."""
    from SALib.analyze import sobol as sobol_analyze

    k = wtp_list(wtp, model)[0][1] if wtp is None else _check_wtp(wtp)
    problem, u = sobol_design(model, n_base, seed, calc_second_order, groups)
    y, totals = _design_outcomes(model, u, k, outcome, strategy, comparator, chunk_size, effect, scheduler, workers)
    if np.ptp(y) == 0:
        raise HtaError(f"Sobol analysis: {outcome} does not vary over the design; nothing to apportion")
    res = sobol_analyze.analyze(problem, y, calc_second_order=calc_second_order, num_resamples=num_resamples,
                                conf_level=conf_level, seed=seed)
    frame = _sobol_frame(problem, res, calc_second_order)
    frame.attrs.update(n_evaluations=int(u.shape[0]), wtp=k, outcome=outcome, n_base=int(n_base),
                       variance=float(np.var(y)))
    return frame, totals


def _sobol_frame(problem: dict, res: Any, calc_second_order: bool) -> pd.DataFrame:
    factors = list(dict.fromkeys(problem["groups"])) if "groups" in problem else list(problem["names"])
    frame = pd.DataFrame({"factor": factors, "S1": res["S1"], "S1_conf": res["S1_conf"],
                          "ST": res["ST"], "ST_conf": res["ST_conf"]})
    frame = frame.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    if calc_second_order:
        frame.attrs["S2"] = pd.DataFrame(res["S2"], index=factors, columns=factors)
    return frame


def morris(model, num_levels: int = 4, trajectories: int = 50, wtp: Any = None, seed: Any = 1,
           outcome: str = "inmb", groups: Any = None, strategy: str | None = None,
           comparator: str | None = None, chunk_size: int | None = None, num_resamples: int = 100,
           effect: str = "qalys", scheduler: Any = None, workers: int | None = None) -> pd.DataFrame:
    """Morris elementary-effects screening of ``outcome`` at ``wtp``.

    ``trajectories`` trajectories of ``D + 1`` points on a ``num_levels`` grid
    (``SALib.sample.morris``); grid levels ``0 .. 1`` are mapped linearly into
    ``[0.025, 0.975]`` before the inverse CDFs, so no point falls on an infinite tail. Elementary
    effects are per unit step of the *design* coordinate (the whole [0, 1] range, i.e. 95% of the
    probability mass), in the outcome's units (HK$ for INMB). Returns ``factor``, ``mu_star``,
    ``mu_star_conf``, ``mu``, ``sigma``, sorted by ``mu_star``.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    k = wtp_list(wtp, model)[0][1] if wtp is None else _check_wtp(wtp)
    if int(num_levels) < 2 or int(num_levels) % 2:
        raise HtaError(f"Morris num_levels: expected an even number >= 2; found {num_levels}")
    if int(trajectories) < 2:
        raise HtaError(f"Morris trajectories: expected at least 2; found {trajectories}")
    problem = _problem(model_parameters(model), groups)
    x = morris_sample.sample(problem, int(trajectories), num_levels=int(num_levels), seed=seed)
    y = model_output(model, 0.025 + 0.95 * x, k, outcome, strategy, comparator, chunk_size, effect,
                     scheduler, workers)
    res = morris_analyze.analyze(problem, x, y, num_resamples=num_resamples, num_levels=int(num_levels), seed=seed)
    frame = pd.DataFrame({"factor": [str(n) for n in res["names"]], "mu_star": res["mu_star"],
                          "mu_star_conf": res["mu_star_conf"], "mu": res["mu"], "sigma": res["sigma"]})
    frame = frame.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs.update(n_evaluations=int(x.shape[0]), wtp=k, outcome=outcome)
    return frame


# ---------------------------------------------------------------------------------------------
# Any vectorised function of named parameters

_CALLS = ("array", "dict")


class _Factor:
    """One input of a function: a uniform range or a distribution's inverse CDF."""

    def __init__(self, name: str, spec: Any):
        self.name = name
        self.bounds: tuple[float, float] | None = None
        self.dist = None
        if hasattr(spec, "ppf"):
            if getattr(spec, "dim", 1) != 1:
                raise HtaError(f"parameter '{name}': expected a scalar distribution; found one of "
                               f"dimension {spec.dim}")
            self.dist = spec
            return
        try:
            low, high = (float(v) for v in spec)
        except (TypeError, ValueError):
            raise HtaError(f"parameter '{name}': expected bounds (low, high) or a distribution with a ppf; "
                           f"found {spec!r}") from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise HtaError(f"parameter '{name}': expected finite bounds with low < high; found ({low}, {high})")
        self.bounds = (low, high)

    def values(self, u: np.ndarray, tail: float) -> np.ndarray:
        """Values for design coordinates ``u`` in [0, 1]; distributions see [tail, 1 - tail]."""
        if self.bounds is not None:
            low, high = self.bounds
            return low + u * (high - low)
        q = tail + (1.0 - 2.0 * tail) * u
        return np.asarray(self.dist.ppf(q), dtype=float).reshape(-1)


def _function_problem(parameters: Any, groups: Any) -> tuple[dict, list[_Factor]]:
    if not isinstance(parameters, Mapping) or not parameters:
        raise HtaError("parameters: expected a non-empty mapping name -> (low, high) or distribution; "
                       f"found {type(parameters).__name__}")
    factors = [_Factor(str(n), spec) for n, spec in parameters.items()]
    names = [f.name for f in factors]
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    if groups is not None:
        if not isinstance(groups, Mapping):
            raise HtaError(f"groups: expected None or a mapping name -> group; found {groups!r}")
        unknown = [k for k in groups if k not in names]
        if unknown:
            raise HtaError(f"groups: expected parameter names ({', '.join(names)}); found {unknown[0]!r}")
        problem["groups"] = [str(groups.get(n, n)) for n in names]
        if len(set(problem["groups"])) < 2:
            raise HtaError("groups: SALib needs at least two groups; found one")
    return problem, factors


def _function_output(func, factors: list[_Factor], u: np.ndarray, tail: float, call: str,
                     chunk_size: int | None) -> np.ndarray:
    if call not in _CALLS:
        raise HtaError(f"call: expected 'array' (f(X), X of shape (N, D)) or 'dict' (f of named arrays); "
                       f"found {call!r}")
    x = np.column_stack([f.values(u[:, j], tail) for j, f in enumerate(factors)])
    n = x.shape[0]
    step = n if not chunk_size else max(1, int(chunk_size))
    parts = []
    for start in range(0, n, step):
        block = x[start:start + step]
        arg = block if call == "array" else {f.name: block[:, j] for j, f in enumerate(factors)}
        y = np.asarray(func(arg), dtype=float)
        if y.shape not in ((block.shape[0],), (block.shape[0], 1)):
            raise HtaError(f"function output: expected shape ({block.shape[0]},) for {block.shape[0]} "
                           f"parameter sets; found shape {y.shape}")
        parts.append(y.reshape(-1))
    y = np.concatenate(parts)
    if not np.all(np.isfinite(y)):
        raise HtaError(f"function output: expected finite values; found {np.count_nonzero(~np.isfinite(y))} "
                       "non-finite")
    return y


def sobol_function(func, parameters: Mapping[str, Any], n_base: int = 1024, *, call: str = "array",
                   seed: Any = 1, calc_second_order: bool = False, groups: Mapping[str, str] | None = None,
                   num_resamples: int = 100, conf_level: float = 0.95,
                   chunk_size: int | None = None) -> pd.DataFrame:
    """Sobol first-order (S1) and total (ST) indices of any vectorised function.

    ``parameters`` maps each input name (in column order) to bounds ``(low, high)`` (a uniform
    input) or to a scalar distribution with a ``ppf`` (``hta.params.distributions`` or frozen
    ``scipy.stats``). ``func`` is called with ``X`` of shape ``(N, D)`` (``call="array"``) or
    with a dict ``name -> (N,)`` (``call="dict"``) and must return ``(N,)`` values; ``chunk_size``
    limits ``N`` per call (default: the whole design in one call). Design: Saltelli's scheme of
    ``n_base * (D + 2)`` points (``n_base * (2D + 2)`` with second order) on a scrambled Sobol'
    sequence (:func:`saltelli_design`: the points of ``SALib.sample.sobol``, ``seed``); indices and bootstrap CI half-widths from
    ``SALib.analyze.sobol``. Distribution inputs see the design clipped to [1e-12, 1 - 1e-12]
    so unbounded tails stay finite. ``groups`` maps names to group labels (one index per group).

    Returns one row per input (or group), sorted by ST: ``factor``, ``S1``, ``S1_conf``, ``ST``,
    ``ST_conf``; ``frame.attrs`` holds ``n_evaluations``, ``n_base``, ``variance`` (of the
    output over the design) and, with second order, ``S2``.
    """
    from SALib.analyze import sobol as sobol_analyze

    n_base = int(n_base)
    if n_base < 2 or n_base & (n_base - 1):
        raise HtaError(f"Sobol base sample size n_base: expected a power of 2 (e.g. 1024); found {n_base}")
    problem, factors = _function_problem(parameters, groups)
    u = saltelli_design(problem, n_base, calc_second_order, seed)
    y = _function_output(func, factors, u, _EDGE, call, chunk_size)
    if np.ptp(y) == 0:
        raise HtaError("Sobol analysis: the function output does not vary over the design; nothing to apportion")
    res = sobol_analyze.analyze(problem, y, calc_second_order=calc_second_order, num_resamples=num_resamples,
                                conf_level=conf_level, seed=seed)
    frame = _sobol_frame(problem, res, calc_second_order)
    frame.attrs.update(n_evaluations=int(u.shape[0]), n_base=n_base, variance=float(np.var(y)))
    return frame


def morris_function(func, parameters: Mapping[str, Any], trajectories: int = 50, num_levels: int = 4, *,
                    call: str = "array", seed: Any = 1, groups: Mapping[str, str] | None = None,
                    num_resamples: int = 100, tail: float = 0.025,
                    chunk_size: int | None = None) -> pd.DataFrame:
    """Morris elementary-effects screening of any vectorised function.

    ``parameters``, ``func``, ``call``, ``groups`` and ``chunk_size`` as in :func:`sobol_function`.
    ``trajectories`` trajectories of ``D + 1`` points on a ``num_levels`` grid over the design
    coordinate u in [0, 1] (``SALib.sample.morris``). A bounds input takes ``low + u (high - low)``
    (the whole range); a distribution input takes ``ppf(tail + (1 - 2 tail) u)`` (default the
    central 95% of its mass, so no point falls on an infinite tail). Elementary effects are per
    unit step of u, i.e. the change in output per *whole* range of a bounds input, in the
    output's units. Returns ``factor``, ``mu_star``, ``mu_star_conf``, ``mu``, ``sigma``, sorted
    by ``mu_star``; ``frame.attrs["n_evaluations"]``.
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    if int(num_levels) < 2 or int(num_levels) % 2:
        raise HtaError(f"Morris num_levels: expected an even number >= 2; found {num_levels}")
    if int(trajectories) < 2:
        raise HtaError(f"Morris trajectories: expected at least 2; found {trajectories}")
    if not 0.0 < float(tail) < 0.5:
        raise HtaError(f"Morris tail: expected a probability in (0, 0.5); found {tail}")
    problem, factors = _function_problem(parameters, groups)
    x = morris_sample.sample(problem, int(trajectories), num_levels=int(num_levels), seed=seed)
    y = _function_output(func, factors, x, float(tail), call, chunk_size)
    res = morris_analyze.analyze(problem, x, y, num_resamples=num_resamples, num_levels=int(num_levels), seed=seed)
    frame = pd.DataFrame({"factor": [str(n) for n in res["names"]], "mu_star": res["mu_star"],
                          "mu_star_conf": res["mu_star_conf"], "mu": res["mu"], "sigma": res["sigma"]})
    frame = frame.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["n_evaluations"] = int(x.shape[0])
    return frame
