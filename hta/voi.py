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
from scipy import linalg, optimize

from hta.errors import HtaError

__all__ = ["EvppiFitError", "EvppiResult", "evpi", "evppi", "evppi_table"]

_METHODS = ("auto", "gam", "gp")
_MAX_GAM_PARAMETERS = 4
# Default basis dimension per margin, as the R package voi's default te(..., bs="cr"): 5 per
# margin (mgcv's te() default) for 1-3 parameters, 4 per margin for 4 parameters.
_DEFAULT_BASIS_SIZE = {1: 5, 2: 5, 3: 5, 4: 4}
_LOG_LAMBDA_BOUNDS = (-20.0, 20.0)
# Below this reciprocal condition number of the penalised normal matrix the Cholesky solve is
# replaced by the SVD of the augmented design (see _PenalisedProblem).
_MIN_RCOND = 1e-10
# Relative floor of the eigenvalues of the GP correlation matrix kept in the regression basis.
_GP_EIGEN_FLOOR = 1e-10
# The GP is skipped when a linear regression leaves less than this share of the INB's variance.
_GP_LINEAR_TOLERANCE = 1e-10


class EvppiFitError(HtaError):
    """The regression for one parameter group cannot be estimated from these draws.

    Raised for a problem of the data rather than of the call: more basis functions than draws,
    or Gaussian-process hyperparameters that do not converge. :func:`evppi_table` reports it in
    the group's row and goes on.
    """


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
    from hta.psa import evpi as _evpi  # one implementation of EVPI in the project

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
        fits = [_regress(x, y, method, k=k, gp_n=gp_n, rng=rng) for y in incremental.T]
        fitted = np.column_stack([np.zeros(values.shape[0])] + [f.fitted for f in fits])
        value = _evppi_from_fitted(fitted)
        if not return_details:
            return value
        se = _standard_error(fits, se_draws, rng) if se_draws > 0 else None
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
            :func:`hta.runner.default_workers`; ``workers=1`` one group after another). Each
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

    from hta.runner import _resolve_workers, map_chunks

    total = evpi(nb)
    n_workers = _resolve_workers(None, workers)

    def fit(label, group):
        try:
            value, note = evppi(nb, inputs, group, method, **options), ""
        except (EvppiFitError, np.linalg.LinAlgError) as error:
            # One group that cannot be estimated (too few draws for its basis, say) is reported
            # in its row; the other groups and the run go on.
            value, note = np.nan, f"not estimated: {error}"
        return value, note

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
        return "gam" if n_parameters <= _MAX_GAM_PARAMETERS else "gp"
    return method


def _evppi_from_fitted(fitted: np.ndarray) -> float:
    """mean_i max_d g_d - max_d mean_i g_d for fitted values ``(n, n_strategies)``.

    Non-negative by Jensen's inequality; the clip only removes floating-point round-off.
    """
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)


# --------------------------------------------------------------------------------------------
# Penalised least squares shared by both smoothers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """One fitted regression: fitted values plus what the standard error needs."""

    fitted: np.ndarray  # (n,)
    edf: float
    smoothing: dict
    design: np.ndarray  # (n, p) model matrix
    coef: np.ndarray  # (p,)
    cov_factor: np.ndarray  # (r, p) factor F with posterior cov = F.T @ F (r = rank)


def _penalty_root(penalty: np.ndarray) -> np.ndarray:
    """A matrix E (rank x p) with E'E = penalty, from its eigen-decomposition.

    Eigenvalues below 1e-12 of the largest are round-off in a positive semi-definite penalty
    (its null space: the unpenalised functions) and are dropped.
    """
    w, v = np.linalg.eigh(penalty)
    keep = w > w[-1] * 1e-12 if w[-1] > 0 else np.zeros(w.shape, dtype=bool)
    return (v[:, keep] * np.sqrt(w[keep])).T


