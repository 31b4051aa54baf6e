"""Survival adjustments: invariants, closed forms and composition."""

import numpy as np
import pytest

from hta.errors import HtaError
from hta.population.lifetables import LifeTable
from hta.survival.adjust import (
    AcceleratedFailure,
    GeneralPopulation,
    GeneralPopulationFloor,
    MixtureCure,
    Piecewise,
    ProportionalHazards,
    StepCurve,
    Waning,
)
from hta.survival.curves import Exponential, Gompertz, LogLogistic, LogNormal, Weibull

GRID = np.arange(0.0, 240.0 + 1e-9, 1.0)  # months, a monthly cycle grid over 20 years
HK = LifeTable.hong_kong()


def _valid(curve, t=GRID):
    s, h, hz = curve.survival(t), curve.cumhaz(t), curve.hazard(t)
    assert s.shape == (curve.n, t.size)
    assert not np.isnan(s).any() and not np.isnan(hz).any()
    assert (np.diff(s, axis=1) <= 1e-15).all(), "survival rose"
    assert (hz >= 0).all()
    np.testing.assert_allclose(s, np.exp(-h), rtol=1e-12)
    return s


def test_proportional_hazards():
    base = Weibull([0.9, 1.4], [20.0, 30.0])
    np.testing.assert_allclose(ProportionalHazards(base, 1.0).survival(GRID), base.survival(GRID))
    ph = ProportionalHazards(base, [0.5, 2.0])
    np.testing.assert_allclose(ph.survival(GRID), base.survival(GRID) ** np.array([[0.5], [2.0]]))
    np.testing.assert_allclose(ph.hazard(GRID[1:]), base.hazard(GRID[1:]) * [[0.5], [2.0]])
    _valid(ph)


def test_accelerated_failure():
    base = LogLogistic(1.5, 12.0)
    af = AcceleratedFailure(base, [1.0, 2.0])
    np.testing.assert_allclose(af.survival(GRID)[1], base.survival(GRID / 2.0)[0])
    np.testing.assert_allclose(af.survival(GRID)[0], base.survival(GRID)[0])
    # af > 1 lengthens survival; the median scales by af; log-logistic AF = scale * af
    np.testing.assert_allclose(af.median(), [12.0, 24.0])
    np.testing.assert_allclose(af.survival(GRID)[1], LogLogistic(1.5, 24.0).survival(GRID)[0])
    np.testing.assert_allclose(af.hazard(GRID)[1], LogLogistic(1.5, 24.0).hazard(GRID)[0])
    _valid(af)


def test_step_curve():
    km = StepCurve([2.0, 5.0, 9.0], [0.9, 0.6, 0.3])
    np.testing.assert_allclose(km.survival([0.0, 1.99, 2.0, 4.0, 5.0, 9.0, 50.0])[0],
                               [1.0, 1.0, 0.9, 0.9, 0.6, 0.3, 0.3])  # right-continuous
    # exact area: 2*1 + 3*0.9 + 4*0.6 + 1*0.3 on [0, 10]
    np.testing.assert_allclose(km.rmst(10.0), [2.0 + 2.7 + 2.4 + 0.3])
    batch = StepCurve([[1.0, 3.0], [2.0, 4.0]], [[0.8, 0.5], [0.7, 0.2]])
    np.testing.assert_allclose(batch.survival([0.0, 1.0, 2.5, 3.0, 4.0]),
                               [[1.0, 0.8, 0.8, 0.5, 0.5], [1.0, 1.0, 0.7, 0.7, 0.2]])
    np.testing.assert_allclose(batch.rmst([2.0, 5.0]), [1.0 + 0.8, 2.0 + 1.4 + 0.2])
    _valid(batch)
    with pytest.raises(HtaError, match="non-increasing"):
        StepCurve([1.0, 2.0], [0.5, 0.7])


@pytest.mark.parametrize("mode", ["conditional", "restart"])
def test_piecewise_continuity_and_formulas(mode):
    first = StepCurve([3.0, 7.0, 11.0], [0.9, 0.75, 0.6])
    second = Weibull(1.3, 25.0)
    cut = np.array([12.0, 18.5])
    pw = Piecewise(first, second, cut, mode=mode)
    _valid(pw)
    for i, c in enumerate(cut):
        s_c = pw.survival(np.array([c - 1e-9, c, c + 1e-9]))[i]
        np.testing.assert_allclose(s_c, 0.6, rtol=1e-7)  # continuous at the cut-off
    t_after = np.array([20.0, 60.0])
    s2 = second.survival(t_after)[0]
    if mode == "conditional":
        expected = 0.6 * s2 / second.survival(cut)[0][:, None]
    else:
        expected = 0.6 * second.survival(t_after[None, :] - cut[:, None])
    np.testing.assert_allclose(pw.survival(t_after), expected, rtol=1e-12)
    np.testing.assert_allclose(pw.survival([5.0]), [[0.9], [0.9]])


