"""Model settings: horizon, cycle, discounting, willingness to pay, population and run settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hta.errors import HtaError


def _wtp_pairs(wtp) -> tuple[tuple[str, float], ...]:
    """``wtp`` as labelled pairs: plain numbers get the labels ``WTP 1``, ``WTP 2``, ..."""
    if wtp is None:
        return ()
    if isinstance(wtp, (int, float, np.integer, np.floating)):
        wtp = [wtp]
    pairs = []
    for k, item in enumerate(wtp, start=1):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            label, value = item
        else:
            label, value = f"WTP {k}", item
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise HtaError(f"settings: WTP {k}: expected a number per unit of effect; found {value!r}") from None
        if not np.isfinite(value) or value <= 0:
            raise HtaError(f"settings: WTP {k}: expected a number > 0 per unit of effect; found {value!r}")
        pairs.append((str(label), value))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    """Typed model settings (see ``docs/inputs.md``). Rates are per annum, as fractions.

    ``horizon_years`` is in years; ``cycle`` names the cycle length (``"year"``, ``"month"``,
    ``"week"``, ...). ``start_age`` (years) and ``male_share`` (0-1) are ``None`` for a model
    that uses no general-population mortality or utility norms. ``wtp`` holds labelled pairs
    ``(label, value per unit of effect)``; plain numbers are accepted and labelled ``WTP 1``,
    ``WTP 2``, ... ``effect`` names the unit of the effect the model reports as ``qalys``
    (``"QALY"``; ``"LY"`` for a model whose utilities are all 1 and whose outcomes discounting
    matches its life-years, such as the Chancellor HIV model). The workbook reader
    (:func:`hta.read_inputs`) still requires every setting ``docs/inputs.md`` marks required;
    the defaults here serve models built in code (:meth:`simple`).
    """

    horizon_years: float
    cycle: str
    discount_costs: float
    discount_outcomes: float
    within_cycle: str = "half-cycle"
    start_age: float | None = None
    male_share: float | None = None
    wtp: tuple[tuple[str, float], ...] = ()
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
    #: Unit of the effect reported as ``qalys`` ("QALY" or "LY"), used in the report's labels.
    effect: str = "QALY"

    def __post_init__(self):
        object.__setattr__(self, "wtp", _wtp_pairs(self.wtp))

    @classmethod
    def simple(cls, horizon_years: float, cycle: str = "year", discount: float | tuple[float, float] = 0.03, *,
               wtp=(), within_cycle: str = "half-cycle", currency: str = "HKD", effect: str = "QALY",
               **other) -> "Settings":
        """Settings of a model that needs only a horizon (years), a cycle, discounting and WTPs.

        ``discount``: one annual rate for costs and outcomes, or ``(costs, outcomes)``. ``wtp``:
        numbers per unit of effect, or ``(label, value)`` pairs. Other settings keep their
        defaults unless given by name (``start_age=60, male_share=0.5, seed=1, ...``).
        """
        dc, do = (discount, discount) if np.ndim(discount) == 0 else tuple(discount)
        return cls(horizon_years=float(horizon_years), cycle=cycle, discount_costs=float(dc),
                   discount_outcomes=float(do), within_cycle=within_cycle, wtp=wtp, currency=currency,
                   effect=effect, **other)

    @property
    def wtp_values(self) -> np.ndarray:
        """The willingness-to-pay thresholds, in sheet order (wtp_1, wtp_2, ...)."""
        return np.array([value for _, value in self.wtp], dtype=float)

    @property
    def currency_symbol(self) -> str:
        """The currency's symbol for labels (``HK$``, ``£``, ``US$``, ...; else its code and a space)."""
        return CURRENCY_SYMBOLS.get(self.currency.upper(), f"{self.currency} ")


CURRENCY_SYMBOLS = {"HKD": "HK$", "GBP": "£", "USD": "US$", "EUR": "€", "CNY": "CN¥", "RMB": "CN¥", "AUD": "A$",
                    "CAD": "C$", "SGD": "S$"}
