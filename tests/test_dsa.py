"""One-way, tornado, two-way, threshold and probabilistic-threshold analyses (hta.analysis.dsa).

References: Briggs, Claxton & Sculpher (2006) Exercise 2.5 (HIV model: ICER 6,275.96 per LY
gained); closed forms for models linear in the varied parameter; the flagship eque-cel model
for the threshold round trip (ICER = WTP at the threshold price).
"""

from dataclasses import fields
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hta.analysis import dsa
from hta.analysis.evaluate import FunctionModel
from hta.errors import HtaError
from hta.params import ParameterTable
from hta.params.distributions import Normal
from models import hiv_chancellor as hiv

WTP_1X, WTP_3X = 395437.0, 1186311.0  # HK GDP per capita 2023 x 1 and x 3 (inputs/fucaso_hk.xlsx)


@pytest.fixture(scope="module")
def hiv_model():
    return FunctionModel("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate,
                         strategy_labels={"monotherapy": "Zidovudine", "combination": "Zidovudine + lamivudine"})


@pytest.fixture(scope="module")
def flagship():
    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm

    return fucaso_rrmm.build(read_inputs("inputs/fucaso_hk.xlsx"))


def _direct(model, **values):
    out = model.evaluate(model.parameters.base().with_values(values))
    return out.costs[0], out.qalys[0]


def _quadratic(batch):
    # incremental NMB at WTP 0 is -(x - 1)(x - 3): roots at 1 and 3, positive between them
    x = np.asarray(batch["x"])
    z = np.zeros_like(x)
    return SimpleNamespace(costs=np.stack([z, (x - 1) * (x - 3)], 1), qalys=np.stack([z, z], 1),
                           lys=np.stack([z, z], 1))


@pytest.fixture(scope="module")
def quadratic_model():
    table = ParameterTable().add("x", 2.0, Normal(2.0, 1.0))
    return FunctionModel("quadratic", ("zero", "q"), table, _quadratic)


# ------------------------------------------------------------------------------------------ one-way


def test_one_way_base_case_is_briggs_icer(hiv_model):
    frame = dsa.one_way(hiv_model, wtp=10000)
    assert set(frame["strategy"]) == {"combination"} and set(frame["comparator"]) == {"monotherapy"}
    # Briggs et al. (2006) Ex 2.5: 50,601.65 - 44,663.45 = 5,938.20; 8.9374 - 7.9912 = 0.9462 LYs
    assert frame["base_icer"].iloc[0] == pytest.approx(6275.96, abs=0.01)
    assert frame["base_inc_cost"].iloc[0] == pytest.approx(5938.20, abs=0.01)
    assert frame["base_inmb"].iloc[0] == pytest.approx(10000 * frame["base_inc_qaly"].iloc[0] - 5938.20, abs=0.01)


def test_one_way_rows_equal_direct_evaluations(hiv_model):
    frame = dsa.one_way(hiv_model, wtp=10000).set_index("parameter")
    table = hiv_model.parameters
    # every stochastic scalar with distinct low/high is varied (14 here), fixed drug costs are not
    assert "c_zidovudine" not in frame.index and "rr" in frame.index
    row = frame.loc["rr"]
    assert row["low_value"] == table["rr"].low and row["high_value"] == table["rr"].high
    for bound in ("low", "high"):
        c, e = _direct(hiv_model, rr=row[f"{bound}_value"])
        assert row[f"inc_cost_{bound}"] == pytest.approx(c[1] - c[0], rel=1e-12)
        assert row[f"inc_qaly_{bound}"] == pytest.approx(e[1] - e[0], rel=1e-12)
        assert row[f"inmb_{bound}"] == pytest.approx(10000 * (e[1] - e[0]) - (c[1] - c[0]), rel=1e-12)
        assert row[f"icer_{bound}"] == pytest.approx((c[1] - c[0]) / (e[1] - e[0]), rel=1e-12)


def test_one_way_named_fixed_parameter_is_varied(hiv_model):
    frame = dsa.one_way(hiv_model, names=["c_lamivudine"], wtp=0)
    assert len(frame) == 1 and frame["low_value"].iloc[0] == frame["high_value"].iloc[0] == 2086.5


