"""Parametric fits per transition of a multi-state model (NICE DSU TSD 19, section 3).

Each transition's cause-specific hazard is fitted separately (the likelihood of a multi-state
model factorises over transitions): the transition's event is the event, every other way of
leaving the state (or the end of follow-up) censors it. Families, parameterisations, AIC/BIC and
covariances are those of :mod:`hta.survival.fit` (flexsurv's), reused as they are.

Time scales
-----------
* **Clock-forward** (Markov in time since start): a transition out of a state entered at time
  ``tstart > 0`` is fitted on the time since start with *left truncation* at ``tstart``: the
  likelihood contribution is ``d log h(tstop) - H(tstop) + H(tstart)`` (flexsurv
  ``Surv(tstart, tstop, status)``). This module adds the ``+ H(tstart)`` term to
  :mod:`hta.survival.fit`'s families (their log-survival at the entry time, with its score), so
  the same optimiser, starting values and covariance code serve.
* **Clock-reset** (semi-Markov): the time since entering the state, ``tstop - tstart``, without
  truncation: exactly ``hta.survival.fit.fit``.

Weights (e.g. MAIC weights) are case weights on every row of the patient. With a 0/1 arm
covariate the effect is on each family's location parameter (as ``hta.survival.fit``).
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.multistate.data import STATES
from hta.survival.fit import FitResult, FittedModel, FitWarning

_sf = importlib.import_module("hta.survival.fit")  # the module (hta.survival.fit is also a function name)

__all__ = ["CLOCKS", "TransitionFits", "fit_transitions", "fit_truncated"]

CLOCKS = ("forward", "reset")


def _truncated_family(base, entry: np.ndarray):
    """``base`` with each log-likelihood term minus its log-survival at ``entry`` (normalised
    time; 0 = no truncation)."""
    mask = entry > 0
    t0 = np.where(mask, entry, 1.0)
    logt0, zero, m = np.log(t0), np.zeros_like(t0), mask.astype(float)

    def terms(p, t, logt, d):
        ll, g = base.terms(p, t, logt, d)
        ll0, g0 = base.terms(p, t0, logt0, zero)  # log S(t0) and its score
        return ll - m * ll0, g - m * g0

    return dataclasses.replace(base, terms=terms)


def fit_truncated(time, event, entry=None, distributions: str | Sequence[str] | None = None, *,
                  weights=None, arm=None) -> FitResult:
    """Maximum-likelihood fits with right censoring and left truncation.

    Parameters
    ----------
    time : (N,) exit times (> entry), any unit.
    event : (N,) 1 = event at ``time``, 0 = right-censored.
    entry : (N,) left-truncation (delayed entry) times >= 0, same unit; None = no truncation,
        which is exactly :func:`hta.survival.fit.fit`.
    distributions, weights, arm : as :func:`hta.survival.fit.fit`.

    Returns
    -------
    FitResult; log-likelihoods are the truncated ones,
    ``sum w [d log h(t) - H(t) + H(entry)]``, as flexsurv's ``Surv(entry, time, event)``.
    """
    if entry is None:
        return _sf.fit(time, event, distributions, weights=weights, arm=arm)
    names = _sf._normalise_names(distributions)
    data = _sf._validate(time, event, weights, arm)
    t0 = np.asarray(entry, dtype=float)
    if t0.shape != data.t.shape or not np.all(np.isfinite(t0)) or np.any(t0 < 0):
        raise HtaError(f"entry: expected finite times >= 0 of shape {data.t.shape}; found shape "
                       f"{t0.shape}" + (" with negative or missing values" if t0.shape == data.t.shape else ""))
    raw_t = data.t * data.time_scale
    if np.any(t0 >= raw_t):
        i = int(np.flatnonzero(t0 >= raw_t)[0])
        raise HtaError(f"entry: expected each entry time below its exit time; found entry "
                       f"{t0[i]:g} >= time {raw_t[i]:g} at position {i}")
    entry_n = t0 / data.time_scale
    exposure = float(data.w @ (data.t - entry_n))
    needed = []
    for name in names:
        for pre in _sf._PREREQUISITES.get(name, []) + [name]:
            if pre != "weibullph" and pre not in needed:
                needed.append(pre)
    order = [n for n in ("exponential", "weibull", "lognormal", "loglogistic", "gompertz",
                         "gamma", "gengamma") if n in needed]
    single = dataclasses.replace(data, x=None)
    starts_single: dict[str, np.ndarray] = {}
    fitted: dict[str, FittedModel] = {}
    for name in order:
        family = _truncated_family(_sf._FAMILIES[name], entry_n)
        starts = _sf._starts(name, single, starts_single)
        if name == "exponential":  # the truncated MLE in closed form
            starts = [np.array([np.log(data.n_events / exposure)])] + starts
        opt = _sf._maximise(family, starts, single)
        starts_single[name] = opt.theta
        if data.x is not None:
            opt = _sf._maximise(family, _sf._arm_starts(family, opt.theta, data), data)
        coef_names = list(family.coef_names) + (["arm"] if data.x is not None else [])
        coef, cov, loglik = _sf._to_original(family, opt, data, coef_names)
        fitted[name] = FittedModel(name, coef, cov, loglik, data.n_obs, data.n_events,
                                   opt.converged, opt.message,
                                   family.effect if data.x is not None else None, family.effect_sign)
    if "weibullph" in names:
        fitted["weibullph"] = _sf._weibull_ph(fitted["weibull"])
    models = {name: fitted[name] for name in names}
    failed = [f"{n} ({m.message})" for n, m in models.items() if not m.converged]
    if failed:
        warnings.warn("maximum-likelihood fit (left-truncated) did not converge for "
                      + "; ".join(failed), FitWarning, stacklevel=2)
    return FitResult(models)


@dataclass
class TransitionFits:
    """Fits of every transition on one time scale.

    Attributes
    ----------
    transitions : DataFrame indexed by transition number with ``from``, ``to``, ``name``.
    clock : ``"forward"`` or ``"reset"``.
    fits : transition number -> :class:`hta.survival.fit.FitResult`.
    states : state names.
    """

    transitions: pd.DataFrame
    clock: str
    fits: dict
    states: tuple

    @property
    def table(self) -> pd.DataFrame:
        """One row per (transition, family): loglik, aic, bic, n_par, converged, coefficients."""
        parts = []
        for number, result in self.fits.items():
            t = result.table.reset_index()
            t.insert(0, "transition", self.transitions.loc[number, "name"])
            t.insert(0, "trans", number)
            parts.append(t)
        return pd.concat(parts, ignore_index=True)

    def best(self, criterion: str = "aic") -> dict:
        """Transition number -> name of the family with the lowest AIC (or BIC)."""
        return {k: r.best(criterion) for k, r in self.fits.items()}

    def model(self, number: int, distribution: str) -> FittedModel:
        return self.fits[number][distribution]


def fit_transitions(msdata: pd.DataFrame, distributions: str | Sequence[str] | None = None, *,
                    clock: str = "forward", covariate: str | None = None,
                    states: Sequence[str] | None = None) -> TransitionFits:
    """Fit each transition of ``msdata`` (from :func:`hta.multistate.data.transition_data`).

    Parameters
    ----------
    msdata : transition rows with ``trans, from, to, tstart, tstop, status, weight``.
    distributions : families (default all seven of :mod:`hta.survival.fit`).
    clock : ``"forward"`` (time since start, left-truncated at state entry) or ``"reset"``
        (time since state entry).
    covariate : optional 0/1 column (e.g. ``"arm"``) added on each family's location parameter.
    states : state names (default those of :mod:`hta.multistate.data`).

    Returns
    -------
    TransitionFits; times and coefficients in the data's time unit.
    """
    if clock not in CLOCKS:
        raise HtaError(f"clock: expected 'forward' or 'reset'; found {clock!r}")
    needed = {"trans", "from", "to", "tstart", "tstop", "status"}
    missing = needed - set(msdata.columns)
    if missing:
        raise HtaError(f"transition data: expected columns {sorted(needed)}; missing {sorted(missing)}")
    if covariate is not None and covariate not in msdata.columns:
        raise HtaError(f"covariate: expected a column '{covariate}' in the transition data; found "
                       f"{', '.join(map(str, msdata.columns))}")
    states = tuple(states) if states is not None else STATES
    info = msdata.groupby("trans")[["from", "to"]].first()
    info["name"] = [f"{states[a]}->{states[b]}" for a, b in zip(info["from"], info["to"])]
    fits = {}
    for number, rows in msdata.groupby("trans", sort=True):
        w = rows["weight"].to_numpy(float) if "weight" in rows else None
        arm = rows[covariate].to_numpy() if covariate is not None else None
        start, stop = rows["tstart"].to_numpy(float), rows["tstop"].to_numpy(float)
        event = rows["status"].to_numpy()
        try:
            if clock == "reset" or not np.any(start > 0):
                fits[int(number)] = _sf.fit(stop - start, event, distributions, weights=w, arm=arm)
            else:
                fits[int(number)] = fit_truncated(stop, event, start, distributions, weights=w, arm=arm)
        except HtaError as err:
            raise HtaError(f"transition {info.loc[number, 'name']}: {err}") from None
    return TransitionFits(info, clock, fits, states)
