"""Presenters: one function per result type, turning a typed result into a :class:`~hta.report.section.Section`.

``present(result, results)`` finds the presenter registered for ``type(result)`` in
:data:`PRESENTERS`. A new analysis registers its presenter here (one line).
"""

from __future__ import annotations

from hta.analysis import negotiation_requests as N
from hta.analysis import requests as R
from hta.analysis import review_requests as RR
from hta.errors import HtaError
from hta.report.section import Section
from hta.report.sections import budget, deterministic, evidence, negotiation, probabilistic, review

PRESENTERS = {
    R.OneWayResult: deterministic.one_way,
    R.ThresholdResult: deterministic.threshold,
    R.ScenariosResult: deterministic.scenarios,
    R.TwoWayResult: deterministic.two_way,
    R.PsaAnalysis: probabilistic.psa,
    R.SobolResult: probabilistic.sobol,
    R.BudgetImpactResult: budget.budget_impact,
    R.SurvivalSelectionResult: evidence.survival_selection,
    R.FormulaWorkbookResult: evidence.formula_workbook,
    R.VerificationResult: evidence.verification,
    R.CheersResult: evidence.cheers,
    RR.CrossingResult: review.crossing,
    RR.StructuralPsaResult: review.structural_psa,
    RR.MultiStateComparisonResult: review.multistate_comparison,
    N.PayerResultsResult: negotiation.payers,
    N.PriceNegotiationResult: negotiation.price_negotiation,
    N.CapacityBudgetResult: negotiation.capacity_budget,
    N.EvsiAnalysis: negotiation.evsi,
}


def present(result, results) -> Section:
    """The section of one analysis result (``results``: the whole run, for context)."""
    presenter = PRESENTERS.get(type(result))
    if presenter is None:
        raise HtaError(f"report: no presenter for {type(result).__name__}; register one in hta.report.sections")
    return presenter(result, results)