def test_tornado_sorted_by_swing(hiv_model):
    frame = dsa.one_way(hiv_model, wtp=10000)
    tor = dsa.tornado(frame, outcome="inmb")
    swings = np.abs(frame["inmb_high"] - frame["inmb_low"]).to_numpy()
    np.testing.assert_allclose(tor["swing"], np.sort(swings)[::-1])
    # the relative risk drives the LY gain of combination therapy: the widest INMB swing
    assert tor["parameter"].iloc[0] == "rr"
    top3 = dsa.tornado(frame, outcome="inc_cost", top=3)
    assert len(top3) == 3 and top3["swing"].is_monotonic_decreasing


def test_tornado_rejects_unknown_outcome(hiv_model):
    with pytest.raises(HtaError, match="tornado outcome"):
        dsa.tornado(dsa.one_way(hiv_model, wtp=1), outcome="nhb")


# ------------------------------------------------------------------------------------------ two-way


def test_two_way_grid_equals_direct(hiv_model):
    grid = dsa.two_way(hiv_model, "rr", [0.4, 0.5, 0.6], "c_lamivudine", [1000.0, 3000.0], wtp=8000)
    assert len(grid) == 6
    row = grid[(grid["rr"] == 0.6) & (grid["c_lamivudine"] == 1000.0)].iloc[0]
    c, e = _direct(hiv_model, rr=0.6, c_lamivudine=1000.0)
    assert row["inc_cost"] == pytest.approx(c[1] - c[0], rel=1e-12)
    assert row["inmb"] == pytest.approx(8000 * (e[1] - e[0]) - (c[1] - c[0]), rel=1e-12)


# ------------------------------------------------------------------------------------------ threshold


def test_threshold_matches_linear_closed_form(hiv_model):
    # dCost is linear in the lamivudine price p: dC(p) = dC(p0) + (p - p0) * D; the threshold
    # is p* = p0 + (wtp * dE - dC(p0)) / D
    wtp = 10000.0
    c0, e0 = _direct(hiv_model, c_lamivudine=2086.5)
    c1, _ = _direct(hiv_model, c_lamivudine=3086.5)
    slope = ((c1[1] - c1[0]) - (c0[1] - c0[0])) / 1000.0
    expected = 2086.5 + (wtp * (e0[1] - e0[0]) - (c0[1] - c0[0])) / slope
    res = dsa.threshold(hiv_model, "c_lamivudine", wtp, 0.0, 20000.0)
    assert res.found and res.roots == (res.value,)
    assert res.value == pytest.approx(expected, rel=1e-10)
    assert "Zidovudine + lamivudine vs Zidovudine" in res.message


def test_threshold_absent_gives_message_not_error(hiv_model):
    res = dsa.threshold(hiv_model, "c_lamivudine", 10000.0, 0.0, 100.0)
    assert not res.found and np.isnan(res.value) and res.inmb_lower > 0 and res.inmb_upper > 0
    assert res.message == ("Zidovudine + lamivudine is cost-effective vs Zidovudine at every value of "
                           "c_lamivudine in [0, 100] at WTP 10,000")
    res = dsa.threshold(hiv_model, "c_lamivudine", 10000.0, 50000.0, 60000.0)
    assert not res.found and "is not cost-effective" in res.message


def test_threshold_reports_every_root(quadratic_model):
    res = dsa.threshold(quadratic_model, "x", 0.0, 0.0, 5.0, grid=20)
    np.testing.assert_allclose(res.roots, [1.0, 3.0], rtol=1e-10)
    assert res.value == pytest.approx(1.0)


def test_threshold_errors(hiv_model):
    with pytest.raises(HtaError, match="lower < upper"):
        dsa.threshold(hiv_model, "c_lamivudine", 1.0, 5.0, 1.0)
    with pytest.raises(HtaError, match="no parameter named 'price'"):
        dsa.threshold(hiv_model, "price", 1.0, 0.0, 1.0)
    with pytest.raises(HtaError, match="comparator"):
        dsa.threshold(hiv_model, "c_lamivudine", 1.0, 0.0, 1.0, comparator="placebo")


