"""Parameter kinds: what a number is, and so which values it may take.

Every parameter of an input workbook has a kind (the ``kind`` column of the Parameters sheet).
The kind's domain is enforced on the base value, the one-way low/high values and the support of
the PSA distribution. Domains have a structural part (a probability cannot exceed 1; a cost cannot
be negative) and a sanity bound that keeps every number far from overflow (a cost of at most
HK$10 billion, a duration of at most 150 years); a distribution's support must lie within the
structural part (so a Normal is refused on a cost or a probability: it can draw any real number;
``free`` is the explicit way to allow one), its base and range values within both.

================  ======================  ======================================================
kind              domain                  typical distributions
================  ======================  ======================================================
probability       0 to 1                  beta, uniform/triangular within [0, 1]
share             0 to 1                  beta (a proportion of a population)
utility           -1 to 1                 beta (a utility at most 1; below 0 is worse than death)
utility decrement 0 to 1 (sanity 1)       beta, gamma (a decrement is a positive number subtracted)
cost              0 to 1e10               gamma, lognormal (in the workbook's currency)
rate              0 to 1e4                gamma, lognormal (events per unit time, per the unit)
relative effect   above 0 to 1e3          lognormal (hazard, odds or risk ratio)
duration          0 to 150 years          gamma, lognormal (in the unit: days, weeks, months, years)
count             0 to 1e6                gamma, lognormal (visits, doses; may be an average)
free              any finite, |x| <= 1e12 any, including normal
================  ======================  ======================================================

When the kind cell is blank, :func:`infer_kind` infers it only where that is unambiguous (a
cost by its ``c_`` name or ``HK$`` unit, the others by their unit's words); otherwise the
parameter is ``free``. Either way the reader records why, and ``hta validate`` lists it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PROBABILITY, SHARE, UTILITY, DECREMENT = "probability", "share", "utility", "utility decrement"
COST, RATE, RELATIVE, DURATION, COUNT, FREE = ("cost", "rate", "relative effect", "duration",
                                               "count", "free")
KINDS = (PROBABILITY, UTILITY, DECREMENT, COST, RATE, RELATIVE, DURATION, COUNT, SHARE, FREE)

#: The largest duration, in years, and its value in other units (by the unit's first word).
MAX_DURATION_YEARS = 150.0
_PER_YEAR = {"day": 365.25, "week": 365.25 / 7, "month": 12.0, "year": 1.0}


@dataclass(frozen=True)
class Domain:
    """The values a kind of parameter may take: ``low`` to ``high``.

    ``low_open``: the low end itself is excluded. ``high_structural``: values above ``high`` are
    impossible (a probability above 1), not merely implausible, so a distribution may not reach
    them either; otherwise ``high`` is a sanity bound on the base and range values only.
    """

    kind: str
    low: float
    high: float
    low_open: bool = False
    high_structural: bool = False

    def contains(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        above = x > self.low if self.low_open else x >= self.low
        return above and x <= self.high

    def describe(self, x: float | None = None) -> str:
        """'a probability from 0 to 1', or the side ``x`` breaks ('a cost >= 0')."""
        lo = f"{'>' if self.low_open else '>='} {self.low:g}"
        if x is not None and math.isfinite(x) and not (x > self.high):
            return f"a {self.kind} {lo}"
        if x is not None and math.isfinite(x) and x > self.high:
            return f"a {self.kind} <= {self.high:g}"
        return f"a {self.kind} {lo} and <= {self.high:g}"


def domain(kind: str, unit: str = "") -> Domain:
    """The domain of ``kind`` (durations in the unit's time unit: days, weeks, months or years)."""
    if kind in (PROBABILITY, SHARE):
        return Domain(kind, 0.0, 1.0, high_structural=True)
    if kind == UTILITY:
        return Domain(kind, -1.0, 1.0, high_structural=True)
    if kind == DECREMENT:
        return Domain(kind, 0.0, 1.0)
    if kind == COST:
        return Domain(kind, 0.0, 1e10)
    if kind == RATE:
        return Domain(kind, 0.0, 1e4)
    if kind == RELATIVE:
        return Domain(kind, 0.0, 1e3, low_open=True)
    if kind == DURATION:
        return Domain(kind, 0.0, MAX_DURATION_YEARS * _per_year(unit))
    if kind == COUNT:
        return Domain(kind, 0.0, 1e6)
    return Domain(FREE, -1e12, 1e12)


def _per_year(unit: str) -> float:
    words = re.findall(r"[a-z]+", (unit or "").lower())
    for w in words:
        stem = w.rstrip("s")
        if stem in _PER_YEAR:
            return _PER_YEAR[stem]
    return _PER_YEAR["day"]  # an unknown unit gets the widest bound


_UNIT_RULES = (
    (re.compile(r"\b(utility decrement|disutility|utility loss)\b"), DECREMENT),
    (re.compile(r"\butility\b"), UTILITY),
    (re.compile(r"\bprobability\b"), PROBABILITY),
    (re.compile(r"^(proportion|share|fraction)$"), SHARE),
    (re.compile(r"\b(hazard ratio|odds ratio|relative risk|risk ratio|rate ratio)\b"), RELATIVE),
    (re.compile(r"^(days?|weeks?|months?|years?)$"), DURATION),
    (re.compile(r"^per (day|week|month|year|annum|person-year|patient-year)$"), RATE),
)


def infer_kind(name: str, unit: str, is_cost: bool) -> tuple[str, str]:
    """(kind, why) for a parameter whose kind cell is blank.

    Inferred only where unambiguous: a cost (``c_`` name or ``HK$`` unit), or a unit that names
    the kind (``probability``, ``annual utility``, ``utility decrement``, ``hazard ratio``,
    ``days``, ``per month``, ``proportion``). Anything else is ``free``, and says so.
    """
    if is_cost:
        return COST, f"inferred from its {'name' if name.startswith('c_') else 'unit'}"
    text = " ".join((unit or "").lower().split())
    for pattern, kind in _UNIT_RULES:
        if pattern.search(text):
            return kind, f"inferred from its unit '{unit.strip()}'"
    return FREE, "not declared and not inferable from its unit: treated as free (any finite value)"


def support(distribution: str, spec: dict) -> tuple[float, float]:
    """The closed hull of the values a PSA distribution can draw (``from_spec`` arguments)."""
    if distribution == "fixed":
        v = float(spec["value"])
        return v, v
    if distribution == "normal":
        return -math.inf, math.inf
    if distribution in ("lognormal", "gamma"):
        return 0.0, math.inf
    if distribution == "beta":
        return 0.0, 1.0
    return float(spec["low"]), float(spec["high"])  # uniform, triangular


def suitable(kind: str) -> str:
    """Distributions that suit a kind, for messages."""
    return {PROBABILITY: "beta, or uniform/triangular within [0, 1]",
            SHARE: "beta, or uniform/triangular within [0, 1]",
            UTILITY: "beta, or uniform/triangular within [-1, 1]",
            }.get(kind, "gamma, lognormal, beta, or uniform/triangular within the range")
