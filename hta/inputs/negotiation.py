"""What the reimbursement team negotiates with: payers, managed-entry agreement terms, capacity.

Read from the optional sheets ``Payers``, ``Agreements`` and ``Capacity`` of an input workbook
(:mod:`hta.excel.payers_reader`; ``docs/agreements.md``). Nothing here reads Excel.

Units: shares are proportions (0 to 1); instalment times are **months since infusion** in the
workbook and :attr:`AgreementTerms.instalments` keeps them in months (the engine,
:mod:`hta.analysis.agreements`, takes years: divide by 12); monthly probabilities are per month;
slots are patients a year; fixed centre costs HK$ a year (undiscounted, like every budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AgreementTerms", "CapacityTerms", "NegotiationInputs", "payer_category"]


def payer_category(category: str) -> str:
    """The payer row of a model cost line: ``"not infused: subsequent therapy"`` -> ``"subsequent therapy"``.

    Cost lines a model prefixes with a pathway (``"<pathway>: <category>"``) are paid like their
    category.
    """
    return category.split(": ", 1)[1] if ": " in category else category


@dataclass(frozen=True)
class AgreementTerms:
    """Managed-entry agreement terms (sheet ``Agreements``).

    Attributes:
        upfront: share of the net price paid at infusion under the outcome-based scheme.
        instalments: ``((months, share, condition), ...)``: share of the net price paid at that
            time (months since infusion) if the condition (``"alive"`` or ``"progression-free"``)
            holds; upfront + shares = 1.
        refund_not_infused: share of the price refunded for a patient apheresed but not infused
            (the price is then billed at apheresis).
        cap_patients: price-volume cap, eque-cel patients a year paid at the net price.
        share_above_cap: share of the net price paid for patients above the cap (0: the company
            bears them).
        sources: ``{item: source text}``.
    """

    upfront: float
    instalments: tuple = ()
    refund_not_infused: float = 1.0
    cap_patients: float | None = None
    share_above_cap: float = 0.0
    sources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CapacityTerms:
    """Capacity of the service (sheet ``Capacity``).

    Attributes:
        slots_per_year: treatment slots for the new therapy a year (patients a year).
        p_death_month, p_progression_month: monthly probabilities of dying / progressing beyond
            eligibility while on the waiting list.
        fixed_cost_per_year: fixed costs of the CAR-T centre (HK$ a year, undiscounted).
        initial_waiting: patients waiting at the start of the first budget year.
        sources: ``{item: source text}``.
    """

    slots_per_year: float
    p_death_month: float = 0.0
    p_progression_month: float = 0.0
    fixed_cost_per_year: float = 0.0
    initial_waiting: float = 0.0
    sources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NegotiationInputs:
    """Payer shares, agreement terms and capacity of one workbook (each None when its sheet is absent).

    ``payer_shares``: ``{category: {payer: share}}`` (payers ``HA``, ``SF/CCF``, ``patient``);
    ``payer_sources``: ``{category: source}``.
    """

    payer_shares: dict | None = None
    payer_sources: dict = field(default_factory=dict)
    agreements: AgreementTerms | None = None
    capacity: CapacityTerms | None = None
