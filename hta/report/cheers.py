"""The CHEERS 2022 reporting checklist, filled in from a run's results.

Husereau D, Drummond M, Augustovski F, et al. Consolidated Health Economic Evaluation
Reporting Standards 2022 (CHEERS 2022) statement. Value Health 2022;25:3-9. Its 28 items are
listed here by number, section and topic (our wording of the topics).

:func:`checklist` says, for each item, where a reviewer finds it: items the run itself answers
(comparators, horizon, discounting, parameters, results, uncertainty) point to the results
workbook's sheets and settings; the others come from ``statements`` the analyst supplies
(``{item number: where or what}``). An item with neither is "not reported", with the reason,
never silently passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from hta.errors import HtaError
from hta.protocol import strategy_labels

#: (item, section, topic) of the 28 CHEERS 2022 items.
ITEMS: tuple[tuple[int, str, str], ...] = (
    (1, "Title", "Title"),
    (2, "Abstract", "Abstract"),
    (3, "Introduction", "Background and objectives"),
    (4, "Methods", "Health economic analysis plan"),
    (5, "Methods", "Study population"),
    (6, "Methods", "Setting and location"),
    (7, "Methods", "Comparators"),
    (8, "Methods", "Perspective"),
    (9, "Methods", "Time horizon"),
    (10, "Methods", "Discount rate"),
    (11, "Methods", "Selection of outcomes"),
    (12, "Methods", "Measurement of outcomes"),
    (13, "Methods", "Valuation of outcomes"),
    (14, "Methods", "Measurement and valuation of resources and costs"),
    (15, "Methods", "Currency, price date and conversion"),
    (16, "Methods", "Rationale and description of model"),
    (17, "Methods", "Analytics and assumptions"),
    (18, "Methods", "Characterising heterogeneity"),
    (19, "Methods", "Characterising distributional effects"),
    (20, "Methods", "Characterising uncertainty"),
    (21, "Methods", "Approach to engagement with patients and others affected by the study"),
    (22, "Results", "Study parameters"),
    (23, "Results", "Summary of main results"),
    (24, "Results", "Effect of uncertainty"),
    (25, "Results", "Effect of engagement with patients and others affected by the study"),
    (26, "Discussion", "Study findings, limitations, generalisability and current knowledge"),
    (27, "Other relevant information", "Source of funding"),
    (28, "Other relevant information", "Conflicts of interest"),
)
REPORTED, PARTLY, NOT_REPORTED = "reported", "partly", "not reported"
#: Items that belong to the written submission rather than to a model's output.
_REPORT_ITEMS = {1, 2, 3, 4, 26, 27, 28}


def _uncertainty_sheets(analyses: Mapping) -> list[str]:
    names = {"tornado": "Tornado and One-way", "psa": "PSA summary, CEAC, CEAF, EVPI", "scenarios": "Scenarios",
             "sobol": "Sobol", "threshold": "Threshold price", "two_way": "Two-way"}
    out = [label for key, label in names.items() if key in analyses]
    if "psa" in analyses and getattr(analyses["psa"], "evppi", None) is not None:
        out.append("EVPPI")
    if "threshold" in analyses and getattr(analyses["threshold"], "curve", None) is not None:
        out.append("Threshold curve")
    return out


def _automatic(results) -> dict[int, tuple[str, str]]:
    """What the run itself reports, item -> (status, where)."""
    s = results.model.settings
    labels = strategy_labels(results.model)
    strategies = ", ".join(labels[x] for x in results.model.strategies)
    structures = ", ".join(dict.fromkeys(results.summary["structure"]))
    n_params = len(results.inputs)
    found = {
        5: (PARTLY, f"cohort starting age {s.start_age:g}, {s.male_share:.1%} male (Summary notes; Run info)"
            if s.start_age is not None and s.male_share is not None else "describe the population (not a model setting)"),
        7: (REPORTED, f"strategies compared: {strategies} (Summary, Incremental)"),
        9: (REPORTED, f"{s.horizon_years:g} years, {s.cycle}ly cycles (Summary notes; Run info)"),
        10: (REPORTED, f"{s.discount_costs:.1%} costs, {s.discount_outcomes:.1%} outcomes per year ({s.discount_method}); "
                       "undiscounted totals beside them (Summary)"),
        11: (REPORTED, "QALYs, life-years and costs per strategy, by health state and cost category (Summary, Disaggregated)"),
        14: (REPORTED, "unit costs with their sources (Inputs); costs by category and state (Disaggregated)"),
        15: (PARTLY, f"currency {s.currency}; state the price year and any conversions"),
        16: (REPORTED, f"model structure(s): {structures} (Summary, Survival, Trace, Survival models)"),
        17: (REPORTED, "every parameter with its distribution and source, assumptions labelled as such (Inputs); "
                       "fitted survival curves (Survival models)" + ("; verification checks (Verification)"
                                                                       if "verification" in results.analyses else "")),
        22: (REPORTED, f"{n_params} parameters with base values, ranges, PSA distributions and sources (Inputs)"),
        23: (REPORTED, "costs, QALYs, LYs, incremental results, ICERs and NMB (Summary, Incremental, NMB)"),
    }
    sheets = _uncertainty_sheets(results.analyses)
    if sheets:
        found[20] = (REPORTED, "; ".join(sheets))
        found[24] = (REPORTED, "; ".join(sheets))
    return found


_DOC_SECTION = re.compile(r"docs/[\w./-]+\.md,?\s*(['\"][^'\"]+['\"])")
_DOC = re.compile(r"docs/[\w./-]+\.md")


def self_contained(text: str) -> str:
    """``text`` with references to the project's ``docs/`` files (which the HA never receives)
    replaced by the submission dossier: ``docs/flagship.md, 'Utilities'`` becomes
    ``the submission dossier, section 'Utilities'``; a bare ``docs/x.md`` becomes
    ``the submission dossier (methods appendix)``."""
    text = _DOC_SECTION.sub(lambda m: f"the submission dossier, section {m.group(1)}", str(text))
    return _DOC.sub("the submission dossier (methods appendix)", text)


def checklist(results, statements: Mapping[int, str] | None = None) -> pd.DataFrame:
    """The 28 CHEERS 2022 items for ``results`` (a :class:`hta.analysis.plan.Results`).

    Args:
        results: the run's results.
        statements: ``{item: text}`` saying where (or how) an item is reported, e.g.
            ``{8: "HA perspective: docs/flagship.md, Decision problem"}``. A statement replaces the
            automatic entry; a statement starting with "not reported:" marks the item as not
            reported, with the rest as the reason.

    Returns:
        DataFrame with columns ``item``, ``section``, ``topic``, ``status`` ("reported", "partly",
        "not reported") and ``where``.
    """
    statements = dict(statements or {})
    unknown = sorted(k for k in statements if k not in {i for i, _, _ in ITEMS})
    if unknown:
        raise HtaError(f"CHEERS statements: expected item numbers 1-28; found {unknown}")
    automatic = _automatic(results)
    rows = []
    for item, section, topic in ITEMS:
        if item in statements:
            text = str(statements[item]).strip()
            if text.lower().startswith("not reported:"):
                status, where = NOT_REPORTED, text.split(":", 1)[1].strip()
            elif text.lower().startswith("partly:"):
                status, where = PARTLY, text.split(":", 1)[1].strip()
            else:
                status, where = REPORTED, text
        elif item in automatic:
            status, where = automatic[item]
        elif item in _REPORT_ITEMS:
            status, where = NOT_REPORTED, "belongs to the written submission; not part of the model's output"
        else:
            status, where = NOT_REPORTED, "not assessed in this analysis"
        rows.append({"item": item, "section": section, "topic": topic, "status": status,
                     "where": self_contained(where)})
    return pd.DataFrame(rows)
