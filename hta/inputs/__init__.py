"""The domain inputs of a decision model, as the Excel reader produces them and models consume them.

:class:`ModelInputs` gathers one input workbook: :class:`Settings`, the parameter table, the
strategies, the survival evidence (:class:`SurvivalInput`), the life table, Dirichlet blocks and
the budget impact inputs (:class:`BudgetInputs`). Nothing here reads Excel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hta.inputs.budget import BudgetInputs
from hta.inputs.evidence import DirichletBlock, SurvivalInput
from hta.inputs.negotiation import NegotiationInputs
from hta.inputs.settings import Settings
from hta.params import ParameterTable

__all__ = ["BudgetInputs", "DirichletBlock", "ModelInputs", "NegotiationInputs", "Settings", "SurvivalInput"]


@dataclass(frozen=True)
class ModelInputs:
    """Everything read from one input workbook."""

    path: Path
    sha256: str
    settings: Settings
    parameters: ParameterTable
    strategies: pd.DataFrame
    survival: dict[tuple[str, str], SurvivalInput]
    lifetable: pd.DataFrame | None
    dirichlet: dict[str, DirichletBlock]
    #: Budget impact inputs (Budget and BudgetShares sheets), or None when the workbook has none.
    budget: BudgetInputs | None = None
    #: Payers, managed-entry agreement terms and capacity (sheets Payers, Agreements, Capacity), or None.
    negotiation: NegotiationInputs | None = None
    #: Kind of each parameter of the Parameters sheet (hta.inputs.kinds), by name.
    kinds: dict[str, str] = field(default_factory=dict)
    #: Parameters whose kind was not declared: how it was inferred (listed by ``hta validate``).
    kind_notes: dict[str, str] = field(default_factory=dict)
