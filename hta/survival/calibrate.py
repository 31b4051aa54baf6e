"""Calibrating a parametric survival curve to published summary statistics (no curve available).

When a trial publishes only a median and/or survival at a few landmark times, a parametric
curve can be *calibrated* to those numbers. This is weak evidence: it is not a fit to patient
data, its uncertainty rests on assumptions, and every output built on it must say so
(``CalibrationResult.note``).

Method
------
Each target is a point (t_i, s_i) of the survival curve: a landmark is (t, S(t)); the median m
is (m, 0.5). The coefficients theta (flexsurv order, ``hta.survival.curves`` ``coef_names``)
minimise the weighted sum of squares on the complementary log-log scale,

    sum_i w_i [log H(t_i; theta) - log(-log s_i)]^2,     H = -log S,

on which the Weibull is a straight line in log t. With as many targets as parameters the
solution reproduces every target exactly (when the family can); with more it is a weighted
least-squares compromise and the residuals are reported; with fewer there is no unique answer
and an error is raised.

Weights and covariance (delta method)
-------------------------------------
When every target has a 95% CI, each gets the variance of its cloglog value, sigma_i^2, and
w_i = 1 / sigma_i^2:

* landmark CI (lo, hi) on S: sigma = |cloglog(lo) - cloglog(hi)| / (2 x 1.96);
* median CI (lo, hi) in time: sigma_log_t = (log hi - log lo) / (2 x 1.96), mapped to the cloglog
  scale through the curve's slope, sigma = |d log H / d log t| sigma_log_t at the median
  (iteratively re-weighted: the slope is taken at the previous solution, 5 rounds).

Treating the summary statistics as **independent** (an assumption: landmarks from one KM curve
are positively correlated, so the covariance is a rough guide), the coefficient covariance is
the sandwich (J'WJ)^-1 J'W Sigma W J (J'WJ)^-1 = (J'WJ)^-1 with W = Sigma^-1, J the Jacobian of
the residuals in theta. Without CIs all weights are 1 and no covariance can be given (``cov``
is None; PSA then needs an analyst-specified distribution).

Dependence between points of one curve (``dependence="one curve"``)
--------------------------------------------------------------------
Points read from one Kaplan-Meier curve are not independent: with Greenwood's variance,
``Cov(log S(t1), log S(t2)) = Var(log S(t1))`` for ``t1 <= t2`` (independent increments), so

    corr_ij = sqrt(G_min / G_max),   G_i = Var(log S(t_i)) = (sigma_i x log s_i)^2,

the same on the cloglog scale (a monotone per-point transform; for the median, the point
(m, 0.5) of the curve). The targets' covariance is then Sigma = D R D and the calibration is
generalised least squares (residuals whitened by the Cholesky factor of R), with coefficient
covariance (J' Sigma^-1 J)^-1. ``overlap`` (0 < overlap <= 1) multiplies every correlation, for
statistics of one trial taken from different data cuts or sample sizes (e.g. sqrt(n1/n2) when
a landmark of an earlier cut of n1 patients is combined with a median of n2 >= n1 patients
that include them: the correlation of nested sample means).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from hta.errors import HtaError
from hta.numerics import covariance_factor, is_positive_definite
from hta.survival.curves import DISTRIBUTIONS, make_curve

__all__ = ["calibrate", "CalibrationResult", "WEAK_EVIDENCE_NOTE"]

WEAK_EVIDENCE_NOTE = ("calibrated to summary statistics, not fitted to patient data: weak "
                      "evidence; uncertainty assumes independent summary statistics")
_Z = float(special.ndtri(0.975))


@dataclass
class CalibrationResult:
    """A curve calibrated to summary statistics. ``weak_evidence`` is always True.

    ``coef`` (Series, flexsurv order), ``cov`` (DataFrame or None without CIs), ``targets``
    (DataFrame: kind, time, target survival, fitted survival, cloglog residual, weight),
    ``exact`` (all targets reproduced to 1e-8 on the cloglog scale), ``note`` (text every output
    built on this curve must carry).
    """

    distribution: str
    coef: pd.Series
    cov: pd.DataFrame | None
    targets: pd.DataFrame
    exact: bool
    weak_evidence: bool = True
    note: str = WEAK_EVIDENCE_NOTE
    notes: list[str] = field(default_factory=list)

    def curve(self, arm: int = 0):
        """The calibrated curve (n = 1)."""
        return make_curve(self.distribution, self.coef.to_numpy()[None, :])

    def survival(self, t):
        return self.curve().survival(t)

    def sample_coefficients(self, n: int, seed=None) -> np.ndarray:
        if self.cov is None:
            raise HtaError(f"calibrated {self.distribution}: expected confidence intervals for "
                           f"every target to sample coefficients; found none (no covariance)")
        rng = np.random.default_rng(seed)
        chol = covariance_factor(self.cov.to_numpy(), f"calibrated {self.distribution}: coefficient covariance")
        z = rng.standard_normal((int(n), len(self.coef)))
        return self.coef.to_numpy()[None, :] + z @ chol.T

    def sample(self, n: int, seed=None):
        """Curve with ``n`` multivariate-normal draws (requires CIs; see module docstring)."""
        return make_curve(self.distribution, self.sample_coefficients(n, seed))

    sample_curves = sample


def _cloglog(s):
    return np.log(-np.log(s))


def _check_ci(ci, point, what, lower_bound, upper_bound):
    if ci is None:
        return None
    try:
        lo, hi = (float(v) for v in ci)
    except (TypeError, ValueError) as exc:
        raise HtaError(f"{what} CI: expected a pair (lower, upper); found {ci!r}") from exc
    if not (lower_bound < lo < point < hi < upper_bound):
        raise HtaError(f"{what} CI: expected {lower_bound:g} < lower < estimate ({point:g}) < "
                       f"upper < {upper_bound:g}; found ({lo:g}, {hi:g})")
    return lo, hi


def _targets(median, landmarks, median_ci, landmark_ci):
    rows = []
    if median is not None:
        m = float(median)
        if not np.isfinite(m) or m <= 0:
            raise HtaError(f"median: expected a positive time; found {median!r}")
        rows.append(("median", m, 0.5, _check_ci(median_ci, m, "median", 0.0, np.inf)))
    elif median_ci is not None:
        raise HtaError("median_ci: given without a median")
    landmarks = dict(landmarks or {})
    landmark_ci = dict(landmark_ci or {})
    extra = set(landmark_ci) - set(landmarks)
    if extra:
        raise HtaError(f"landmark_ci: expected times that are landmarks; found {sorted(extra)}")
    for t, s in sorted(landmarks.items()):
        t, s = float(t), float(s)
        if not np.isfinite(t) or t <= 0:
            raise HtaError(f"landmark time: expected a positive time; found {t!r}")
        if not 0 < s < 1:
            raise HtaError(f"landmark at t = {t:g}: expected survival strictly between 0 and 1 "
                           f"(a proportion, not a percentage); found {s:g}")
        rows.append(("landmark", t, s, _check_ci(landmark_ci.get(t), s, f"landmark at t = {t:g}",
                                                  0.0, 1.0)))
    if not rows:
        raise HtaError("calibrate: expected a median and/or landmarks; found none")
    frame = sorted(rows, key=lambda r: (r[1], -r[2]))
    for (k1, t1, s1, _), (k2, t2, s2, _) in zip(frame[:-1], frame[1:]):
        if s2 > s1 or (s2 == s1 and t2 > t1) or (t2 == t1 and s2 != s1):
            what1 = "median" if k1 == "median" else f"S({t1:g}) = {s1:g}"
            what2 = "median" if k2 == "median" else f"S({t2:g}) = {s2:g}"
            raise HtaError(f"calibrate targets: expected survival to fall with time; found "
                           f"{what1} at t = {t1:g} and {what2} at t = {t2:g}")
    return rows


def _start(name, times, surv):
    """Starting coefficients from a Weibull line through the targets on the cloglog scale."""
    x, y = np.log(times), _cloglog(surv)
    if len(x) >= 2 and np.ptp(x) > 0:
        shape, icpt = np.polyfit(x, y, 1)
        shape = max(shape, 0.1)
    else:
        shape, icpt = 1.0, y[0] - x[0]
    log_scale = -icpt / shape  # log H = shape (log t - log scale)
    med = log_scale + np.log(np.log(2.0)) / shape
    if name == "exponential":
        return [np.array([np.mean(y - x)])]  # log H = log rate + log t
    if name in ("weibull", "loglogistic"):
        return [np.array([np.log(shape), log_scale])]
    if name == "weibullph":
        return [np.array([np.log(shape), -shape * log_scale])]
    if name == "lognormal":
        return [np.array([med, np.log(1.0 / shape)])]
    if name == "gompertz":
        return [np.array([a, -log_scale]) for a in (0.0, 0.1 / np.exp(log_scale), -0.1 / np.exp(log_scale))]
    if name == "gamma":
        return [np.array([np.log(shape), -log_scale])]
    if name == "gengamma":
        return [np.array([log_scale, -np.log(shape), q]) for q in (1.0, 0.5, -0.5, 0.01)]
    raise AssertionError(name)


def calibrate(distribution: str, *, median=None, landmarks=None, median_ci=None,
              landmark_ci=None, dependence: str = "independent", overlap: float = 1.0) -> CalibrationResult:
    """Calibrate ``distribution`` to a median and/or landmark survival proportions.

    ``median``: median survival time; ``landmarks``: {time: survival proportion};
    ``median_ci``: (lower, upper) in time; ``landmark_ci``: {time: (lower, upper)} proportions.
    Times are in any one unit (the curve uses it). See the module docstring for the method.
    ``dependence``: ``"independent"`` (the statistics' errors uncorrelated) or ``"one curve"``
    (Greenwood's correlation of points of one KM curve, times ``overlap``; module docstring).
    Raises HtaError for inconsistent targets (survival rising with time, median on the wrong
    side of a landmark, CIs not around their estimate) or fewer targets than parameters.
    """
    dep = str(dependence).strip().lower()
    if dep not in ("independent", "one curve"):
        raise HtaError(f"calibrate dependence: expected 'independent' or 'one curve'; found {dependence!r}")
    try:
        overlap = float(overlap)
    except (TypeError, ValueError):
        overlap = float("nan")
    if not 0.0 < overlap <= 1.0:
        raise HtaError(f"calibrate overlap: expected a number in (0, 1]; found {overlap!r}")
    name = str(distribution).strip().lower()
    if name not in DISTRIBUTIONS:
        raise HtaError(f"calibrate distribution: expected one of {', '.join(DISTRIBUTIONS)}; "
                       f"found '{distribution}'")
    rows = _targets(median, landmarks, median_ci, landmark_ci)
    cls = DISTRIBUTIONS[name]
    k = len(cls.coef_names)
    if len(rows) < k:
        raise HtaError(f"calibrate {name}: expected at least {k} targets (one per parameter); "
                       f"found {len(rows)}")
    kinds = [r[0] for r in rows]
    times = np.array([r[1] for r in rows])
    surv = np.array([r[2] for r in rows])
    y = _cloglog(surv)
    have_ci = [r[3] is not None for r in rows]
    notes = []
    if any(have_ci) and not all(have_ci):
        notes.append("CIs were given for only some targets: all targets weighted equally and no "
                     "covariance derived")
    use_ci = all(have_ci)

    def log_h(theta):
        with np.errstate(all="ignore"):
            h = make_curve(name, theta[None, :]).cumhaz(times)[0]
            return np.log(h)

    def slope_at(theta, t):
        """d log H / d log t = t h(t) / H(t)."""
        c = make_curve(name, theta[None, :])
        return float(t * c.hazard([t])[0, 0] / c.cumhaz([t])[0, 0])

    def sigmas(theta):
        out = np.ones(len(rows))
        if not use_ci:
            return out
        for i, (kind, t, s, ci) in enumerate(rows):
            lo, hi = ci
            if kind == "landmark":
                out[i] = abs(_cloglog(lo) - _cloglog(hi)) / (2 * _Z)
            else:
                out[i] = abs(slope_at(theta, t)) * (np.log(hi) - np.log(lo)) / (2 * _Z)
        return np.maximum(out, 1e-12)

    def whitener(sig):
        """Inverse Cholesky factor of the targets' correlation (identity when independent)."""
        if dep == "independent" or not use_ci:
            return np.eye(len(rows))
        g = (sig * np.log(surv)) ** 2            # Var(log S(t_i)), Greenwood's G
        R = overlap * np.sqrt(np.minimum.outer(g, g) / np.maximum.outer(g, g))
        np.fill_diagonal(R, 1.0)
        return np.linalg.inv(np.linalg.cholesky(R))

    def solve(sig, starts):
        best = None
        W = whitener(sig)
        for s0 in starts:
            def resid(theta):
                r = W @ ((log_h(theta) - y) / sig)
                return np.where(np.isfinite(r), r, 1e6)
            try:
                res = optimize.least_squares(resid, s0, method="lm",
                                             xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
            except ValueError:
                continue
            if best is None or res.cost < best.cost:
                best = res
        return best

    starts = _start(name, times, surv)
    sig = np.ones(len(rows))
    best = solve(sig, starts)
    if use_ci:
        for _ in range(5):  # iteratively re-weight (the median's sigma depends on the slope)
            sig = sigmas(best.x)
            best = solve(sig, [best.x] + starts)
    theta = best.x
    fitted_log_h = log_h(theta)
    resid = fitted_log_h - y
    exact = bool(np.all(np.abs(resid) < 1e-8))
    if len(rows) == k and not exact:
        raise HtaError(f"calibrate {name}: the {k} targets cannot all be met by this family "
                       f"(largest cloglog residual {np.max(np.abs(resid)):.3g}); try another family")
    if not np.all(np.isfinite(fitted_log_h)):
        raise HtaError(f"calibrate {name}: no finite solution for these targets")
    cov = None
    if use_ci:
        jac = best.jac  # whitened residuals: J_w = L^-1 D^-1 J, so J_w' J_w = J' Sigma^-1 J
        information = jac.T @ jac
        if is_positive_definite(information):  # by eigenvalues: the same verdict on every kernel
            cov_arr = np.linalg.inv(information)
            cov = pd.DataFrame(cov_arr, index=list(cls.coef_names), columns=list(cls.coef_names))
        else:
            notes.append("the targets do not identify every coefficient: no covariance")
    fitted_s = np.exp(-np.exp(fitted_log_h))
    targets = pd.DataFrame({"kind": kinds, "time": times, "target_survival": surv,
                            "fitted_survival": fitted_s, "cloglog_residual": resid,
                            "weight": 1.0 / sig**2 if use_ci else np.ones(len(rows))})
    note = WEAK_EVIDENCE_NOTE
    if dep == "one curve" and use_ci:
        note = note.replace("uncertainty assumes independent summary statistics",
                            f"uncertainty allows for the correlation of points of one curve (Greenwood; overlap {overlap:g})")
    return CalibrationResult(name, pd.Series(theta, index=list(cls.coef_names), name="coef"), cov,
                             targets, exact, note=note, notes=notes)