class _PenalisedProblem:
    """min ||y - X b||^2 + sum_j lambda_j b' S_j b, reduced once to p x p by a QR of X.

    With X = Q R and f = Q'y, ||y - X b||^2 = (||y||^2 - ||f||^2) + ||f - R b||^2, so each
    trial of the smoothing parameters works on p-row matrices instead of n-row ones.

    Two solvers, one answer; neither can fail on a finite problem.

    * Fast: the coefficients are written once in an orthonormal basis Z whose first columns
      span the null space of the summed penalty (the unpenalised functions) and the rest its
      range; the penalised normal matrix A = Z'R'RZ + sum_j lambda_j Z'S_jZ is scaled to unit
      diagonal and factorised by Cholesky. In this basis a huge lambda only inflates a block of
      the diagonal, which the scaling removes, so the factorisation stays accurate however large
      lambda is (van der Sluis). It is used when LAPACK's estimate of the scaled matrix's
      reciprocal condition number (1-norm) is at least ``_MIN_RCOND``, so its relative error
      stays below about 1e-6 on any BLAS kernel.
    * Stable, otherwise (a rank-deficient or near-singular design: a parameter that is almost a
      function of others, tensor-product cells without draws): the augmented least-squares
      problem min ||[f; 0] - [R; E] b||^2, with E'E = sum_j lambda_j S_j, by a singular value
      decomposition [R; E] = U D V' (the route of Wood 2011, JRSS B 73:3-36, section 3). A is
      never formed or factorised, its condition number (the square of [R; E]'s) never enters,
      and singular values below p * eps of the largest are dropped, which gives the
      minimum-norm coefficients. With U1 the rows of U that belong to R, the effective degrees
      of freedom trace(U1 U1') lie in [0, rank] by construction.
    """

    def __init__(self, design: np.ndarray, penalties: list[np.ndarray], y: np.ndarray):
        self.design = design
        self.n, self.p = design.shape
        q, r = np.linalg.qr(design, mode="reduced")
        self.f = q.T @ y
        self.rss_outside = max(float(y @ y - self.f @ self.f), 0.0)
        scale = np.linalg.norm(r.T @ r)
        # Penalties rescaled to the size of X'X so that log-lambda near 0 is a moderate fit.
        penalties = [s * (scale / np.linalg.norm(s)) if np.any(s) else s for s in penalties]
        self.penalties = penalties
        # Work in an orthonormal basis Z = [null space, range space] of the summed penalty: the
        # penalised block then separates from the unpenalised one, and a diagonal scaling of
        # A makes Cholesky accurate even when a large lambda dwarfs the data (van der Sluis).
        if penalties:
            _, self.basis = np.linalg.eigh(sum(s / np.linalg.norm(s) if np.any(s) else s for s in penalties))
        else:
            self.basis = np.eye(self.p)
        self.r = r @ self.basis
        self.gram = self.r.T @ self.r
        self.rhs = self.r.T @ self.f
        self.rotated = [self.basis.T @ s @ self.basis for s in penalties]
        self._roots = None  # square roots of the penalties, made when the stable solver is needed

    def solve(self, log_lambda: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray]:
        """Coefficients, residual sum of squares, effective df and a posterior factor.

        The factor F (r x p) has F'F = A^+ (the pseudo-inverse of the penalised normal matrix).
        """
        lambdas = np.exp(np.atleast_1d(log_lambda))
        a = self.gram.copy()
        for lam, s in zip(lambdas, self.rotated):
            a += lam * s
        diag2 = np.diag(a)
        if np.all(diag2 > 0):
            diag = np.sqrt(diag2)
            scaled = a / np.outer(diag, diag)
            chol, info = linalg.lapack.dpotrf(scaled, lower=1, clean=1)
            if info == 0:
                rcond, _ = linalg.lapack.dpocon(chol, np.abs(scaled).sum(axis=0).max(), uplo="L")
                if rcond >= _MIN_RCOND:
                    # A = D C D with C = L L': A^-1 = D^-1 L'^-1 L^-1 D^-1; in the original basis
                    # the coefficients are Z A^-1 R_z'f and F = L^-1 D^-1 Z'.
                    inv_l = linalg.solve_triangular(chol, np.diag(1.0 / diag), lower=True)
                    coef_z = inv_l.T @ (inv_l @ self.rhs)
                    resid = self.f - self.r @ coef_z
                    edf = float(np.sum((inv_l @ self.r.T) ** 2))
                    factor = inv_l @ self.basis.T
                    return self.basis @ coef_z, self.rss_outside + float(resid @ resid), edf, factor
        return self._solve_stable(lambdas)

    def _solve_stable(self, lambdas: np.ndarray):
        if self._roots is None:
            self._roots = [_penalty_root(s) for s in self.rotated]
        blocks = [self.r] + [np.sqrt(lam) * e for lam, e in zip(lambdas, self._roots)]
        u, d, vt = linalg.svd(np.vstack(blocks), full_matrices=False, lapack_driver="gesvd")
        keep = d > d[0] * self.p * np.finfo(float).eps if d.size and d[0] > 0 else d > 0
        u1, d, vt = u[: self.r.shape[0], keep], d[keep], vt[keep]
        uf = u1.T @ self.f
        coef_z = vt.T @ (uf / d)
        resid = self.f - u1 @ uf
        factor = (vt / d[:, None]) @ self.basis.T
        return self.basis @ coef_z, self.rss_outside + float(resid @ resid), float(np.sum(u1**2)), factor

    def gcv(self, log_lambda: np.ndarray) -> float:
        _, rss, edf, _ = self.solve(np.atleast_1d(log_lambda))
        denom = max(self.n - edf, 1e-8)
        return self.n * rss / denom**2

    def fit(self, log_lambda: np.ndarray, smoothing: dict) -> _Fit:
        coef, rss, edf, factor = self.solve(log_lambda)
        sigma2 = rss / max(self.n - edf, 1.0)
        # Posterior covariance sigma^2 A^+ = F'F with F = sigma * factor.
        return _Fit(
            fitted=self.design @ coef,
            edf=edf,
            smoothing=smoothing,
            design=self.design,
            coef=coef,
            cov_factor=np.sqrt(sigma2) * factor,
        )


