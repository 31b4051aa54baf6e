"""General-population mortality from single-year life tables (Hong Kong tables shipped as data).

Conventions
-----------
* Ages and times are in **years**. The force of mortality ``mx`` is constant within each single
  year of age (piecewise-constant hazard, the same assumption used to derive the shipped tables);
  ages beyond the last row use the last row's rate (the open interval, e.g. 100+).
* A cohort starts at ``start_age`` (scalar or ``(n,)``, fractional ages allowed) with a share
  ``male_share`` of men at time 0. The sex mix then evolves with differential survival:
  S(t) = p S_m(t) + (1 - p) S_f(t), H(t) = -log S(t). Cumulative hazards are exact for the
  piecewise-constant hazard (integrated across birthdays, no discretisation).
* Time arrays ``t`` are ``(T,)`` or ``(n, T)``; results are ``(n, T)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = ["LifeTable"]

_DATA = Path(__file__).resolve().parents[1] / "data"  # hta/data, shipped as package data
_PERIODS = ("2020-2025", "2015-2020")
_SEXES = ("male", "female")


def _as_column(value, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1:
        raise HtaError(f"{name}: expected a scalar or an array of shape (n,); found shape {arr.shape}")
    if np.isnan(arr).any():
        raise HtaError(f"{name}: expected numbers; found NaN")
    return arr[:, None]


def _as_times(t) -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise HtaError(f"t_years: expected shape (T,) or (n, T); found shape {arr.shape}")
    if np.isnan(arr).any() or (arr < 0).any():
        raise HtaError("t_years: expected non-negative times in years; found negative or NaN values")
    return arr


class LifeTable:
    """Single-year-of-age central death rates ``mx`` by sex.

    Build from a DataFrame with columns ``age`` (consecutive integers), ``sex`` (``male`` /
    ``female``) and ``mx`` (deaths per person-year), or use :meth:`hong_kong`.
    """

    def __init__(self, frame: pd.DataFrame, source: str = ""):
        missing = {"age", "sex", "mx"} - set(frame.columns)
        if missing:
            raise HtaError(f"life table: expected columns age, sex, mx; missing {sorted(missing)}")
        sex = frame["sex"].astype(str).str.strip().str.lower()
        rates = {}
        ages_ref = None
        for s in _SEXES:
            rows = frame[sex == s].sort_values("age")
            if rows.empty:
                raise HtaError(f"life table: expected rows for sex '{s}'; found none "
                               f"(sex values found: {sorted(sex.unique())})")
            ages = rows["age"].to_numpy(dtype=float)
            mx = rows["mx"].to_numpy(dtype=float)
            if not np.all(ages == np.round(ages)) or not np.all(np.diff(ages) == 1):
                raise HtaError(f"life table ({s}): expected consecutive whole ages; "
                               f"found {ages[:5].tolist()}...")
            if not np.isfinite(mx).all() or (mx < 0).any():
                raise HtaError(f"life table ({s}): expected finite mx >= 0; "
                               f"found {mx[~np.isfinite(mx) | (mx < 0)][0]}")
            if ages_ref is not None and not np.array_equal(ages, ages_ref):
                raise HtaError("life table: expected the same ages for male and female rows; "
                               "found different age ranges")
            ages_ref = ages
            rates[s] = mx
        self.min_age = int(ages_ref[0])
        self.max_age = int(ages_ref[-1])  # open interval: this rate applies at all older ages
        self._mx = np.vstack([rates["male"], rates["female"]])  # (2, A)
        # cumulative hazard from min_age to each whole age: C[s, k] = sum_{j<k} mx[s, j]
        self._cum = np.concatenate([np.zeros((2, 1)), np.cumsum(self._mx, axis=1)], axis=1)
        self.source = source
        self.frame = frame

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def hong_kong(cls, period: str = "2020-2025") -> "LifeTable":
        """The shipped Hong Kong table (UN WPP 2024 abridged rates, derived to single ages).

        ``period`` is ``"2020-2025"`` (default) or ``"2015-2020"`` (pre-COVID). ``.source`` holds
        the provenance note, including its caveats.
        """
        if period not in _PERIODS:
            raise HtaError(f"Hong Kong life table period: expected one of {', '.join(_PERIODS)}; "
                           f"found '{period}'")
        path = _DATA / f"hk_lifetable_{period}.csv"
        frame = pd.read_csv(path, comment="#")
        source = (_DATA / f"hk_lifetable_{period}.source.txt").read_text(encoding="utf-8")
        return cls(frame, source=source)

    # -- rates ---------------------------------------------------------------------------------
    def _sex_index(self, sex: str) -> int:
        key = str(sex).strip().lower()
        if key not in _SEXES:
            raise HtaError(f"sex: expected 'male' or 'female'; found '{sex}'")
        return _SEXES.index(key)

    def _check_ages(self, age: np.ndarray) -> None:
        if (age < self.min_age).any():
            raise HtaError(f"age: expected ages >= {self.min_age} (the life table's first age); "
                           f"found {age.min():g}")

    def mx(self, age, sex: str) -> np.ndarray:
        """Force of mortality (per year) at ``age`` (any shape) for ``sex``; constant per year of age."""
        age = np.asarray(age, dtype=float)
        self._check_ages(age)
        idx = np.clip(np.floor(age).astype(int), self.min_age, self.max_age) - self.min_age
        return self._mx[self._sex_index(sex)][idx]

    def _cumhaz_from_min(self, age: np.ndarray, s: int) -> np.ndarray:
        """Exact integral of mx from min_age to ``age`` for sex index ``s``."""
        k = np.clip(np.floor(age), self.min_age, self.max_age)
        idx = k.astype(int) - self.min_age
        return self._cum[s][idx] + (age - k) * self._mx[s][idx]

    def _by_sex(self, t_years, start_age):
        t = _as_times(t_years)
        a0 = _as_column(start_age, "start_age")
        self._check_ages(a0)
        age = a0 + t
        h = [self._cumhaz_from_min(age, s) - self._cumhaz_from_min(a0, s) for s in (0, 1)]
        return t, age, h

    # -- cohort --------------------------------------------------------------------------------
    def cohort_cumhaz(self, t_years, start_age, male_share) -> np.ndarray:
        """Cumulative hazard ``(n, T)`` of a cohort aged ``start_age`` at t = 0 (t in years)."""
        _, _, (h_m, h_f) = self._by_sex(t_years, start_age)
        p = self._male_share(male_share)
        with np.errstate(divide="ignore"):
            log_s = np.logaddexp(np.log(p) - h_m, np.log1p(-p) - h_f)
        return np.maximum(-log_s, 0.0)

    # alias used in docs/architecture.md
    background_cumhaz = cohort_cumhaz

    def cohort_survival(self, t_years, start_age, male_share) -> np.ndarray:
        """Survival ``(n, T)`` of the cohort: p S_m(t) + (1 - p) S_f(t)."""
        return np.exp(-self.cohort_cumhaz(t_years, start_age, male_share))

    def cohort_hazard(self, t_years, start_age, male_share) -> np.ndarray:
        """Hazard per year ``(n, T)`` of the mixed cohort, right-continuous at birthdays.

        h(t) = [p S_m(t) mx_m(a0+t) + (1-p) S_f(t) mx_f(a0+t)] / S(t).
        """
        _, age, (h_m, h_f) = self._by_sex(t_years, start_age)
        p = self._male_share(male_share)
        idx = np.clip(np.floor(age), self.min_age, self.max_age).astype(int) - self.min_age
        m_m, m_f = self._mx[0][idx], self._mx[1][idx]
        # weights as shares of survivors, computed relative to the smaller cumulative hazard
        base = np.minimum(h_m, h_f)
        w_m = p * np.exp(-(h_m - base))
        w_f = (1.0 - p) * np.exp(-(h_f - base))
        return (w_m * m_m + w_f * m_f) / (w_m + w_f)

    def male_share_at(self, t_years, start_age, male_share) -> np.ndarray:
        """Share of men among survivors ``(n, T)`` (the sex mix drifts towards women)."""
        _, _, (h_m, h_f) = self._by_sex(t_years, start_age)
        p = self._male_share(male_share)
        base = np.minimum(h_m, h_f)
        w_m = p * np.exp(-(h_m - base))
        w_f = (1.0 - p) * np.exp(-(h_f - base))
        return w_m / (w_m + w_f)

    def life_expectancy(self, start_age, male_share) -> np.ndarray:
        """Remaining life expectancy (years) ``(n,)``, exact for the piecewise-constant hazard.

        Integrates each sex's survival year of age by year of age (from a fractional start age)
        and the open interval in closed form, then mixes: e = p e_m + (1 - p) e_f.
        """
        a0 = _as_column(start_age, "start_age")[:, 0]
        self._check_ages(a0)
        p = self._male_share(male_share)[:, 0]
        # segment edges: a0, next birthday, ..., max_age (clipped), then the open interval
        whole = np.arange(self.min_age + 1, self.max_age + 1, dtype=float)
        edges = np.concatenate([a0[:, None], np.maximum(whole[None, :], a0[:, None])], axis=1)
        lo, hi = edges[:, :-1], edges[:, 1:]
        out = []
        for s in (0, 1):
            start_cum = self._cumhaz_from_min(a0, s)[:, None]
            s_lo = np.exp(-(self._cumhaz_from_min(lo, s) - start_cum))
            rate = self._mx[s][np.clip(np.floor(lo), self.min_age, self.max_age).astype(int)
                               - self.min_age]
            width = hi - lo
            # integral of s_lo * exp(-rate u) on [0, width]
            seg = s_lo * width * np.where(rate * width > 0,
                                          -np.expm1(-rate * width) / np.where(rate * width > 0,
                                                                              rate * width, 1.0),
                                          1.0)
            top = np.maximum(a0, self.max_age)
            s_top = np.exp(-(self._cumhaz_from_min(top, s) - start_cum[:, 0]))
            open_rate = self._mx[s][-1]
            tail = s_top / open_rate if open_rate > 0 else np.inf
            out.append(seg.sum(axis=1) + tail)
        return p * out[0] + (1.0 - p) * out[1]

    @staticmethod
    def _male_share(male_share) -> np.ndarray:
        p = _as_column(male_share, "male_share")
        if ((p < 0) | (p > 1)).any():
            raise HtaError(f"male_share: expected a proportion in [0, 1]; found {p[(p < 0) | (p > 1)][0]:g}")
        return p

    def __repr__(self) -> str:
        return f"LifeTable(ages {self.min_age}..{self.max_age}+)"
