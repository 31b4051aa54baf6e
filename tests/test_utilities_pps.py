"""Issue 9 items 4 and 5: post-progression costs by arm, age-adjusted utilities, u_pd <= u_pf."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError
from hta.excel.reader import read_inputs
from hta.population.utility_norms import UtilityNorms, age_multiplier
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


@pytest.fixture(scope="module")
def model():
    return fucaso_rrmm.build(read_inputs(INPUTS))


# -- engine: hta.population.utility_norms ------------------------------------------------------------------------

def _norms():
    return UtilityNorms.from_frame(pd.DataFrame({
        "age": [18, 50, 60, 70] * 2, "sex": ["male"] * 4 + ["female"] * 4,
        "utility": [0.95, 0.90, 0.85, 0.80, 0.93, 0.88, 0.82, 0.75]}))


def test_multiplier_is_one_at_start_and_follows_the_table():
    grid = CycleGrid.from_horizon(30, "year")
    m = age_multiplier(_norms(), 55.0, 0.25, grid.times)
    u = lambda male, female: 0.25 * male + 0.75 * female  # noqa: E731
    u0 = u(0.90, 0.88)
    assert m[0] == 1.0
    assert np.all(m[:5] == 1.0)                                   # ages 55-59: band 50
    np.testing.assert_allclose(m[5:15], u(0.85, 0.82) / u0, rtol=0, atol=0)   # ages 60-69
    np.testing.assert_allclose(m[15:], u(0.80, 0.75) / u0, rtol=0, atol=0)    # 70+: last band
    assert np.all(np.diff(m) <= 0)


def test_multiplier_both_sexes_table_ignores_male_share_and_flat_table_gives_ones():
    both = UtilityNorms.from_frame(pd.DataFrame({"age": [18, 60], "sex": ["both", "both"], "utility": [0.9, 0.8]}))
    t = np.arange(0, 10.0)
    np.testing.assert_array_equal(age_multiplier(both, 58, 0.0, t), age_multiplier(both, 58, 1.0, t))
    flat = UtilityNorms.shipped("hk-eq5d5l-2019")
    assert np.array_equal(age_multiplier(flat, 58, 0.534, t), np.ones_like(t))
    assert np.array_equal(age_multiplier(None, 58, 0.534, t), np.ones_like(t))


def test_shipped_ara_brazier_table_matches_its_equation():
    norms = UtilityNorms.shipped("uk-ara-brazier-2010")
    for age in (18, 58, 80, 100):
        for male in (0, 1):
            eq = 0.9508566 + 0.0212126 * male - 0.0002587 * age - 0.0000332 * age ** 2
            assert norms.at(age, male) == pytest.approx(eq, abs=1e-7)
    assert norms.at(58.99, 1) == norms.at(58, 1)                  # step function by completed year


def test_bad_norm_tables_are_refused():
    with pytest.raises(HtaError, match="columns"):
        UtilityNorms.from_frame(pd.DataFrame({"age": [18], "utility": [0.9]}))
    with pytest.raises(HtaError, match="utilities in"):
        UtilityNorms.from_frame(pd.DataFrame({"age": [18], "sex": ["both"], "utility": [1.2]}))
    with pytest.raises(HtaError, match="expected one of"):
        UtilityNorms.shipped("nowhere")


# -- flagship: age adjustment ---------------------------------------------------------------------

def test_flagship_multiplier_is_visible_per_cycle_and_starts_at_one(model):
    m = model.utility_multiplier()
    T = model.grid.n_cycles
    assert m.shape == (T,) and m[0] == 1.0 and np.all(m[:12] == 1.0)
    assert np.all(np.diff(m) <= 0) and m[-1] < 0.8
    assert np.array_equal(model.utility_multiplier(at_times=True)[:-1], m)
    s = model.settings
    norms = UtilityNorms.shipped("uk-ara-brazier-2010")
    age_12 = s.start_age + 12 * model.grid.cycle_years            # start of cycle 13: one year on
    assert m[12] == pytest.approx(norms.at(age_12, s.male_share) / norms.at(s.start_age, s.male_share), rel=1e-15)


def test_flat_norms_leave_qalys_unchanged_bit_for_bit(model):
    import dataclasses
    batch = model.parameters.sample(64, seed=5)
    flat = dataclasses.replace(model, utility_norms=UtilityNorms.shipped("hk-eq5d5l-2019"))
    none = model.without_age_adjustment()
    for m in (model, model.with_structure("stm")):
        a = dataclasses.replace(m, utility_norms=flat.utility_norms).evaluate(batch)
        b = dataclasses.replace(m, utility_norms=none.utility_norms).evaluate(batch)
        for st in m.strategies:
            assert np.array_equal(a[st].qalys, b[st].qalys)
            assert np.array_equal(a[st].qalys_undiscounted, b[st].qalys_undiscounted)


def test_age_adjusted_qalys_equal_multiplier_weighted_state_years(model):
    """QALYs of a state = u x sum_j m_j x (discounted person-years in cycle j): the spreadsheet formula."""
    from hta.engine.outcomes import _Integrator
    m = model.with_itt(False)
    b = m.parameters.base()
    out = m.evaluate(b, keep_cohort=True)
    s = m.settings
    integ = _Integrator(m.grid, s.within_cycle, s.discount_costs, s.discount_outcomes, s.discount_method)
    mult = m.utility_multiplier()
    for st in m.strategies:
        disc, _ = integ.per_cycle(out[st].cohort.trace, "outcome")          # (1, T, 3) person-cycles
        years = disc[0] * m.grid.cycle_years
        u = {"progression-free": b["u_pf"][0], "progressed": b["u_pf"][0] - b["du_pd"][0]}
        for k, state in enumerate(fucaso_rrmm.STATES[:2]):
            q = out[st].lines[("qaly", "QALYs", state)][0, 0]
            assert q == pytest.approx(u[state] * np.sum(mult * years[:, k]), rel=1e-12)


def test_age_adjustment_lowers_qalys_not_costs(model):
    b = model.parameters.base()
    adj, flat = model.evaluate(b), model.without_age_adjustment().evaluate(b)
    assert np.all(adj.qalys < flat.qalys)
    np.testing.assert_array_equal(adj.costs, flat.costs)
    np.testing.assert_array_equal(adj.lys, flat.lys)


# -- u_pd <= u_pf ---------------------------------------------------------------------------------

def test_progressed_utility_never_above_progression_free_in_a_large_psa(model):
    batch = model.parameters.sample(20_000, seed=11)
    u_pf, du = np.asarray(batch["u_pf"]), np.asarray(batch["du_pd"])
    u_pd = u_pf - du
    assert np.all(du >= 0.0) and np.all(u_pd <= u_pf)
    assert du.mean() == pytest.approx(0.11, rel=0.02)
    # and the model's QALY lines obey it: per LY, the progressed state is never worth more.
    out = model.without_age_adjustment().with_itt(False).evaluate(model.parameters.sample(2000, seed=11))
    for st in model.strategies:
        r = out[st]
        q_pf = r.lines[("qaly", "QALYs", "progression-free")][0]
        q_pd = r.lines[("qaly", "QALYs", "progressed")][0]
        y_pf = r.lines[("ly", "life-years", "progression-free")][0]
        y_pd = r.lines[("ly", "life-years", "progressed")][0]
        ok = y_pd > 1e-9
        assert np.all(q_pd[ok] / y_pd[ok] <= q_pf[ok] / y_pf[ok] + 1e-12)


# -- post-progression costs by arm ----------------------------------------------------------------

@pytest.mark.parametrize("structure", ["psm", "stm"])
@pytest.mark.parametrize("arm", ["cc", "eqcel"])
def test_doubling_one_arms_subsequent_cost_doubles_exactly_that_line(model, structure, arm):
    m = model.with_structure(structure).with_itt(False)
    b = m.parameters.base()
    name = f"c_subsequent_month_{arm}"
    one, two = m.evaluate(b), m.evaluate(b.with_values({name: 2.0 * b[name][0]}))
    for st in m.strategies:
        for key, v in one[st].lines.items():
            w = two[st].lines[key]
            if st == arm and key == ("cost", "subsequent therapy", "progressed"):
                np.testing.assert_allclose(w, 2.0 * v, rtol=1e-14)
                assert v[0, 0] > 0
            else:
                assert np.array_equal(w, v), (st, key)


def test_itt_not_infused_follow_the_comparators_post_progression_costs(model):
    b = model.parameters.base()
    one = model.evaluate(b)
    two = model.evaluate(b.with_values(c_subsequent_month_cc=2.0 * b["c_subsequent_month_cc"][0]))
    key = ("cost", "not infused: subsequent therapy", "progressed")
    np.testing.assert_allclose(two["eqcel"].lines[key], 2.0 * one["eqcel"].lines[key], rtol=1e-14)
    key = ("cost", "subsequent therapy", "progressed")
    assert np.array_equal(two["eqcel"].lines[key], one["eqcel"].lines[key])


def test_subsequent_cost_is_monthly_cost_times_share_times_progressed_time(model):
    m = model.with_itt(False)
    b = m.parameters.base()
    out = m.evaluate(b)
    for st in m.strategies:
        pd_years = out[st].lines[("ly", "life-years", "progressed")]  # LY discounting = cost discounting (3% both)
        expected = b[f"p_pd_on_subsequent_{st}"][0] * b[f"c_subsequent_month_{st}"][0] * 12.0 * pd_years
        np.testing.assert_allclose(out[st].lines[("cost", "subsequent therapy", "progressed")], expected, rtol=1e-12)


def test_more_progressed_time_gives_more_post_progression_cost(model):
    """Longer eque-cel OS (same PFS) means more progressed time and so more post-progression cost."""
    m = model.with_itt(False)
    b = m.parameters.base()
    scale = "surv_eqcel_os_log_scale"
    batch = b.with_values({scale: b[scale][0] + np.log([0.8, 1.0, 1.25, 1.5])})
    out = m.evaluate(batch)["eqcel"]
    pd_time = out.lines[("ly", "life-years", "progressed")][1]
    post = sum(out.lines[("cost", c, "progressed")][1] for c in ("subsequent therapy", "out-patient care (progressed)"))
    assert np.all(np.diff(pd_time) > 0) and np.all(np.diff(post) > 0)
    # the eque-cel arm's longer progressed time costs more than conventional care's at equal unit costs
    base = m.evaluate(b)
    assert base["eqcel"].lines[("cost", "subsequent therapy", "progressed")][0, 0] > \
        base["cc"].lines[("cost", "subsequent therapy", "progressed")][0, 0]
