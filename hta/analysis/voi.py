"""Expected value of partial perfect information (EVPPI) by nonparametric regression.

Method of Strong, Oakley & Brennan (Med Decis Making 2014;34(3):311-326). For a group of
parameters phi, the conditional expected incremental net benefit of each strategy d against the
first strategy (the reference), g_d(phi) = E[NB_d - NB_0 | phi], is estimated by regressing the
PSA draws of NB_d - NB_0 on the PSA draws of phi. With g_0 = 0,

    EVPPI(phi) = mean_i max_d g_d(phi_i)  -  max_d mean_i g_d(phi_i).

Two smoothers estimate g:

* ``"gam"``: penalised cubic regression splines (knots at quantiles of the unique values); one
  parameter gives a univariate spline, 2-4 parameters a tensor-product spline with one
  smoothing parameter per margin; the smoothing parameters minimise the generalised
  cross-validation score (GCV), as ``mgcv::gam`` does by default.
* ``"gp"``: Gaussian-process regression with a linear mean, squared-exponential correlation
  and a nugget. The length-scales and nugget maximise the marginal likelihood (mean
  coefficients and variance integrated out) on a random subsample of the draws; the posterior
  mean at every draw then uses a subset-of-regressors approximation whose basis is the
  subsample, so the cost is O(n m^2) rather than O(n^3).

``method="auto"`` uses the GAM for up to four parameters and the GP for larger groups.

EVPPI over a willingness-to-pay grid (:func:`evppi_curve`) regresses the incremental *costs* and
*effects* of each strategy once, instead of the incremental net benefit once per WTP: the
conditional expectation is linear, E[k dE - dC | phi] = k E[dE | phi] - E[dC | phi], so
2 (S - 1) regressions per group serve every WTP (as the R package voi does for
cost-effectiveness outputs).

Net benefits are per patient, in the currency of the input; EVPPI is returned in the same unit.
The standard error reported with ``return_details=True`` is the spread of EVPPI over draws of
the regression coefficients from their approximate posterior (Strong et al. 2014, section on
the standard error); it measures regression uncertainty, not the Monte Carlo error of the PSA.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.analysis.evaluate import map_chunks, resolve_workers
from hta.analysis.psa import evpi as _evpi  # one implementation of EVPI in the project
from hta.analysis.regression import MAX_GAM_PARAMETERS, EvppiFitError, regress, standard_error
from hta.errors import HtaError

__all__ = ["EvppiFitError", "EvppiResult", "evpi", "evppi", "evppi_curve", "evppi_table"]

_METHODS = ("auto", "gam", "gp")




@dataclass(frozen=True)
class EvppiResult:
    """EVPPI of one parameter group, with the regression that produced it.

    Attributes:
        evppi: EVPPI per patient, in net-benefit units.
        se: standard error of ``evppi`` from regression-coefficient uncertainty (None if not
            computed).
        evpi: EVPI per patient from the same net-benefit draws.
        parameters: the parameter names in the group.
        method: ``"gam"`` or ``"gp"``.
        strategies: strategy names; the first is the reference.
        fitted: ``(n, n_strategies)`` fitted E[NB_d - NB_0 | parameters] at each draw; column 0
            is zero.
        edf: ``(n_strategies - 1,)`` effective degrees of freedom of each regression.
        smoothing: one dict per comparison with the chosen smoothing settings (log smoothing
            parameters for the GAM; length-scales and nugget for the GP).
    """

    evppi: float
    se: float | None
    evpi: float
    parameters: tuple[str, ...]
    method: str
    strategies: tuple[str, ...]
    fitted: np.ndarray
    edf: np.ndarray
    smoothing: tuple[dict, ...]


def _single_threaded_blas():
    """Limit BLAS to one thread while fitting, if threadpoolctl is installed.

    The matrices here are small (at most a few hundred columns); a multi-threaded OpenBLAS
    gains little on them and, on a machine whose cores are busy, its spinning threads slow
    each call down by an order of magnitude.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def evpi(nb) -> float:
    """EVPI per patient: mean over draws of the best NB minus the best mean NB.

    Args:
        nb: ``(n_draws, n_strategies)`` net benefits (array or DataFrame).
    """
    values, _ = _net_benefit_matrix(nb)
    return float(_evpi(values))


