"""Sobol and Morris global sensitivity analysis (hta.analysis.gsa) through the model protocol.

References: the Ishigami function with a = 7, b = 0.1 on uniform(-pi, pi)^3 has analytic
first-order indices S1 = (0.3139, 0.4424, 0) and total indices ST = (0.5576, 0.4424, 0.2437)
(Ishigami & Homma 1990; Saltelli et al. 2008, Global Sensitivity Analysis: The Primer, Table 4.x;
SALib's test suite uses the same values). For an additive model of independent inputs the
indices are variance shares; for a linear model Morris elementary effects are constant.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from hta.analysis import gsa
from hta.analysis.evaluate import FunctionModel
from hta.errors import HtaError
from hta.params import ParameterTable
from hta.params.distributions import MultivariateNormal, Normal, Uniform
from models import hiv_chancellor as hiv

ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def _as_outcomes(y):
    z = np.zeros_like(y)
    # INMB of strategy 1 vs 0 at WTP 0 is -(cost_1 - cost_0) = y
    return SimpleNamespace(costs=np.stack([z, -y], 1), qalys=np.stack([z, z], 1), lys=np.stack([z, z], 1))


def _ishigami(batch):
    x1, x2, x3 = (np.asarray(batch[k]) for k in ("x1", "x2", "x3"))
    return _as_outcomes(np.sin(x1) + 7.0 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1))


def _linear(batch):
    return _as_outcomes(2.0 * np.asarray(batch["a"]) - 5.0 * np.asarray(batch["b"]) + 0.0 * np.asarray(batch["c"]))


def _sum(batch):
    return _as_outcomes(np.asarray(batch["m1"]) + np.asarray(batch["m2"]) + np.asarray(batch["z"]))


@pytest.fixture(scope="module")
def ishigami():
    table = ParameterTable()
    for name in ("x1", "x2", "x3"):
        table.add(name, dist=Uniform(-np.pi, np.pi))
    return FunctionModel("ishigami", ("zero", "ishigami"), table, _ishigami)


def test_sobol_ishigami_matches_analytic_indices(ishigami):
    frame = gsa.sobol(ishigami, n_base=4096, wtp=0.0, seed=7).set_index("factor").loc[["x1", "x2", "x3"]]
    assert frame.attrs["n_evaluations"] == 4096 * 5
    # within a stated tolerance of 0.03 and within 2 bootstrap half-widths
    np.testing.assert_allclose(frame["S1"], ISHIGAMI_S1, atol=0.03)
    np.testing.assert_allclose(frame["ST"], ISHIGAMI_ST, atol=0.03)
    assert np.all(np.abs(frame["S1"] - ISHIGAMI_S1) <= 2 * frame["S1_conf"] + 1e-3)
    assert np.all(np.abs(frame["ST"] - ISHIGAMI_ST) <= 2 * frame["ST_conf"] + 1e-3)


def test_sobol_sorted_and_reproducible(ishigami):
    a = gsa.sobol(ishigami, n_base=256, wtp=0.0, seed=3)
    b = gsa.sobol(ishigami, n_base=256, wtp=0.0, seed=3)
    assert a["ST"].is_monotonic_decreasing and list(a["factor"])[0] == "x1"
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_group_indices_of_a_correlated_block():
    # y = m1 + m2 + z, (m1, m2) bivariate normal with sd 1 and 2, correlation 0.5; z ~ N(0, 1.5).
    # Var(m1 + m2) = 1 + 4 + 2 * 0.5 * 1 * 2 = 7, Var(z) = 2.25: block share 7 / 9.25 = 0.7568
    table = ParameterTable()
    table.add_block(["m1", "m2"], MultivariateNormal([0.0, 0.0], [[1.0, 1.0], [1.0, 4.0]]), group="block")
    table.add("z", dist=Normal(0.0, 1.5))
    model = FunctionModel("additive", ("zero", "y"), table, _sum)
    frame = gsa.sobol(model, n_base=2048, wtp=0.0, seed=1, groups="blocks").set_index("factor")
    assert set(frame.index) == {"block", "z"}
    assert frame.loc["block", "S1"] == pytest.approx(7.0 / 9.25, abs=0.03)
    assert frame.loc["block", "ST"] == pytest.approx(7.0 / 9.25, abs=0.03)
    assert frame.loc["z", "ST"] == pytest.approx(2.25 / 9.25, abs=0.03)


def test_morris_linear_model_closed_form():
    # a ~ U(0, 10), b ~ U(-1, 1), c ~ U(0, 1); y = 2a - 5b. One design step of Delta maps to a
    # parameter step of 0.95 * Delta * (high - low), so every elementary effect is exactly
    # coefficient * 0.95 * (high - low): mu* = 19 and 9.5, sigma = 0; c has no effect.
    table = ParameterTable()
    table.add("a", dist=Uniform(0.0, 10.0)).add("b", dist=Uniform(-1.0, 1.0)).add("c", dist=Uniform(0.0, 1.0))
    model = FunctionModel("linear", ("zero", "y"), table, _linear)
    frame = gsa.morris(model, num_levels=4, trajectories=20, wtp=0.0, seed=2).set_index("factor")
    assert frame.loc["a", "mu_star"] == pytest.approx(19.0, rel=1e-9)
    assert frame.loc["b", "mu_star"] == pytest.approx(9.5, rel=1e-9)
    assert frame.loc["b", "mu"] == pytest.approx(-9.5, rel=1e-9)
    assert frame.loc["c", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(frame["sigma"], 0.0, atol=1e-9)


def test_hiv_sobol_and_morris_agree_on_the_main_drivers():
    # Gamma costs with SE = mean (Briggs et al. 2006 Ex 4.7) make the state-A medical cost and the
    # relative risk the two largest sources of INMB variance at WTP 8,000 (ST about 0.39 and 0.27
    # with n_base = 1,024; the next is 0.19); Morris screening finds the same two.
    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)
    frame = gsa.sobol(model, n_base=512, wtp=8000.0, seed=1, groups="blocks")
    assert "transitions from A" in set(frame["factor"]) and len(frame) == 3 + 6 + 1
    assert set(frame["factor"].iloc[:2]) == {"c_dmed_A", "rr"}
    assert frame["S1"].sum() <= 1.05 and frame["ST"].iloc[0] < 1.0
    screen = gsa.morris(model, trajectories=40, wtp=8000.0, seed=1)
    assert len(screen) == len(model.parameters.unit_columns)
    assert set(screen["factor"].iloc[:2]) == {"c_dmed_A", "rr"}


def test_gsa_errors(ishigami):
    with pytest.raises(HtaError, match="power of 2"):
        gsa.sobol(ishigami, n_base=1000, wtp=0.0)
    with pytest.raises(HtaError, match="outcome"):
        gsa.sobol(ishigami, n_base=64, wtp=0.0, outcome="icer")
    with pytest.raises(HtaError, match="groups"):
        gsa.sobol(ishigami, n_base=64, wtp=0.0, groups="tables")
    fixed = FunctionModel("fixed", ("a", "b"), ParameterTable().add("x", 1.0), _ishigami)
    with pytest.raises(HtaError, match="no stochastic parameters"):
        gsa.sobol(fixed, n_base=64, wtp=0.0)


@pytest.mark.parametrize("second_order", [False, True])
@pytest.mark.parametrize("groups", [None, ["a", "b", "a", "c", "b"]])
@pytest.mark.parametrize("seed", [1, 20261205])
def test_saltelli_design_equals_salib_sample_bit_for_bit(second_order, groups, seed):
    # The design hta builds with array copies must be SALib's own (SALib.sample.sobol.sample),
    # point for point and in the same order, since SALib.analyze.sobol reads that layout.
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 5, "names": list("vwxyz"), "bounds": [[0.0, 1.0]] * 5}
    if groups is not None:
        problem["groups"] = groups
    ours = gsa.saltelli_design(problem, 64, second_order, seed)
    theirs = sobol_sample.sample(problem, 64, calc_second_order=second_order, scramble=True, seed=seed)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_saltelli_design_of_a_model_equals_salib_with_table_groups():
    from SALib.sample import sobol as sobol_sample

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)
    for groups in (None, "blocks", "table"):
        problem, u = gsa.sobol_design(model, 128, seed=7, groups=groups)
        assert np.array_equal(u, sobol_sample.sample(problem, 128, calc_second_order=False, scramble=True, seed=7))


def test_design_mapped_on_threads_is_the_same_batch():
    # _from_unit cuts the design's rows into one part per worker; every column must equal the
    # one-call mapping bit for bit (the inverse CDFs act row by row).
    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)
    _, u = gsa.sobol_design(model, 512, seed=3)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    whole = model.parameters.from_unit(u)
    for workers in (2, 3):
        split = gsa._from_unit(model.parameters, u, workers)
        assert split.n == whole.n and set(split.names) == set(whole.names)
        assert all(np.array_equal(split[c], whole[c]) for c in whole.names)
