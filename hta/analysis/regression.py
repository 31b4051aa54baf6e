"""Nonparametric regression for the value of information: the smoothers behind EVPPI and EVSI.

Two smoothers estimate a conditional expectation E[y | x] from PSA draws (Strong, Oakley &
Brennan, Med Decis Making 2014;34:311-326; Strong et al. 2015 for EVSI):

* penalised cubic regression splines (:func:`fit_gam`): a univariate spline for one input, a
  tensor-product spline for 2-4 inputs, smoothing parameters by generalised cross-validation (as
  ``mgcv::gam`` does by default);
* Gaussian-process regression (:func:`fit_gp`) with a linear mean, squared-exponential correlation
  and a nugget, hyperparameters by marginal likelihood on a subsample.

:func:`regress` picks one; :func:`standard_error` is the spread of EVPPI over draws of the
regression coefficients. Conventions and numerical safeguards are in ``docs/voi.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from hta.errors import HtaError

#: Up to this many parameters the GAM (tensor-product spline) is used; above it the GP.
MAX_GAM_PARAMETERS = 4


class EvppiFitError(HtaError):
    """The regression for one parameter group cannot be estimated from these draws.

    Raised for a problem of the data rather than of the call: more basis functions than draws,
    or Gaussian-process hyperparameters that do not converge. :func:`evppi_table` reports it in
    the group's row and goes on.
    """

# Default basis dimension per margin, as the R package voi's default te(..., bs="cr"): 5 per
# margin (mgcv's te() default) for 1-3 parameters, 4 per margin for 4 parameters.
DEFAULT_BASIS_SIZE = {1: 5, 2: 5, 3: 5, 4: 4}
LOG_LAMBDA_BOUNDS = (-20.0, 20.0)
# Below this reciprocal condition number of the penalised normal matrix the Cholesky solve is
# replaced by the SVD of the augmented design (see PenalisedProblem).
MIN_RCOND = 1e-10
# Relative floor of the eigenvalues of the GP correlation matrix kept in the regression basis.
GP_EIGEN_FLOOR = 1e-10
# The GP is skipped when a linear regression leaves less than this share of the INB's variance.
GP_LINEAR_TOLERANCE = 1e-10


# --------------------------------------------------------------------------------------------
# Penalised least squares shared by both smoothers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """One fitted regression: fitted values plus what the standard error needs."""

    fitted: np.ndarray  # (n,)
    edf: float
    smoothing: dict
    design: np.ndarray  # (n, p) model matrix
    coef: np.ndarray  # (p,)
    cov_factor: np.ndarray  # (r, p) factor F with posterior cov = F.T @ F (r = rank)


def penalty_root(penalty: np.ndarray) -> np.ndarray:
    """A matrix E (rank x p) with E'E = penalty, from its eigen-decomposition.

    Eigenvalues below 1e-12 of the largest are round-off in a positive semi-definite penalty
    (its null space: the unpenalised functions) and are dropped.
    """
    w, v = np.linalg.eigh(penalty)
    keep = w > w[-1] * 1e-12 if w[-1] > 0 else np.zeros(w.shape, dtype=bool)
    return (v[:, keep] * np.sqrt(w[keep])).T


class PenalisedProblem:
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
      reciprocal condition number (1-norm) is at least ``MIN_RCOND``, so its relative error
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
        if self.n > self.p:
            # R and f = Q'y from one factorisation of [X y], without forming Q (the columns of X
            # are factorised as on their own; the last column of R is Q'y): half the work of Q, R.
            r_aug = np.linalg.qr(np.column_stack([design, y]), mode="r")
            r, self.f = r_aug[:self.p, :self.p], r_aug[:self.p, self.p].copy()
        else:
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

    def solve(self, log_lambda: np.ndarray, factor: bool = True) -> tuple[np.ndarray | None, float, float,
                                                                          np.ndarray | None]:
        """Coefficients, residual sum of squares, effective df and a posterior factor.

        The factor F (r x p) has F'F = A^+ (the pseudo-inverse of the penalised normal matrix).
        ``factor=False`` (the GCV search, which needs only the RSS and the df) skips the
        coefficients in the original basis and the factor, two of the solve's p x p products;
        the RSS and df are the same numbers either way.
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
                if rcond >= MIN_RCOND:
                    # A = D C D with C = L L': A^-1 = D^-1 L'^-1 L^-1 D^-1; in the original basis
                    # the coefficients are Z A^-1 R_z'f and F = L^-1 D^-1 Z'.
                    inv_l = linalg.solve_triangular(chol, np.diag(1.0 / diag), lower=True)
                    coef_z = inv_l.T @ (inv_l @ self.rhs)
                    resid = self.f - self.r @ coef_z
                    edf = float(np.sum((inv_l @ self.r.T) ** 2))
                    rss = self.rss_outside + float(resid @ resid)
                    if not factor:
                        return None, rss, edf, None
                    return self.basis @ coef_z, rss, edf, inv_l @ self.basis.T
        return self._solve_stable(lambdas, factor)

    def _solve_stable(self, lambdas: np.ndarray, factor: bool = True):
        if self._roots is None:
            self._roots = [penalty_root(s) for s in self.rotated]
        blocks = [self.r] + [np.sqrt(lam) * e for lam, e in zip(lambdas, self._roots)]
        u, d, vt = linalg.svd(np.vstack(blocks), full_matrices=False, lapack_driver="gesvd")
        keep = d > d[0] * self.p * np.finfo(float).eps if d.size and d[0] > 0 else d > 0
        u1, d, vt = u[: self.r.shape[0], keep], d[keep], vt[keep]
        uf = u1.T @ self.f
        resid = self.f - u1 @ uf
        rss, edf = self.rss_outside + float(resid @ resid), float(np.sum(u1**2))
        if not factor:
            return None, rss, edf, None
        coef_z = vt.T @ (uf / d)
        return self.basis @ coef_z, rss, edf, (vt / d[:, None]) @ self.basis.T

    def gcv(self, log_lambda: np.ndarray) -> float:
        _, rss, edf, _ = self.solve(np.atleast_1d(log_lambda), factor=False)
        denom = max(self.n - edf, 1e-8)
        return self.n * rss / denom**2

    def fit(self, log_lambda: np.ndarray, smoothing: dict) -> Fit:
        coef, rss, edf, factor = self.solve(log_lambda)
        sigma2 = rss / max(self.n - edf, 1.0)
        # Posterior covariance sigma^2 A^+ = F'F with F = sigma * factor.
        return Fit(
            fitted=self.design @ coef,
            edf=edf,
            smoothing=smoothing,
            design=self.design,
            coef=coef,
            cov_factor=np.sqrt(sigma2) * factor,
        )


