"""Units of time: the one place the project converts between days, weeks, months and years.

A year is 365.25 days and 12 months (so a month is 365.25 / 12 = 30.4375 days). Survival curves
are unit-agnostic (they use the unit of the data they were fitted to); models convert their time
grid, which is in years, with :func:`years_per_unit` or :func:`months_per_unit`.
"""

from __future__ import annotations

from hta.errors import HtaError

DAYS_PER_YEAR = 365.25

#: Time units a survival input may use, in the order the input template lists them.
TIME_UNITS = ("months", "years", "weeks", "days")

_MONTHS_PER_UNIT = {"months": 1.0, "years": 12.0, "weeks": 12.0 * 7 / DAYS_PER_YEAR, "days": 12.0 / DAYS_PER_YEAR}
_YEARS_PER_UNIT = {"years": 1.0, "months": 1.0 / 12.0, "weeks": 7.0 / DAYS_PER_YEAR, "days": 1.0 / DAYS_PER_YEAR}


def _check(unit: str) -> None:
    if unit not in _YEARS_PER_UNIT:
        raise HtaError(f"time unit: expected one of {', '.join(TIME_UNITS)}; found {unit!r}")


def months_per_unit(unit: str) -> float:
    """Months in one ``unit`` (``"months"``, ``"years"``, ``"weeks"`` or ``"days"``)."""
    _check(unit)
    return _MONTHS_PER_UNIT[unit]


def years_per_unit(unit: str) -> float:
    """Years in one ``unit`` (``"months"``, ``"years"``, ``"weeks"`` or ``"days"``)."""
    _check(unit)
    return _YEARS_PER_UNIT[unit]
