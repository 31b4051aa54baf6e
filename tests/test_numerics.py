"""hta.numerics: factorisations that give one answer on every BLAS kernel."""

import numpy as np
import pytest

from hta.errors import HtaError
from hta.numerics import covariance_factor, is_positive_definite


def test_positive_definite_covariance_gets_its_cholesky_factor_exactly():
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    np.testing.assert_array_equal(covariance_factor(cov), np.linalg.cholesky(cov))


def test_singular_covariance_keeps_exact_relations():
    # x2 = 2 x1 and x3 fixed: rank 1 of 3
    cov = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    factor = covariance_factor(cov)
    np.testing.assert_allclose(factor @ factor.T, cov, atol=1e-12)
    assert np.all(np.triu(factor, 1) == 0)
    np.testing.assert_array_equal(factor[:, 1:], 0.0)  # no freedom beyond x1
    z = np.random.default_rng(0).standard_normal((1000, 3))
    draws = z @ factor.T
    np.testing.assert_array_equal(draws[:, 2], 0.0)
    np.testing.assert_allclose(draws[:, 1], 2 * draws[:, 0], rtol=1e-12)


def test_covariance_on_the_edge_of_definiteness_factorises():
    # Correlation 1 - 1e-13: whether plain Cholesky succeeds here depends on rounding.
    r = 1.0 - 1e-13
    cov = np.array([[1.0, r], [r, 1.0]]) * 1e-4
    factor = covariance_factor(cov)
    np.testing.assert_allclose(factor @ factor.T, cov, atol=1e-15)
    assert not is_positive_definite(cov)


def test_indefinite_and_malformed_covariances_are_user_errors():
    with pytest.raises(HtaError, match="positive semi-definite.*smallest eigenvalue -1"):
        covariance_factor(np.array([[1.0, 2.0], [2.0, 1.0]]), "my covariance")
    with pytest.raises(HtaError, match="finite"):
        covariance_factor(np.full((2, 2), np.nan))
    with pytest.raises(HtaError, match="square"):
        covariance_factor(np.ones((2, 3)))


def test_positive_definiteness_by_eigenvalues():
    assert is_positive_definite(np.eye(3))
    assert not is_positive_definite(np.diag([1.0, 1e-12]))
    assert not is_positive_definite(-np.eye(2))
    assert not is_positive_definite(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_fit_of_a_fixed_coefficient_samples_without_error():
    from hta.params.distributions import MultivariateNormal

    d = MultivariateNormal([0.5, -1.0], [[0.04, 0.0], [0.0, 0.0]])
    u = np.random.default_rng(1).uniform(size=(500, 2))
    x = d.ppf(u)
    assert np.all(x[:, 1] == -1.0) and x[:, 0].std() == pytest.approx(0.2, rel=0.1)
