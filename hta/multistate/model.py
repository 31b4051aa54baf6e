"""A multi-state model: states, transitions with parametric hazards, PSA draws of coefficients.

A :class:`MultiStateModel` is what the cohort engines and the individual-level simulation run:
each :class:`Transition` has a family of :mod:`hta.multistate.hazards`, its unconstrained
coefficients for ``n_draws`` PSA draws (``(D, k)``; ``D = 1`` for the point estimate) and a clock
(``"forward"``: hazard in time since start, Markov; ``"reset"``: hazard in time since entering the
origin state, semi-Markov). Times are in the unit the hazards were fitted in (years in the CLL
example).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hta.errors import HtaError
from hta.multistate.hazards import N_COEF, cumhaz

__all__ = ["MultiStateModel", "Transition", "from_fits"]


@dataclass
class Transition:
    """One transition ``origin -> target`` (state indices) with a parametric hazard.

    ``coefs`` is ``(D, k)``: unconstrained coefficients (``hta.survival.curves`` order) per PSA
    draw; ``clock`` is ``"forward"`` or ``"reset"``.
    """

    origin: int
    target: int
    distribution: str
    coefs: np.ndarray
    clock: str = "forward"
    name: str = ""

    def __post_init__(self):
        c = np.atleast_2d(np.asarray(self.coefs, dtype=float))
        k = N_COEF.get(self.distribution)
        if k is None:
            raise HtaError(f"transition {self.name or (self.origin, self.target)}: expected a "
                           f"distribution from {', '.join(N_COEF)}; found {self.distribution!r}")
        if c.ndim != 2 or c.shape[1] != k or not np.all(np.isfinite(c)):
            raise HtaError(f"transition {self.name or (self.origin, self.target)}: expected finite "
                           f"coefficients of shape (draws, {k}); found shape {c.shape}")
        if self.clock not in ("forward", "reset"):
            raise HtaError(f"transition {self.name}: expected clock 'forward' or 'reset'; found {self.clock!r}")
        self.coefs = c

    def coef_columns(self, draws=None) -> list:
        """The coefficients as a list of arrays, gathered at ``draws`` (an index array) if given."""
        if draws is None:
            return [self.coefs[:, j] for j in range(self.coefs.shape[1])]
        if self.coefs.shape[0] == 1:
            return [self.coefs[0, j] for j in range(self.coefs.shape[1])]
        cached = self.__dict__.get("_cols")
        if cached is None or cached[0] is not self.coefs:  # contiguous columns: np.take on them is
            cached = self.__dict__["_cols"] = (self.coefs, [np.ascontiguousarray(self.coefs[:, j])  # faster
                                                            for j in range(self.coefs.shape[1])])
        cols = cached[1]
        return [np.take(col, draws) for col in cols]

    def cumhaz(self, t) -> np.ndarray:
        """H(t) per draw, shape (D, T), for times ``t`` (T,) on this transition's clock."""
        t = np.asarray(t, dtype=float)
        return cumhaz(self.distribution, [col[:, None] for col in self.coef_columns()], t[None, :])


@dataclass
class MultiStateModel:
    """States (names; absorbing = no transition out) and transitions."""

    states: tuple
    transitions: list = field(default_factory=list)

    def __post_init__(self):
        self.states = tuple(self.states)
        K = len(self.states)
        draws = {tr.coefs.shape[0] for tr in self.transitions} - {1}
        if len(draws) > 1:
            raise HtaError(f"multi-state model: expected every transition to have the same number of "
                           f"PSA draws (or 1); found {sorted(draws)}")
        for tr in self.transitions:
            if not (0 <= tr.origin < K and 0 <= tr.target < K) or tr.origin == tr.target:
                raise HtaError(f"multi-state model: transition {tr.name!r} goes from state {tr.origin} "
                               f"to {tr.target}; expected two different states among 0..{K - 1}")
            if not tr.name:
                tr.name = f"{self.states[tr.origin]}->{self.states[tr.target]}"

    @property
    def n_draws(self) -> int:
        return max([tr.coefs.shape[0] for tr in self.transitions] + [1])

    @property
    def absorbing(self) -> tuple:
        origins = {tr.origin for tr in self.transitions}
        return tuple(k for k in range(len(self.states)) if k not in origins)

    def out_of(self, state: int) -> list:
        return [h for h, tr in enumerate(self.transitions) if tr.origin == state]


def from_fits(fits, choice: str | Mapping[int, str], *, arm: int = 0, n_draws: int | None = None,
              seed=None, clocks: Mapping[int, str] | None = None) -> MultiStateModel:
    """A model from :class:`hta.multistate.fit.TransitionFits`.

    Parameters
    ----------
    fits : TransitionFits.
    choice : one family for every transition, or transition number -> family.
    arm : 0 or 1, the treatment arm when the fits have an arm covariate.
    n_draws : None for the point estimates (``D = 1``); else PSA draws from each transition's
        multivariate normal (its coefficient covariance; transitions are independent, since the
        likelihood factorises). The same ``seed`` gives the same normal deviates for both arms, so
        the arms' draws are paired.
    clocks : transition number -> clock; default the fits' clock (transitions out of the starting
        state are the same on both clocks).
    """
    rng_children = np.random.SeedSequence(seed).spawn(len(fits.fits))
    transitions = []
    for child, (number, result) in zip(rng_children, sorted(fits.fits.items())):
        name = choice if isinstance(choice, str) else choice.get(number)
        if name is None:
            raise HtaError(f"choice: expected a family for transition {number}; found none")
        m = result[name]
        base = m.coef.to_numpy()[None, :] if n_draws is None else m.sample_coefficients(n_draws, child)
        coefs = m._curve_coefs(base, arm)
        row = fits.transitions.loc[number]
        clock = (clocks or {}).get(number, fits.clock)
        transitions.append(Transition(int(row["from"]), int(row["to"]), name, coefs, clock, str(row["name"])))
    return MultiStateModel(fits.states, transitions)
