"""Tests of hta.analysis.payers: splitting cost categories between HA, SF/CCF and patients.

Expected values are hand calculations written in each test (a linear split of cost lines).
"""

from __future__ import annotations

import numpy as np
import pytest

from hta.analysis import payers as P

CATEGORIES = ["acquisition", "regimen", "hospital"]


def shares():
    return P.PayerShares({
        "acquisition": {"HA": 1.0},
        "regimen": {"HA": 0.2, "SF/CCF": 0.5, "patient": 0.3},
        "hospital": {"HA": 0.9, "patient": 0.1},
    })


def test_split_and_perspectives_by_hand():
    costs = np.array([100.0, 300.0, 50.0])
    by = P.costs_by_payer(costs, CATEGORIES, shares())
    # HA 100 + 0.2*300 + 0.9*50 = 205; SF/CCF 150; patient 90 + 5 = 95
    np.testing.assert_allclose(by, [205.0, 150.0, 95.0])
    assert P.perspective_costs(costs, CATEGORIES, shares(), "HA") == pytest.approx(205.0)
    assert P.perspective_costs(costs, CATEGORIES, shares(), "health system") == pytest.approx(450.0)


def test_batched_costs_keep_their_leading_axes():
    rng = np.random.default_rng(1)
    costs = rng.uniform(0, 1000, (50, 2, 3))
    by = P.costs_by_payer(costs, CATEGORIES, shares())
    assert by.shape == (50, 2, 3)
    np.testing.assert_allclose(by.sum(axis=-1), costs.sum(axis=-1))  # nothing lost or added


def test_payer_table_incremental_ha_share():
    # conventional care: regimen 327k, hospital 100k; CAR-T: acquisition 2.8m, hospital 150k
    costs = np.array([[0.0, 327_000.0, 100_000.0], [2_800_000.0, 0.0, 150_000.0]])
    table = P.payer_table(costs, ["conventional", "CAR-T"], CATEGORIES, shares())
    ha_conv = 0.2 * 327_000 + 0.9 * 100_000
    ha_cart = 2_800_000 + 0.9 * 150_000
    assert table.loc["conventional", "HA perspective"] == pytest.approx(ha_conv)
    row = table.loc["CAR-T vs conventional"]
    assert row["HA perspective"] == pytest.approx(ha_cart - ha_conv)
    assert row["health system perspective"] == pytest.approx(2_950_000 - 427_000)
    assert row["HA share of increment"] == pytest.approx((ha_cart - ha_conv) / (2_950_000 - 427_000))


@pytest.mark.parametrize(
    "table, field",
    [
        ({"regimen": {"HA": 1.2}}, "payer_shares[regimen].HA"),
        ({"regimen": {"HA": 0.5, "patient": 0.4}}, "payer_shares[regimen]"),
        ({"regimen": {"HA": 0.5, "insurer": 0.5}}, "payer_shares[regimen].insurer"),
        ({"regimen": {"HA": -0.1, "patient": 1.1}}, "payer_shares[regimen].HA"),
    ],
)
def test_bad_shares_name_the_field(table, field):
    with pytest.raises(P.PayerError) as info:
        P.PayerShares(table)
    assert info.value.field == field


def test_missing_category_is_an_error():
    with pytest.raises(P.PayerError, match=r"payer_shares\[hospital\]"):
        P.PayerShares({"acquisition": {"HA": 1.0}, "regimen": {"HA": 1.0}}).matrix(CATEGORIES)
