"""Tests of hta.analysis.agreements: payment factors, the negotiation grid and threshold discounts.

Every expected value is a closed form written out in the test (the schemes are defined in
docs/agreements.md): e.g. an instalment of share s at t years conditional on survival with an
exponential OS curve pays s exp(-rate t) (1 + r)^-t of the net price.
"""

from __future__ import annotations

import numpy as np
import pytest

from hta.analysis import agreements as A


@pytest.fixture()
def psa():
    rng = np.random.default_rng(7)
    n = 2000
    qalys = np.column_stack([rng.normal(2.0, 0.3, n), rng.normal(3.0, 0.4, n)])
    price = 2_800_000.0
    costs = np.column_stack([rng.normal(600_000, 50_000, n), price + rng.normal(400_000, 60_000, n)])
    return costs, qalys, price


def _context(n, rate=0.25, times=None, r=0.03):
    times = np.arange(0, 10.0 + 1e-9, 1 / 12) if times is None else times
    rates = np.full(n, rate)
    os = np.exp(-np.outer(rates, times))
    pfs = np.exp(-np.outer(2 * rates, times))
    return A.PaymentContext(times=times, survival={"alive": os, "progression-free": pfs}, discount_rate=r,
                            patients_per_year=np.array([20.0, 30.0, 40.0]))


def test_outcome_based_factor_is_survival_weighted_discounted_share():
    # upfront 50%, 25% at 1 year if alive, 25% at 2.5 years if progression-free:
    # f = 0.5 + 0.25 e^{-0.25} 1.03^{-1} + 0.25 e^{-0.5*2.5} 1.03^{-2.5}
    ctx = _context(3)
    scheme = A.OutcomeBased(0.5, (A.Instalment(1.0, 0.25, "alive"), A.Instalment(2.5, 0.25, "progression-free")))
    f = A.payment_factor(scheme, ctx)
    expect = 0.5 + 0.25 * np.exp(-0.25) / 1.03 + 0.25 * np.exp(-1.25) / 1.03**2.5
    np.testing.assert_allclose(f, expect, rtol=1e-12)
    # Between grid points the survival is interpolated linearly: t = 1.04 years on a yearly grid
    ctx_y = _context(1, times=np.arange(0, 11.0))
    f_y = A.payment_factor(A.OutcomeBased(0.0, (A.Instalment(1.04, 1.0),)), ctx_y)
    lin = 0.96 * np.exp(-0.25) + 0.04 * np.exp(-0.5)
    np.testing.assert_allclose(f_y, lin / 1.03**1.04, rtol=1e-12)


def test_refund_and_price_volume_factors():
    assert A.payment_factor(A.NotInfusedRefund(0.1, 0.8))[0] == pytest.approx(1 - 0.1 * 0.8)
    ctx = _context(1)
    ctx = A.PaymentContext(times=ctx.times, survival=ctx.survival, draws={"p_fail": np.array([0.0, 0.2])})
    np.testing.assert_allclose(A.payment_factor(A.NotInfusedRefund("p_fail"), ctx), [1.0, 0.8])
    ctx = _context(1)
    # patient cap 30 on 20, 30, 40 patients; above the cap the payer pays 0 or half
    assert A.payment_factor(A.PriceVolume(cap_patients=30), ctx)[0] == pytest.approx(80 / 90)
    assert A.payment_factor(A.PriceVolume(cap_patients=30, share_above=0.5), ctx)[0] == pytest.approx(85 / 90)
    # spending cap HK$60m a year at net price 2.4m: spend 48m, 72m, 96m -> paid 48 + 60 + 60
    f = A.payment_factor(A.PriceVolume(cap_spending=60e6), ctx, net_price=2.4e6)
    assert f[0] == pytest.approx(168 / 216)


def test_grid_costs_icer_nmb_and_probability(psa):
    costs, qalys, price = psa
    grid = A.negotiation_grid({"discount": A.SimpleDiscount(), "refund": A.NotInfusedRefund(0.1)},
                              [0.0, 0.3], costs, qalys, price, [1e5, 4e5])
    row = grid[(grid.scheme == "refund") & (grid.discount == 0.3) & (grid.wtp == 4e5)].iloc[0]
    pay = 0.7 * price * 0.9
    dc = costs[:, 1] - price + pay - costs[:, 0]
    dq = qalys[:, 1] - qalys[:, 0]
    assert row.payment == pytest.approx(pay)
    assert row.inc_cost == pytest.approx(dc.mean())
    assert row.icer == pytest.approx(dc.mean() / dq.mean())
    assert row.inmb == pytest.approx(4e5 * dq.mean() - dc.mean())
    assert row.p_ce == pytest.approx(np.mean(4e5 * dq - dc > 0))
    assert len(grid) == 2 * 2 * 2


