"""Small linear-algebra helpers whose answers do not depend on the BLAS kernel.

OpenBLAS chooses a kernel per processor and the kernels round differently. A matrix near the
edge of positive definiteness can then factorise on one machine and fail on another, and a
``try: cholesky / except: something else`` switches method, and results, with the machine.
These helpers decide by eigenvalues with a relative tolerance instead, far from the rounding
level, and change continuously with the matrix, so two kernels give answers that differ by
rounding only. See docs/methods.md, "Numerical robustness".
"""

from __future__ import annotations

import numpy as np

from hta.errors import HtaError

#: Eigenvalues below this share of the largest count as zero, in positive definiteness checks
#: and in the pivots of a semi-definite Cholesky factor.
RELATIVE_EIGEN_FLOOR = 1e-10
#: A covariance whose smallest eigenvalue is below minus this share of the largest is not
#: positive semi-definite beyond rounding: an input error.
INDEFINITE_TOLERANCE = 1e-8


def is_positive_definite(matrix: np.ndarray, rtol: float = RELATIVE_EIGEN_FLOOR) -> bool:
    """True when every eigenvalue of the symmetric part exceeds ``rtol`` times the largest.

    Unlike the success of a Cholesky factorisation, the answer does not flip with the BLAS
    kernel unless the matrix sits within rounding of the tolerance.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.all(np.isfinite(m)):
        return False
    if m.size == 0:
        return True
    w = np.linalg.eigvalsh((m + m.T) / 2.0)
    return bool(w[-1] > 0 and w[0] > rtol * w[-1])


def covariance_factor(cov: np.ndarray, what: str = "covariance") -> np.ndarray:
    """Lower-triangular L with L L' = cov, for multivariate-normal draws z @ L.T.

    A positive definite ``cov`` (every eigenvalue above ``RELATIVE_EIGEN_FLOOR`` of the
    largest) gets its Cholesky factor. A singular one (perfectly correlated coefficients, a
    coefficient held fixed) gets the semi-definite Cholesky factor in the same, unpivoted
    order: a column whose pivot falls below the floor is zero, so a fixed coefficient stays
    exactly at its mean and an exact linear relation holds exactly in every draw. The choice
    is made from eigenvalues, and the factor is unique, so it does not depend on the BLAS
    kernel (the fallback of trying Cholesky and catching its failure would).

    Raises:
        HtaError: ``cov`` is not a finite square matrix, or is indefinite beyond rounding
            (smallest eigenvalue below -``INDEFINITE_TOLERANCE`` times the largest).
    """
    c = np.asarray(cov, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise HtaError(f"{what}: expected a square matrix; found shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise HtaError(f"{what}: expected finite numbers; found NaN or infinity (was the fit converged?)")
    k = c.shape[0]
    c = (c + c.T) / 2.0
    if k == 0:
        return np.zeros((0, 0))
    w = np.linalg.eigvalsh(c)
    top = max(float(w[-1]), 0.0)
    if top > 0 and w[0] > RELATIVE_EIGEN_FLOOR * top:
        return np.linalg.cholesky(c)
    if w[0] < -INDEFINITE_TOLERANCE * top:
        raise HtaError(f"{what}: expected a positive semi-definite matrix; found smallest eigenvalue "
                       f"{w[0]:.6g} (largest {top:.6g})")
    factor = np.zeros((k, k))
    floor = RELATIVE_EIGEN_FLOOR * top
    for j in range(k):  # k is the number of coefficients: a handful
        pivot = c[j, j] - factor[j, :j] @ factor[j, :j]
        if pivot <= floor:
            continue  # a direction without variance: the column stays zero
        factor[j, j] = np.sqrt(pivot)
        factor[j + 1 :, j] = (c[j + 1 :, j] - factor[j + 1 :, :j] @ factor[j, :j]) / factor[j, j]
    return factor


def coupled_covariance(cov_a: np.ndarray, cov_b: np.ndarray, rho: float, what: str = "coupled covariance") -> np.ndarray:
    """Joint covariance of two coefficient vectors drawn with correlated standard normals.

    ``a = mu_a + L_a z_a`` and ``b = mu_b + L_b z_b`` with ``L`` the factor of
    :func:`covariance_factor` (Cholesky) and ``z_b = rho z_a + sqrt(1 - rho^2) e`` component by
    component (a Gaussian copula on the standardised innovations; the first ``min(k_a, k_b)``
    components are coupled, the rest are independent). The cross block is ``rho L_a E L_b'``
    (``E`` the ``k_a x k_b`` identity), so the joint matrix is positive semi-definite for every
    ``|rho| <= 1`` and keeps each vector's own covariance. ``rho = 0`` gives the block-diagonal
    (independent) matrix.

    Used to draw the PFS and OS coefficients of one arm jointly (models/fucaso_rrmm.py):
    raises HtaError when ``rho`` is outside [-1, 1] or a covariance is not a valid matrix.
    """
    r = float(rho)
    if not np.isfinite(r) or abs(r) > 1.0:
        raise HtaError(f"{what}: expected a correlation in [-1, 1]; found {rho!r}")
    la = covariance_factor(cov_a, f"{what}, first block")
    lb = covariance_factor(cov_b, f"{what}, second block")
    ka, kb = la.shape[0], lb.shape[0]
    m = min(ka, kb)
    # rho L_a E L_b' as an elementwise product summed in a fixed order (no BLAS: the same bits on every kernel)
    cross = r * (la[:, None, :m] * lb[None, :, :m]).sum(axis=2)
    out = np.zeros((ka + kb, ka + kb))
    a, b = np.asarray(cov_a, dtype=float), np.asarray(cov_b, dtype=float)
    out[:ka, :ka] = (a + a.T) / 2.0
    out[ka:, ka:] = (b + b.T) / 2.0
    out[:ka, ka:] = cross
    out[ka:, :ka] = cross.T
    return out


def inverse_information(hessian: np.ndarray) -> np.ndarray:
    """The covariance of maximum-likelihood estimates: the inverse of the observed information
    ``-hessian`` (the Hessian of the log-likelihood at the optimum)."""
    return np.linalg.inv(-np.asarray(hessian, dtype=float))