def test_flagship_threshold_price_round_trip(flagship):
    table = dsa.threshold_table(flagship, "c_eqcel_price", lower=0.0, upper=5e6)
    assert list(table["wtp"]) == [WTP_1X, WTP_3X] and table["found"].all()
    for _, row in table.iterrows():
        c, q = _direct(flagship, c_eqcel_price=row["threshold"])
        icer = (c[1] - c[0]) / (q[1] - q[0])
        assert icer == pytest.approx(row["wtp"], rel=1e-6)
    # a higher WTP tolerates a higher price
    assert table["threshold"].iloc[1] > table["threshold"].iloc[0] > 0


def test_flagship_no_threshold_message(flagship):
    res = dsa.threshold(flagship, "c_eqcel_price", WTP_1X, 0.0, 100000.0)
    assert not res.found
    assert "cost-effective vs" in res.message and "at every value of c_eqcel_price in [0, 100,000]" in res.message


def _wavy(batch):
    # incremental NMB at WTP k: k (1 + 0.3 cos 2x) - 40 sin x - x^2, several roots in [0, 10] for small k
    x = np.asarray(batch["x"])
    z = np.zeros_like(x)
    return SimpleNamespace(costs=np.stack([z, 40 * np.sin(x) + x * x], 1),
                           qalys=np.stack([z + 1, 2 + 0.3 * np.cos(2 * x)], 1), lys=np.stack([z + 1, z + 2], 1))


def _counted(evaluate, rows):
    return FunctionModel("wavy", ("ref", "new"), ParameterTable().add("x", 2.0, Normal(2.0, 1.0)),
                         lambda b: rows.append(b.n) or evaluate(b))


def _threshold_point_by_point(model, parameter, k, lo, hi, grid=21):
    """The threshold as found before searches shared model calls: the scan, then scipy's brentq
    with one model call per point. Returns (roots, model calls)."""
    from scipy.optimize import brentq

    base = model.parameters.base()

    def inmb(values):
        out = model.evaluate(base.with_values({parameter: np.atleast_1d(np.asarray(values, float))}))
        return k * (out.qalys[:, 1] - out.qalys[:, 0]) - (out.costs[:, 1] - out.costs[:, 0])

    xs = np.linspace(lo, hi, grid)
    ys = inmb(xs)
    roots, calls = [float(x) for x, y in zip(xs, ys) if y == 0.0], [1]
    for i in range(grid - 1):
        if ys[i] * ys[i + 1] < 0:
            roots.append(float(brentq(lambda x: calls.append(1) or float(inmb(x)[0]), xs[i], xs[i + 1],
                                      xtol=1e-12 * max(abs(lo), abs(hi), 1.0), rtol=4 * np.finfo(float).eps)))
    return tuple(sorted(roots)), len(calls)


def test_threshold_searches_side_by_side_equal_separate_searches():
    rows = []
    model = _counted(_wavy, rows)
    wtps = [5.0, 20.0, 45.0, 20.0, 400.0]
    table = dsa.threshold_table(model, "x", wtps=wtps, lower=0.0, upper=10.0)
    calls, table_rows = len(rows), sum(rows)
    expected = [_threshold_point_by_point(model, "x", k, 0.0, 10.0) for k in wtps]
    assert max(len(r) for r, _ in expected) >= 3 and min(len(r) for r, _ in expected) == 0  # several roots, and none
    for (roots, n_calls), (_, row), k in zip(expected, table.iterrows(), wtps):
        assert row["roots"] == roots  # bit for bit
        assert (row["threshold"] == roots[0]) if roots else (np.isnan(row["threshold"]) and not row["found"])
        single = dsa.threshold(model, "x", k, 0.0, 10.0)
        assert single.roots == roots and single.evaluations == n_calls
    # one scan and one call per round of the searches, instead of one call per point; WTP 20 is
    # asked twice and searched once; the ends of each search are scan points, not evaluated again
    unique = [expected[i] for i in (0, 1, 2, 4)]
    assert calls < sum(n for _, n in unique) / 3
    assert table_rows == 21 + sum(n - 1 - 2 * len(r) for r, n in unique)
    frames = dsa.threshold_tables(model, "x", [wtps[:2], wtps[2:]], lower=0.0, upper=10.0)
    for part, frame in zip((wtps[:2], wtps[2:]), frames):
        pd.testing.assert_frame_equal(frame, dsa.threshold_table(model, "x", wtps=part, lower=0.0, upper=10.0),
                                      check_exact=True)


