"""Intention-to-treat pathway of the flagship eque-cel arm (issue 9, item 1)."""

from pathlib import Path

import numpy as np
import pytest

from hta.excel.reader import read_inputs
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


@pytest.fixture(scope="module", params=["psm", "stm"])
def model(request):
    return fucaso_rrmm.build(read_inputs(INPUTS), structure=request.param)


def _batch(model, **values):
    return model.parameters.base().with_values(values)


def test_itt_is_base_case_and_parameter_in_table(model):
    assert model.itt and not model.with_itt(False).itt
    table = model.parameters.to_frame()
    row = table[table["name"] == "p_not_infused"].iloc[0]
    assert row["base"] == pytest.approx(19 / 255)


def test_all_infused_zero_delay_equals_infused_exactly(model):
    """No failures and zero vein-to-vein time: ITT = infused, line by line, bit for bit."""
    b = _batch(model, p_not_infused=0.0, bridging_months=0.0)
    itt, inf = model.evaluate(b), model.with_itt(False).evaluate(b)
    for st in model.strategies:
        for attr in ("costs", "qalys", "lys", "costs_undiscounted", "qalys_undiscounted", "lys_undiscounted"):
            assert np.array_equal(getattr(itt[st], attr), getattr(inf[st], attr)), (st, attr)
        for key, v in inf[st].lines.items():
            assert np.array_equal(itt[st].lines[key], v), key


def test_failures_move_results_towards_conventional_care(model):
    p = np.array([0.0, 0.075, 0.3, 1.0])
    out = model.evaluate(_batch(model, p_not_infused=p))
    q, c = out["eqcel"].qalys, out["eqcel"].costs
    acq = out["eqcel"].by("cost")["CAR-T acquisition"]
    assert np.all(np.diff(q) < 0) and np.all(np.diff(c) < 0) and np.all(np.diff(acq) < 0)
    # Nobody infused: no acquisition; the arm is conventional care delayed by the pre-infusion phase.
    assert acq[-1] == 0.0
    inc_q = q - out["cc"].qalys
    assert np.all(np.diff(np.abs(inc_q)) < 0)
    # (issue 21: without pre-infusion deaths, which leave the not-infused pathway)
    b = _batch(model, p_not_infused=1.0, bridging_months=0.0, p_death_if_not_infused=0.0)
    none = model.evaluate(b)
    cart_pre = sum(none["eqcel"].by("cost")[k] for k in ("leukapheresis", "bridging therapy"))
    assert none["eqcel"].qalys == pytest.approx(none["cc"].qalys, rel=1e-12)
    assert none["eqcel"].lys == pytest.approx(none["cc"].lys, rel=1e-12)
    assert none["eqcel"].costs - cart_pre == pytest.approx(none["cc"].costs, rel=1e-12)


def test_acquisition_paid_only_for_infused(model):
    b = _batch(model, p_not_infused=0.2)
    out = model.evaluate(b)
    assert out["eqcel"].by("cost", discounted=False)["CAR-T acquisition"] == pytest.approx(0.8 * b["c_eqcel_price"])
    # Apheresis and bridging for everyone apheresed, at time 0.
    inf = model.with_itt(False).evaluate(b)
    for k in ("leukapheresis", "bridging therapy"):
        assert out["eqcel"].by("cost")[k] == pytest.approx(inf["eqcel"].by("cost")[k], rel=1e-15)


def test_delay_reduces_discounted_outcomes_not_undiscounted_pathway(model):
    d = np.array([0.0, 1.0, 3.0, 6.0])
    out = model.evaluate(_batch(model, p_not_infused=0.0, bridging_months=d))
    inf = model.with_itt(False).evaluate(_batch(model, p_not_infused=0.0, bridging_months=0.0))
    eq = out["eqcel"]
    pre = eq.by("ly")["pre-infusion (leukapheresis to infusion)"]
    post_lys = eq.lys - pre
    # The infused pathway is discounted by (1 + r)^-(d / 12): exactly that ratio.
    r = model.settings.discount_outcomes
    assert post_lys == pytest.approx(inf["eqcel"].lys[0] * (1 + r) ** (-d / 12), rel=1e-12)
    assert np.all(np.diff(post_lys) < 0)
    # Undiscounted: the pathway is unchanged and the phase adds d months alive.
    assert eq.lys_undiscounted == pytest.approx(inf["eqcel"].lys_undiscounted[0] + d / 12, rel=1e-12)
    # The discounted pre-infusion years lie below the undiscounted ones and at or above d at end-discounting.
    assert np.all(pre <= d / 12) and np.all(pre >= d / 12 * (1 + r) ** (-d / 12))


def test_zero_discount_delay_changes_only_by_phase(model):
    m = model.with_settings(discount_costs=0.0, discount_outcomes=0.0)
    a = m.evaluate(_batch(m, p_not_infused=0.0, bridging_months=2.0))
    assert a["eqcel"].lys == pytest.approx(a["eqcel"].lys_undiscounted, rel=1e-12)


def test_itt_occupancy_sums_to_one(model):
    b = _batch(model, p_not_infused=np.array([0.0, 0.075, 0.5, 1.0]))
    tr = model.itt_trace(b)
    assert tr.shape[0] == 4
    assert np.max(np.abs(tr.sum(axis=2) - 1.0)) < 1e-12 and tr.min() >= -1e-15


def test_itt_psa_draws_are_probabilities(model):
    batch = model.parameters.sample(2000, seed=1)
    p = np.asarray(batch["p_not_infused"])
    assert p.shape == (2000,) and p.min() > 0 and p.max() < 1
    assert p.mean() == pytest.approx(19 / 255, abs=0.01)
    out = model.evaluate(batch)  # one batched call, no loop over samples
    assert out["eqcel"].costs.shape == (2000,) and np.all(np.isfinite(out["eqcel"].qalys))


def test_pre_infusion_deaths_live_half_the_phase_and_follow_no_pathway(model):
    """Issue 21: everyone apheresed, nobody infused, everyone dies before infusion: the arm is the
    phase's first half (alive at the pre-infusion utility u_pf - du_pre_infusion), apheresis,
    bridging and terminal care discounted at the midpoint; no conventional-care pathway."""
    d = 3.0  # months
    b = _batch(model, p_not_infused=1.0, p_death_if_not_infused=1.0, bridging_months=d)
    eq = model.evaluate(b)["eqcel"]
    r = model.settings.discount_outcomes
    half = d / 24.0  # years
    pv_half = (1.0 - (1.0 + r) ** (-half)) / np.log1p(r)   # integral of (1+r)^-t over [0, d/2]
    assert eq.lys == pytest.approx(pv_half, rel=1e-12)
    assert eq.lys_undiscounted == pytest.approx(half, rel=1e-12)
    u_pre = b["u_pf"][0] - b["du_pre_infusion"][0]
    assert eq.qalys == pytest.approx(u_pre * pv_half, rel=1e-12)
    costs = eq.by("cost")
    assert not any(k.startswith("not infused:") and v[0] != 0 for k, v in costs.items())
    terminal = b["terminal_care_days"][0] * b["c_ward_day"][0] * (1.0 + model.settings.discount_costs) ** (-half)
    assert costs["pre-infusion deaths: terminal care"] == pytest.approx(terminal, rel=1e-12)
    assert eq.costs == pytest.approx(costs["leukapheresis"] + costs["bridging therapy"] + terminal, rel=1e-12)
