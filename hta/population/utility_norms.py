"""General-population utility norms and the age-adjustment multiplier of state utilities.

Convention (NICE DSU TSD 12, Ara & Brazier 2010, 2011): a health-state utility measured in
patients of the cohort's starting age is scaled in every cycle by the general-population norm at
the attained age relative to the norm at the starting age,

    u_state(cycle j) = u_state x m_j,    m_j = U(a_0 + t_{j-1}) / U(a_0),

the **multiplicative** convention. ``U(a)`` is the norm at age ``a`` weighted by the cohort's male
share ``p`` at the start: ``U(a) = p U_male(a) + (1 - p) U_female(a)`` (a table with one ``both``
row per age band gives ``U_both(a)`` and ignores ``p``). The share is kept at its starting value
(the convention of Ara & Brazier's equation, which takes the cohort's male share as a covariate).

Tables are step functions of age: columns ``age`` (lower bound of the band, years), ``sex``
(``male``, ``female`` or ``both``) and ``utility``; the norm of age ``a`` is the row with the
largest ``age <= a`` (ages below the first row use the first row, ages above the last the last).
The multiplier of cycle ``j`` is evaluated at the age at the cycle's **start**, ``a_0 +
t_{j-1}``, so ``m_1 = 1`` exactly and the multiplier changes when the cohort enters a new band
(each birthday for a single-year table). In a spreadsheet: ``m_j = LOOKUP(age_j, norms) /
LOOKUP(a_0, norms)``.

A flat table (one band, or the same value in every band) gives ``m_j = 1`` in every cycle.
The engine never imports ``hta.excel``; shipped tables are in ``hta/data`` with a
``<name>.source.txt`` beside each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = ["UtilityNorms", "age_multiplier", "SHIPPED_NORMS"]

_DATA = Path(__file__).resolve().parents[1] / "data"  # hta/data, shipped as package data

#: Shipped norm tables: setting value -> file in hta/data (source in <stem>.source.txt).
SHIPPED_NORMS = {
    "hk-eq5d5l-2019": "utility_norms_hk_eq5d5l_2019.csv",
    "uk-ara-brazier-2010": "utility_norms_uk_ara_brazier_2010.csv",
}


@dataclass(frozen=True)
class UtilityNorms:
    """A general-population utility norm table by age band and sex (a step function of age)."""

    ages: np.ndarray          # (B,) lower bounds of the bands, increasing
    male: np.ndarray          # (B,) norm of men in each band
    female: np.ndarray        # (B,) norm of women in each band
    source: str = ""

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "") -> "UtilityNorms":
        """From columns ``age``, ``sex`` (male / female / both) and ``utility``."""
        missing = {"age", "sex", "utility"} - set(frame.columns)
        if missing:
            raise HtaError(f"utility norms: expected columns age, sex, utility; missing {sorted(missing)}")
        sex = frame["sex"].astype(str).str.strip().str.lower()
        bad = sorted(set(sex) - {"male", "female", "both"})
        if bad:
            raise HtaError(f"utility norms: expected sex 'male', 'female' or 'both'; found {bad}")
        if "both" in set(sex) and set(sex) != {"both"}:
            raise HtaError("utility norms: expected either 'both' rows only or 'male' and 'female' rows; found a mix")
        columns = {}
        ages_ref = None
        for s in (("both",) if "both" in set(sex) else ("male", "female")):
            rows = frame[sex == s].sort_values("age")
            ages = rows["age"].to_numpy(dtype=float)
            u = rows["utility"].to_numpy(dtype=float)
            if rows.empty or not np.isfinite(ages).all() or np.any(np.diff(ages) <= 0):
                raise HtaError(f"utility norms ({s}): expected increasing, distinct ages; found {ages[:5].tolist()}")
            if not np.isfinite(u).all() or (u > 1.0).any() or (u <= 0.0).any():
                raise HtaError(f"utility norms ({s}): expected utilities in (0, 1]; found {u[~np.isfinite(u) | (u > 1) | (u <= 0)][:1]}")
            if ages_ref is not None and not np.array_equal(ages, ages_ref):
                raise HtaError("utility norms: expected the same age bands for men and women")
            ages_ref = ages
            columns[s] = u
        male = columns.get("male", columns.get("both"))
        female = columns.get("female", columns.get("both"))
        return cls(ages_ref, male, female, source)

    @classmethod
    def shipped(cls, name: str) -> "UtilityNorms":
        """A table shipped with hta (see :data:`SHIPPED_NORMS`)."""
        key = str(name).strip().lower()
        if key not in SHIPPED_NORMS:
            raise HtaError(f"utility norms: expected one of {', '.join(SHIPPED_NORMS)}; found '{name}'")
        path = _DATA / SHIPPED_NORMS[key]
        frame = pd.read_csv(path, comment="#")
        return cls.from_frame(frame, source=f"hta/data/{path.name} ({key}; source in {path.stem}.source.txt)")

    def at(self, age, male_share: float) -> np.ndarray:
        """Sex-weighted norm ``p U_male(a) + (1 - p) U_female(a)`` at ages ``age`` (any shape)."""
        p = float(male_share)
        if not 0.0 <= p <= 1.0:
            raise HtaError(f"utility norms: expected a male share in [0, 1]; found {male_share}")
        a = np.asarray(age, dtype=float)
        i = np.clip(np.searchsorted(self.ages, a, side="right") - 1, 0, self.ages.size - 1)
        return p * self.male[i] + (1.0 - p) * self.female[i]


def age_multiplier(norms: UtilityNorms | None, start_age: float, male_share: float, times) -> np.ndarray:
    """Multiplier of state utilities at each time point, ``U(a_0 + t) / U(a_0)``, shape ``times``.

    ``times`` in years (e.g. ``grid.times``, ``(T + 1,)``); the multiplier of cycle ``j`` is the
    value at its start, ``result[j - 1]`` (so ``result[:-1]`` is the per-cycle array ``(T,)``).
    ``norms=None`` (no age adjustment) gives ones.
    """
    t = np.asarray(times, dtype=float)
    if norms is None:
        return np.ones_like(t)
    u0 = norms.at(float(start_age), male_share)
    return norms.at(float(start_age) + t, male_share) / u0
