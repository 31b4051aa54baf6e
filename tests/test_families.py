"""Each survival family is defined once: its analytic log-likelihood fast path against the generic
derivation from its own hazard and cumulative hazard, and a family fitted with nothing but its
class (the generic derivation) against R.

* The likelihood of right-censored data with delayed entry is
  ``sum_i w_i [d_i log h(t_i) - H(t_i) + H(entry_i)]`` (Jackson 2016, J Stat Softw 70(8),
  section 2: flexsurvreg's likelihood; Klein & Moeschberger 2003, section 3.5).
  ``ParametricCurve.generic_terms`` builds it from ``_log_hazard`` and ``_cumhaz``, the same
  methods that give the curves the model evaluates (checked against scipy.stats in
  tests/test_curves.py); ``loglik_terms`` (the fast path each family overrides) must agree with it.
* R reference values: tests/data/r_reference_fits.csv (tests/data/r_reference_fits.R, R 4.2.2,
  survival 3.5-3: ``survreg(Surv(time, status == 2) ~ sex, lung, dist = "weibull")`` converted to
  flexsurv's coefficients; Gompertz by optim + nlm on flexsurv's explicit likelihood).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.survival.curve_base import ParametricCurve
from hta.survival.curves import DISTRIBUTIONS as FAMILIES
from hta.survival.curves import Gompertz, Weibull
from hta.survival.fit import DISTRIBUTIONS, FitWarning, fit, likelihood
from hta.survival.mle import left_truncated, validate

REFDATA = Path("/work/shared/refdata")
_LOCAL = Path(__file__).resolve().parents[2] / "shared" / "refdata"
if _LOCAL.exists():
    REFDATA = _LOCAL
R_REF = pd.read_csv(Path(__file__).parent / "data" / "r_reference_fits.csv")

LUNG = pd.read_csv(REFDATA / "lung_R_survival.csv")
TIME = LUNG.time.to_numpy(float)
EVENT = (LUNG.status == 2).to_numpy()
ARM = (LUNG.sex == 2).to_numpy()

# coefficient sets on the normalised time scale (mean follow-up 1): near the lung optimum,
# and away from it on both sides of each shape (rising / falling hazards, both signs of Q)
COEFS = {
    "exponential": [[-0.3], [0.8], [-2.0]],
    "weibull": [[0.27, 0.1], [-0.4, 0.6], [0.9, -0.5]],
    "gompertz": [[0.4, -0.9], [-1.2, 0.2], [2.0, -2.5]],
    "lognormal": [[0.1, -0.05], [-0.8, 0.4], [1.2, -0.6]],
    "loglogistic": [[0.5, 0.0], [-0.3, 0.7], [1.1, -0.4]],
    "gamma": [[0.3, 0.4], [-0.5, -0.8], [1.4, 1.0]],
    "gengamma": [[0.2, -0.3, 0.6], [-0.1, 0.2, -0.7], [0.4, -0.6, 1.5]],
}


def _data(arm: bool):
    return validate(TIME, EVENT, None, ARM if arm else None)


def _p(name, coef, data):
    """The coefficient list the optimiser passes: the location one per observation with an arm."""
    p = [float(c) for c in coef]
    if data.x is not None:  # an arm effect of 0.35 on the location coefficient
        loc = FAMILIES[name].location
        p[loc] = p[loc] + 0.35 * data.x
    return p


FAST_PATHS = sorted(name for name, cls in FAMILIES.items()
                    if cls.derived_from is None
                    and cls.loglik_terms.__func__ is not ParametricCurve.loglik_terms.__func__)


def test_every_fast_path_is_checked():
    """A family that overrides loglik_terms must have coefficient sets here (so its fast path is
    compared with the generic derivation below); today every fitted family has one."""
    assert set(COEFS) == set(FAST_PATHS)
    assert set(DISTRIBUTIONS) <= set(FAST_PATHS)


@pytest.mark.parametrize("arm", [False, True], ids=["single", "arm"])
@pytest.mark.parametrize("name", sorted(COEFS))
def test_fast_path_equals_generic_derivation(name, arm):
    """Per observation and in total, to 1e-10 relative: ll = d log h - H."""
    cls = FAMILIES[name]
    assert cls.loglik_terms.__func__ is not ParametricCurve.loglik_terms.__func__, \
        f"{name} has no fast path: this test would compare the generic path with itself"
    data = _data(arm)
    for coef in COEFS[name]:
        p = _p(name, coef, data)
        with np.errstate(all="ignore"):
            fast, _ = cls.loglik_terms(p, data.t, data.logt, data.d)
        generic = cls.generic_loglik(p, data.t, data.d)
        scale = np.maximum(1.0, np.abs(generic))
        assert np.max(np.abs(fast - generic) / scale) < 1e-10, (name, coef)
        assert float(fast @ data.w) == pytest.approx(float(generic @ data.w), rel=1e-10)


@pytest.mark.parametrize("name", sorted(COEFS))
def test_fast_path_score_equals_generic_score(name):
    """The analytic score against the central-difference derivative of the generic terms."""
    cls = FAMILIES[name]
    data = _data(True)
    for coef in COEFS[name]:
        p = _p(name, coef, data)
        with np.errstate(all="ignore"):
            _, g_fast = cls.loglik_terms(p, data.t, data.logt, data.d)
        _, g_generic = cls.generic_terms(p, data.t, data.logt, data.d)
        scale = np.maximum(1.0, np.abs(g_generic).max(axis=1, keepdims=True))
        assert np.max(np.abs(g_fast - g_generic) / scale) < 1e-7, (name, coef)


@pytest.mark.parametrize("name", sorted(COEFS))
def test_left_truncation_adds_cumulative_hazard_at_entry(name):
    """d log h(t) - H(t) + H(entry), with H(entry) from the curve's own cumulative hazard."""
    cls = FAMILIES[name]
    entry = np.where(np.arange(TIME.size) % 3 == 0, 0.4 * TIME, 0.0)
    data = validate(TIME, EVENT, None, None, entry)
    trunc = left_truncated(likelihood(name), data.entry)
    for coef in COEFS[name]:
        p = [float(c) for c in coef]
        with np.errstate(all="ignore"):
            ll, _ = trunc.terms(p, data.t, data.logt, data.d)
        mask = data.entry > 0
        h_entry = np.zeros_like(data.t)
        h_entry[mask] = cls.cumhaz_coef(p, data.entry[mask])
        expected = cls.generic_loglik(p, data.t, data.d) + h_entry
        assert np.max(np.abs(ll - expected) / np.maximum(1.0, np.abs(expected))) < 1e-10


