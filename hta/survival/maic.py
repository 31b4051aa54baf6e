"""Matching-adjusted indirect comparison (MAIC): weights that make IPD look like a published population.

Single-arm evidence (FUMANBA-1 for eque-cel) is compared with an external comparator whose
patients differ in prognostic factors. With individual patient data (IPD) of the index trial and
the published baseline characteristics of the comparator population, MAIC reweights the IPD so
that its weighted covariate means (and, if asked, standard deviations) equal the published ones,
then estimates outcomes on the reweighted IPD (Signorovitch JE et al., Value Health
2010;13:940-6; Phillippo DM et al., NICE DSU TSD 18, 2016, section 3.3 and appendix D).

Method of moments (TSD 18, appendix D). With the balancing terms centred on the targets,
z_i = (x_i - target), the weights are w_i = exp(z_i' a), and a minimises Q(a) = sum_i exp(z_i' a),
which is convex with gradient sum_i z_i w_i: at the minimum the weighted means of z are exactly 0,
i.e. the weighted covariate means equal the targets. A standard deviation target s for covariate
x (with mean target m) adds the term x^2 - (s^2 + m^2). The minimum exists only when the targets
lie strictly inside the convex hull of the IPD's terms; otherwise no weights can match them and
:func:`maic_weights` says so.

Conventions: weights are reported rescaled to sum to N (mean weight 1, as TSD 18's examples);
the effective sample size is ESS = (sum w)^2 / sum w^2 (Kish), the number of unweighted patients
carrying the same information. Weighted Kaplan-Meier and parametric fits take the weights scaled
to sum to the ESS (:meth:`MaicWeights.scaled_to_ess`), so their standard errors are approximately
right; a bootstrap over the IPD, re-estimating the weights each time (TSD 18's recommendation for
interval estimates), is not implemented here.

What a submitting company plugs in: the IPD of its trial (one row per patient: time, event and
the covariates) and the comparator's published means/SDs; see docs/flagship.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import logsumexp, softmax

from hta.errors import HtaError

__all__ = ["MaicWeights", "maic_weights", "effective_sample_size", "weighted_km", "weighted_fit"]

#: Largest |weighted mean - target| accepted, relative to the term's spread in the IPD.
MATCH_TOLERANCE = 1e-8


@dataclass(frozen=True)
class MaicWeights:
    """MAIC weights for one IPD set and one target population.

    Attributes:
        weights: ``(N,)`` weights rescaled to sum to N (mean 1).
        ess: effective sample size (sum w)^2 / sum w^2, between 1 and N.
        coefficients: the method-of-moments coefficients a, one per balancing term, on the
            terms' original scale (w proportional to exp(sum_k a_k (x_k - target_k))).
        balance: one row per balancing term: ``term``, ``target``, ``unweighted`` (IPD mean),
            ``weighted`` (mean under the weights; equal to the target).
    """

    weights: np.ndarray
    ess: float
    coefficients: pd.Series
    balance: pd.DataFrame

    def scaled_to_ess(self) -> np.ndarray:
        """The weights rescaled to sum to the ESS: case weights for approximate standard errors."""
        return self.weights * (self.ess / self.weights.sum())

    def summary(self) -> str:
        n = self.weights.size
        lines = [f"MAIC (method of moments): N = {n}, ESS = {self.ess:.1f} ({self.ess / n:.0%} of N); "
                 f"weights (mean 1) from {self.weights.min():.3g} to {self.weights.max():.3g}"]
        lines += [f"  {r.term:<24} target {r.target:10.4g}   IPD {r.unweighted:10.4g}   weighted {r.weighted:10.4g}"
                  for r in self.balance.itertuples()]
        return "\n".join(lines)


def effective_sample_size(weights) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of non-negative weights."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise HtaError("effective sample size: expected finite non-negative weights, not all 0")
    return float(w.sum() ** 2 / (w @ w))


def _terms(covariates: pd.DataFrame, target_means: Mapping[str, float],
           target_sds: Mapping[str, float] | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not isinstance(covariates, pd.DataFrame) or covariates.empty:
        raise HtaError("MAIC covariates: expected a non-empty DataFrame, one row per patient")
    if not target_means:
        raise HtaError("MAIC targets: expected at least one covariate mean to match; found none")
    target_sds = dict(target_sds or {})
    missing = [c for c in list(target_means) + list(target_sds) if c not in covariates.columns]
    if missing:
        raise HtaError(f"MAIC covariates: expected columns {missing} in the IPD; found {list(covariates.columns)}")
    unmatched_sd = [c for c in target_sds if c not in target_means]
    if unmatched_sd:
        raise HtaError(f"MAIC targets: a standard deviation target needs the mean too; found SDs only for {unmatched_sd}")
    names, columns, targets = [], [], []
    for name, mean in target_means.items():
        x = pd.to_numeric(covariates[name], errors="coerce").to_numpy(float)
        if not np.all(np.isfinite(x)):
            raise HtaError(f"MAIC covariate '{name}': expected a finite number for every patient; "
                           f"found {int(np.sum(~np.isfinite(x)))} missing or non-numeric")
        mean = float(mean)
        if not np.isfinite(mean):
            raise HtaError(f"MAIC target mean of '{name}': expected a finite number; found {mean}")
        names.append(f"mean {name}")
        columns.append(x)
        targets.append(mean)
        if name in target_sds:
            sd = float(target_sds[name])
            if not (np.isfinite(sd) and sd >= 0):
                raise HtaError(f"MAIC target SD of '{name}': expected a number >= 0; found {sd}")
            names.append(f"sd {name}")
            columns.append(x**2)
            targets.append(sd**2 + mean**2)
    return names, np.column_stack(columns), np.asarray(targets)


def maic_weights(covariates: pd.DataFrame, target_means: Mapping[str, float],
                 target_sds: Mapping[str, float] | None = None) -> MaicWeights:
    """Method-of-moments MAIC weights matching ``target_means`` (and ``target_sds``).

    Args:
        covariates: the IPD, one row per patient, one numeric column per covariate (a binary
            covariate as 0/1, whose target mean is then a proportion).
        target_means: ``{covariate: published mean (or proportion)}`` of the target population.
        target_sds: optional ``{covariate: published standard deviation}`` (each also needs a
            mean target).

    Returns:
        :class:`MaicWeights`; the weighted means of every term equal its target to within
        ``MATCH_TOLERANCE`` of the term's spread.

    Raises:
        HtaError: missing or non-numeric covariates, or targets that no weights can match (a
            target outside the range of the IPD, or on the edge of its convex hull).
    """
    names, x, targets = _terms(covariates, target_means, target_sds)
    n, k = x.shape
    if n <= k:
        raise HtaError(f"MAIC: expected more patients than balancing terms ({k}); found {n}")
    spread = x.std(axis=0)
    for j, name in enumerate(names):
        lo, hi = x[:, j].min(), x[:, j].max()
        if not lo < targets[j] < hi:
            raise HtaError(f"MAIC target for {name}: expected a value strictly inside the IPD's range "
                           f"({lo:.6g} to {hi:.6g}) for weights to match it; found {targets[j]:.6g}")
    z = (x - targets) / spread  # centred on the targets, unit spread: a well-scaled problem

    # log Q(a) = logsumexp(z a) has the same minimiser as Q and cannot overflow.
    def objective(a):
        return logsumexp(z @ a)

    def gradient(a):
        return z.T @ softmax(z @ a)

    def hessian(a):
        p = softmax(z @ a)
        mean = z.T @ p
        return (z * p[:, None]).T @ z - np.outer(mean, mean)

    result = optimize.minimize(objective, np.zeros(k), jac=gradient, hess=hessian, method="trust-exact",
                               options={"gtol": 1e-12, "maxiter": 500})
    a = result.x
    for _ in range(20):  # Newton polish: the gradient is the weighted mean of z, wanted at 0
        g = gradient(a)
        if np.max(np.abs(g)) < 1e-14 or not np.all(np.isfinite(g)):
            break
        try:
            a = a - np.linalg.solve(hessian(a), g)
        except np.linalg.LinAlgError:
            break
    w = np.exp(z @ a - (z @ a).max())
    w *= n / w.sum()
    weighted = (w @ x) / w.sum()
    gap = np.abs(weighted - targets) / spread
    if not np.all(gap <= MATCH_TOLERANCE):
        worst = int(np.argmax(gap))
        raise HtaError(f"MAIC: no weights match the targets (the target for {names[worst]}, "
                       f"{targets[worst]:.6g}, lies on or outside the edge of what the IPD covers; "
                       f"the closest weighted mean is {weighted[worst]:.6g})")
    balance = pd.DataFrame({"term": names, "target": targets, "unweighted": x.mean(axis=0), "weighted": weighted})
    return MaicWeights(weights=w, ess=effective_sample_size(w),
                       coefficients=pd.Series(a / spread, index=names, name="coefficient"), balance=balance)


def weighted_km(time, event, maic: MaicWeights, conf_level: float = 0.95, ci: str = "log") -> pd.DataFrame:
    """Kaplan-Meier estimate of the IPD reweighted to the target population (ESS-scaled weights)."""
    from hta.survival.km import kaplan_meier

    return kaplan_meier(time, event, conf_level=conf_level, ci=ci, weights=maic.scaled_to_ess())


def weighted_fit(time, event, maic: MaicWeights, distributions=None):
    """Parametric survival fits (:func:`hta.survival.fit`) to the reweighted IPD (ESS-scaled weights)."""
    from hta.survival.fit import fit

    return fit(time, event, distributions, weights=maic.scaled_to_ess())
