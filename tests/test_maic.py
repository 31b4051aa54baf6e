"""MAIC weights (hta.survival.maic): exact balance, ESS, recovery of known truth (NICE DSU TSD 18).

Simulated truth: IPD with age ~ N(60, 8^2) and male ~ Bernoulli(0.4); a target population with
age ~ N(66, 8^2) and male ~ Bernoulli(0.6). For these the density ratio of target to IPD is
exactly exp-linear in (age, male), with coefficients (66 - 60) / 8^2 = 0.09375 for age and
logit(0.6) - logit(0.4) = 0.8109 for male, so method-of-moments weights on the two means are
the correct weights and the reweighted IPD estimates the target population's outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from hta.errors import HtaError
from hta.survival.km import kaplan_meier, km_survival_at
from hta.survival.maic import effective_sample_size, maic_weights, weighted_fit, weighted_km

TARGET = {"age": 66.0, "male": 0.6}
BASE_RATE, B_AGE, B_MALE = 0.1, 0.05, 0.5  # exponential hazard per year, log-hazard effects


def _population(n, age_mean, p_male, rng):
    return pd.DataFrame({"age": rng.normal(age_mean, 8.0, n), "male": (rng.uniform(size=n) < p_male).astype(float)})


def _hazard(frame):
    return BASE_RATE * np.exp(B_AGE * (frame["age"] - 60.0) + B_MALE * frame["male"])


@pytest.fixture(scope="module")
def trial():
    rng = np.random.default_rng(2016)
    ipd = _population(2000, 60.0, 0.4, rng)
    t_event = rng.exponential(1.0 / _hazard(ipd))
    censor = np.minimum(rng.uniform(2.0, 8.0, len(ipd)), 6.0)
    ipd["time"] = np.minimum(t_event, censor)
    ipd["event"] = (t_event <= censor).astype(int)
    return ipd


def test_weights_reproduce_the_target_means_exactly(trial):
    maic = maic_weights(trial[["age", "male"]], TARGET)
    weighted = (maic.weights @ trial[["age", "male"]].to_numpy()) / maic.weights.sum()
    np.testing.assert_allclose(weighted, [66.0, 0.6], rtol=0, atol=1e-9)
    assert maic.weights.sum() == pytest.approx(len(trial), rel=1e-12) and (maic.weights > 0).all()
    np.testing.assert_allclose(maic.balance["weighted"], maic.balance["target"], atol=1e-9)
    assert maic.balance["unweighted"].iloc[0] == pytest.approx(trial["age"].mean())


def test_weights_match_standard_deviations_too(trial):
    maic = maic_weights(trial[["age", "male"]], TARGET, {"age": 6.0})
    w = maic.weights / maic.weights.sum()
    mean = w @ trial["age"].to_numpy()
    sd = np.sqrt(w @ (trial["age"].to_numpy() - mean) ** 2)
    assert mean == pytest.approx(66.0, abs=1e-9) and sd == pytest.approx(6.0, abs=1e-8)
    assert 1.0 < maic.ess < len(trial)


def test_effective_sample_size():
    assert effective_sample_size(np.ones(50)) == pytest.approx(50.0)
    assert effective_sample_size([1.0, 1.0, 0.0, 0.0]) == pytest.approx(2.0)
    assert effective_sample_size([3.0, 1.0]) == pytest.approx(16.0 / 10.0)
    rng = np.random.default_rng(0)
    ipd = _population(400, 60.0, 0.4, rng)
    same = maic_weights(ipd, {"age": ipd["age"].mean(), "male": ipd["male"].mean()})
    np.testing.assert_allclose(same.weights, 1.0, atol=1e-9)  # no adjustment needed: ESS = N
    assert same.ess == pytest.approx(400.0, rel=1e-9)


def test_coefficients_recover_the_true_density_ratio(trial):
    maic = maic_weights(trial[["age", "male"]], TARGET)
    assert maic.coefficients["mean age"] == pytest.approx(6.0 / 64.0, abs=0.01)
    assert maic.coefficients["mean male"] == pytest.approx(logit(0.6) - logit(0.4), abs=0.15)
    assert 0.3 * len(trial) < maic.ess < 0.9 * len(trial)


def test_weighted_survival_recovers_the_target_population(trial):
    truth_rng = np.random.default_rng(99)
    target = _population(400_000, 66.0, 0.6, truth_rng)
    ipd_population = _population(400_000, 60.0, 0.4, truth_rng)
    times = np.array([1.0, 2.0, 3.0, 4.0])
    h_target, h_ipd = _hazard(target).to_numpy(), _hazard(ipd_population).to_numpy()
    s_target = np.exp(-np.outer(h_target, times)).mean(axis=0)
    s_ipd = np.exp(-np.outer(h_ipd, times)).mean(axis=0)

    maic = maic_weights(trial[["age", "male"]], TARGET)
    km_w = weighted_km(trial["time"], trial["event"], maic)
    km_u = kaplan_meier(trial["time"], trial["event"])
    got_w = km_survival_at(km_w, times)
    got_u = km_survival_at(km_u, times)
    # The unweighted trial describes its own population, not the target...
    np.testing.assert_allclose(got_u, s_ipd, atol=0.03)
    assert np.max(np.abs(got_u - s_target)) > 0.08
    # ...the reweighted trial describes the target (SE about 0.015 at ESS ~ 1,200).
    np.testing.assert_allclose(got_w, s_target, atol=0.04)
    # A weighted exponential fit: rate = sum(w d) / sum(w t), the weighted MLE.
    fits = weighted_fit(trial["time"], trial["event"], maic, "exponential")
    w = maic.scaled_to_ess()
    rate = np.exp(fits["exponential"].coef.iloc[0])
    assert rate == pytest.approx((w @ trial["event"]) / (w @ trial["time"]), rel=1e-6)
    assert w.sum() == pytest.approx(maic.ess)


def test_weighted_km_with_unit_or_integer_weights():
    rng = np.random.default_rng(4)
    time = np.round(rng.exponential(2.0, 60), 1)
    event = (rng.uniform(size=60) < 0.7).astype(int)
    plain = kaplan_meier(time, event)
    ones = kaplan_meier(time, event, weights=np.ones(60))
    np.testing.assert_allclose(ones["survival"], plain["survival"], rtol=1e-12)
    np.testing.assert_allclose(ones["se"], plain["se"], rtol=1e-12, equal_nan=True)
    counts = rng.integers(0, 4, 60)
    replicated = kaplan_meier(np.repeat(time, counts), np.repeat(event, counts))
    weighted = kaplan_meier(time, event, weights=counts)
    got = km_survival_at(weighted, replicated["time"].to_numpy())
    np.testing.assert_allclose(got, replicated["survival"], rtol=1e-12)


@pytest.mark.parametrize(
    "targets, sds, match",
    [
        ({"age": 95.0}, None, r"strictly inside the IPD's range"),
        ({"male": 1.0}, None, r"strictly inside the IPD's range"),
        ({"weight": 70.0}, None, r"expected columns \['weight'\]"),
        ({}, None, "at least one covariate"),
        ({"male": 0.5}, {"age": 8.0}, "needs the mean too"),
        ({"age": float("nan")}, None, "finite number"),
    ],
)
def test_targets_that_cannot_be_matched_are_user_errors(trial, targets, sds, match):
    with pytest.raises(HtaError, match=match):
        maic_weights(trial[["age", "male"]], targets, sds)


def test_targets_outside_the_joint_support_are_refused():
    # Each mean is inside its own range, but no weights give (x1, x2) = (0.9, 0.9) when the
    # IPD has x1 + x2 <= 1 for every patient.
    rng = np.random.default_rng(1)
    a = rng.uniform(size=500)
    ipd = pd.DataFrame({"x1": a, "x2": (1.0 - a) * rng.uniform(size=500)})
    with pytest.raises(HtaError, match="no weights match the targets"):
        maic_weights(ipd, {"x1": 0.9, "x2": 0.9})
