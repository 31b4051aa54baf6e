"""Sobol and Morris of any vectorised function (hta.analysis.gsa.sobol_function / morris_function).

Ishigami function f = sin x1 + a sin^2 x2 + b x3^4 sin x1, a = 7, b = 0.1, x ~ U(-pi, pi)^3
(Ishigami & Homma 1990). Closed forms (Sobol' 1990; Saltelli et al. 2008, Global Sensitivity
Analysis: The Primer, section 4.x): V1 = (1 + b pi^4 / 5)^2 / 2, V2 = a^2 / 8,
V13 = b^2 pi^8 (1/18 - 1/50), V = V1 + V2 + V13 + ... giving S1 = (0.3139, 0.4424, 0) and
ST = (0.5576, 0.4424, 0.2437).
"""

import numpy as np
import pytest
from scipy import stats

from hta.analysis import gsa
from hta.errors import HtaError
from hta.params.distributions import Normal, Uniform

A, B = 7.0, 0.1
PI = np.pi
V1 = 0.5 * (1.0 + B * PI**4 / 5.0) ** 2
V2 = A**2 / 8.0
V13 = B**2 * PI**8 * (1.0 / 18.0 - 1.0 / 50.0)
V = V1 + V2 + V13
S1_EXACT = np.array([V1 / V, V2 / V, 0.0])
ST_EXACT = np.array([(V1 + V13) / V, V2 / V, V13 / V])
ISHIGAMI = {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)}


def ishigami_array(x):
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_dict(p):
    return np.sin(p["x1"]) + A * np.sin(p["x2"]) ** 2 + B * p["x3"] ** 4 * np.sin(p["x1"])


def test_closed_forms_equal_the_published_four_digits():
    np.testing.assert_allclose(S1_EXACT, [0.3139, 0.4424, 0.0], atol=5e-5)
    np.testing.assert_allclose(ST_EXACT, [0.5576, 0.4424, 0.2437], atol=5e-5)


@pytest.mark.parametrize("call, func", [("array", ishigami_array), ("dict", ishigami_dict)])
def test_sobol_of_ishigami_within_salib_confidence(call, func):
    frame = gsa.sobol_function(func, ISHIGAMI, n_base=4096, call=call, seed=11)
    frame = frame.set_index("factor").loc[["x1", "x2", "x3"]]
    assert frame.attrs["n_evaluations"] == 4096 * 5
    # each estimate within its SALib bootstrap 95% half-width and within 0.03 absolute
    assert np.all(np.abs(frame["S1"] - S1_EXACT) <= frame["S1_conf"])
    assert np.all(np.abs(frame["ST"] - ST_EXACT) <= frame["ST_conf"])
    np.testing.assert_allclose(frame["S1"], S1_EXACT, atol=0.03)
    np.testing.assert_allclose(frame["ST"], ST_EXACT, atol=0.03)


def test_sobol_array_and_dict_calls_give_identical_indices():
    a = gsa.sobol_function(ishigami_array, ISHIGAMI, n_base=256, seed=3)
    b = gsa.sobol_function(ishigami_dict, ISHIGAMI, n_base=256, call="dict", seed=3, chunk_size=100)
    np.testing.assert_array_equal(a.drop(columns="factor").to_numpy(), b.drop(columns="factor").to_numpy())


def test_sobol_with_distributions_additive_variance_shares():
    # y = x1 + x2 + 0 * x3, x1 ~ N(0, 1) (hta), x2 ~ N(0, 2) (scipy), x3 ~ U(0, 1):
    # S1 = ST = Var share = 1/5, 4/5, 0 (additive model of independent inputs)
    params = {"x1": Normal(0.0, 1.0), "x2": stats.norm(0.0, 2.0), "x3": Uniform(0.0, 1.0)}
    frame = gsa.sobol_function(lambda x: x[:, 0] + x[:, 1] + 0.0 * x[:, 2], params, n_base=4096, seed=5)
    frame = frame.set_index("factor").loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(frame["S1"], [0.2, 0.8, 0.0], atol=0.02)
    np.testing.assert_allclose(frame["ST"], [0.2, 0.8, 0.0], atol=0.02)
    assert frame.attrs["variance"] == pytest.approx(5.0, rel=0.05)


