"""Survival evidence: parametric curves and adjustments, Kaplan-Meier, IPD reconstruction, fits,
restricted means, Cox regression and log-rank tests.

Curves are vectorised over PSA samples (parameters of shape (n,), outputs (n, T)) and use
flexsurv's parameterisations (``docs/parameterisations.md``).
"""

from hta.survival.adjust import (
                                 AcceleratedFailure,
                                 GeneralPopulation,
                                 GeneralPopulationFloor,
                                 MixtureCure,
                                 Piecewise,
                                 ProportionalHazards,
                                 StepCurve,
                                 Waning,
)
from hta.survival.calibrate import CalibrationResult, calibrate
from hta.survival.cox import ChiSquareTest, CoxResult, LogrankResult, coxph, logrank
from hta.survival.cure import CureFit, fit_mixture_cure
from hta.survival.curves import (
                                 DISTRIBUTIONS,
                                 Exponential,
                                 Gamma,
                                 GenGamma,
                                 Gompertz,
                                 LogLogistic,
                                 LogNormal,
                                 SurvivalCurve,
                                 Weibull,
                                 WeibullPH,
                                 make_curve,
)
from hta.survival.fit import FitResult, FittedModel, FitWarning, fit, fit_two_arms
from hta.survival.km import kaplan_meier, km_median, km_quantile, km_survival_at, number_at_risk
from hta.survival.reconstruct import ReconstructionReport, clean_digitised_curve, read_guyot_files, reconstruct_ipd

# the function rmst is not re-exported here: it would shadow the submodule hta.survival.rmst
from hta.survival.rmst import RmstResult, km_rmst
from hta.survival.splines import FittedSpline, SplineCurve, fit_spline

__all__ = [
    "AcceleratedFailure", "GeneralPopulation", "GeneralPopulationFloor", "MixtureCure", "Piecewise",
    "ProportionalHazards", "StepCurve", "Waning", "DISTRIBUTIONS", "Exponential", "Gamma", "GenGamma", "Gompertz",
    "LogLogistic", "LogNormal", "SurvivalCurve", "Weibull", "WeibullPH", "make_curve", "kaplan_meier", "km_median",
    "km_quantile", "km_survival_at", "number_at_risk", "ReconstructionReport", "clean_digitised_curve",
    "read_guyot_files", "reconstruct_ipd", "fit", "fit_two_arms", "FitResult", "FittedModel", "FitWarning",
    "CalibrationResult", "calibrate", "CureFit", "fit_mixture_cure", "FittedSpline", "SplineCurve", "fit_spline",
    "RmstResult", "km_rmst", "ChiSquareTest", "CoxResult", "LogrankResult", "coxph", "logrank",
]
