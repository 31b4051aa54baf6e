"""Kaplan-Meier estimates against R's survival package and lifelines.

Reference numbers: R 4.x, survival 3.5-3 (Therneau), on /work/shared/refdata/lung_R_survival.csv
(the package's ``lung`` data; status 1 = censored, 2 = dead), from
``summary(survfit(Surv(time, status) ~ 1, data = lung, conf.type = ...), times = ...)`` and
``summary(fit)$table``. The all-patient median 310 days (95% CI 285-363) is also the figure printed
in the survival package's documentation and in countless tutorials.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.errors import HtaError
from hta.survival.km import (
    kaplan_meier,
    km_median,
    km_quantile,
    km_survival_at,
    number_at_risk,
)

LUNG = Path("/work/shared/refdata/lung_R_survival.csv")


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(LUNG)
    return d["time"].to_numpy(float), (d["status"] - 1).to_numpy(int), d["sex"].to_numpy(int)


# summary(survfit(Surv(time, status) ~ 1, lung), times = R_TIMES): surv, std.err (of S),
# and lower/upper for conf.type = "log" (R's default), "log-log" and "plain".
R_TIMES = [5, 11, 100, 200, 310, 365, 500, 730, 1000]
R_N_RISK = [228, 227, 196, 144, 85, 65, 41, 13, 2]
R_SURV = [0.9956140350877, 0.9824561403509, 0.8639689676452, 0.6802728622230, 0.4950242931809,
          0.4092416244601, 0.2932691937116, 0.1156930983445, 0.0503455680708]
R_SE = [0.00437633599855, 0.00869464259269, 0.02271023043416, 0.03113457165797, 0.03523274624670,
        0.03582363817204, 0.03507781849862, 0.02829819731769, 0.02284804891608]
R_CI = {
    "log": (
        [0.9870734167405, 0.9655618970754, 0.8205848920813, 0.6219071502620, 0.4305695247300,
         0.3447215817958, 0.2319821382624, 0.0716318249618, 0.0206854601990],
        [1.000000000000, 0.999645978820, 0.909646746190, 0.744116170528, 0.569127717511,
         0.485837603547, 0.370747595588, 0.186856791820, 0.122534195517],
    ),
    "log-log": (
        [0.9692770362189, 0.9539352302061, 0.8122223197535, 0.6149172487969, 0.4242440727848,
         0.3387142690883, 0.2265036771181, 0.0676321514888, 0.0178661710929],
        [0.999381011439, 0.993379132790, 0.902310180515, 0.736949593535, 0.561795979141,
         0.478380767647, 0.363028599684, 0.177825199700, 0.108662176031],
    ),
    "plain": (
        [0.98703657414631, 0.96541495401076, 0.81945773391368, 0.61925022309931, 0.42596937946094,
         0.33902858384768, 0.22451793279804, 0.06022965077445, 0.00556421507828],
        [1.0000000000000, 0.9994973266910, 0.9084802013768, 0.7412955013467, 0.5640792069009,
         0.4794546650725, 0.3620204546251, 0.1711565459146, 0.0951269210633],
    ),
}


def test_lung_survival_and_greenwood_se_match_r(lung):
    time, event, _ = lung
    km = kaplan_meier(time, event)
    np.testing.assert_allclose(km_survival_at(km, R_TIMES), R_SURV, atol=1e-6)
    np.testing.assert_allclose(km_survival_at(km, R_TIMES, "se"), R_SE, atol=1e-6)
    nar = number_at_risk(time, event, R_TIMES)
    np.testing.assert_array_equal(nar["n_at_risk"], R_N_RISK)


@pytest.mark.parametrize("ci", ["log", "log-log", "plain"])
def test_lung_confidence_bands_match_r(lung, ci):
    time, event, _ = lung
    km = kaplan_meier(time, event, ci=ci)
    lower, upper = R_CI[ci]
    np.testing.assert_allclose(km_survival_at(km, R_TIMES, "lower"), lower, atol=1e-6)
    np.testing.assert_allclose(km_survival_at(km, R_TIMES, "upper"), upper, atol=1e-6)


@pytest.mark.parametrize(
    "ci, expected",
    [("log", (310, 285, 363)), ("log-log", (310, 284, 361)), ("plain", (310, 284, 361))],
)
def test_lung_median_and_ci_match_r(lung, ci, expected):
    time, event, _ = lung
    assert km_median(time, event, ci=ci) == pytest.approx(expected, abs=1e-9)


def test_lung_median_by_sex_match_r(lung):
    # summary(survfit(Surv(time, status) ~ sex, lung))$table: sex=1 270 (212-310), sex=2 426 (348-550)
    time, event, sex = lung
    assert km_median(time[sex == 1], event[sex == 1]) == pytest.approx((270, 212, 310))
    assert km_median(time[sex == 2], event[sex == 2]) == pytest.approx((426, 348, 550))


def test_frame_layout_and_counts(lung):
    time, event, _ = lung
    km = kaplan_meier(time, event)
    assert list(km.columns) == ["time", "n_at_risk", "n_events", "n_censored", "survival", "se",
                                "lower", "upper"]
    assert km["time"].iloc[0] == 0 and km["survival"].iloc[0] == 1 and km["n_at_risk"].iloc[0] == 228
    assert km["n_events"].sum() == 165 and km["n_censored"].sum() == 63  # survfit: 165 events
    assert len(km) == np.unique(time).size + 1
    assert np.all(np.diff(km["survival"]) <= 0)
    # n_at_risk(next) = n_at_risk - events - censored
    nxt = km["n_at_risk"].to_numpy()[1:]
    assert np.array_equal(nxt, (km["n_at_risk"] - km["n_events"] - km["n_censored"]).to_numpy()[:-1])


def test_hand_computed_small_example():
    # times 1,2+,3,3,4+: S(1)=4/5, S(3)=4/5*(1-2/3)=4/15; Greenwood var(log S) at 3 =
    # 1/(5*4) + 2/(3*1) = 0.7166..., se = S*sqrt(var)
    km = kaplan_meier([1, 2, 3, 3, 4], [1, 0, 1, 1, 0])
    s3 = 4 / 15
    assert km_survival_at(km, [0.5, 1, 2.5, 3, 10]) == pytest.approx([1, 0.8, 0.8, s3, s3])
    assert km_survival_at(km, 3, "se") == pytest.approx(s3 * np.sqrt(1 / 20 + 2 / 3))


def test_quantile_flat_stretch_rule_matches_r():
    # survival package tests/quantile.R: time (9,1,1,6,6,8,10), status (1,1,0,1,1,0,0);
    # quantile(fit, 1 - qq) = (1, 3.5, 6, 9, 9.5, NA), lower = (1, 1, 1, 6, 6, 9) for
    # qq = (13/14, 6/7, 2/3, .5, 9/35, .1) with the default log interval.
    km = kaplan_meier([9, 1, 1, 6, 6, 8, 10], [1, 1, 0, 1, 1, 0, 0])
    qq = [13 / 14, 6 / 7, 2 / 3, 0.5, 9 / 35, 0.1]
    expected = [1, 3.5, 6, 9, 9.5, np.nan]
    expected_lower = [1, 1, 1, 6, 6, 9]
    for q, e, lo in zip(qq, expected, expected_lower):
        est, lower, upper = km_quantile(km, 1 - q)
        np.testing.assert_allclose(est, e)
        np.testing.assert_allclose(lower, lo)
        assert np.isnan(upper)


def test_median_not_reached_is_nan():
    med, lo, hi = km_median([1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 0])
    assert np.isnan(med) and np.isnan(hi)


def test_matches_lifelines(lung):
    # lifelines pins pandas < 3, so it is not in the test extra: install it to run this check
    KaplanMeierFitter = pytest.importorskip(
        "lifelines", reason="needs lifelines (pip install lifelines; it requires pandas < 3)").KaplanMeierFitter

    time, event, _ = lung
    kmf = KaplanMeierFitter().fit(time, event)
    # lifelines' default interval is the log-log ("exponential Greenwood") one
    km = kaplan_meier(time, event, ci="log-log")
    t = kmf.survival_function_.index.to_numpy()
    np.testing.assert_allclose(km_survival_at(km, t), kmf.survival_function_.iloc[:, 0], atol=1e-10)
    ci = kmf.confidence_interval_
    np.testing.assert_allclose(km_survival_at(km, t, "lower"), ci.iloc[:, 0], atol=1e-8)
    np.testing.assert_allclose(km_survival_at(km, t, "upper"), ci.iloc[:, 1], atol=1e-8)
    assert km_median(time, event)[0] == kmf.median_survival_time_


@pytest.mark.parametrize(
    "time, event, match",
    [
        ([1, -2, 3], [1, 1, 0], "times >= 0"),
        ([1, 2, 3], [1, 2, 0], "coded 0"),
        ([1, 2, 3], [1, 0], "same length"),
        ([1, np.nan, 3], [1, 0, 1], "finite"),
        ([], [], "at least one"),
    ],
)
def test_bad_inputs_raise(time, event, match):
    with pytest.raises(HtaError, match=match):
        kaplan_meier(time, event)


def test_bad_ci_raises():
    with pytest.raises(HtaError, match="ci"):
        kaplan_meier([1, 2], [1, 1], ci="arcsine")