def test_sobol_groups_of_a_function():
    frame = gsa.sobol_function(ishigami_array, ISHIGAMI, n_base=2048, seed=2, groups={"x1": "g13", "x3": "g13"})
    frame = frame.set_index("factor")
    # group {x1, x3}: first-order = (V1 + V13) / V = 1 - S_2
    assert frame.loc["g13", "S1"] == pytest.approx(1.0 - V2 / V, abs=0.03)
    assert frame.loc["x2", "ST"] == pytest.approx(V2 / V, abs=0.03)


def test_morris_of_a_linear_function_is_exact():
    # y = 2a - 5b + 0c + 3d, a in [0, 10], b in [-1, 1], c in [0, 1], d ~ U(0, 4) as a distribution.
    # A unit design step moves a bounds input over its whole range: EE_a = 2 * 10 = 20,
    # EE_b = -5 * 2 = -10; a distribution input over its central 95%: EE_d = 3 * 0.95 * 4 = 11.4.
    params = {"a": (0.0, 10.0), "b": (-1.0, 1.0), "c": (0.0, 1.0), "d": stats.uniform(0.0, 4.0)}
    frame = gsa.morris_function(lambda p: 2 * p["a"] - 5 * p["b"] + 0 * p["c"] + 3 * p["d"], params,
                                trajectories=20, call="dict", seed=4).set_index("factor")
    assert frame.loc["a", "mu_star"] == pytest.approx(20.0, rel=1e-9)
    assert frame.loc["b", "mu"] == pytest.approx(-10.0, rel=1e-9)
    assert frame.loc["b", "mu_star"] == pytest.approx(10.0, rel=1e-9)
    assert frame.loc["d", "mu_star"] == pytest.approx(11.4, rel=1e-9)
    assert frame.loc["c", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(frame["sigma"], 0.0, atol=1e-9)
    assert frame.attrs["n_evaluations"] == 20 * 5


def test_morris_ranks_ishigami_interaction():
    # x3 acts only through its interaction with x1: sigma large relative to mu for x3
    frame = gsa.morris_function(ishigami_array, ISHIGAMI, trajectories=100, seed=1).set_index("factor")
    assert abs(frame.loc["x3", "mu"]) < 0.5 * frame.loc["x3", "sigma"]
    assert frame.loc["x3", "mu_star"] > 0.1


def test_function_errors():
    with pytest.raises(HtaError, match="power of 2"):
        gsa.sobol_function(ishigami_array, ISHIGAMI, n_base=1000)
    with pytest.raises(HtaError, match="parameter 'x'.*bounds"):
        gsa.sobol_function(ishigami_array, {"x": "wide"}, n_base=64)
    with pytest.raises(HtaError, match="low < high"):
        gsa.sobol_function(ishigami_array, {"x": (1.0, 0.0)}, n_base=64)
    with pytest.raises(HtaError, match="expected shape"):
        gsa.sobol_function(lambda x: x, ISHIGAMI, n_base=64)
    with pytest.raises(HtaError, match="call"):
        gsa.sobol_function(ishigami_array, ISHIGAMI, n_base=64, call="kwargs")
    with pytest.raises(HtaError, match="does not vary"):
        gsa.sobol_function(lambda x: np.zeros(len(x)), ISHIGAMI, n_base=64)
    with pytest.raises(HtaError, match="non-finite"):
        gsa.sobol_function(lambda x: np.where(x[:, 0] > 0, np.inf, 0.0), ISHIGAMI, n_base=64)
    with pytest.raises(HtaError, match="groups"):
        gsa.morris_function(ishigami_array, ISHIGAMI, groups={"y": "g"})
