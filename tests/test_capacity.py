"""Tests of hta.analysis.capacity: waiting list with slots and attrition, capacity-limited budget.

Expected values are closed forms of the monthly recursion (docs/agreements.md, "Capacity"):
with demand a and slots s per month, leave probability q per month, the list after month m is
W_m = (W_{m-1} + a - min(W_{m-1} + a, s)) (1 - q).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hta.analysis import bia, psa
from hta.analysis import capacity as K
from hta.errors import HtaError


def test_unlimited_slots_treat_everyone_in_their_month():
    res = K.waiting_list([24.0, 36.0], np.inf, 0.05, 0.02)
    np.testing.assert_allclose(res.treated_year, [[24.0, 36.0]])
    np.testing.assert_allclose(res.waiting_month, 0.0)
    np.testing.assert_allclose(res.left_year, 0.0)


def test_no_slots_geometric_waiting_list_and_competing_split():
    # a = 2 a month, no slots, p_death = 0.05 and p_progression = 0.03 a month:
    # q = 1 - 0.95 * 0.97; W_m = a (1 - q) (1 - (1 - q)^m) / q; deaths : progressions =
    # log(0.95) : log(0.97).
    res = K.waiting_list([24.0], 0.0, 0.05, 0.03)
    q = 1 - 0.95 * 0.97
    m = np.arange(1, 13)
    np.testing.assert_allclose(res.waiting_month[0], 2 * (1 - q) * (1 - (1 - q) ** m) / q, rtol=1e-12)
    ratio = res.died_month.sum() / res.progressed_month.sum()
    assert ratio == pytest.approx(np.log(0.95) / np.log(0.97))


def test_backlog_grows_linearly_without_attrition_and_patients_are_conserved():
    # demand 60 a year (5 a month), 36 slots (3 a month): the list grows by 2 a month.
    res = K.waiting_list(np.full(5, 60.0), 36.0)
    np.testing.assert_allclose(res.waiting_month[0], 2.0 * np.arange(1, 61))
    np.testing.assert_allclose(res.treated_year, 36.0)
    res = K.waiting_list(np.array([[40.0, 60.0, 80.0], [10.0, 10.0, 10.0]]), [30.0, 30.0, 45.0], 0.04, 0.06,
                         initial_waiting=5.0)
    total_in = 5.0 + res.demand_year.sum(axis=1)
    total_out = res.treated_year.sum(axis=1) + res.left_year.sum(axis=1) + res.waiting_month[:, -1]
    np.testing.assert_allclose(total_in, total_out, rtol=1e-12)
    assert np.all(res.treated_month <= np.repeat(np.array([30.0, 30.0, 45.0]) / 12, 12) + 1e-12)


def test_capacity_shares_cap_the_new_therapy_and_keep_the_comparators_mix():
    entering = np.array([[100.0, 100.0]])
    without = np.array([[[0.0, 0.6, 0.4], [0.0, 0.6, 0.4]]])
    with_ = np.array([[[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]])
    out = K.capacity_shares(entering, without, with_, 0, np.array([[30.0, 80.0]]))
    # year 1: 30 of 100 can be treated; year 2: the unconstrained 50% is below 80/100
    np.testing.assert_allclose(out[0, 0], [0.3, 0.7 * 0.6, 0.7 * 0.4])
    np.testing.assert_allclose(out[0, 1], [0.5, 0.3, 0.2])
    np.testing.assert_allclose(out.sum(axis=-1), 1.0)


def test_capacity_budget_without_limit_equals_the_unconstrained_budget_plus_fixed_costs():
    rng = np.random.default_rng(2)
    entering = np.array([[50.0, 60.0, 70.0]])
    without = np.broadcast_to(np.array([0.0, 1.0]), (1, 3, 2))
    with_ = np.broadcast_to(np.array([0.4, 0.6]), (1, 3, 2))
    profile = rng.uniform(1e4, 1e5, (1, 2, 2, 3))
    demand = entering * 0.4
    flow = K.waiting_list(demand, np.inf)
    out = K.capacity_budget(entering, without, with_, 0, flow.treated_year, profile, [1e6, 1e6, 1.2e6])
    ref = bia.budget(entering, {"without": without, "with": with_}, profile)
    np.testing.assert_allclose(out["with"], ref["with"], rtol=1e-12)
    np.testing.assert_allclose(out["net"], (ref["with"] - ref["without"]).sum(axis=(2, 3)) + [1e6, 1e6, 1.2e6])
    # with 10 slots a year the new therapy's patients are 10 a year and the net impact is smaller
    capped = K.capacity_budget(entering, without, with_, 0, K.waiting_list(demand, 10.0).treated_year, profile)
    np.testing.assert_allclose(capped["shares_with"][0, :, 0] * entering[0], 10.0)


def test_discounted_patients_matches_population_evpi_and_takes_treated_numbers():
    assert K.discounted_patients(30.0, 0.03, years=5) == pytest.approx(psa.population_evpi(1.0, 30.0, 5, 0.03))
    assert K.discounted_patients([10.0, 20.0], 0.05) == pytest.approx(10 + 20 / 1.05)
    np.testing.assert_allclose(K.population_value(2.0, np.array([[10.0, 20.0], [0.0, 5.0]]), 0.0), [60.0, 10.0])


def test_bad_capacity_inputs():
    with pytest.raises(HtaError, match="slots"):
        K.waiting_list([10.0], -1.0)
    with pytest.raises(HtaError, match="probability of death"):
        K.waiting_list([10.0], 5.0, p_death_month=1.5)
    with pytest.raises(HtaError, match="demand"):
        K.waiting_list([-10.0], 5.0)
    with pytest.raises(HtaError, match="years"):
        K.discounted_patients(30.0, 0.03)


def _spec():
    # 50 patients a year (100,000 x 50 per 100,000), all of them would take the new therapy
    return bia.BudgetInputs(start_year=2026, new_strategy="new", population=100_000, population_year=2026,
                            incidence_per_100000=50.0,
                            shares_without=pd.DataFrame({"old": 1.0, "new": 0.0}, index=range(1, 6)),
                            uptake_curve="explicit", uptake_explicit=(1.0,) * 5)


def test_capacity_analysis_closed_form_net_impact_and_waiting_list():
    # Profiles (n, S, C, H): 'old' costs HK$200k in every year since entry; 'new' a one-off HK$1m
    # in the entry year. With 30 slots a year and no attrition, 30 patients a year get the new
    # therapy, 20 a year join the list, and each treated cohort avoids 200k a year of old-drug
    # costs: net_y = 30 x 1m - 30 x 200k x y + fixed (HK$2m a year).
    profile = np.zeros((1, 2, 1, 5))
    profile[0, 0, 0, :] = 200_000.0
    profile[0, 1, 0, 0] = 1_000_000.0
    out = K.capacity_analysis([_spec()], profile, ["old", "new"], ["all"], slots_per_year=30.0,
                              fixed_cost_per_year=2e6)
    table = out.yearly_table()
    y = np.arange(1, 6)
    np.testing.assert_allclose(table["treated"], 30.0)
    np.testing.assert_allclose(table["waiting at year end"], 20.0 * y)
    np.testing.assert_allclose(table["net impact with limit"], 30e6 - 6e6 * y + 2e6, rtol=1e-12)
    np.testing.assert_allclose(table["net impact without limit"], 50e6 - 10e6 * y, rtol=1e-12)
    assert list(table.index) == [2026, 2027, 2028, 2029, 2030]
    # unlimited slots and no fixed costs reproduce the unconstrained budget impact
    free = K.capacity_analysis([_spec()], profile, ["old", "new"], ["all"], slots_per_year=np.inf)
    np.testing.assert_allclose(free.budgets["net"], free.unconstrained.net, rtol=1e-12)
