"""Calibration to summary statistics (hta.survival.calibrate)."""

import numpy as np
import pytest

from hta.errors import HtaError
from hta.survival.calibrate import WEAK_EVIDENCE_NOTE, calibrate
from hta.survival.curves import Exponential, Weibull

TRUE = Weibull(1.3, 20.0)


def _s(t):
    return float(TRUE.survival([t])[0, 0])


def test_exact_weibull_from_median_and_landmark():
    median = float(TRUE.median()[0])  # 20 * log(2)^(1/1.3)
    res = calibrate("weibull", median=median, landmarks={5.0: _s(5.0)})
    assert res.exact
    np.testing.assert_allclose(np.exp(res.coef.to_numpy()), [1.3, 20.0], rtol=1e-10)
    assert res.weak_evidence is True
    assert "not fitted to patient data" in res.note and res.note == WEAK_EVIDENCE_NOTE
    assert res.cov is None  # no CIs, no covariance


def test_exact_weibull_from_two_landmarks_with_delta_method_covariance():
    t1, t2 = 6.0, 24.0
    s1, s2 = _s(t1), _s(t2)
    ci1, ci2 = (s1 - 0.06, s1 + 0.05), (s2 - 0.07, s2 + 0.06)
    res = calibrate("weibull", landmarks={t1: s1, t2: s2}, landmark_ci={t1: ci1, t2: ci2})
    assert res.exact
    np.testing.assert_allclose(np.exp(res.coef.to_numpy()), [1.3, 20.0], rtol=1e-9)

    # closed form: y_i = cloglog(s_i) = k (log t_i - log b); sigma_i from the CI width
    def closed(y):
        k = (y[1] - y[0]) / (np.log(t2) - np.log(t1))
        return np.array([np.log(k), np.log(t1) - y[0] / k])

    cl = lambda s: np.log(-np.log(s))  # noqa: E731
    y = np.array([cl(s1), cl(s2)])
    sig = np.array([abs(cl(ci1[0]) - cl(ci1[1])), abs(cl(ci2[0]) - cl(ci2[1]))]) / (2 * 1.959963985)
    jac = np.column_stack([(closed(y + h) - closed(y - h)) / 2e-6
                           for h in (np.array([1e-6, 0]), np.array([0, 1e-6]))])
    expected = jac @ np.diag(sig**2) @ jac.T
    np.testing.assert_allclose(res.cov.to_numpy(), expected, rtol=1e-5)
    draws = res.sample(3, seed=1)
    assert draws.n == 3


def test_exponential_from_median_only():
    res = calibrate("exponential", median=10.0)
    assert res.exact
    assert np.exp(res.coef["log_rate"]) == pytest.approx(np.log(2) / 10.0, rel=1e-12)


def test_overdetermined_least_squares_reports_residuals():
    # three points of an exponential(0.1) are met exactly by a Weibull with shape 1
    e = Exponential(0.1)
    lm = {t: float(e.survival([t])[0, 0]) for t in (2.0, 8.0, 15.0)}
    res = calibrate("weibull", landmarks=lm)
    assert res.exact
    np.testing.assert_allclose(np.exp(res.coef.to_numpy()), [1.0, 10.0], rtol=1e-8)
    # inconsistent with any exponential: least-squares compromise, residuals reported
    res = calibrate("exponential", landmarks={2.0: 0.9, 10.0: 0.3})
    assert not res.exact
    assert np.abs(res.targets["cloglog_residual"]).max() > 0.1
    # the unweighted least-squares solution on the cloglog scale: log rate = mean(y - log t)
    y = np.log(-np.log([0.9, 0.3])) - np.log([2.0, 10.0])
    assert res.coef["log_rate"] == pytest.approx(y.mean(), abs=1e-8)


def test_median_ci_weights_through_the_slope():
    median = float(TRUE.median()[0])
    res = calibrate("weibull", median=median, landmarks={5.0: _s(5.0), 30.0: _s(30.0)},
                    median_ci=(median * 0.8, median * 1.25),
                    landmark_ci={5.0: (_s(5.0) - 0.05, _s(5.0) + 0.05), 30.0: (_s(30.0) - 0.05,
                                                                              _s(30.0) + 0.05)})
    assert res.exact  # consistent targets: still reproduced exactly
    sigma_median = 1.3 * np.log(1.25 / 0.8) / (2 * 1.959963985)  # Weibull slope = shape
    weights = res.targets.set_index("kind")["weight"]
    assert weights["median"] == pytest.approx(1 / sigma_median**2, rel=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(median=10.0, landmarks={5.0: 0.4}), "fall with time"),
    (dict(median=10.0, landmarks={20.0: 0.6}), "fall with time"),
    (dict(landmarks={5.0: 0.5, 10.0: 0.6}), "fall with time"),
    (dict(median=10.0), "at least 2 targets"),
    (dict(landmarks={5.0: 50.0, 10.0: 30.0}), "proportion"),
    (dict(median=10.0, landmarks={5.0: 0.7}, median_ci=(11.0, 14.0)), "CI"),
    (dict(), "found none"),
])
def test_impossible_targets_raise(kwargs, message):
    with pytest.raises(HtaError, match=message):
        calibrate("weibull", **kwargs)


def test_unknown_distribution():
    with pytest.raises(HtaError, match="distribution"):
        calibrate("spline", median=3.0)