def evppi(
    nb,
    inputs,
    parameters: str | Sequence[str],
    method: str = "auto",
    *,
    return_details: bool = False,
    k: int | None = None,
    gp_n: int = 500,
    se_draws: int = 200,
    seed: int = 0,
):
    """EVPPI per patient of one parameter or a group, by regression (Strong et al. 2014).

    Args:
        nb: ``(n_draws, n_strategies)`` net benefits per patient (array or DataFrame whose
            columns are the strategies). The first strategy is the reference.
        inputs: the PSA parameter draws, a DataFrame (or mapping name -> ``(n_draws,)`` array)
            with one row per draw in the same order as ``nb``.
        parameters: one column name, or a list of names treated as a group.
        method: ``"gam"``, ``"gp"`` or ``"auto"`` (GAM for <= 4 parameters, otherwise GP).
        return_details: return an :class:`EvppiResult` instead of a float.
        k: GAM basis dimension per parameter (default 5 for 1-3 parameters, 4 for 4).
        gp_n: GP subsample size for the hyperparameters and the regression basis.
        se_draws: posterior draws of the regression coefficients for the standard error
            (only with ``return_details``; 0 skips it).
        seed: seed for the GP subsample and the standard-error draws.

    Returns:
        EVPPI as a float (net-benefit units per patient), or an :class:`EvppiResult`.
    """
    values, strategies = _net_benefit_matrix(nb)
    names = _parameter_names(parameters)
    x = _parameter_matrix(inputs, names, values.shape[0])
    method = _resolve_method(method, len(names))
    rng = np.random.default_rng(seed)

    incremental = values[:, 1:] - values[:, :1]
    x = x[:, np.ptp(x, axis=0) > 0]  # a parameter that never varies carries no information
    with _single_threaded_blas():
        fits = [regress(x, y, method, k=k, gp_n=gp_n, rng=rng) for y in incremental.T]
        fitted = np.column_stack([np.zeros(values.shape[0])] + [f.fitted for f in fits])
        value = _evppi_from_fitted(fitted)
        if not return_details:
            return value
        se = standard_error(fits, se_draws, rng) if se_draws > 0 else None
    return EvppiResult(
        evppi=value,
        se=se,
        evpi=evpi(values),
        parameters=tuple(names),
        method=method,
        strategies=strategies,
        fitted=fitted,
        edf=np.array([f.edf for f in fits]),
        smoothing=tuple(f.smoothing for f in fits),
    )