def test_general_population_units():
    years = GeneralPopulation(HK, 60.0, 0.5)
    months = GeneralPopulation(HK, 60.0, 0.5, years_per_unit=1 / 12)
    np.testing.assert_allclose(months.survival(GRID), years.survival(GRID / 12), rtol=1e-12)
    np.testing.assert_allclose(months.hazard(GRID), years.hazard(GRID / 12) / 12, rtol=1e-12)
    np.testing.assert_allclose(years.survival([10.0]),
                               HK.cohort_survival([10.0], 60.0, 0.5), rtol=1e-14)
    _valid(months)


def test_mixture_cure():
    gp = GeneralPopulation(HK, 55.0, 0.6, years_per_unit=1 / 12)
    uncured = Weibull(1.2, 15.0)
    pi = np.array([0.0, 0.25, 1.0])
    cure = MixtureCure(uncured, pi, gp)
    s = _valid(cure)
    s_bg, s_u = gp.survival(GRID), uncured.survival(GRID)
    np.testing.assert_allclose(s, s_bg * (pi[:, None] + (1 - pi[:, None]) * s_u), rtol=1e-12)
    # tends to pi * S_bg once the uncured have died
    late = np.array([200.0, 400.0])
    np.testing.assert_allclose(cure.survival(late)[1], 0.25 * gp.survival(late)[0], rtol=1e-9)
    # hazard = -d log S / dt (central difference)
    t, eps = np.array([6.0, 30.0, 125.0]), 1e-4
    numeric = (cure.cumhaz(t + eps) - cure.cumhaz(t - eps)) / (2 * eps)
    # the life table's hazard jumps at birthdays (55 + t/12 is not an integer at these t)
    np.testing.assert_allclose(cure.hazard(t), numeric, rtol=1e-6)
    # without background: S -> pi
    np.testing.assert_allclose(MixtureCure(uncured, 0.3, None).survival([1e4]), [[0.3]])


def test_general_population_floor():
    gp = GeneralPopulation(HK, 70.0, 0.5, years_per_unit=1 / 12)
    curve = Gompertz(-0.08, 0.05)  # plateau: hazard falls below the population's
    floor = GeneralPopulationFloor(curve, gp)
    _valid(floor)
    h_floor = np.diff(floor.cumhaz(GRID), axis=1)
    h_bg = np.diff(gp.cumhaz(GRID), axis=1)
    h_c = np.diff(curve.cumhaz(GRID), axis=1)
    assert (h_floor >= h_bg - 1e-15).all()  # never below background on any interval
    np.testing.assert_allclose(h_floor, np.maximum(h_c, h_bg), rtol=1e-12)
    assert (h_floor > h_c + 1e-6).any() and (h_floor > h_bg + 1e-6).any()  # both bind somewhere
    assert (floor.hazard(GRID) >= gp.hazard(GRID)).all()
    # grid not starting at 0: the first increment is from 0
    t = np.array([6.0, 12.0])
    np.testing.assert_allclose(floor.cumhaz(t)[0, 0], max(curve.cumhaz([6.0])[0, 0],
                                                         gp.cumhaz([6.0])[0, 0]))
    with pytest.raises(HtaError, match="sorted ascending"):
        floor.survival([5.0, 2.0])


def test_waning():
    ref = Weibull(1.1, [30.0, 40.0])
    hr = np.array([0.6, 0.8])
    treated = ProportionalHazards(ref, hr)
    start, end = 24.0, 60.0
    wan = Waning(treated, ref, start, end)
    _valid(wan)
    before = GRID <= start
    np.testing.assert_allclose(wan.cumhaz(GRID)[:, before], treated.cumhaz(GRID[before]),
                               rtol=1e-12)
    after = GRID >= end
    d_w = np.diff(wan.cumhaz(GRID)[:, after], axis=1)
    d_r = np.diff(ref.cumhaz(GRID[after]), axis=1)
    np.testing.assert_allclose(d_w, d_r, rtol=1e-12)
    # between: the hazard ratio at mid-interval moves linearly from hr to 1
    mid_interval = slice(42, 43)  # interval [42, 43], midpoint 42.5
    d = np.diff(wan.cumhaz(GRID), axis=1)[:, mid_interval]
    w = (42.5 - start) / (end - start)
    d_ref = np.diff(ref.cumhaz(GRID), axis=1)[:, mid_interval]
    np.testing.assert_allclose(d, ((1 - w) * hr[:, None] + w) * d_ref, rtol=1e-12)
    np.testing.assert_allclose(wan.hazard([42.5]), ((1 - w) * hr[:, None] + w) * ref.hazard([42.5]))
    # abrupt loss of effect when start == end
    abrupt = Waning(treated, ref, 36.0, 36.0)
    d_ab = np.diff(abrupt.cumhaz(GRID), axis=1)
    np.testing.assert_allclose(d_ab[:, 40], np.diff(ref.cumhaz(GRID), axis=1)[:, 40])
    np.testing.assert_allclose(d_ab[:, 10], np.diff(treated.cumhaz(GRID), axis=1)[:, 10])
    with pytest.raises(HtaError, match="end"):
        Waning(treated, ref, 10.0, 5.0)


