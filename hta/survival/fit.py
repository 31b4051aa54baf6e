"""Maximum-likelihood fits of parametric survival models to individual patient data.

``fit(time, event)`` fits seven families with right censoring (and, with ``entry``, left
truncation) and returns a :class:`FitResult`: a table of log-likelihood, AIC and BIC, and one
:class:`FittedModel` per family whose curve, coefficients and covariance feed the decision model
and its PSA.

Nothing here is specific to a family: each family is one class (``hta.survival.families``,
``hta.survival.families_gamma``, registered in ``hta.survival.curves.DISTRIBUTIONS``) that gives
its log-likelihood terms (``loglik_terms``: the generic derivation from its hazard and
cumulative hazard, or an analytic fast path checked against it), starting values, location
coefficient and time rescaling. The optimiser, covariance and AIC/BIC are
``hta.survival.mle``'s, shared with the cure, spline and multi-state fits.

Conventions (see ``docs/fitting.md``)
-------------------------------------
* **Likelihood.** The full likelihood on the time scale, as R ``flexsurv::flexsurvreg`` and
  ``survival::survreg`` report it: ``sum_events w log h(t) - sum_all w H(t)``
  ``(= sum_events w log f(t) + sum_censored w log S(t))``, plus ``sum_all w H(entry)`` with
  left truncation (flexsurv's ``Surv(entry, time, event)``).
* **Parameterisations** are flexsurv's; coefficients are on flexsurv's unconstrained scale in
  flexsurv's order (``hta.survival.curves`` ``coef_names``), e.g. Weibull
  ``(log_shape, log_scale)``. Times are in whatever unit the data use.
* **AIC** ``= -2 loglik + 2 p``; **BIC** ``= -2 loglik + log(n) p`` with ``n`` the number of
  observations (the sum of the weights if weights are given), as flexsurv.
* **Treatment arm.** With ``arm`` (0 = reference, 1 = comparator) one coefficient ``arm`` is added
  to the location parameter, as flexsurvreg's default covariate model: log rate (exponential,
  Gompertz, gamma), log scale (Weibull, log-logistic, Weibull PH), meanlog / mu (log-normal,
  generalised gamma). Its effect is reported as a hazard ratio (exponential, Weibull PH, Gompertz)
  or a time ratio / acceleration factor (the AFT families).
* **Covariance** of the unconstrained coefficients is the inverse of the observed information
  (a central-difference Jacobian of the score).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from hta.errors import HtaError
from hta.numerics import covariance_factor
from hta.survival.curves import DISTRIBUTIONS as FAMILIES
from hta.survival.curves import ParametricCurve, make_curve
from hta.survival.mle import (
    InformationCriteria,
    Likelihood,
    Optimum,
    SurvivalData,
    covariance,
    left_truncated,
    maximise,
    validate,
)

__all__ = [
    "DISTRIBUTIONS",
    "FAMILIES",
    "FitResult",
    "FitWarning",
    "FittedModel",
    "InformationCriteria",
    "fit",
    "fit_order",
    "fit_two_arms",
    "likelihood",
    "normalise_names",
    "to_original",
]

#: the families fitted when none are named (registry order); the others only on request
DISTRIBUTIONS: tuple[str, ...] = tuple(n for n, c in FAMILIES.items() if c.fitted_by_default)


class FitWarning(RuntimeWarning):
    """A family did not converge; its row in the table says why."""


@dataclass
class FittedModel(InformationCriteria):
    """One fitted family.

    Attributes
    ----------
    distribution : family name (``hta.survival.curves.make_curve`` name).
    coef : unconstrained coefficients (flexsurv order; ``arm`` last with a covariate), in the
        data's time unit.
    cov : their covariance (inverse observed information), a DataFrame; NaN if not converged.
    loglik, n_par, n_obs, n_events, converged, message : as the names say; ``n_obs`` is the
        number of observations (sum of weights when weighted).
    """

    distribution: str
    coef: pd.Series
    cov: pd.DataFrame
    loglik: float
    n_obs: float
    n_events: float
    converged: bool
    message: str
    effect_type: str | None = None
    _effect_sign: float = field(default=1.0, repr=False)

    @property
    def has_arm(self) -> bool:
        return "arm" in self.coef.index

    def _curve_coefs(self, coefs: np.ndarray, arm: int) -> np.ndarray:
        """(n, k) coefficients of the curve for ``arm`` from (n, n_par) fitted coefficients."""
        if arm not in (0, 1):
            raise HtaError(f"{self.distribution} fit: expected arm 0 or 1; found {arm!r}")
        if not self.has_arm:
            if arm == 1:
                raise HtaError(f"{self.distribution} fit: arm 1 requested but the model was "
                               f"fitted without an arm covariate")
            return coefs
        base = coefs[:, :-1].copy()
        base[:, FAMILIES[self.distribution].location] += arm * coefs[:, -1]
        return base

    def curve(self, arm: int = 0):
        """The fitted curve (``hta.survival.curves`` object, n = 1) for ``arm`` (0 or 1)."""
        return make_curve(self.distribution, self._curve_coefs(self.coef.to_numpy()[None, :], arm))

    @property
    def comparator(self):
        """The fitted curve of arm 1 (requires an arm covariate)."""
        return self.curve(arm=1)

    def survival(self, t, arm: int = 0) -> np.ndarray:
        """S(t), shape (1, T), in the data's time unit."""
        return self.curve(arm).survival(t)

    def hazard(self, t, arm: int = 0) -> np.ndarray:
        """h(t) per unit of the data's time, shape (1, T)."""
        return self.curve(arm).hazard(t)

    def cumhaz(self, t, arm: int = 0) -> np.ndarray:
        """H(t), shape (1, T)."""
        return self.curve(arm).cumhaz(t)

    @property
    def effect(self) -> pd.Series | None:
        """The arm effect: ``type`` (hazard_ratio / time_ratio), ``estimate``, 95% CI
        ``lower``/``upper``, ``coef`` (flexsurv's location coefficient) and its ``se``."""
        if not self.has_arm:
            return None
        beta = float(self.coef["arm"])
        se = float(np.sqrt(self.cov.loc["arm", "arm"]))
        z = special.ndtri(0.975)
        sign = self._effect_sign
        lo, hi = sorted((np.exp(sign * (beta - z * se)), np.exp(sign * (beta + z * se))))
        return pd.Series({"type": self.effect_type, "estimate": np.exp(sign * beta),
                          "lower": lo, "upper": hi, "coef": beta, "se": se})

    def sample_coefficients(self, n: int, seed=None) -> np.ndarray:
        """``n`` multivariate-normal draws of the coefficients, shape (n, n_par)."""
        if not self.converged:
            raise HtaError(f"{self.distribution} fit: expected a converged fit to sample from; "
                           f"found '{self.message}'")
        rng = np.random.default_rng(seed)
        chol = covariance_factor(self.cov.to_numpy(), f"{self.distribution} fit: coefficient covariance")
        z = rng.standard_normal((int(n), len(self.coef)))
        return self.coef.to_numpy()[None, :] + z @ chol.T

    def sample_curves(self, n: int, seed=None, arm: int = 0):
        """A curve object with ``n`` PSA draws of the parameters (multivariate normal on the
        unconstrained coefficients). Use the same seed for both arms to keep them paired."""
        return make_curve(self.distribution, self._curve_coefs(self.sample_coefficients(n, seed), arm))