def minimise_gcv(problem: PenalisedProblem) -> np.ndarray:
    """Smoothing parameters (log scale) minimising GCV: grid on a common value, then refine."""
    n_penalties = len(problem.penalties)
    if n_penalties == 0:
        return np.zeros(0)
    lo, hi = LOG_LAMBDA_BOUNDS
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
        bounds=[LOG_LAMBDA_BOUNDS] * n_penalties,
        options={"eps": 1e-4},
    )
    return res.x if res.fun <= scores[best] else np.full(n_penalties, grid[best])


# --------------------------------------------------------------------------------------------
# GAM: cubic regression splines and their tensor products
# --------------------------------------------------------------------------------------------


def cubic_regression_spline(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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


def tensor_spline(x: np.ndarray, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Tensor product of cubic regression splines, one penalty per margin (as mgcv's te())."""
    margins = []
    for column in x.T:
        size = min(k, np.unique(column).size)
        margins.append(cubic_regression_spline(column, size))
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


def fit_gam(x: np.ndarray, y: np.ndarray, k: int | None) -> Fit:
    d = x.shape[1]
    if d > MAX_GAM_PARAMETERS:
        raise HtaError(
            f"EVPPI method 'gam': expected at most {MAX_GAM_PARAMETERS} parameters; "
            f"found {d} (use method='gp')"
        )
    size = DEFAULT_BASIS_SIZE[d] if k is None else int(k)
    if size < 2:
        raise HtaError(f"EVPPI basis dimension k: expected an integer >= 2; found {k}")
    design, penalties = tensor_spline(x, size)
    if design.shape[1] >= x.shape[0]:
        raise EvppiFitError(
            f"EVPPI with {d} parameter(s): expected more draws than the {design.shape[1]} "
            f"basis functions; found {x.shape[0]} draws (use a smaller k or more draws)"
        )
    problem = PenalisedProblem(design, penalties, y)
    log_lambda = minimise_gcv(problem)
    return problem.fit(log_lambda, {"log_lambda": log_lambda.tolist(), "basis_size": size})


# --------------------------------------------------------------------------------------------
# Gaussian process
# --------------------------------------------------------------------------------------------


def sq_distances(a: np.ndarray, b: np.ndarray, length_scales: np.ndarray) -> np.ndarray:
    """sum_p ((a_p - b_p) / delta_p)^2 for every pair of rows, ``(len(a), len(b))``."""
    sa = a / length_scales
    sb = b / length_scales
    dist = (sa**2).sum(1)[:, None] + (sb**2).sum(1)[None, :] - 2.0 * sa @ sb.T
    return np.maximum(dist, 0.0)


class GpWorkspace:
    """Buffers of :func:`gp_negative_log_posterior` for one fit: ``(m, m)`` arrays reused by every
    call of the objective instead of allocated anew (about ten 2 MB arrays per call at m = 500),
    and the objective's values at the points already evaluated (L-BFGS-B's two starts can visit
    a point twice, e.g. on a bound). One workspace per fit, so per thread; never shared."""

    def __init__(self, m: int):
        self.kmat = np.empty((m, m), order="F")  # K = A + nu I, overwritten by its factor
        self.p = np.empty((m, m))
        self.weighted = np.empty((2, m, m))      # P * A and (Py)(Py)' * A, the gradient's two weightings
        self.seen: dict = {}


def gp_negative_log_posterior(theta: np.ndarray, diffs2: np.ndarray, y: np.ndarray, h: np.ndarray,
                              work: GpWorkspace | None = None):
    """Minus the log marginal posterior of (log delta, log nu) and its gradient.

    Model: y = H beta + g + e, Cov = sigma^2 (A + nu I), A_ij = exp(-sum_p (dx_p / delta_p)^2),
    flat prior on beta and 1/sigma^2 prior on sigma^2 integrated out (Strong et al. 2014):
    log p = -1/2 log|K| - 1/2 log|H'K^-1 H| - (m - q)/2 log(y'P y), K = A + nu I,
    P = K^-1 - K^-1 H (H'K^-1 H)^-1 H'K^-1. ``diffs2`` holds the squared differences
    (d, m, m) of the inputs, per dimension. Gradient: d log p / d theta =
    -1/2 tr(P dK) + (m - q)/2 y'P dK P y / y'P y.

    ``work`` (a :class:`GpWorkspace` for this ``diffs2``, ``y`` and ``h``) reuses buffers and
    remembers the points evaluated; the values are the same bit for bit with or without it (the
    same operations in the same order, written into preallocated arrays).
    """
    d, m, _ = diffs2.shape
    if work is None:
        work = GpWorkspace(m)
    key = theta.tobytes()
    if key in work.seen:
        value, grad = work.seen[key]
        return value, grad.copy()
    value, grad = _gp_objective(theta, diffs2, y, h, work)
    work.seen[key] = (value, grad.copy())
    return value, grad


def _gp_objective(theta, diffs2, y, h, work: GpWorkspace):
    d, m, _ = diffs2.shape
    q = h.shape[1]
    inv_delta2 = np.exp(-2.0 * theta[:d])
    nu = np.exp(theta[d])
    a = np.tensordot(inv_delta2, diffs2, axes=1)
    np.negative(a, out=a)
    np.exp(a, out=a)
    # K = A + nu I: the same sums as A + nu * eye(m) (A_ij + 0 = A_ij off the diagonal), written
    # straight into a Fortran-ordered buffer that LAPACK factorises in place.
    kmat = work.kmat
    np.copyto(kmat, a)
    kmat.flat[:: m + 1] += nu
    chol, info = linalg.lapack.dpotrf(kmat, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        return np.inf, np.zeros_like(theta)
    log_det = np.sum(np.log(np.diag(chol)))
    kinv, info = linalg.lapack.dpotri(chol, lower=1, overwrite_c=1)
    if info != 0:
        return np.inf, np.zeros_like(theta)
    # The inverse is in the lower triangle and the upper one is zero (dpotrf's clean), so adding
    # the transposed strict lower triangle gives tril(K^-1) + tril(K^-1, -1)' element for element;
    # the result is symmetric, so its Fortran-ordered memory is also its C-ordered transpose.
    kinv += np.tril(kinv, -1).T
    kinv = kinv.T
    kinv_h = kinv @ h
    hkh = h.T @ kinv_h
    try:
        hkh_chol = linalg.cholesky(hkh, lower=True)
    except linalg.LinAlgError:
        return np.inf, np.zeros_like(theta)
    p = work.p
    np.matmul(kinv_h, linalg.cho_solve((hkh_chol, True), kinv_h.T), out=p)
    np.subtract(kinv, p, out=p)
    py = p @ y
    ypy = float(y @ py)
    if not ypy > 0:
        return np.inf, np.zeros_like(theta)
    logp = (
        -log_det
        - np.sum(np.log(np.diag(hkh_chol)))
        - 0.5 * (m - q) * np.log(ypy)
    )
    grad = np.empty_like(theta)
    pa, outer = work.weighted
    np.multiply(p, a, out=pa)
    np.multiply.outer(py, py, out=outer)
    outer *= a
    # dK/dlog(delta_j) = 2 A * diffs2_j / delta_j^2: the traces sum(P * A * diffs2_j) and the
    # quadratic forms sum((Py)(Py)' * A * diffs2_j) of every j as one product, reading diffs2 once
    terms = diffs2.reshape(d, m * m) @ work.weighted.reshape(2, m * m).T      # (d, 2)
    grad[:d] = 2.0 * inv_delta2 * (-0.5 * terms[:, 0] + 0.5 * (m - q) * terms[:, 1] / ypy)
    grad[d] = nu * (-0.5 * np.trace(p) + 0.5 * (m - q) * float(py @ py) / ypy)
    return -logp, -grad


def fit_gp(x: np.ndarray, y: np.ndarray, gp_n: int, rng: np.random.Generator) -> Fit:
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

    linear = PenalisedProblem(np.column_stack([np.ones(n), z]), [], y)
    centred = float(np.sum((y - y.mean()) ** 2))
    if linear.solve(np.zeros(0), factor=False)[1] <= GP_LINEAR_TOLERANCE * centred:
        # The linear mean already reproduces the INB: the GP residual process has nothing left
        # to model (its marginal posterior is degenerate), so the fit is the linear regression.
        return linear.fit(np.zeros(0), {"length_scales": [], "nugget": 0.0, "basis_n": 0})

    diffs2 = np.stack([(c[:, None] - c[None, :]) ** 2 for c in zs.T])
    # The best finite value seen over both starts is kept, not only each run's end point: near
    # the edge where K = A + nu I stops being numerically positive definite (long length-scales
    # and a tiny nugget, i.e. a nearly linear INB), where that edge lies depends on the BLAS
    # kernel, and a run can end on the infeasible side.
    best = {"value": np.inf, "theta": None}
    work, y_scaled = GpWorkspace(m), ys / y_scale

    def objective(theta):
        value, grad = gp_negative_log_posterior(theta, diffs2, y_scaled, h_sub, work)
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
    # with the ridge penalty nu * u'u. Eigen-directions below GP_EIGEN_FLOOR of the largest
    # are dropped; each would enter the exact GP shrunk by L / (L + nu), i.e. not at all.
    a_mm = np.exp(-sq_distances(zs, zs, delta))
    eigenvalues, eigenvectors = np.linalg.eigh(a_mm)
    keep = eigenvalues > eigenvalues[-1] * GP_EIGEN_FLOOR
    features = np.exp(-sq_distances(z, zs, delta)) @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))
    design = np.column_stack([np.ones(n), z, features])
    penalty = np.zeros((design.shape[1], design.shape[1]))
    penalty[d + 1 :, d + 1 :] = np.eye(features.shape[1])
    problem = PenalisedProblem(design, [penalty], y)
    # The penalty was rescaled inside the problem; undo that to apply the estimated nu.
    scale = np.linalg.norm(problem.penalties[0]) / np.linalg.norm(penalty)
    log_lambda = np.array([np.log(nu / scale)])
    return problem.fit(
        log_lambda, {"length_scales": (delta * x.std(axis=0)).tolist(), "nugget": nu, "basis_n": m}
    )


# --------------------------------------------------------------------------------------------
# Dispatch and standard error
# --------------------------------------------------------------------------------------------


def regress(x, y, method, *, k, gp_n, rng) -> Fit:
    n = y.shape[0]
    if x.shape[1] == 0 or np.ptp(y) == 0:
        # Nothing varies: the conditional expectation is the overall mean.
        design = np.ones((n, 1))
        return Fit(
            fitted=np.full(n, y.mean()),
            edf=1.0,
            smoothing={},
            design=design,
            coef=np.array([y.mean()]),
            cov_factor=np.array([[np.std(y) / np.sqrt(n)]]),
        )
    if method == "gam":
        return fit_gam(x, y, k)
    return fit_gp(x, y, gp_n, rng)


def standard_error(fits: list[Fit], n_draws: int, rng: np.random.Generator) -> float:
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