def test_composition_floor_of_cure_with_waning_inside():
    gp = GeneralPopulation(HK, [50.0, 65.0, 80.0], [0.5, 0.4, 0.7], years_per_unit=1 / 12)
    ref = LogNormal([2.5, 2.8, 3.0], [1.0, 0.9, 1.2])
    treated = Waning(ProportionalHazards(ref, [0.7, 0.8, 0.9]), ref, 12.0, 48.0)
    model = GeneralPopulationFloor(MixtureCure(treated, [0.1, 0.2, 0.3], gp), gp)
    s = _valid(model)
    assert (np.diff(model.cumhaz(GRID), axis=1) >= np.diff(gp.cumhaz(GRID), axis=1) - 1e-15).all()
    assert (s <= gp.survival(GRID) + 1e-15).all()  # nobody outlives the general population
    # rmst on a fine grid is between the trapezoid rules on the monthly grid, roughly
    r = model.rmst(240.0)
    trap = np.sum((s[:, 1:] + s[:, :-1]) / 2, axis=1)
    np.testing.assert_allclose(r, trap, rtol=5e-3)
    # take() selects samples through the whole composition
    np.testing.assert_allclose(model.take([1]).survival(GRID), s[1:2], rtol=1e-12)


def test_adjustments_of_exponential_closed_forms():
    # piecewise exponential: rate 0.1 to t = 5 then 0.3 (restart); RMST in closed form on [0, 10]
    pw = Piecewise(Exponential(0.1), Exponential(0.3), 5.0, mode="restart")
    expected = (1 - np.exp(-0.5)) / 0.1 + np.exp(-0.5) * (1 - np.exp(-1.5)) / 0.3
    np.testing.assert_allclose(pw.rmst(10.0), [expected], rtol=1e-6)
    np.testing.assert_allclose(pw.quantile(0.5), [5.0 + (np.log(2) - 0.5) / 0.3], rtol=1e-10)


def test_bad_inputs():
    with pytest.raises(HtaError, match="hr"):
        ProportionalHazards(Exponential(0.1), -1.0)
    with pytest.raises(HtaError, match="mode"):
        Piecewise(Exponential(0.1), Exponential(0.2), 3.0, mode="glue")
    with pytest.raises(HtaError, match="cure_fraction"):
        MixtureCure(Exponential(0.1), 1.2, None)
    with pytest.raises(HtaError, match="same number of samples"):
        ProportionalHazards(Exponential([0.1, 0.2]), [0.5, 0.6, 0.7])
    with pytest.raises(HtaError, match="years_per_unit"):
        GeneralPopulation(HK, 60, 0.5, years_per_unit=0)


def test_quantiles_of_grid_defined_curves():
    # abrupt waning of hr = 0.5 at t = 5 on exponential rates: H = 0.5 r 5 + r (t - 5) after 5
    ref = Exponential([0.1, 0.05])
    wan = Waning(ProportionalHazards(ref, 0.5), ref, 5.0, 5.0)
    expected = 5.0 + (np.log(2) - 0.25 * np.array([1.0, 0.5])) / np.array([0.1, 0.05])
    np.testing.assert_allclose(wan.quantile(0.5), expected, rtol=1e-6)
    # floor: the median agrees with the crossing found on a very fine grid
    gp = GeneralPopulation(HK, 60.0, 0.5)
    floor = GeneralPopulationFloor(Gompertz(-0.5, 0.2), gp)
    t = np.linspace(0.0, 40.0, 200001)
    crossing = t[np.argmax(floor.survival(t)[0] <= 0.5)]
    np.testing.assert_allclose(floor.quantile(0.5), [crossing], atol=4e-4)