def _hole(batch):
    # incremental NMB at WTP k is k - x, but the model fails (NaN costs) for 2.51 < x < 2.99,
    # between the scan points 2.5 and 3.0 of [0, 10]
    x = np.asarray(batch["x"], dtype=float)
    z = np.zeros_like(x)
    cost = np.where((x > 2.51) & (x < 2.99), np.nan, x)
    return SimpleNamespace(costs=np.stack([z, cost], 1), qalys=np.stack([z, z + 1], 1), lys=np.stack([z, z + 1], 1))


def test_a_failing_search_point_is_named_as_a_search_of_its_own_names_it():
    model = _counted(_hole, [])
    with pytest.raises(HtaError, match=r"parameter set 0 \(of 1; 1 affected\) gives costs = nan"):
        dsa.threshold(model, "x", 2.75, 0.0, 10.0)
    # two searches step into the hole in the same round: the error names the point as above,
    # not as row 0 of a batch of 2
    with pytest.raises(HtaError, match=r"parameter set 0 \(of 1; 1 affected\) gives costs = nan"):
        dsa.threshold_table(model, "x", wtps=[2.75, 2.8], lower=0.0, upper=10.0)


def test_probabilistic_thresholds_share_the_evaluations_of_every_wtp(hiv_model):
    rows = []
    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), lambda b: rows.append(b.n) or hiv.evaluate(b))
    for method in ("exact", "bracket"):
        kw = dict(n=300, seed=5, lower=0.0, upper=20000.0, method=method, xtol=1e-3)
        wtps = [6000.0, 8000.0, 8000.0]
        rows.clear()
        many = dsa.probabilistic_thresholds(model, "c_lamivudine", wtps, **kw)
        shared_rows = sum(rows)
        rows.clear()
        singles = [dsa.probabilistic_threshold(model, "c_lamivudine", w, **kw) for w in wtps]
        assert shared_rows < sum(rows)
        if method == "exact":
            assert shared_rows == 3 * 300  # lower, midpoint, upper: once for all WTPs
        for a, b in zip(many, singles):
            for f in fields(a):
                x, y = getattr(a, f.name), getattr(b, f.name)
                assert np.array_equal(x, y) if isinstance(x, np.ndarray) else (x == y or (x != x and y != y)), f.name


# ------------------------------------------------------------------------------------------ probabilistic


def test_probabilistic_threshold_exact_equals_bracket_and_definition(hiv_model):
    kw = dict(wtp=8000.0, level=0.5, n=400, seed=11, lower=0.0, upper=20000.0)
    exact = dsa.probabilistic_threshold(hiv_model, "c_lamivudine", **kw)
    bracket = dsa.probabilistic_threshold(hiv_model, "c_lamivudine", method="bracket", xtol=1e-6, **kw)
    assert exact.method == "exact" and bracket.method == "bracket"
    assert exact.found and bracket.value == pytest.approx(exact.value, abs=1e-5)
    # price enters linearly with a negative slope, so P(CE) falls: the threshold is the draw root
    # at which the share of draws with root > price drops below 50%
    roots = np.sort(exact.draw_thresholds)
    # just below roots[200] exactly 200 of 400 draws (roots[200:]) are cost-effective; at it, 199
    assert exact.value == pytest.approx(roots[200], rel=1e-12)
    # definition checked by direct model runs on the same draws (common random numbers)
    draws = hiv_model.parameters.sample(400, 11)
    for price, expect_ce in ((exact.value * (1 - 1e-9), True), (exact.value * (1 + 1e-9), False)):
        out = hiv_model.evaluate(draws.with_values(c_lamivudine=price))
        inmb = 8000.0 * (out.qalys[:, 1] - out.qalys[:, 0]) - (out.costs[:, 1] - out.costs[:, 0])
        assert (np.mean(inmb > 0) >= 0.5) == expect_ce


