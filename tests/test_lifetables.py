"""Life tables: exact piecewise-constant integration and the shipped Hong Kong tables."""

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import trapezoid

from hta.errors import HtaError
from hta.population.lifetables import LifeTable


def _table(male, female, ages):
    return pd.DataFrame({
        "age": np.concatenate([ages, ages]),
        "sex": ["male"] * len(ages) + ["female"] * len(ages),
        "mx": np.concatenate([male, female]),
    })


def test_constant_rates_closed_form():
    ages = np.arange(0, 101)
    lt = LifeTable(_table(np.full(101, 0.02), np.full(101, 0.01), ages))
    t = np.array([0.0, 0.3, 1.0, 7.5, 150.0])  # beyond the open interval too
    p = 0.4
    expected = -np.log(p * np.exp(-0.02 * t) + (1 - p) * np.exp(-0.01 * t))
    np.testing.assert_allclose(lt.cohort_cumhaz(t, 63.25, p)[0], expected, rtol=1e-12, atol=1e-15)
    # hazard of the mix: survivor-weighted rates, drifting towards the women's rate
    w = p * np.exp(-0.02 * t)
    h = (w * 0.02 + (1 - p) * np.exp(-0.01 * t) * 0.01) / (w + (1 - p) * np.exp(-0.01 * t))
    np.testing.assert_allclose(lt.cohort_hazard(t, 63.25, p)[0], h, rtol=1e-12)
    # life expectancy of a constant rate m is 1/m
    np.testing.assert_allclose(lt.life_expectancy([10.0, 99.5], [1.0, 0.0]), [50.0, 100.0],
                               rtol=1e-12)


def test_exact_integration_across_birthdays_from_fractional_age():
    ages = np.arange(0, 5)
    male = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    lt = LifeTable(_table(male, male * 0.5, ages))
    # start at 1.75: 0.25 y at 0.2, 1 y at 0.3, 1 y at 0.4, then the open-interval rate 0.5
    t = np.array([0.25, 1.25, 2.25, 4.25])
    expected = np.cumsum([0.25 * 0.2, 0.3, 0.4, 2.0 * 0.5])
    np.testing.assert_allclose(lt.cohort_cumhaz(t, 1.75, 1.0)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(lt.cohort_cumhaz(t, 1.75, 0.0)[0], expected * 0.5, rtol=1e-12)
    # right-continuous hazard at birthdays; ages past the table use the open-interval rate
    np.testing.assert_allclose(lt.cohort_hazard([0.0, 0.2499, 0.25, 10.0], 1.75, 1.0)[0],
                               [0.2, 0.2, 0.3, 0.5])
    np.testing.assert_allclose(lt.mx([0, 1.5, 4, 120], "male"), [0.1, 0.2, 0.5, 0.5])


def test_vectorised_over_samples():
    lt = LifeTable.hong_kong()
    start = np.array([40.0, 60.5, 75.2])
    share = np.array([0.5, 1.0, 0.2])
    t = np.linspace(0, 30, 31)
    h = lt.cohort_cumhaz(t, start, share)
    assert h.shape == (3, 31)
    for i in range(3):
        np.testing.assert_allclose(h[i], lt.cohort_cumhaz(t, start[i], share[i])[0], rtol=1e-14)
    assert (np.diff(h, axis=1) >= 0).all()
    # per-sample times (n, T)
    per = lt.cohort_cumhaz(np.tile(t, (3, 1)), start, share)
    np.testing.assert_allclose(per, h)


def test_hong_kong_life_expectancy_matches_source_note():
    # source note (hk_lifetable_2020-2025.source.txt): derived e0 2020-2025 = 82.39 M / 87.25 F;
    # 2015-2020 = 81.76 M / 87.48 F
    lt = LifeTable.hong_kong("2020-2025")
    e0 = lt.life_expectancy(0.0, [1.0, 0.0])
    np.testing.assert_allclose(e0, [82.39, 87.25], atol=0.006)
    ex = lt.frame.set_index(["sex", "age"])["ex"]
    np.testing.assert_allclose(e0, [ex["male", 0], ex["female", 0]], atol=1e-3)
    np.testing.assert_allclose(lt.life_expectancy(65.0, 1.0), ex["male", 65], atol=1e-3)
    # cohort_survival integrates to the same e0 (fine trapezoid + closed-form open-interval tail)
    t = np.linspace(0, 100, 100 * 64 + 1)
    s = lt.cohort_survival(t, 0.0, [1.0, 0.0])
    tail = s[:, -1] / np.array([lt.mx(100, "male"), lt.mx(100, "female")])
    np.testing.assert_allclose(trapezoid(s, t, axis=1) + tail, [82.392, 87.248], atol=2e-3)
    old = LifeTable.hong_kong("2015-2020")
    np.testing.assert_allclose(old.life_expectancy(0.0, [1.0, 0.0]), [81.76, 87.48], atol=0.006)
    assert "World Population Prospects" in lt.source


def test_mixed_cohort_drifts_towards_women():
    lt = LifeTable.hong_kong()
    share = lt.male_share_at([0.0, 10.0, 30.0], 60.0, 0.5)[0]
    assert share[0] == pytest.approx(0.5)
    assert share[0] > share[1] > share[2]
    # mixed e = p e_m + (1 - p) e_f (survival is a mixture)
    e = lt.life_expectancy(60.0, [1.0, 0.0, 0.3])
    np.testing.assert_allclose(e[2], 0.3 * e[0] + 0.7 * e[1], rtol=1e-12)


def test_errors():
    with pytest.raises(HtaError, match="period"):
        LifeTable.hong_kong("2010-2015")
    lt = LifeTable.hong_kong()
    with pytest.raises(HtaError, match="male_share"):
        lt.cohort_cumhaz([1.0], 60, 1.5)
    with pytest.raises(HtaError, match="sex"):
        lt.mx(50, "m")
    with pytest.raises(HtaError, match="t_years"):
        lt.cohort_cumhaz([-1.0], 60, 0.5)
    with pytest.raises(HtaError, match="columns"):
        LifeTable(pd.DataFrame({"age": [0], "sex": ["male"]}))