def test_threshold_discount_closed_form_gives_icer_equal_to_wtp(psa):
    costs, qalys, price = psa
    ctx = _context(costs.shape[0])
    schemes = {"discount": A.SimpleDiscount(),
               "12-month OS instalments": A.OutcomeBased(0.5, (A.Instalment(1.0, 0.5, "alive"),)),
               "refund": A.NotInfusedRefund(0.08)}
    k = [1e5, 3e5]
    table = A.threshold_discounts(schemes, costs, qalys, price, k, context=ctx)
    dq = (qalys[:, 1] - qalys[:, 0]).mean()
    other = (costs[:, 1] - price - costs[:, 0]).mean()
    d_plain = 1 - (1e5 * dq - other) / price
    got = table.set_index(["scheme", "wtp"]).threshold_discount
    assert got[("discount", 1e5)] == pytest.approx(d_plain)
    f_os = 0.5 + 0.5 * np.exp(-0.25) / 1.03
    assert got[("12-month OS instalments", 1e5)] == pytest.approx(1 - (1e5 * dq - other) / (price * f_os))
    # at the threshold the grid's incremental NMB is 0 for every scheme and WTP
    for (label, kk), d in got.items():
        g = A.negotiation_grid({label: schemes[label]}, [d], costs, qalys, price, [kk], context=ctx)
        assert g.inmb.iloc[0] == pytest.approx(0.0, abs=1e-6 * price)
    # a scheme that pays less needs a smaller discount
    assert got[("12-month OS instalments", 1e5)] < got[("discount", 1e5)]


def test_threshold_discount_with_spending_cap_uses_root_finding(psa):
    costs, qalys, price = psa
    ctx = _context(costs.shape[0])
    # cap HK$8m a year: near the threshold (net price ~0.3m) spend is ~6m, 9m, 12m, so the cap
    # binds in years 2 and 3 and the payment factor depends on the discount
    scheme = A.PriceVolume(cap_spending=8e6, share_above=0.5)
    table = A.threshold_discounts({"cap": scheme}, costs, qalys, price, [1e5], context=ctx)
    d = table.threshold_discount.iloc[0]
    assert table.method.iloc[0] == "root (Brent)"
    g = A.negotiation_grid({"cap": scheme}, [d], costs, qalys, price, [1e5], context=ctx)
    assert g.inmb.iloc[0] == pytest.approx(0.0, abs=1e-3)
    # by hand: at net price p the payment per patient is (sum_y min(pN, B) + 0.5 (pN - B)+) / sum N
    p = (1 - d) * price
    n_y = np.array([20.0, 30.0, 40.0])
    assert (p * n_y > 8e6).sum() == 2
    paid = np.minimum(p * n_y, 8e6) + 0.5 * np.maximum(p * n_y - 8e6, 0)
    dq = (qalys[:, 1] - qalys[:, 0]).mean()
    other = (costs[:, 1] - price - costs[:, 0]).mean()
    assert paid.sum() / n_y.sum() == pytest.approx(1e5 * dq - other, rel=1e-8)
    plain = A.threshold_discounts({"d": A.SimpleDiscount()}, costs, qalys, price, [1e5]).threshold_discount.iloc[0]
    assert d < plain - 0.005


@pytest.mark.parametrize(
    "scheme, field",
    [
        (A.OutcomeBased(0.5, (A.Instalment(12.0, 0.5),)), "outcome-based.instalments[1].time"),
        (A.OutcomeBased(0.5, (A.Instalment(1.0, 0.6),)), "outcome-based.shares"),
        (A.OutcomeBased(1.2, ()), "outcome-based.upfront"),
        (A.OutcomeBased(0.5, (A.Instalment(1.0, 0.5, "responding"),)), "outcome-based.instalments[1].condition"),
        (A.PriceVolume(cap_patients=-1), "price-volume.cap_patients"),
        (A.PriceVolume(cap_patients=10, share_above=1.5), "price-volume.share_above"),
        (A.PriceVolume(), "price-volume.cap"),
        (A.NotInfusedRefund(0.1, refund_share=2.0), "refund (not infused).refund_share"),
    ],
)
def test_bad_inputs_name_the_field(scheme, field):
    with pytest.raises(A.AgreementError) as info:
        A.payment_factor(scheme, _context(2), net_price=1.0)
    assert info.value.field == field
    assert field in str(info.value)