def _minimise_gcv(problem: _PenalisedProblem) -> np.ndarray:
    """Smoothing parameters (log scale) minimising GCV: grid on a common value, then refine."""
    n_penalties = len(problem.penalties)
    if n_penalties == 0:
        return np.zeros(0)
    lo, hi = _LOG_LAMBDA_BOUNDS
    grid = np.linspace(lo, hi, 21)
    scores = [problem.gcv(np.full(n_penalties, g)) for g in grid]
    best = int(np.argmin(scores))
    if n_penalties == 1:
        step = grid[1] - grid[0]
        res = optimize.minimize_scalar(
            lambda g: problem.gcv(np.array([g])),
            bounds=(max(lo, grid[best] - step), min(hi, grid[best] + step)),
            method="bounded",
            options={"xatol": 1e-3},
        )
        return np.array([res.x if res.fun <= scores[best] else grid[best]])
    res = optimize.minimize(
        problem.gcv,
        np.full(n_penalties, grid[best]),
        method="L-BFGS-B",
        bounds=[_LOG_LAMBDA_BOUNDS] * n_penalties,
        options={"eps": 1e-4},
    )
    return res.x if res.fun <= scores[best] else np.full(n_penalties, grid[best])


# --------------------------------------------------------------------------------------------
# GAM: cubic regression splines and their tensor products
# --------------------------------------------------------------------------------------------