class FitResult(Mapping):
    """Fitted families by name, with a comparison ``table``."""

    def __init__(self, models: dict[str, FittedModel]):
        self._models = dict(models)

    def __getitem__(self, name: str) -> FittedModel:
        if name not in self._models:
            raise HtaError(f"fit result: expected one of {', '.join(self._models)}; found '{name}'")
        return self._models[name]

    def __iter__(self):
        return iter(self._models)

    def __len__(self):
        return len(self._models)

    @property
    def table(self) -> pd.DataFrame:
        """One row per family: loglik, aic, bic (n = observations), n_par, converged, the
        coefficients (wide, NaN where a family lacks one) and the arm effect if fitted."""
        rows = {}
        for name, m in self._models.items():
            row = {"loglik": m.loglik, "aic": m.aic, "bic": m.bic, "n_par": m.n_par,
                   "converged": m.converged}
            row.update(m.coef.to_dict())
            eff = m.effect
            if eff is not None:
                row.update({"effect_type": eff["type"], "effect": eff["estimate"],
                            "effect_lower": eff["lower"], "effect_upper": eff["upper"]})
            rows[name] = row
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "distribution"
        return table

    def best(self, criterion: str = "aic") -> str:
        """Name of the converged family with the lowest AIC (or BIC)."""
        if criterion not in ("aic", "bic"):
            raise HtaError(f"best: expected criterion 'aic' or 'bic'; found '{criterion}'")
        table = self.table[self.table["converged"]]
        if table.empty:
            raise HtaError("best: no family converged")
        return str(table[criterion].idxmin())

    def __repr__(self):
        return f"FitResult(\n{self.table[['loglik', 'aic', 'bic', 'n_par', 'converged']]}\n)"



