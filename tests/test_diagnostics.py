"""Survival diagnostics (hta.survival.diagnostics): figures, landmark table, plausibility flags."""

import numpy as np
import pytest

from hta.errors import HtaError
from hta.population.lifetables import LifeTable
from hta.survival.adjust import GeneralPopulation
from hta.survival.curves import Exponential, Weibull
from hta.survival.diagnostics import (
    empirical_hazard,
    general_population_flags,
    landmark_table,
    plot_fits,
    plot_hazards,
    plot_log_cumhaz,
    smoothed_hazard,
)
from hta.survival.fit import fit
from hta.survival.splines import fit_spline


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    t = 3.0 * rng.weibull(1.2, 200)
    c = rng.uniform(1.0, 6.0, 200)
    return np.minimum(t, c), (t <= c).astype(float)


@pytest.fixture(scope="module")
def fits(data):
    res = fit(*data, ["exponential", "weibull"])
    return {"exponential": res["exponential"], "weibull": res["weibull"],
            "spline": fit_spline(*data, knots=1), "fixed": Exponential(0.3)}


def _is_png(path):
    blob = path.read_bytes()
    return blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 10_000


def test_figures_are_non_empty_pngs(tmp_path, data, fits):
    gp = GeneralPopulation(LifeTable.hong_kong(), 60, 0.5)
    assert _is_png(plot_fits(data, fits, 20.0, tmp_path / "fits.png", background=gp))
    assert _is_png(plot_hazards(*data, fits, tmp_path / "hazards.png"))
    assert _is_png(plot_log_cumhaz(*data, fits, tmp_path / "logcumhaz.png"))


def test_general_population_flag_triggers_for_optimistic_curve():
    # exponential with a tiny rate vs Hong Kong life table at age 80: S(t) = exp(-1e-4 t) is far
    # above the survival of 80-year-olds (HK life expectancy at 80 is about 10 years)
    gp = GeneralPopulation(LifeTable.hong_kong(), start_age=80, male_share=0.5)
    flags = general_population_flags({"optimistic": Exponential(1e-4), "poor": Exponential(0.5)},
                                     gp, times=[1.0, 5.0, 10.0, 20.0])
    optimistic = flags[flags.model == "optimistic"]
    assert optimistic["above_gp"].all() and optimistic["hazard_below_gp"].all()
    poor = flags[flags.model == "poor"]
    assert not poor["above_gp"].any()
    np.testing.assert_allclose(optimistic["gp_survival"], gp.survival([1.0, 5.0, 10.0, 20.0])[0])


def test_landmark_table_matches_closed_forms():
    r = 0.2
    table = landmark_table({"exp": Exponential(r), "wei": Weibull(2.0, 4.0)},
                           times=(1, 2, 5), tmax=10.0)
    row = table.loc["exp"]
    np.testing.assert_allclose(row[["S(1)", "S(2)", "S(5)"]].to_numpy(float),
                               np.exp(-r * np.array([1, 2, 5])), rtol=1e-12)
    assert row["median"] == pytest.approx(np.log(2) / r)
    assert row["rmst"] == pytest.approx((1 - np.exp(-r * 10)) / r)
    assert row["mean"] == pytest.approx((1 - np.exp(-r * 100)) / r)  # horizon 10 x tmax
    # Weibull mean = scale * Gamma(1 + 1/shape) = 4 * sqrt(pi)/2
    assert table.loc["wei", "mean"] == pytest.approx(2 * np.sqrt(np.pi), rel=1e-8)


def test_empirical_hazard_of_exponential_data():
    rng = np.random.default_rng(0)
    t = rng.exponential(1 / 0.4, 5000)
    c = rng.uniform(0, 5, 5000)
    time, event = np.minimum(t, c), (t <= c).astype(float)
    emp = empirical_hazard(time, event, 5)
    # total events / total person-time is the exponential MLE; every interval near 0.4
    assert emp["events"].sum() == event.sum()
    assert emp["person_time"].sum() == pytest.approx(time.sum())
    np.testing.assert_allclose(emp["hazard"], 0.4, rtol=0.15)
    smooth = smoothed_hazard(time, event, [1.5, 2.0, 2.5])
    np.testing.assert_allclose(smooth, 0.4, rtol=0.15)


def test_bad_fits_raise():
    with pytest.raises(HtaError, match="fit 'x'"):
        landmark_table({"x": 3.0})
    with pytest.raises(HtaError, match="n = 1"):
        landmark_table({"x": Exponential([0.1, 0.2])})