def _cubic_regression_spline(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Natural cubic spline basis parameterised by its values at k knots (Wood 2017, 5.3.1).

    Knots are evenly spaced quantiles of the unique values of x. Returns the model matrix
    ``(n, k)`` and the penalty ``(k, k)`` giving the integrated squared second derivative.
    """
    knots = np.quantile(np.unique(x), np.linspace(0.0, 1.0, k))
    h = np.diff(knots)
    if k == 2:  # a straight line: no curvature to penalise
        ap = (x - knots[0]) / h[0]
        return np.column_stack([1.0 - ap, ap]), np.zeros((2, 2))
    # Second derivatives at the knots are F @ beta, zero at both ends (natural spline):
    # B delta_inner = D beta.
    d = np.zeros((k - 2, k))
    b = np.zeros((k - 2, k - 2))
    for i in range(k - 2):
        d[i, i], d[i, i + 1], d[i, i + 2] = 1 / h[i], -1 / h[i] - 1 / h[i + 1], 1 / h[i + 1]
        b[i, i] = (h[i] + h[i + 1]) / 3
        if i + 1 < k - 2:
            b[i, i + 1] = b[i + 1, i] = h[i + 1] / 6
    f_inner = np.linalg.solve(b, d)
    f = np.vstack([np.zeros(k), f_inner, np.zeros(k)])
    penalty = d.T @ f_inner

    j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, k - 2)
    hj = h[j]
    right = knots[j + 1] - x
    left = x - knots[j]
    c_minus = (right**3 / hj - hj * right) / 6
    c_plus = (left**3 / hj - hj * left) / 6
    rows = np.arange(x.shape[0])
    basis = c_minus[:, None] * f[j] + c_plus[:, None] * f[j + 1]
    basis[rows, j] += right / hj
    basis[rows, j + 1] += left / hj
    return basis, penalty


def _tensor_spline(x: np.ndarray, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Tensor product of cubic regression splines, one penalty per margin (as mgcv's te())."""
    margins = []
    for column in x.T:
        size = min(k, np.unique(column).size)
        margins.append(_cubic_regression_spline(column, size))
    design = margins[0][0]
    for basis, _ in margins[1:]:
        design = (design[:, :, None] * basis[:, None, :]).reshape(x.shape[0], -1)
    sizes = [basis.shape[1] for basis, _ in margins]
    penalties = []
    for j, (_, penalty) in enumerate(margins):
        s = np.ones((1, 1))
        for i, size in enumerate(sizes):
            s = np.kron(s, penalty if i == j else np.eye(size))
        if np.any(penalty):
            penalties.append(s)
    return design, penalties


def _fit_gam(x: np.ndarray, y: np.ndarray, k: int | None) -> _Fit:
    d = x.shape[1]
    if d > _MAX_GAM_PARAMETERS:
        raise HtaError(
            f"EVPPI method 'gam': expected at most {_MAX_GAM_PARAMETERS} parameters; "
            f"found {d} (use method='gp')"
        )
    size = _DEFAULT_BASIS_SIZE[d] if k is None else int(k)
    if size < 2:
        raise HtaError(f"EVPPI basis dimension k: expected an integer >= 2; found {k}")
    design, penalties = _tensor_spline(x, size)
    if design.shape[1] >= x.shape[0]:
        raise EvppiFitError(
            f"EVPPI with {d} parameter(s): expected more draws than the {design.shape[1]} "
            f"basis functions; found {x.shape[0]} draws (use a smaller k or more draws)"
        )
    problem = _PenalisedProblem(design, penalties, y)
    log_lambda = _minimise_gcv(problem)
    return problem.fit(log_lambda, {"log_lambda": log_lambda.tolist(), "basis_size": size})


# --------------------------------------------------------------------------------------------
# Gaussian process
# --------------------------------------------------------------------------------------------


def _sq_distances(a: np.ndarray, b: np.ndarray, length_scales: np.ndarray) -> np.ndarray:
    """sum_p ((a_p - b_p) / delta_p)^2 for every pair of rows, ``(len(a), len(b))``."""
    sa = a / length_scales
    sb = b / length_scales
    dist = (sa**2).sum(1)[:, None] + (sb**2).sum(1)[None, :] - 2.0 * sa @ sb.T
    return np.maximum(dist, 0.0)


def _gp_negative_log_posterior(theta: np.ndarray, diffs2: np.ndarray, y: np.ndarray, h: np.ndarray):
    """Minus the log marginal posterior of (log delta, log nu) and its gradient.

    Model: y = H beta + g + e, Cov = sigma^2 (A + nu I), A_ij = exp(-sum_p (dx_p / delta_p)^2),
    flat prior on beta and 1/sigma^2 prior on sigma^2 integrated out (Strong et al. 2014):
    log p = -1/2 log|K| - 1/2 log|H'K^-1 H| - (m - q)/2 log(y'P y), K = A + nu I,
    P = K^-1 - K^-1 H (H'K^-1 H)^-1 H'K^-1. ``diffs2`` holds the squared differences
    (d, m, m) of the inputs, per dimension. Gradient: d log p / d theta =
    -1/2 tr(P dK) + (m - q)/2 y'P dK P y / y'P y.
    """
    d, m, _ = diffs2.shape
    q = h.shape[1]
    inv_delta2 = np.exp(-2.0 * theta[:d])
    nu = np.exp(theta[d])
    a = np.exp(-np.tensordot(inv_delta2, diffs2, axes=1))
    kmat = a + nu * np.eye(m)
    chol, info = linalg.lapack.dpotrf(kmat, lower=1)
    if info != 0:
        return np.inf, np.zeros_like(theta)
    kinv, info = linalg.lapack.dpotri(chol, lower=1)
    if info != 0:
        return np.inf, np.zeros_like(theta)
    kinv = np.tril(kinv) + np.tril(kinv, -1).T
    kinv_h = kinv @ h
    hkh = h.T @ kinv_h
    try:
        hkh_chol = linalg.cholesky(hkh, lower=True)
    except linalg.LinAlgError:
        return np.inf, np.zeros_like(theta)
    p = kinv - kinv_h @ linalg.cho_solve((hkh_chol, True), kinv_h.T)
    py = p @ y
    ypy = float(y @ py)
    if not ypy > 0:
        return np.inf, np.zeros_like(theta)
    logp = (
        -np.sum(np.log(np.diag(chol)))
        - np.sum(np.log(np.diag(hkh_chol)))
        - 0.5 * (m - q) * np.log(ypy)
    )
    grad = np.empty_like(theta)
    pa = p * a
    outer = np.outer(py, py) * a
    for j in range(d):
        # dK/dlog(delta_j) = 2 A * diffs2_j / delta_j^2
        dk_scale = 2.0 * inv_delta2[j]
        grad[j] = dk_scale * (
            -0.5 * np.sum(pa * diffs2[j]) + 0.5 * (m - q) * np.sum(outer * diffs2[j]) / ypy
        )
    grad[d] = nu * (-0.5 * np.trace(p) + 0.5 * (m - q) * float(py @ py) / ypy)
    return -logp, -grad


def _fit_gp(x: np.ndarray, y: np.ndarray, gp_n: int, rng: np.random.Generator) -> _Fit:
    n, d = x.shape
    if d == 0:
        raise HtaError("EVPPI method 'gp': expected at least one varying parameter; found none")
    m = min(int(gp_n), n)
    if m < d + 3:
        raise HtaError(f"EVPPI gp_n: expected at least {d + 3} draws for the GP; found {m}")
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    subset = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    zs, ys = z[subset], y[subset]
    h_sub = np.column_stack([np.ones(m), zs])
    y_scale = float(np.std(ys)) or 1.0

    linear = _PenalisedProblem(np.column_stack([np.ones(n), z]), [], y)
    centred = float(np.sum((y - y.mean()) ** 2))
    if linear.solve(np.zeros(0))[1] <= _GP_LINEAR_TOLERANCE * centred:
        # The linear mean already reproduces the INB: the GP residual process has nothing left
        # to model (its marginal posterior is degenerate), so the fit is the linear regression.
        return linear.fit(np.zeros(0), {"length_scales": [], "nugget": 0.0, "basis_n": 0})

    diffs2 = np.stack([(c[:, None] - c[None, :]) ** 2 for c in zs.T])
    # The best finite value seen over both starts is kept, not only each run's end point: near
    # the edge where K = A + nu I stops being numerically positive definite (long length-scales
    # and a tiny nugget, i.e. a nearly linear INB), where that edge lies depends on the BLAS
    # kernel, and a run can end on the infeasible side.
    best = {"value": np.inf, "theta": None}

    def objective(theta):
        value, grad = _gp_negative_log_posterior(theta, diffs2, ys / y_scale, h_sub)
        if value < best["value"]:
            best.update(value=value, theta=theta.copy())
        return value, grad

    for start_delta, start_nu in ((1.0, 0.1), (3.0, 0.01)):
        theta0 = np.concatenate([np.full(d, np.log(start_delta)), [np.log(start_nu)]])
        optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(np.log(0.02), np.log(200.0))] * d + [(np.log(1e-8), np.log(1e4))],
        )
    if best["theta"] is None:
        raise EvppiFitError("EVPPI method 'gp': the Gaussian-process hyperparameters did not converge")
    delta = np.exp(best["theta"][:d])
    nu = float(np.exp(best["theta"][d]))

    # Subset of regressors: g(x) = h(x)'beta + sum_j a(x, z_j) w_j with w ~ N(0, s^2 A_mm^-1),
    # whose posterior mean is the penalised fit with penalty nu * w' A_mm w. A squared-exponential
    # A_mm is numerically singular (its eigenvalues fall to round-off), so the fit is written in
    # its eigenbasis A_mm = V L V': features a(x, Z) V L^-1/2 and coefficients u = L^1/2 V'w
    # with the ridge penalty nu * u'u. Eigen-directions below _GP_EIGEN_FLOOR of the largest
    # are dropped; each would enter the exact GP shrunk by L / (L + nu), i.e. not at all.
    a_mm = np.exp(-_sq_distances(zs, zs, delta))
    eigenvalues, eigenvectors = np.linalg.eigh(a_mm)
    keep = eigenvalues > eigenvalues[-1] * _GP_EIGEN_FLOOR
    features = np.exp(-_sq_distances(z, zs, delta)) @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))
    design = np.column_stack([np.ones(n), z, features])
    penalty = np.zeros((design.shape[1], design.shape[1]))
    penalty[d + 1 :, d + 1 :] = np.eye(features.shape[1])
    problem = _PenalisedProblem(design, [penalty], y)
    # The penalty was rescaled inside the problem; undo that to apply the estimated nu.
    scale = np.linalg.norm(problem.penalties[0]) / np.linalg.norm(penalty)
    log_lambda = np.array([np.log(nu / scale)])
    return problem.fit(
        log_lambda, {"length_scales": (delta * x.std(axis=0)).tolist(), "nugget": nu, "basis_n": m}
    )


