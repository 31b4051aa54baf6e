"""Parametric survival curves, vectorised over PSA samples, in flexsurv's parameterisations: the
registry of families and the names other modules import.

Where things are
----------------
* ``hta.survival.curve_base``: :class:`SurvivalCurve` (the curve protocol every adjustment and
  fit returns), :class:`ParametricCurve` (the base of every family, with the generic
  likelihood derived from the hazard and cumulative hazard) and the input/numerical helpers.
* ``hta.survival.families`` (exponential, Weibull, Weibull PH, Gompertz, log-normal,
  log-logistic) and ``hta.survival.families_gamma`` (gamma, generalised gamma): one class per
  family, which is everything the curve and its maximum-likelihood fit need.
* This module: ``DISTRIBUTIONS`` (name -> class, the one registry line per family) and
  :func:`make_curve`.

A NEW FAMILY is one class (in either family module, or a new one) plus its line in
``DISTRIBUTIONS``; ``hta.survival.fit`` fits it with no further edit (``docs/fitting.md``).

Conventions (time unit, sample axis first, flexsurv formulas, ``coef_names`` on flexsurv's
unconstrained scale) are in ``hta.survival.curve_base``.
"""

from __future__ import annotations

from hta.errors import HtaError
from hta.survival.curve_base import (
    ParametricCurve,
    SurvivalCurve,
    as_param,
    as_times,
    broadcast_n,
)
from hta.survival.families import (
    Exponential,
    Gompertz,
    LogLogistic,
    LogNormal,
    Weibull,
    WeibullPH,
)
from hta.survival.families_gamma import Gamma, GenGamma

__all__ = [
    "DISTRIBUTIONS",
    "Exponential",
    "Gamma",
    "GenGamma",
    "Gompertz",
    "LogLogistic",
    "LogNormal",
    "ParametricCurve",
    "SurvivalCurve",
    "Weibull",
    "WeibullPH",
    "as_param",
    "as_times",
    "broadcast_n",
    "make_curve",
]

#: every parametric family by name, in the order ``hta.survival.fit`` reports them
DISTRIBUTIONS: dict[str, type[ParametricCurve]] = {
    "exponential": Exponential,
    "weibull": Weibull,
    "weibullph": WeibullPH,
    "gompertz": Gompertz,
    "lognormal": LogNormal,
    "loglogistic": LogLogistic,
    "gamma": Gamma,
    "gengamma": GenGamma,
}


def make_curve(name: str, coefs) -> ParametricCurve:
    """Build a curve from a distribution name and unconstrained coefficients ``(n, p)``/``(p,)``."""
    key = str(name).strip().lower()
    if key not in DISTRIBUTIONS:
        raise HtaError(f"survival distribution '{name}': expected one of "
                       f"{', '.join(DISTRIBUTIONS)}; found '{name}'")
    return DISTRIBUTIONS[key].from_coefficients(coefs)