def likelihood(name: str) -> Likelihood:
    """The :class:`hta.survival.mle.Likelihood` of a registered family (its ``loglik_terms``)."""
    cls = FAMILIES[name]
    return Likelihood(name, cls.coef_names, cls.loglik_terms, cls.location, cls.multimodal)


def normalise_names(distributions) -> list[str]:
    """Requested family names, lower-case and unique (default: ``DISTRIBUTIONS``)."""
    if distributions is None:
        return list(DISTRIBUTIONS)
    if isinstance(distributions, str):
        distributions = [distributions]
    names = [str(n).strip().lower() for n in distributions]
    valid = DISTRIBUTIONS + tuple(n for n in FAMILIES if n not in DISTRIBUTIONS)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise HtaError(f"distributions: expected names from {', '.join(valid)}; found "
                       f"{', '.join(repr(u) for u in unknown)}")
    if not names:
        raise HtaError("distributions: expected at least one name; found an empty list")
    return list(dict.fromkeys(names))


def fit_order(names: Sequence[str]) -> list[str]:
    """The families to maximise for ``names``: each family's ``prerequisites`` (whose optima give
    its starting values) before it, and a ``derived_from`` family's parent instead of it."""
    order: list[str] = []

    def add(name):
        cls = FAMILIES[name]
        for pre in cls.prerequisites + ((cls.derived_from,) if cls.derived_from else ()):
            add(pre)
        if cls.derived_from is None and name not in order:
            order.append(name)

    for name in names:
        add(name)
    return order


def to_original(cls: type[ParametricCurve], opt: Optimum, data: SurvivalData, names: list[str]):
    """Coefficients, covariance and log-likelihood in the data's time unit."""
    k = len(cls.coef_names)
    mult = np.ones(len(opt.theta))
    mult[:k] = cls.scale_mult(data.time_scale)
    shift = np.zeros(len(opt.theta))
    shift[:k] = np.array(cls.log_shift) * np.log(data.time_scale)
    coef = opt.theta * mult + shift
    cov = covariance(opt, mult=mult)
    loglik = opt.loglik - data.n_events * np.log(data.time_scale)  # f(t) = f'(t/c) / c
    return (pd.Series(coef, index=names, name="coef"),
            pd.DataFrame(cov, index=names, columns=names), float(loglik))


