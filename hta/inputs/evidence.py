"""Evidence inputs: survival evidence per (strategy, endpoint) and Dirichlet blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SurvivalInput:
    """The evidence for one (strategy, endpoint) survival curve.

    Times are in ``time_unit``. ``km`` has columns ``time``, ``survival`` (a proportion, 0-1,
    sorted by time, as digitised: small rises are kept for the reconstruction to clean);
    ``at_risk`` has columns ``time``, ``n_at_risk``; ``ipd`` has columns ``time``, ``event``.
    ``coef`` is in flexsurv's unconstrained order (``coef_names``) and ``cov`` is its covariance
    matrix, or None when the coefficients are fixed.
    """

    strategy: str
    endpoint: str
    kind: str
    distribution: str | None
    time_unit: str
    coef: np.ndarray | None = None
    coef_names: tuple[str, ...] = ()
    cov: np.ndarray | None = None
    km: pd.DataFrame | None = None
    at_risk: pd.DataFrame | None = None
    n_at_risk_0: int | None = None
    total_events: int | None = None
    ipd: pd.DataFrame | None = None
    data_sheet: str | None = None
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class DirichletBlock:
    """One Dirichlet block: the parameter names of its categories and their counts."""

    block: str
    names: tuple[str, ...]
    counts: np.ndarray
    sources: tuple[str, ...]