def _generic_only(parent):
    """A family class with no fast path: the parent's curve, the generic likelihood."""

    class Generic(parent):
        fitted_by_default = False

        @classmethod
        def loglik_terms(cls, p, t, logt, d):
            return cls.generic_terms(p, t, logt, d)

    return Generic


def _ref(covariate, dist, term):
    row = R_REF[(R_REF.dataset == "lung") & (R_REF.covariate == covariate)
                & (R_REF.distribution == dist) & (R_REF.term == term)]
    assert len(row) == 1
    return float(row.value.iloc[0])


@pytest.mark.parametrize("covariate", ["none", "arm"])
@pytest.mark.parametrize("parent,dist", [(Weibull, "weibull"), (Gompertz, "gompertz")])
def test_a_new_family_is_one_class_and_a_registry_line(monkeypatch, parent, dist, covariate):
    """A family registered with nothing but its class is fitted by hta.survival.fit: the generic
    likelihood reproduces R's log-likelihood and coefficients (lung, with and without sex)."""
    monkeypatch.setitem(FAMILIES, "generic_" + dist, _generic_only(parent))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        model = fit(TIME, EVENT, "generic_" + dist, arm=ARM if covariate == "arm" else None)[
            "generic_" + dist]
    assert model.converged, model.message
    assert model.loglik == pytest.approx(_ref(covariate, dist, "loglik"), abs=1e-4)
    for term in model.coef.index:
        assert model.coef[term] == pytest.approx(_ref(covariate, dist, term), abs=1e-4)
        se = np.sqrt(model.cov.loc[term, term])
        assert se == pytest.approx(_ref(covariate, dist, "se_" + term), rel=1e-3)
    # and the curve it returns is the parent family's
    assert isinstance(model.curve(), parent)


@pytest.mark.parametrize("parent,dist,coefs", [
    (Weibull, "weibull", [np.array([[0.3], [-0.4]]), np.array([[1.1], [2.0]])]),
    (Gompertz, "gompertz", [np.array([[0.2], [-0.5]]), np.array([[-1.5], [-0.3]])]),
])
def test_multistate_kernels_serve_a_registered_family(monkeypatch, parent, dist, coefs):
    """The individual-level simulation's H and H^-1 for a family it has no formula for come from
    the class: equal to the closed forms (Weibull H = (t/b)^a, H^-1(y) = b y^(1/a); Gompertz
    H = b/a (e^(a t) - 1), H^-1(y) = log1p(a y / b) / a, inf past the plateau)."""
    from hta.multistate.hazards import cumhaz, inverse_cumhaz

    monkeypatch.setitem(FAMILIES, "generic_" + dist, _generic_only(parent))
    t = np.array([[0.0, 0.05, 0.7, 2.0, 9.0]])
    y = np.array([[0.0, 1e-6, 0.3, 1.5, 6.0]])
    np.testing.assert_allclose(cumhaz("generic_" + dist, coefs, t), cumhaz(dist, coefs, t),
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(inverse_cumhaz("generic_" + dist, coefs, y),
                               inverse_cumhaz(dist, coefs, y), rtol=1e-9, atol=0)