# --------------------------------------------------------------------------------------------
# Dispatch and standard error
# --------------------------------------------------------------------------------------------


def _regress(x, y, method, *, k, gp_n, rng) -> _Fit:
    n = y.shape[0]
    if x.shape[1] == 0 or np.ptp(y) == 0:
        # Nothing varies: the conditional expectation is the overall mean.
        design = np.ones((n, 1))
        return _Fit(
            fitted=np.full(n, y.mean()),
            edf=1.0,
            smoothing={},
            design=design,
            coef=np.array([y.mean()]),
            cov_factor=np.array([[np.std(y) / np.sqrt(n)]]),
        )
    if method == "gam":
        return _fit_gam(x, y, k)
    return _fit_gp(x, y, gp_n, rng)


def _standard_error(fits: list[_Fit], n_draws: int, rng: np.random.Generator) -> float:
    """SD of EVPPI over draws of the coefficients from N(coef, U'U), in chunks of draws."""
    n = fits[0].fitted.shape[0]
    values = []
    chunk = max(1, min(n_draws, 2_000_000 // max(n * len(fits), 1)))
    done = 0
    while done < n_draws:
        b = min(chunk, n_draws - done)
        best = np.zeros((n, b))  # the reference strategy has g = 0
        means = [np.zeros(b)]
        for fit in fits:
            coef = fit.coef[:, None] + fit.cov_factor.T @ rng.standard_normal((fit.cov_factor.shape[0], b))
            g = fit.design @ coef
            best = np.maximum(best, g)
            means.append(g.mean(axis=0))
        values.append(best.mean(axis=0) - np.max(np.vstack(means), axis=0))
        done += b
    return float(np.std(np.concatenate(values), ddof=1))
