"""Tests for hta.params: the parameter table, batches, and chunk-invariant PSA sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hta.errors import HtaError
from hta.params import Batch, Parameter, ParameterTable
from hta.params.distributions import (
    Beta,
    Dirichlet,
    Gamma,
    LogNormal,
    MultivariateNormal,
    Normal,
    Triangular,
    Uniform,
)

SEED = 20240501


def make_table() -> ParameterTable:
    t = ParameterTable()
    t.add("p_resp", dist=Beta.from_mean_se(0.3, 0.05), group="efficacy", source="trial")
    t.add("c_drug", 52_000.0, unit="HKD/cycle", description="acquisition cost")
    t.add("c_admin", dist=Gamma.from_mean_se(1_200.0, 300.0), group="costs", unit="HKD")
    t.add("hr_os", 0.7, dist=LogNormal.from_mean_se(0.7, 0.1), group="efficacy")
    t.add_block(["p_a", "p_b", "p_c"], Dirichlet([10, 20, 70]), group="mix")
    t.add_block(
        ["b0", "b1"], MultivariateNormal([1.0, -0.5], [[0.04, -0.01], [-0.01, 0.09]])
    )
    t.add("u_pf", dist=Normal(0.78, 0.03))
    t.add("u_pd", 0.6, dist=Uniform(0.5, 0.7), low=0.55, high=0.65)
    t.add("los", dist=Triangular(2.0, 3.0, 6.0))
    return t


def assert_batches_identical(a: Batch, b: Batch):
    assert a.names == b.names and a.n == b.n
    for k in a.names:
        assert np.array_equal(a[k], b[k]), k


# --- sampling ----------------------------------------------------------------------------------


def test_chunk_invariance_bit_for_bit():
    t = make_table()
    whole = t.sample(10_000, SEED)
    thousands = Batch.concat([t.sample(1_000, SEED, start=k * 1_000) for k in range(10)])
    assert_batches_identical(whole, thousands)
    # uneven chunks with a remainder: 3 x 3,333 + 1
    uneven = Batch.concat(
        [t.sample(3_333, SEED, start=s) for s in (0, 3_333, 6_666)]
        + [t.sample(1, SEED, start=9_999)]
    )
    assert_batches_identical(whole, uneven)


def test_start_offsets_select_draws():
    t = make_table()
    whole = t.sample(12, SEED)
    part = t.sample(5, SEED, start=7)
    for name in t.names:
        np.testing.assert_array_equal(part[name], whole[name][7:])


def test_same_seed_same_draws_different_seed_differs():
    t = make_table()
    a, b, c = t.sample(500, 1), t.sample(500, 1), t.sample(500, 2)
    assert_batches_identical(a, b)
    for name in t.unit_columns:
        assert not np.array_equal(a[name], c[name]), name
    # a SeedSequence seed is equivalent to its integer and is not consumed by sampling
    ss = np.random.SeedSequence(1)
    assert_batches_identical(t.sample(500, ss), a)
    assert_batches_identical(t.sample(500, ss), a)


def test_streams_independent_of_later_additions_and_scenarios():
    t = make_table()
    before = t.sample(200, SEED)
    t.add("extra", dist=Beta(2, 3))
    after = t.sample(200, SEED)
    for name in before.names:
        np.testing.assert_array_equal(before[name], after[name])
    # fixing one parameter (a scenario) leaves the draws of all others unchanged
    fixed = make_table().with_overrides(p_resp=0.25).sample(200, SEED)
    assert np.all(fixed["p_resp"] == 0.25)
    for name in before.names:
        if name != "p_resp":
            np.testing.assert_array_equal(before[name], fixed[name])


def test_columns_are_independent_streams():
    t = ParameterTable()
    for i in range(4):
        t.add(f"u{i}", dist=Uniform(0, 1))
    x = t.sample(50_000, SEED).to_frame().to_numpy()
    corr = np.corrcoef(x, rowvar=False)
    assert np.max(np.abs(corr - np.eye(4))) < 5 / np.sqrt(50_000)


def test_sample_moments_and_fixed_parameters():
    t = make_table()
    s = t.sample(20_000, SEED)
    assert np.all(s["c_drug"] == 52_000.0)
    assert abs(s["p_resp"].mean() - 0.3) < 5 * 0.05 / np.sqrt(20_000)
    assert abs(s["c_admin"].mean() - 1_200.0) < 5 * 300.0 / np.sqrt(20_000)
    np.testing.assert_allclose(s["p_a"] + s["p_b"] + s["p_c"], 1.0, atol=1e-12)
    assert np.corrcoef(s["b0"], s["b1"])[0, 1] == pytest.approx(-0.01 / 0.06, abs=0.03)
    assert np.all(np.isfinite(s.to_frame().to_numpy()))


def test_sample_rejects_bad_arguments():
    t = make_table()
    with pytest.raises(HtaError, match="seed"):
        t.sample(10, None)
    with pytest.raises(HtaError, match="n must be"):
        t.sample(0, 1)
    with pytest.raises(HtaError, match="start must be"):
        t.sample(10, 1, start=-1)


# --- table construction ------------------------------------------------------------------------


def test_defaults_for_low_high_and_fixed():
    t = make_table()
    lo, hi = stats.beta(24.9, 58.1).interval(0.95)
    assert (t["p_resp"].low, t["p_resp"].high) == (pytest.approx(lo), pytest.approx(hi))
    assert t["p_resp"].base == pytest.approx(0.3)  # base defaults to the mean
    assert (t["c_drug"].low, t["c_drug"].base, t["c_drug"].high) == (52_000.0,) * 3
    assert t["c_drug"].is_fixed
    assert (t["u_pd"].low, t["u_pd"].high) == (0.55, 0.65)
    lo_b0, hi_b0 = stats.norm(1.0, 0.2).interval(0.95)
    assert (t["b0"].low, t["b0"].high) == (pytest.approx(lo_b0), pytest.approx(hi_b0))
    assert isinstance(t["b0"], Parameter) and t["b1"].block == ("b0", "b1")


def test_names_groups_len_contains():
    t = make_table()
    assert t.names == ["p_resp", "c_drug", "c_admin", "hr_os", "p_a", "p_b", "p_c", "b0", "b1",
                       "u_pf", "u_pd", "los"]
    assert len(t) == 12 and "hr_os" in t and "nope" not in t
    assert t.groups["efficacy"] == ["p_resp", "hr_os"]
    assert t.groups["mix"] == ["p_a", "p_b", "p_c"]
    assert t.groups["b0+b1"] == ["b0", "b1"]
    assert t.groups["c_drug"] == ["c_drug"]
    assert t.unit_columns == ["p_resp", "c_admin", "hr_os", "p_a", "p_b", "p_c", "b0", "b1",
                              "u_pf", "u_pd", "los"]


def test_to_frame():
    f = make_table().to_frame()
    assert list(f.columns) == ["name", "base", "low", "high", "distribution", "group", "unit",
                               "description", "source"]
    assert len(f) == 12
    row = f.set_index("name").loc["p_resp"]
    assert row["distribution"] == "Beta(alpha=24.9, beta=58.1)"
    assert row["source"] == "trial"
    assert f.set_index("name").loc["p_b", "distribution"].endswith("[component 2 of 3]")


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda t: t.add("p_resp", 0.1), "parameter 'p_resp': defined twice"),
        (lambda t: t.add("x", 5.0, low=6.0, high=4.0), "parameter 'x': low must not exceed high"),
        (lambda t: t.add("x", 5.0, low=6.0, high=8.0), "parameter 'x': base value must lie in"),
        (lambda t: t.add("x", "abc"), "parameter 'x': base value must be a number"),
        (lambda t: t.add("x"), "parameter 'x': needs a base value or a distribution"),
        (lambda t: t.add("x", dist=Dirichlet([1, 2])), "parameter 'x': a dirichlet distribution"),
        (lambda t: t.add_block(["a", "b"], Dirichlet([1, 2, 3])), "has 3 components; found 2"),
        (lambda t: t.add_block(["a", "b"], Beta(1, 2)), "expects a multivariate normal"),
        (lambda t: t.add_block(["a", "p_resp"], Dirichlet([1, 2])), "'p_resp': defined twice"),
        (lambda t: t.add_block(["a", "b"], Dirichlet([1, 1]), base=[0.2, 0.2]), "sum to 1"),
        (lambda t: t["nope"], "no parameter named 'nope' in the table"),
        (lambda t: t.one_way(["nope"]), "no parameter named 'nope'"),
    ],
)
def test_table_errors(call, fragment):
    with pytest.raises(HtaError) as err:
        call(make_table())
    assert fragment in str(err.value)


# --- base and one-way --------------------------------------------------------------------------


def test_base_batch():
    t = make_table()
    b = t.base()
    assert b.n == 1 and b.names == t.names
    assert b["c_drug"].tolist() == [52_000.0]
    assert b["p_resp"][0] == pytest.approx(0.3)
    assert b["b1"].tolist() == [-0.5]


def test_one_way_rows_and_defaults():
    t = make_table()
    batch, frame = t.one_way()
    varied = [n for n in t.names if n != "c_drug"]  # fixed parameter skipped (low == high)
    assert batch.n == 2 * len(varied) == len(frame)
    assert frame["parameter"].tolist() == [n for n in varied for _ in range(2)]
    assert frame["bound"].tolist() == ["low", "high"] * len(varied)
    base = t.base()
    for row, (name, bound, value) in enumerate(frame.itertuples(index=False)):
        expected = getattr(t[name], bound)
        assert value == expected and batch[name][row] == expected
        for other in ("c_drug", "hr_os", "u_pf"):
            if other != name:
                assert batch[other][row] == base[other][0]
    # a multivariate-normal member moves alone
    r = frame.index[(frame.parameter == "b0") & (frame.bound == "high")][0]
    assert batch["b1"][r] == -0.5


def test_one_way_dirichlet_rescales_other_members():
    t = make_table()
    batch, frame = t.one_way(["p_a"])
    low = t["p_a"].low
    # the others keep their 20:70 ratio and the block sums to 1
    assert batch["p_a"][0] == low
    assert batch["p_b"][0] == pytest.approx((1 - low) * 20 / 90)
    assert batch["p_c"][0] == pytest.approx((1 - low) * 70 / 90)
    np.testing.assert_allclose(batch["p_a"] + batch["p_b"] + batch["p_c"], 1.0, atol=1e-12)


def test_fixed_parameter_with_one_way_range():
    # fixed in the PSA but varied +/-20 % in the one-way analysis
    t = ParameterTable().add("c_ward", 1_000.0, low=800.0, high=1_200.0).add("u", 0.8)
    assert t.unit_columns == [] and t.sample(3, 1)["c_ward"].tolist() == [1_000.0] * 3
    batch, frame = t.one_way()
    assert frame["parameter"].tolist() == ["c_ward", "c_ward"]
    assert batch["c_ward"].tolist() == [800.0, 1_200.0] and batch["u"].tolist() == [0.8, 0.8]


def test_one_way_explicit_fixed_parameter_included():
    batch, frame = make_table().one_way(["c_drug", "u_pd"])
    assert frame["parameter"].tolist() == ["c_drug", "c_drug", "u_pd", "u_pd"]
    assert batch["c_drug"].tolist() == [52_000.0] * 4
    assert batch["u_pd"].tolist() == [0.6, 0.6, 0.55, 0.65]


# --- unit hypercube and SALib ------------------------------------------------------------------


def test_from_unit_half_gives_medians():
    t = make_table()
    b = t.from_unit(np.full((2, len(t.unit_columns)), 0.5))
    assert b.n == 2
    assert b["p_resp"][0] == pytest.approx(stats.beta(24.9, 58.1).median(), rel=1e-12)
    assert b["c_admin"][0] == pytest.approx(stats.gamma(16.0, scale=75.0).median(), rel=1e-12)
    assert b["hr_os"][0] == pytest.approx(np.exp(t["hr_os"].dist.meanlog), rel=1e-12)
    assert b["u_pf"][0] == 0.78 and b["u_pd"][0] == 0.6 and b["b0"][0] == 1.0
    assert b["los"][0] == pytest.approx(6 - np.sqrt(0.5 * 4 * 3))  # triangular median
    assert b["c_drug"][0] == 52_000.0


def test_from_unit_rejects_bad_designs():
    t = make_table()
    d = len(t.unit_columns)
    with pytest.raises(HtaError, match=rf"shape \(n, {d}\)"):
        t.from_unit(np.full((3, d - 1), 0.5))
    u = np.full((3, d), 0.5)
    u[1, 2] = 1.2
    with pytest.raises(HtaError, match="column 'hr_os' must lie in"):
        t.from_unit(u)
    u[1, 2] = 0.5
    u[0, t.unit_columns.index("u_pf")] = 0.0
    with pytest.raises(HtaError, match="parameter 'u_pf'.*non-finite"):
        t.from_unit(u)


def test_salib_problem_and_sample_roundtrip():
    from SALib.sample import sobol as sobol_sample

    t = make_table()
    problem = t.salib_problem()
    assert problem["num_vars"] == 11
    assert problem["names"] == t.unit_columns
    assert problem["bounds"] == [[0.0, 1.0]] * 11
    assert problem["groups"] == ["p_resp", "c_admin", "hr_os", "mix", "mix", "mix",
                                 "b0+b1", "b0+b1", "u_pf", "u_pd", "los"]
    grouped = t.salib_problem(use_groups=True)["groups"]
    assert grouped[:3] == ["efficacy", "costs", "efficacy"]
    x = sobol_sample.sample(problem, 64, calc_second_order=False, seed=1)
    x = np.clip(x, 1e-12, 1 - 1e-12)
    b = t.from_unit(x)
    assert b.n == x.shape[0]
    np.testing.assert_allclose(b["p_a"] + b["p_b"] + b["p_c"], 1.0, atol=1e-12)


# --- scenarios ---------------------------------------------------------------------------------


def test_replace_and_overrides_return_new_tables():
    t = make_table()
    t2 = t.replace("c_admin", dist=Gamma.from_mean_se(1_500.0, 300.0))
    assert t["c_admin"].base == pytest.approx(1_200.0)  # original untouched
    assert t2["c_admin"].base == pytest.approx(1_500.0)
    assert t2["c_admin"].low == pytest.approx(stats.gamma(25.0, scale=60.0).ppf(0.025))
    t3 = t.replace("c_drug", base=60_000.0)
    assert (t3["c_drug"].low, t3["c_drug"].high) == (60_000.0, 60_000.0)
    assert t3["c_drug"].is_fixed
    t4 = t.replace("hr_os", base=0.72)  # stochastic: keeps distribution and range
    assert t4["hr_os"].dist is t["hr_os"].dist and t4["hr_os"].low == t["hr_os"].low
    t5 = t.with_overrides(hr_os=0.8, u_pf=Normal(0.8, 0.01))
    assert t5["hr_os"].is_fixed and t5["hr_os"].base == 0.8
    assert t5["u_pf"].base == 0.8 and t5["u_pf"].dist.sd == 0.01
    assert t5.names == t.names
    with pytest.raises(HtaError, match="member of the block"):
        t.with_overrides(p_a=0.2)
    assert t.replace("b0", base=1.1)["b0"].base == 1.1


# --- Batch -------------------------------------------------------------------------------------


def test_batch_helpers():
    b = Batch({"a": [1.0, 2.0, 3.0], "b": 5.0})
    assert b.n == 3 and b.names == ["a", "b"] and len(b) == 3 - 1
    assert b["b"].tolist() == [5.0, 5.0, 5.0]
    with pytest.raises(ValueError):
        b["a"][0] = 9.0  # read-only
    c = b.with_values(b=[7.0, 8.0, 9.0], a=0.0)
    assert c["a"].tolist() == [0.0] * 3 and c["b"].tolist() == [7.0, 8.0, 9.0]
    assert b["a"].tolist() == [1.0, 2.0, 3.0]  # original untouched
    assert b.with_values({"a": 4.0})["a"].tolist() == [4.0] * 3
    assert b.take([2, 0])["a"].tolist() == [3.0, 1.0]
    assert b.take(1).n == 1
    assert b.take(np.array([True, False, True]))["a"].tolist() == [1.0, 3.0]
    cat = Batch.concat([b, b.take([0])])
    assert cat.n == 4 and cat["a"].tolist() == [1.0, 2.0, 3.0, 1.0]
    f = b.to_frame()
    assert isinstance(f, pd.DataFrame) and f.shape == (3, 2) and f["a"].tolist() == [1.0, 2.0, 3.0]
    assert "a" in b and "z" not in b and b.get("z") is None


def test_base_batch_broadcasts_to_sweep():
    sweep = make_table().base().with_values(c_drug=np.linspace(40_000, 60_000, 5))
    assert sweep.n == 5 and sweep["c_drug"][-1] == 60_000.0
    assert np.all(sweep["u_pf"] == 0.78)


def test_batch_errors():
    b = Batch({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(HtaError, match=r"^no parameter named 'x' in the batch; known: a, b$"):
        b["x"]
    with pytest.raises(HtaError, match="no parameter named 'x'"):
        b.with_values(x=1.0)
    with pytest.raises(HtaError, match="length 2"):
        b.with_values(a=[1.0, 2.0, 3.0])
    with pytest.raises(HtaError, match="same length"):
        Batch({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(HtaError, match="different parameters"):
        Batch.concat([b, Batch({"a": [1.0]})])