def _derived(name: str, parent: FittedModel) -> FittedModel:
    """A ``derived_from`` family re-expressed from its parent's fit (e.g. Weibull PH from AFT)."""
    cls = FAMILIES[name]
    coef, jac = cls.from_parent(parent.coef.to_numpy(), parent.has_arm)
    names = list(parent.coef.index)
    cov = jac @ parent.cov.to_numpy() @ jac.T
    return FittedModel(name, pd.Series(coef, index=names, name="coef"),
                       pd.DataFrame(cov, index=names, columns=names), parent.loglik, parent.n_obs,
                       parent.n_events, parent.converged, parent.message,
                       cls.effect if parent.has_arm else None, cls.effect_sign)


def fit(time, event, distributions: str | Sequence[str] | None = None, *, weights=None,
        arm=None, entry=None) -> FitResult:
    """Fit parametric survival models by maximum likelihood with right censoring.

    Parameters
    ----------
    time : (N,) positive times, any unit (the fitted curves use the same unit).
    event : (N,) 1 = event observed, 0 = right-censored (booleans accepted).
    distributions : a name or list of names from ``exponential, weibull, gompertz, lognormal,
        loglogistic, gamma, gengamma`` (default: all seven) or ``weibullph`` (the Weibull fit
        with proportional-hazards coefficients).
    weights : optional (N,) non-negative case (frequency) weights.
    arm : optional (N,) 0/1 treatment indicator; adds a covariate on each family's location
        parameter (see the module docstring) and reports its effect.
    entry : optional (N,) left-truncation (delayed entry) times >= 0 below ``time``, same unit;
        the log-likelihood is then ``sum w [d log h(t) - H(t) + H(entry)]``.

    Returns
    -------
    FitResult mapping each name to a :class:`FittedModel`; ``.table`` compares them. A family
    that fails to converge is kept with ``converged = False`` and a message, and a
    :class:`FitWarning` is issued.
    """
    names = normalise_names(distributions)
    data = validate(time, event, weights, arm, entry)
    single = data if data.x is None else data.without_arm()
    starts_single: dict[str, np.ndarray] = {}  # single-population optima (normalised scale)
    fitted: dict[str, FittedModel] = {}
    for name in fit_order(names):
        cls = FAMILIES[name]
        lik = likelihood(name)
        if data.entry is not None:
            lik = left_truncated(lik, data.entry)
        opt = maximise(lik, cls.fit_starts(single, starts_single), single)
        starts_single[name] = opt.theta
        if data.x is not None:
            opt = maximise(lik, cls.arm_starts(opt.theta, data), data)
        coef_names = list(cls.coef_names) + (["arm"] if data.x is not None else [])
        coef, cov, loglik = to_original(cls, opt, data, coef_names)
        fitted[name] = FittedModel(name, coef, cov, loglik, data.n_obs, data.n_events,
                                   opt.converged, opt.message,
                                   cls.effect if data.x is not None else None, cls.effect_sign)
    for name in names:
        if FAMILIES[name].derived_from is not None:
            fitted[name] = _derived(name, fitted[FAMILIES[name].derived_from])

    models = {name: fitted[name] for name in names}
    failed = [f"{n} ({m.message})" for n, m in models.items() if not m.converged]
    if failed:
        what = "maximum-likelihood fit" + (" (left-truncated)" if data.entry is not None else "")
        warnings.warn(what + " did not converge for " + "; ".join(failed), FitWarning, stacklevel=2)
    return FitResult(models)


def fit_two_arms(time, event, arm, distributions: str | Sequence[str] | None = None, *,
                 weights=None) -> FitResult:
    """Joint fit of two arms with a treatment effect on the location parameter.

    The same as ``fit(time, event, distributions, weights=weights, arm=arm)``: each
    :class:`FittedModel` has ``.effect`` (hazard ratio or time ratio with 95% CI), ``.curve(0)``
    (reference arm) and ``.comparator`` (arm 1).
    """
    return fit(time, event, distributions, weights=weights, arm=arm)
