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
  ``Surv(tstart, tstop, status)``): :func:`hta.survival.fit.fit` with ``entry``, whose
  maximum-likelihood base (:mod:`hta.survival.mle`) adds the ``+ H(tstart)`` term to every
  family's log-likelihood terms, so the same families, optimiser, starting values and
  covariance code serve.
* **Clock-reset** (semi-Markov): the time since entering the state, ``tstop - tstart``, without
  truncation: exactly ``hta.survival.fit.fit``.

Weights (e.g. MAIC weights) are case weights on every row of the patient. With a 0/1 arm
covariate the effect is on each family's location parameter (as ``hta.survival.fit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.multistate.data import STATES
from hta.survival.fit import FitResult, FittedModel
from hta.survival.fit import fit as fit_survival

__all__ = ["CLOCKS", "TransitionFits", "fit_transitions", "fit_truncated"]

CLOCKS = ("forward", "reset")


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
    ``sum w [d log h(t) - H(t) + H(entry)]``, as flexsurv's ``Surv(entry, time, event)``
    (``hta.survival.fit.fit`` with ``entry``: the same families, optimiser and covariance).
    """
    return fit_survival(time, event, distributions, weights=weights, arm=arm, entry=entry)


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
                fits[int(number)] = fit_survival(stop - start, event, distributions, weights=w, arm=arm)
            else:
                fits[int(number)] = fit_truncated(stop, event, start, distributions, weights=w, arm=arm)
        except HtaError as err:
            raise HtaError(f"transition {info.loc[number, 'name']}: {err}") from None
    return TransitionFits(info, clock, fits, states)
