"""Analyses: batch evaluation, incremental analysis, sensitivity analyses, value of information,
budget impact, verification, and the run plan that requests them.

A scenario asks for analyses with the typed requests re-exported here (``Psa(draws=5000)``,
``Threshold("c_eqcel_price", upper=20e6)``, ...) and runs them with :func:`analyse`.
"""

from hta.analysis.negotiation_requests import CapacityBudget, Evsi, PayerResults, PriceNegotiation
from hta.analysis.plan import Execution, analyse
from hta.analysis.requests import (
                                   BudgetImpact,
                                   Cheers,
                                   FormulaWorkbook,
                                   OneWay,
                                   Psa,
                                   Scenarios,
                                   Sobol,
                                   SurvivalSelection,
                                   Threshold,
                                   TwoWay,
                                   Verification,
)
from hta.analysis.results import Results
from hta.analysis.review_requests import CrossingReport, MultiStateComparison, StructuralPsa
from hta.analysis.scenarios import Scenario

__all__ = ["BudgetImpact", "CapacityBudget", "Cheers", "CrossingReport", "Evsi", "Execution", "FormulaWorkbook",
           "MultiStateComparison", "OneWay", "PayerResults", "PriceNegotiation", "Psa", "Results", "Scenario",
           "Scenarios", "Sobol", "StructuralPsa", "SurvivalSelection", "Threshold", "TwoWay", "Verification", "analyse"]