def test_probabilistic_threshold_level_moves_price(hiv_model):
    kw = dict(wtp=8000.0, n=300, seed=5, lower=0.0, upper=20000.0)
    p80 = dsa.probabilistic_threshold(hiv_model, "c_lamivudine", level=0.8, **kw)
    p50 = dsa.probabilistic_threshold(hiv_model, "c_lamivudine", level=0.5, **kw)
    assert p80.value < p50.value


def test_probabilistic_threshold_nonlinear_brackets(quadratic_model):
    # x is set to the same value in every draw and nothing else varies: P(CE) = 1 on (1, 3)
    res = dsa.probabilistic_threshold(quadratic_model, "x", wtp=0.0, n=20, seed=1, lower=0.0, upper=2.5,
                                      xtol=1e-9)
    assert res.method == "bracket" and res.value == pytest.approx(1.0, abs=1e-8)


def test_probabilistic_threshold_flagship_near_deterministic(flagship):
    det = dsa.threshold(flagship, "c_eqcel_price", WTP_1X, 0.0, 5e6).value
    res = dsa.probabilistic_threshold(flagship, "c_eqcel_price", WTP_1X, n=300, seed=3, upper=5e6)
    # At a price of 0 eque-cel is cost-effective in most draws but not all: since issue 9 item 4 its
    # post-progression therapy costs grow with its long progressed survival, so in draws with long
    # eque-cel OS and costly subsequent therapy even a free product exceeds 1x GDP per capita.
    assert res.method == "exact" and res.probability_lower > 0.9 and res.probability_upper == 0.0
    # the median of per-draw threshold prices lies near the deterministic threshold (within 25%)
    assert res.value == pytest.approx(det, rel=0.25)


def _three(batch):
    x, y = np.asarray(batch["x"]), np.asarray(batch["y"])
    z = np.zeros_like(x)
    return SimpleNamespace(costs=np.stack([z, 100 * x, 50 * y], 1), qalys=np.stack([z, x, z + 0.5], 1),
                           lys=np.stack([z, x, z + 0.5], 1))


def test_one_way_with_three_strategies_is_pairwise_vs_comparator():
    # s1: dC = 100x, dQ = x (ICER 100 whatever x); s2: dC = 50y, dQ = 0.5 (ICER 100y)
    table = ParameterTable().add("x", 1.0, Normal(1.0, 0.1)).add("y", 2.0, Normal(2.0, 0.1))
    model = FunctionModel("three", ("ref", "s1", "s2"), table, _three)
    frame = dsa.one_way(model, wtp=200.0)
    assert len(frame) == 4 and set(frame["comparator"]) == {"ref"}
    s1x = frame[(frame["strategy"] == "s1") & (frame["parameter"] == "x")].iloc[0]
    assert s1x["inmb_low"] == pytest.approx(100 * table["x"].low)
    assert s1x["icer_low"] == pytest.approx(100.0) and s1x["icer_high"] == pytest.approx(100.0)
    s2y = frame[(frame["strategy"] == "s2") & (frame["parameter"] == "y")].iloc[0]
    assert s2y["icer_high"] == pytest.approx(100 * table["y"].high)
    assert s2y["inmb_high"] == pytest.approx(200 * 0.5 - 50 * table["y"].high)
    tor = dsa.tornado(frame, strategy="s2")
    assert list(tor["parameter"]) == ["y", "x"] and tor["swing"].iloc[1] == 0.0
    # vs another comparator: s2 vs s1
    res = dsa.threshold(model, "y", 200.0, 0.0, 10.0, strategy="s2", comparator="s1")
    # INMB(s2 vs s1) = 200 (0.5 - 1) - (50y - 100) = -50y: a root at y = 0 (the range's lower end)
    assert res.found and res.value == pytest.approx(0.0, abs=1e-9)
