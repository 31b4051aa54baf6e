"""Model settings: horizon, cycle, discounting, willingness to pay, population and run settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Settings:
    """Typed model settings (see ``docs/inputs.md``). Rates are per annum, as fractions."""

    horizon_years: float
    cycle: str
    discount_costs: float
    discount_outcomes: float
    within_cycle: str
    start_age: float
    male_share: float
    wtp: tuple[tuple[str, float], ...]
    model: str | None = None
    discount_method: str = "discrete"
    currency: str = "HKD"
    life_table: str = "hk-2020-2025"
    utility_norms: str = "none"
    annual_population: float | None = None
    population_years: float | None = None
    seed: int | None = None
    psa_draws: int | None = None
    #: Source column of each setting row, by setting name.
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def wtp_values(self) -> np.ndarray:
        """The willingness-to-pay thresholds, in sheet order (wtp_1, wtp_2, ...)."""
        return np.array([value for _, value in self.wtp], dtype=float)
