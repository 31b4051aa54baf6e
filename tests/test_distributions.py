"""Tests for hta.params.distributions: moment formulas, inverse CDFs, intervals and bad input.

Reference values: scipy.stats (independent implementations of the same families) and the
method-of-moments formulas in Briggs, Claxton & Sculpher, *Decision Modelling for Health
Economic Evaluation* (OUP 2006), ch. 4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hta.errors import HtaError
from hta.params.distributions import (
    Beta,
    Dirichlet,
    Fixed,
    Gamma,
    LogNormal,
    MultivariateNormal,
    Normal,
    Triangular,
    Uniform,
    from_spec,
)

N_MC = 200_000


@pytest.fixture(scope="module")
def uniforms():
    return np.random.default_rng(20240501).random((N_MC, 3))


def _check_moments(draws, mean, sd):
    """Sample mean within 5 Monte Carlo SEs; sample SD within 2 % (SE of SD ~ 0.16 %-0.5 %)."""
    n = draws.size
    assert abs(draws.mean() - mean) < 5 * sd / math.sqrt(n)
    assert draws.std(ddof=1) == pytest.approx(sd, rel=0.02)


# --- method of moments (closed forms) ---------------------------------------------------------


def test_beta_from_mean_se_closed_form():
    # mean 0.3, se 0.05: alpha + beta = 0.3*0.7/0.05^2 - 1 = 83 (Briggs et al. 2006, eq. 4.3)
    d = Beta.from_mean_se(0.3, 0.05)
    assert d.alpha == pytest.approx(0.3 * 83)
    assert d.beta == pytest.approx(0.7 * 83)
    assert d.mean == pytest.approx([0.3])


def test_gamma_from_mean_se_closed_form():
    # shape = mean^2/se^2 = 25, scale = se^2/mean = 4
    d = Gamma.from_mean_se(100.0, 20.0)
    assert (d.shape, d.scale) == (pytest.approx(25.0), pytest.approx(4.0))
    assert d.mean == pytest.approx([100.0])


def test_lognormal_from_mean_se_closed_form():
    d = LogNormal.from_mean_se(2.0, 0.5)
    sdlog2 = math.log(1 + 0.25**2)
    assert d.sdlog == pytest.approx(math.sqrt(sdlog2))
    assert d.meanlog == pytest.approx(math.log(2.0) - sdlog2 / 2)
    assert d.mean == pytest.approx([2.0])


@pytest.mark.parametrize(
    "dist, mean, sd",
    [
        (Beta.from_mean_se(0.3, 0.05), 0.3, 0.05),
        (Beta.from_mean_se(0.9, 0.08), 0.9, 0.08),
        (Gamma.from_mean_se(12_000.0, 3_000.0), 12_000.0, 3_000.0),
        (Gamma.from_mean_se(0.5, 0.6), 0.5, 0.6),  # shape < 1
        (LogNormal.from_mean_se(0.7, 0.1), 0.7, 0.1),
        (LogNormal.from_mean_se(5.0, 4.0), 5.0, 4.0),
        (Normal(-1.0, 2.0), -1.0, 2.0),
        (Uniform(2.0, 5.0), 3.5, 3.0 / math.sqrt(12)),
        # triangular variance (a^2+b^2+c^2-ab-ac-bc)/18 = (0+1+9-0-0-3)/18
        (Triangular(0.0, 1.0, 3.0), 4.0 / 3.0, math.sqrt(7.0 / 18.0)),
    ],
    ids=lambda x: x.describe() if hasattr(x, "describe") else None,
)
def test_sample_moments_match(dist, mean, sd, uniforms):
    draws = dist.ppf(uniforms[:, :1])
    assert draws.shape == (N_MC, 1)
    _check_moments(draws[:, 0], mean, sd)


# --- ppf and interval against scipy.stats ----------------------------------------------------


SCIPY_EQUIVALENTS = [
    (Normal(1.5, 0.3), stats.norm(1.5, 0.3)),
    (LogNormal(0.2, 0.4), stats.lognorm(s=0.4, scale=math.exp(0.2))),
    (Beta(12.0, 88.0), stats.beta(12.0, 88.0)),
    (Beta(0.5, 0.7), stats.beta(0.5, 0.7)),
    (Gamma(3.2, 150.0), stats.gamma(3.2, scale=150.0)),
    (Gamma(0.4, 2.0), stats.gamma(0.4, scale=2.0)),
    (Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)),
    (Triangular(1.0, 2.0, 5.0), stats.triang(0.25, loc=1.0, scale=4.0)),
    (Triangular(1.0, 1.0, 5.0), stats.triang(0.0, loc=1.0, scale=4.0)),
    (Triangular(1.0, 5.0, 5.0), stats.triang(1.0, loc=1.0, scale=4.0)),
]


@pytest.mark.parametrize("dist, ref", SCIPY_EQUIVALENTS, ids=lambda x: getattr(x, "kind", None))
def test_ppf_matches_scipy(dist, ref):
    u = np.random.default_rng(7).random(1000)
    u = np.concatenate([u, [1e-12, 1e-6, 0.5, 1 - 1e-9]])
    np.testing.assert_allclose(dist.ppf(u)[:, 0], ref.ppf(u), rtol=1e-9, atol=1e-300)
    # 1-D input accepted for dim 1 and gives (n, 1)
    assert dist.ppf(u).shape == (u.size, 1)


@pytest.mark.parametrize("dist, ref", SCIPY_EQUIVALENTS, ids=lambda x: getattr(x, "kind", None))
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_interval_matches_scipy(dist, ref, level):
    lo, hi = ref.interval(level)
    np.testing.assert_allclose(dist.interval(level), [[lo], [hi]], rtol=1e-9)


def test_fixed():
    d = Fixed(3.5)
    assert d.ppf(np.random.default_rng(1).random((4, 1))).tolist() == [[3.5]] * 4
    assert d.interval().tolist() == [[3.5], [3.5]]
    assert d.mean.tolist() == [3.5]
    assert d.describe() == "Fixed(value=3.5)"


def test_describe_texts():
    assert Beta(12.0, 88.0).describe() == "Beta(alpha=12.0, beta=88.0)"
    assert Gamma(2.5, 4.0).describe() == "Gamma(shape=2.5, scale=4.0)"
    assert Dirichlet([1, 2, 3]).describe() == "Dirichlet(counts=[1.0, 2.0, 3.0])"
    assert {Beta(1, 1).kind, Dirichlet([1, 1]).kind, MultivariateNormal([0], [[1]]).kind} == {
        "beta",
        "dirichlet",
        "mvnormal",
    }


# --- multivariate ------------------------------------------------------------------------------


def test_mvn_sample_covariance_matches(uniforms):
    mean = np.array([1.0, -2.0, 0.5])
    cov = np.array([[0.04, 0.01, -0.012], [0.01, 0.09, 0.0], [-0.012, 0.0, 0.16]])
    d = MultivariateNormal(mean, cov)
    x = d.ppf(uniforms)
    assert x.shape == (N_MC, 3)
    # SE of a sample covariance entry <= sqrt((s_ii s_jj + s_ij^2)/n) ~ 4e-4 here
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov, atol=2e-3)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=5 * 0.4 / math.sqrt(N_MC))
    np.testing.assert_allclose(
        d.interval(0.95), [mean - 1.959963985 * np.sqrt(np.diag(cov)),
                           mean + 1.959963985 * np.sqrt(np.diag(cov))], rtol=1e-8
    )
    # the median uniform maps to the mean
    np.testing.assert_allclose(d.ppf(np.full((1, 3), 0.5))[0], mean)


def test_mvn_singular_psd_covariance_accepted(uniforms):
    # x2 = 2 * x1 exactly: rank 1, eigenvalues 0 and 5 (positive semi-definite)
    cov = np.array([[1.0, 2.0], [2.0, 4.0]])
    d = MultivariateNormal([0.0, 0.0], cov)
    x = d.ppf(uniforms[:, :2])
    np.testing.assert_allclose(x[:, 1], 2 * x[:, 0], atol=1e-9)
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov, rtol=0.02)
    # a zero-variance component is allowed too; its interval collapses on the mean
    z = MultivariateNormal([1.0, 3.0], [[1.0, 0.0], [0.0, 0.0]])
    assert z.interval()[:, 1].tolist() == [3.0, 3.0]
    assert np.all(z.ppf(uniforms[:10, :2])[:, 1] == 3.0)


def test_dirichlet_rows_sum_to_one_and_means(uniforms):
    counts = np.array([12.0, 30.0, 5.0, 53.0])
    d = Dirichlet(counts)
    x = d.ppf(np.random.default_rng(3).random((N_MC, 4)))
    np.testing.assert_allclose(x.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    p = counts / counts.sum()
    # Var of a Dirichlet component: p(1-p)/(a0+1)
    se = np.sqrt(p * (1 - p) / (counts.sum() + 1) / N_MC)
    assert np.all(np.abs(x.mean(axis=0) - p) < 5 * se)
    np.testing.assert_allclose(d.mean, p)
    # marginal interval = Beta(a_i, a0 - a_i) percentiles
    ref = stats.beta(counts, counts.sum() - counts)
    np.testing.assert_allclose(d.interval(0.95), np.vstack(ref.interval(0.95)), rtol=1e-9)


# --- from_spec ---------------------------------------------------------------------------------


def test_from_spec_builds_each_family():
    assert from_spec("Beta", name="p", mean=0.3, se=0.05).alpha == pytest.approx(24.9)
    assert from_spec("beta", alpha=2, beta=3).beta == 3.0
    assert from_spec("GAMMA", mean=100, se=20).shape == pytest.approx(25.0)
    assert from_spec("gamma", shape=2, scale=3).scale == 3.0
    assert from_spec("gamma", shape=2, rate=4).scale == 0.25
    assert from_spec("lognormal", mean=2, se=0.5).mean == pytest.approx([2.0])
    assert from_spec("LogNormal", meanlog=0.1, sdlog=0.2).meanlog == 0.1
    assert from_spec("normal", mean=1, sd=2).sd == 2.0
    assert from_spec("normal", mean=1, se=2).sd == 2.0
    assert from_spec("uniform", low=0, high=1).high == 1.0
    assert from_spec("triangular", low=0, mode=1, high=2).mode == 1.0
    assert from_spec("fixed", value=7).value == 7.0
    assert from_spec("dirichlet", counts=[1, 2]).dim == 2
    assert from_spec("Multivariate Normal", mean=[0, 0], cov=np.eye(2)).dim == 2
    assert from_spec("mvnormal", mean=[0], cov=[[1]]).dim == 1
    # blank spreadsheet cells (None) count as absent; keyword case is ignored
    assert from_spec("beta", Mean=0.5, SE=0.1, alpha=None).mean == pytest.approx([0.5])
    assert from_spec("beta", name="p", mean=0.3, se=0.05).name == "p"


# --- invalid specifications: one HtaError naming the parameter --------------------------------

INVALID = [
    (dict(kind="beta", mean=1.2, se=0.1), "beta mean must be in (0, 1); found 1.2"),
    (dict(kind="beta", mean=0.0, se=0.1), "beta mean must be in (0, 1)"),
    (dict(kind="beta", mean=0.5, se=0.5), "beta SE must be below"),
    (dict(kind="beta", mean=0.5, se=0.0), "beta SE must be > 0"),
    (dict(kind="beta", alpha=-1, beta=2), "beta alpha must be > 0"),
    (dict(kind="beta", mean=float("nan"), se=0.1), "must be a finite number"),
    (dict(kind="gamma", mean=100, se=-5), "gamma SE must be > 0"),
    (dict(kind="gamma", mean=-100, se=5), "gamma mean must be > 0"),
    (dict(kind="gamma", shape=2, scale=0), "gamma scale must be > 0"),
    (dict(kind="lognormal", mean=0, se=1), "lognormal mean must be > 0"),
    (dict(kind="lognormal", meanlog=0, sdlog=-1), "lognormal sdlog must be > 0"),
    (dict(kind="normal", mean=0, sd=0), "normal SD must be > 0"),
    (dict(kind="normal", mean="abc", sd=1), "normal mean must be a number; found 'abc'"),
    (dict(kind="uniform", low=2, high=2), "uniform low must be below high"),
    (dict(kind="triangular", low=0, mode=3, high=2), "triangular mode must be in [low, high]"),
    (dict(kind="triangular", low=3, mode=3, high=2), "triangular low must be below high"),
    (dict(kind="fixed", value=float("inf")), "must be a finite number"),
    (dict(kind="dirichlet", counts=[3, 0, 2]), "Dirichlet counts must all be > 0"),
    (dict(kind="dirichlet", counts=[3]), "at least 2 counts"),
    (dict(kind="dirichlet", counts=[3, float("nan")]), "finite numbers"),
    (dict(kind="mvnormal", mean=[0, 0], cov=[[1, 2], [2, 1]]),
     "positive semi-definite; found smallest eigenvalue -1"),
    (dict(kind="mvnormal", mean=[0, 0], cov=[[1, 0.5], [0.2, 1]]), "must be symmetric"),
    (dict(kind="mvnormal", mean=[0, 0, 0], cov=np.eye(2)), "must be 3 x 3"),
    (dict(kind="mvnormal", mean=[0, 0], cov=[1, 1]), "square matrix"),
    (dict(kind="betta", mean=0.3, se=0.1), "unknown distribution 'betta'; expected one of"),
    (dict(kind="gamma", mean=100), "gamma distribution takes (mean, se) or (shape, scale)"),
    (dict(kind="normal", mean=0, sd=1, se=1), "normal distribution takes"),
]


@pytest.mark.parametrize(
    "spec, fragment", INVALID, ids=[s["kind"] + ":" + f[:25] for s, f in INVALID]
)
def test_invalid_specification_raises_naming_parameter(spec, fragment):
    with pytest.raises(HtaError) as err:
        from_spec(name="u_pf", **spec)
    message = str(err.value)
    assert message.startswith("parameter 'u_pf': ")
    assert fragment in message
    assert "\n" not in message


def test_constructor_errors_name_parameter():
    expected = r"^parameter 'p_x': beta mean must be in \(0, 1\); found 1.2$"
    with pytest.raises(HtaError, match=expected):
        Beta.from_mean_se(1.2, 0.1, name="p_x")
    with pytest.raises(HtaError, match="parameter 'cov_os'"):
        MultivariateNormal([0, 0], [[1, 2], [2, 1]], name="cov_os")
    with pytest.raises(HtaError, match="^distribution: "):  # no name given
        Normal(0, -1)


def test_ppf_rejects_bad_uniforms():
    with pytest.raises(HtaError, match=r"shape \(n, 2\)"):
        Dirichlet([1, 1], name="d").ppf(np.full((3, 3), 0.5))
    with pytest.raises(HtaError, match=r"in \[0, 1\]"):
        Normal(0, 1, name="n").ppf([0.5, 1.5])
    with pytest.raises(HtaError, match="interval level"):
        Normal(0, 1).interval(1.5)
