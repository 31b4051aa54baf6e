"""Cycle grid, discounting and within-cycle correction (formulas in docs/methods.md)."""

import numpy as np
import pytest

from hta.engine.timegrid import (
    CycleGrid,
    cycle_allocation,
    discount_factors,
    per_cycle_rate,
    point_weights,
)
from hta.errors import HtaError


@pytest.mark.parametrize("cycle, years", [("week", 7 / 365.25), ("28 days", 28 / 365.25), ("month", 1 / 12), ("year", 1.0)])
def test_named_cycle_lengths(cycle, years):
    grid = CycleGrid.from_horizon(10, cycle)
    assert grid.cycle_years == pytest.approx(years)
    assert grid.n_cycles == int(np.ceil(10 / years - 1e-9))
    assert grid.times[-1] >= 10 - 1e-12
    assert grid.times[0] == 0 and len(grid.times) == grid.n_cycles + 1


def test_horizon_rounds_up_to_whole_cycles():
    assert CycleGrid.from_horizon(1.0, "month").n_cycles == 12
    assert CycleGrid.from_horizon(1.01, "month").n_cycles == 13
    assert CycleGrid.from_horizon(30, "week").n_cycles == 1566  # 30 * 365.25 / 7 = 1565.36


def test_invalid_grid_inputs():
    with pytest.raises(HtaError, match="fortnight"):
        CycleGrid.from_horizon(10, "fortnight")
    with pytest.raises(HtaError, match="horizon"):
        CycleGrid.from_horizon(-1, "year")


def test_discount_factors_discrete_and_continuous():
    t = np.array([0.0, 1.0, 2.5])
    np.testing.assert_allclose(discount_factors(0.03, t), 1.03 ** -t)
    np.testing.assert_allclose(discount_factors(0.03, t, "continuous"), np.exp(-0.03 * t))
    np.testing.assert_array_equal(discount_factors(0.0, t), np.ones(3))
    with pytest.raises(HtaError, match="0.03"):
        discount_factors(3, t)


def test_per_cycle_rate_compounds_to_annual():
    r_week = per_cycle_rate(0.035, 7 / 365.25)
    assert (1 + r_week) ** (365.25 / 7) == pytest.approx(1.035, rel=1e-12)
    assert per_cycle_rate(0.035, 1.0) == pytest.approx(0.035)


def test_point_weights_of_simple_rules():
    np.testing.assert_array_equal(point_weights(4, "start"), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(point_weights(4, "end"), [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(point_weights(4, "half-cycle"), [0.5, 1, 1, 1, 0.5])
    np.testing.assert_array_equal(point_weights(4, "trapezoid"), point_weights(4, "life-table"))


def test_simpson_weights_are_1_4_2_4_1_over_3():
    np.testing.assert_allclose(point_weights(6, "simpson"), np.array([1, 4, 2, 4, 2, 4, 1]) / 3)


@pytest.mark.parametrize("T", [2, 4, 10, 3, 5, 11])
def test_simpson_integrates_constants_and_cubics_exactly(T):
    # Some published tools get Simpson's weights wrong; the right ones are exact for cubics.
    dt = 0.37
    t = np.arange(T + 1) * dt
    w = point_weights(T, "simpson")
    H = T * dt
    assert dt * (w @ np.full(T + 1, 2.5)) == pytest.approx(2.5 * H, rel=1e-13)
    f = 1.0 - 2.0 * t + 0.7 * t ** 2 - 0.3 * t ** 3
    exact = H - H ** 2 + 0.7 * H ** 3 / 3 - 0.3 * H ** 4 / 4
    assert dt * (w @ f) == pytest.approx(exact, rel=1e-12)


def test_trapezoid_exact_for_linear_not_quadratic():
    T, dt = 8, 0.5
    t = np.arange(T + 1) * dt
    w = point_weights(T, "half-cycle")
    assert dt * (w @ (3 - t)) == pytest.approx(3 * 4 - 4 ** 2 / 2)
    assert dt * (w @ t ** 2) != pytest.approx(4 ** 3 / 3, rel=1e-6)


@pytest.mark.parametrize("method", ["start", "end", "half-cycle", "simpson"])
def test_cycle_allocation_columns_sum_to_point_weights(method):
    A = cycle_allocation(7 if method != "simpson" else 8, method)
    assert A.shape[0] + 1 == A.shape[1]
    np.testing.assert_allclose(A.sum(axis=0), point_weights(A.shape[0], method))
    assert (A >= 0).all()
    # only the two diagonals are used: each cycle draws on its own two end points
    assert np.count_nonzero(np.triu(A, 2)) == 0 and np.count_nonzero(np.tril(A, -1)) == 0


def test_unknown_within_cycle_method():
    with pytest.raises(HtaError, match="simpson"):
        point_weights(4, "midpoint")