def evppi_table(
    nb,
    inputs,
    parameters: Sequence[str] | Mapping[str, str | Sequence[str]],
    method: str = "auto",
    workers: int | None = None,
    **options,
) -> pd.DataFrame:
    """EVPPI of several parameters and groups, sorted descending (for an EVPPI tornado).

    Args:
        nb, inputs, method, options: as for :func:`evppi`.
        workers: threads fitting the groups' regressions at once (default every core,
            :func:`hta.analysis.evaluate.default_workers`; ``workers=1`` one group after another). Each
            group's fit is independent of the others, so the table is the same bit for bit.
        parameters: a list whose items are single parameter names (or lists of names, named by
            joining them with "+"), or a dict ``{group name: name or list of names}``.

    Returns:
        DataFrame with columns ``name`` (parameter or group name), ``parameters`` (comma-separated
        members), ``n_parameters``, ``method``, ``evppi``, ``share_of_evpi`` (EVPPI / EVPI) and
        ``note``, sorted by ``evppi`` descending. A group whose regression cannot be estimated
        (an :class:`EvppiFitError` or a failed factorisation) gets ``evppi`` NaN, a
        ``note`` saying why, and the last place; it never stops the table.
    """
    if isinstance(parameters, Mapping):
        entries = [(str(label), _parameter_names(group)) for label, group in parameters.items()]
    elif isinstance(parameters, str):
        entries = [(parameters, [parameters])]
    else:
        entries = []
        for item in parameters:
            group = _parameter_names(item)
            entries.append(("+".join(group), group))
    if not entries:
        raise HtaError("evppi_table: expected at least one parameter or group; found none")

    total = evpi(nb)
    n_workers = resolve_workers(None, workers)

    def fit(label, group):
        try:
            value, note = evppi(nb, inputs, group, method, **options), ""
        except (EvppiFitError, np.linalg.LinAlgError) as error:
            # One group that cannot be estimated (too few draws for its basis, say) is reported
            # in its row; the other groups and the run go on.
            value, note = np.nan, f"not estimated: {error}"
        return value, note

    # In entry order. Longest first (the Gaussian processes) measured no faster on 2 cores: two
    # GP fits at once slow each other down (both stream (m, m) matrices), more than a worker
    # left alone at the end costs (docs/performance.md).
    fitted = map_chunks(lambda a, b: [fit(*entries[i]) for i in range(a, b)],
                        [(i, i + 1) for i in range(len(entries))], n_workers)
    rows = []
    for (label, group), ((value, note),) in zip(entries, fitted):
        rows.append(
            {
                "name": label,
                "parameters": ", ".join(group),
                "n_parameters": len(group),
                "method": _resolve_method(method, len(group)),
                "evppi": value,
                "share_of_evpi": value / total if total > 0 else np.nan,
                "note": note,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("evppi", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def evppi_curve(
    costs,
    effects,
    inputs,
    parameters: str | Sequence[str] | Mapping[str, str | Sequence[str]],
    wtp,
    method: str = "auto",
    *,
    k: int | None = None,
    gp_n: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """EVPPI per patient over a willingness-to-pay grid, for one or several parameter groups.

    For each group, the incremental cost ``C_d - C_0`` and the incremental effect ``E_d - E_0``
    of every strategy d against the first are each regressed once on the group's draws (same
    smoothers and options as :func:`evppi`, each regression with its own smoothing parameters
    or GP hyperparameters). By linearity of conditional expectation the fitted incremental net
    benefit at WTP ``k`` is ``k * fitted(dE) - fitted(dC)``, so every WTP of the grid is served
    by ``2 (S - 1)`` regressions per group instead of ``S - 1`` per WTP. The value at one WTP
    therefore differs from :func:`evppi` on the net benefit at that WTP only by the smoothing
    chosen (one GCV choice for the sum, two for its parts): well inside the regression's own
    standard error (tests: within 1% of the value plus 0.5% of EVPI on the voi chemotherapy
    example).

    Args:
        costs, effects: ``(n_draws, n_strategies)`` per-patient costs (currency) and effects
            (e.g. QALYs), arrays or DataFrames whose columns are the strategies; the first
            strategy is the reference.
        inputs: parameter draws (DataFrame or mapping name -> ``(n_draws,)``), rows as ``costs``.
        parameters: one name, a list of names (one group), or a mapping
            ``{label: name or list of names}`` for several groups.
        wtp: scalar or vector of WTP values (currency per unit of effect), each >= 0.
        method, k, gp_n, seed: as for :func:`evppi`.

    Returns:
        DataFrame indexed by ``wtp`` with one column per group (label; a single group is named
        by joining its parameters with "+") holding EVPPI in currency per patient, and a
        column ``evpi`` (per-patient EVPI at that WTP, from the same draws).
    """
    c_values = _outcome_matrix(costs, "costs")
    e_values = _outcome_matrix(effects, "effects")
    if c_values.shape != e_values.shape:
        raise HtaError(
            f"EVPPI curve: expected costs and effects of the same shape (n_draws, n_strategies); "
            f"found {c_values.shape} and {e_values.shape}"
        )
    k_grid = np.atleast_1d(np.asarray(wtp, dtype=float))
    if k_grid.ndim != 1 or k_grid.size == 0 or not np.all(np.isfinite(k_grid)) or np.any(k_grid < 0):
        raise HtaError(f"EVPPI curve wtp: expected finite values >= 0 (a number or a vector); found {wtp!r}")
    if isinstance(parameters, Mapping):
        groups = [(str(label), _parameter_names(group)) for label, group in parameters.items()]
    else:
        names = _parameter_names(parameters)
        groups = [("+".join(names), names)]
    if not groups:
        raise HtaError("EVPPI curve parameters: expected at least one parameter or group; found none")

    n = c_values.shape[0]
    d_cost = c_values[:, 1:] - c_values[:, :1]
    d_effect = e_values[:, 1:] - e_values[:, :1]
    columns = {}
    for label, names in groups:
        x = _parameter_matrix(inputs, names, n)
        x = x[:, np.ptp(x, axis=0) > 0]
        group_method = _resolve_method(method, len(names))
        rng = np.random.default_rng(seed)
        with _single_threaded_blas():
            fit_e = np.column_stack([regress(x, y, group_method, k=k, gp_n=gp_n, rng=rng).fitted for y in d_effect.T])
            fit_c = np.column_stack([regress(x, y, group_method, k=k, gp_n=gp_n, rng=rng).fitted for y in d_cost.T])
        columns[label] = _evppi_over_wtp(fit_e, fit_c, k_grid)
    columns["evpi"] = _evppi_over_wtp(d_effect, d_cost, k_grid)
    return pd.DataFrame(columns, index=pd.Index(k_grid, name="wtp"))


def _outcome_matrix(values, what: str) -> np.ndarray:
    """Costs or effects ``(n_draws, n_strategies)``, checked, with ``what`` in every message."""
    names = [str(c) for c in values.columns] if isinstance(values, pd.DataFrame) else None
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] < 2 or array.shape[0] < 2:
        raise HtaError(f"EVPPI curve {what}: expected an array (n_draws >= 2, n_strategies >= 2); "
                       f"found shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        label = names[col] if names else f"column {col}"
        raise HtaError(f"EVPPI curve {what} of strategy '{label}': expected finite numbers; "
                       f"found {array[row, col]} at draw {row}")
    return array


def _evppi_over_wtp(g_effect: np.ndarray, g_cost: np.ndarray, k_grid: np.ndarray) -> np.ndarray:
    """mean_i max_d g_d(k) - max_d mean_i g_d(k), g_d(k) = k g_effect_d - g_cost_d, g_0 = 0.

    With the draws themselves in place of fitted values this is the EVPI. WTPs go in chunks
    of at most about 4 million values.
    """
    out = np.empty(k_grid.size)
    step = max(1, 4_000_000 // max(1, g_effect.size))
    for start in range(0, k_grid.size, step):
        kk = k_grid[start : start + step, None, None]
        g = kk * g_effect[None] - g_cost[None]  # (w, n, S - 1)
        best = np.maximum(g.max(axis=2), 0.0).mean(axis=1)
        value = best - np.maximum(g.mean(axis=1).max(axis=1), 0.0)
        out[start : start + step] = np.maximum(value, 0.0)
    return out


# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------


def _net_benefit_matrix(nb) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(nb, pd.DataFrame):
        strategies = tuple(str(c) for c in nb.columns)
        values = nb.to_numpy(dtype=float)
    else:
        values = np.asarray(nb, dtype=float)
        strategies = tuple(f"strategy {j}" for j in range(values.shape[-1])) if values.ndim else ()
    if values.ndim != 2 or values.shape[1] < 2:
        raise HtaError(
            "net benefit: expected an array (n_draws, n_strategies) with at least 2 strategies; "
            f"found shape {values.shape}"
        )
    if values.shape[0] < 2:
        raise HtaError(f"net benefit: expected at least 2 draws; found {values.shape[0]}")
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise HtaError(
            f"net benefit of strategy '{strategies[col]}': expected finite numbers; "
            f"found {values[row, col]} at draw {row}"
        )
    return values, strategies


def _parameter_names(parameters) -> list[str]:
    if isinstance(parameters, str):
        return [parameters]
    names = [str(p) for p in parameters]
    if not names:
        raise HtaError("EVPPI parameters: expected at least one parameter name; found none")
    duplicated = sorted({p for p in names if names.count(p) > 1})
    if duplicated:
        raise HtaError(f"EVPPI parameters: expected distinct names; found repeats {duplicated}")
    return names


def _parameter_matrix(inputs, names: list[str], n: int) -> np.ndarray:
    if not isinstance(inputs, (pd.DataFrame, Mapping)):
        raise HtaError(
            "EVPPI inputs: expected a DataFrame (or mapping) of parameter draws; "
            f"found {type(inputs).__name__}"
        )
    available = list(inputs.columns) if isinstance(inputs, pd.DataFrame) else list(inputs.keys())
    missing = [p for p in names if p not in available]
    if missing:
        raise HtaError(
            f"EVPPI parameter(s) {missing}: expected a column of the parameter draws; "
            f"available columns are {available}"
        )
    columns = []
    for p in names:
        column = np.asarray(inputs[p], dtype=float).reshape(-1)
        if column.shape[0] != n:
            raise HtaError(
                f"EVPPI parameter '{p}': expected {n} draws (one per net-benefit row); "
                f"found {column.shape[0]}"
            )
        if not np.all(np.isfinite(column)):
            row = int(np.flatnonzero(~np.isfinite(column))[0])
            raise HtaError(
                f"EVPPI parameter '{p}': expected finite numbers; found {column[row]} at draw {row}"
            )
        columns.append(column)
    return np.column_stack(columns)


def _resolve_method(method: str, n_parameters: int) -> str:
    if method not in _METHODS:
        raise HtaError(f"EVPPI method: expected one of {list(_METHODS)}; found '{method}'")
    if method == "auto":
        return "gam" if n_parameters <= MAX_GAM_PARAMETERS else "gp"
    return method


def _evppi_from_fitted(fitted: np.ndarray) -> float:
    """mean_i max_d g_d - max_d mean_i g_d for fitted values ``(n, n_strategies)``.

    Non-negative by Jensen's inequality; the clip only removes floating-point round-off.
    """
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)