def test_model_acquisition_differs_from_billing_base(psa):
    # An intention-to-treat model already counts the acquisition only for infused patients,
    # discounted to infusion: 0.9 x 0.99 x price. A refund scheme on the price billed at
    # apheresis (10% not infused, full refund) replaces that line by 0.9 x price.
    costs, qalys, price = psa
    itt_costs = costs.copy()
    itt_costs[:, 1] = costs[:, 1] - price + 0.9 * 0.99 * price
    grid = A.negotiation_grid({"refund": A.NotInfusedRefund(0.1)}, [0.2], itt_costs, qalys, price, [1e5],
                              new="CAR-T", comparator="conventional", strategies=["conventional", "CAR-T"],
                              acquisition_in_model=0.9 * 0.99 * price)
    dc = (costs[:, 1] - price + 0.8 * 0.9 * price - costs[:, 0]).mean()
    assert grid.inc_cost.iloc[0] == pytest.approx(dc)
    t = A.threshold_discounts({"refund": A.NotInfusedRefund(0.1)}, itt_costs, qalys, price, [1e5],
                              acquisition_in_model=0.9 * 0.99 * price)
    dq = (qalys[:, 1] - qalys[:, 0]).mean()
    other = (costs[:, 1] - price - costs[:, 0]).mean()
    assert t.threshold_discount.iloc[0] == pytest.approx(1 - (1e5 * dq - other) / (0.9 * price))


def test_instalment_on_a_caller_supplied_condition():
    ctx = _context(2)
    response = np.broadcast_to(np.where(ctx.times <= 2.0, 0.6, 0.0), (2, ctx.times.size))
    ctx = A.PaymentContext(times=ctx.times, survival={**ctx.survival, "in response": response}, discount_rate=0.0)
    f = A.payment_factor(A.OutcomeBased(0.7, (A.Instalment(0.5, 0.3, "in response"),)), ctx)
    np.testing.assert_allclose(f, 0.7 + 0.3 * 0.6)


def test_combined_schemes_multiply_and_a_spending_cap_sees_the_reduced_price():
    ctx = _context(1)
    refund = A.NotInfusedRefund(0.1)
    instal = A.OutcomeBased(0.5, (A.Instalment(1.0, 0.5, "alive"),))
    f = A.payment_factor(A.Combined((refund, instal)), ctx)
    np.testing.assert_allclose(f, 0.9 * (0.5 + 0.5 * np.exp(-0.25) / 1.03))
    # spending cap 50m on 20, 30, 40 patients at an effective price 2m x 0.9 = 1.8m:
    # spend 36m, 54m, 72m -> paid 36 + 50 + 50 = 136 of 162
    g = A.payment_factor(A.Combined((A.PriceVolume(cap_spending=50e6), refund)), ctx, net_price=2e6)
    np.testing.assert_allclose(g, 0.9 * 136 / 162)
    with pytest.raises(A.AgreementError) as info:
        A.payment_factor(A.Combined((A.PriceVolume(cap_patients=1), A.PriceVolume(cap_patients=2))), ctx)
    assert info.value.field == "combined.schemes"


def test_negotiation_summary_pivots_without_changing_values(psa):
    costs, qalys, price = psa
    schemes = {"discount": A.SimpleDiscount(), "refund": A.NotInfusedRefund(0.1)}
    grid = A.negotiation_grid(schemes, [0.0, 0.3], costs, qalys, price, [1e5, 3e5])
    thr = A.threshold_discounts(schemes, costs, qalys, price, [1e5, 3e5])
    table, wide = A.negotiation_summary(grid, thr)
    assert table.shape[0] == 4 and wide.shape == (2, 2)
    row = grid[(grid.scheme == "refund") & (grid.discount == 0.3) & (grid.wtp == 3e5)].iloc[0]
    assert table.loc[("refund", 0.3), "p_ce @ 300,000"] == row.p_ce
    assert table.loc[("refund", 0.3), "icer"] == row.icer
    assert wide.loc["discount", "threshold discount @ 100,000"] == thr.threshold_discount.iloc[0]
