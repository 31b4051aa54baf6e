"""Expected value of sample information (EVSI) by regression on the PSA.

Method of Strong, Oakley, Brennan & Breeze (Med Decis Making 2015;35(5):570-583), the default
``method="gam"`` of R's ``voi::evsi``. For a proposed study, a data-generating function turns
each PSA draw theta_i into one simulated data set X_i drawn from the study's sampling
distribution given theta_i, summarised by a few statistics T(X_i). Because (theta_i, X_i) is
then a draw from the joint prior-predictive distribution, regressing the incremental net benefit
INB_d(theta_i) on T(X_i) estimates E[INB_d | T(X)], and

    EVSI = mean_i max_d E[INB_d | T(X_i)]  -  max_d mean_i E[INB_d | T(X_i)].

The regression is the EVPPI machinery of :mod:`hta.analysis.voi` (GAM: tensor-product cubic regression
splines ``te(T1, T2, bs="cr")`` with GCV smoothing, as ``voi``; or a Gaussian process), applied to
the summary statistics in place of the parameters. When the summary is sufficient for the
decision-relevant parameters and the sample is large, EVSI approaches their EVPPI; EVSI <= EVPPI
<= EVPI always (up to regression and Monte Carlo error).

Conventions
-----------
* Net benefits, costs and EVSI are **per patient**, in the currency of the input.
* A study design is any callable ``design(inputs, rng) -> DataFrame`` (or mapping name ->
  ``(n_draws,)`` array) returning one row of summary statistics per PSA draw, vectorised over
  draws; ``inputs`` is the PSA parameter draws (DataFrame, :class:`hta.params.Batch` or mapping)
  and ``rng`` a :class:`numpy.random.Generator`. Two are built in: :class:`TwoArmBinary`
  (two-arm trial, binary outcome) and :class:`SurvivalFollowUp` (further follow-up of a
  single-arm survival study).
* Times in :class:`SurvivalFollowUp` are in the time unit of its survival curve (months for a
  curve fitted to a Kaplan-Meier curve in months; see ``hta.survival.curves``).
* Population EVSI (:func:`population_evsi`) multiplies by the discounted number of patients
  (patients of year y discounted by ``(1 + r)^-(y-1)``, year 1 undiscounted), as
  :func:`hta.analysis.psa.population_evpi`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.analysis.capacity import population_value
from hta.analysis.voi import evpi as _evpi
from hta.analysis.voi import evppi as _regression_voi
from hta.errors import HtaError

__all__ = [
    "EvsiResult",
    "SurvivalFollowUp",
    "TwoArmBinary",
    "evsi",
    "evsi_from_summaries",
    "evsi_replicates",
    "evsi_sample_sizes",
    "evsi_wtp",
    "population_evsi",
    "simulate",
]


@dataclass(frozen=True)
class EvsiResult:
    """EVSI of one study design at one willingness to pay.

    Attributes:
        evsi: EVSI per patient (net-benefit units).
        evpi: EVPI per patient from the same net-benefit draws.
        summaries: the names of the summary statistics regressed on.
        method: ``"gam"`` or ``"gp"``.
        strategies: strategy names; the first is the reference.
        fitted: ``(n_draws, n_strategies)`` fitted E[NB_d - NB_0 | summaries]; column 0 is 0.
        se: regression standard error of ``evsi`` (None unless requested with ``se_draws``).
        edf: ``(n_strategies - 1,)`` effective degrees of freedom of each regression.
        r_squared: ``(n_strategies - 1,)`` share of each INB's variance the fit explains; a few
            per cent or less means the study informs little of the decision's uncertainty and
            the estimate is sensitive to the regression (compare ``method="gp"``, more draws,
            or :func:`evsi_replicates`).
    """

    evsi: float
    evpi: float
    summaries: tuple[str, ...]
    method: str
    strategies: tuple[str, ...]
    fitted: np.ndarray
    se: float | None = None
    edf: np.ndarray | None = None
    r_squared: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Built-in study designs
# --------------------------------------------------------------------------------------------


def _draws(inputs, what: str, value, n: int | None = None) -> np.ndarray:
    """A per-draw column: ``value`` is a column name of ``inputs`` or an array/scalar."""
    if isinstance(value, str):
        try:
            column = inputs[value]
        except (KeyError, HtaError):
            raise HtaError(f"{what}: expected a column '{value}' in the PSA inputs; not found") from None
        arr = np.asarray(column, dtype=float).reshape(-1)
    else:
        arr = np.asarray(value, dtype=float).reshape(-1)
        if n is not None and arr.size == 1:
            arr = np.full(n, float(arr[0]))
    if not np.all(np.isfinite(arr)):
        raise HtaError(f"{what}: expected finite values; found {arr[~np.isfinite(arr)][0]}")
    return arr


def _positive_int(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise HtaError(f"{what}: expected a whole number >= {minimum}; found {value!r}")
    return int(value)


@dataclass(frozen=True)
class TwoArmBinary:
    """A two-arm trial with a binary outcome, ``n_per_arm`` patients in each arm.

    Summary statistics: ``events_1``, ``events_2``, the numbers of patients with the outcome in
    arm 1 and arm 2, drawn from Binomial(n_per_arm, p_arm) with the PSA draw's probabilities
    (``voi``'s built-in study ``"trial_binary"``).

    Attributes:
        p1, p2: the outcome probability in each arm: a column name of the PSA inputs or an
            array ``(n_draws,)`` of probabilities in [0, 1].
        n_per_arm: patients per arm (whole number >= 1).
    """

    p1: str | np.ndarray
    p2: str | np.ndarray
    n_per_arm: int = 100

    def __call__(self, inputs, rng: np.random.Generator) -> pd.DataFrame:
        n = _positive_int(self.n_per_arm, "two-arm trial n_per_arm")
        out = {}
        for label, p in (("events_1", self.p1), ("events_2", self.p2)):
            prob = _draws(inputs, f"two-arm trial probability {label[-1]}", p)
            if np.any((prob < 0) | (prob > 1)):
                bad = prob[(prob < 0) | (prob > 1)][0]
                raise HtaError(f"two-arm trial probability {label[-1]}: expected values in [0, 1]; found {bad:g}")
            out[label] = rng.binomial(n, prob).astype(float)
        if out["events_1"].shape != out["events_2"].shape:
            raise HtaError(
                "two-arm trial: expected the same number of draws for both arms; "
                f"found {out['events_1'].size} and {out['events_2'].size}"
            )
        return pd.DataFrame(out)


@dataclass(frozen=True)
class SurvivalFollowUp:
    """Further follow-up of a single-arm survival study, simulated from each draw's curve.

    ``n_at_risk`` patients are alive (event-free) at their current follow-up time
    ``current_followup`` (time since their start); they are followed for ``additional_followup``
    more. For each PSA draw the curve of that draw gives each patient's residual event time from
    S(t) / S(current_followup); the summary statistics are the number of ``events`` observed in
    the extra follow-up and the ``exposure``, the person-time at risk accumulated in it
    (censoring at the end of the extra follow-up). Together they are sufficient for a constant
    hazard and the usual summary for a survival extension (the design of the issue: "N patients,
    M more months").

    Several groups of patients with different current follow-up (staggered entry) are given as
    arrays of equal length: ``n_at_risk=[10, 15]``, ``current_followup=[24, 12]``. The loop is over
    these few groups, never over draws or patients.

    Attributes:
        curve: a :class:`hta.survival.curves.SurvivalCurve` batch with one curve per PSA draw
            (its ``cumhaz(t)`` returns ``(n_draws, T)``), in its own time unit.
        n_at_risk: patients at risk in each group (whole numbers >= 0).
        current_followup: each group's follow-up so far (curve time unit, >= 0).
        additional_followup: the extra follow-up (curve time unit, > 0), e.g. 12 (months).
        grid_points: points of the time grid on which the cumulative hazard is inverted; the
            hazard is taken constant between them (exact for an exponential curve).
    """

    curve: object
    n_at_risk: int | Sequence[int]
    current_followup: float | Sequence[float]
    additional_followup: float
    grid_points: int = 241

    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        counts = np.atleast_1d(np.asarray(self.n_at_risk, dtype=float))
        starts = np.atleast_1d(np.asarray(self.current_followup, dtype=float))
        if counts.shape != starts.shape or counts.ndim != 1:
            raise HtaError(
                "survival follow-up: expected n_at_risk and current_followup of the same length; "
                f"found {counts.size} and {starts.size}"
            )
        if np.any(counts < 0) or not np.all(np.mod(counts, 1) == 0) or counts.sum() < 1:
            raise HtaError(f"survival follow-up n_at_risk: expected whole numbers >= 0, at least one patient; found {counts.tolist()}")
        if not np.all(np.isfinite(starts)) or np.any(starts < 0):
            raise HtaError(f"survival follow-up current_followup: expected times >= 0; found {starts.tolist()}")
        extra = float(self.additional_followup)
        if not np.isfinite(extra) or extra <= 0:
            raise HtaError(f"survival follow-up additional_followup: expected a time > 0; found {self.additional_followup!r}")
        _positive_int(self.grid_points, "survival follow-up grid_points", 2)
        return counts.astype(int), starts

    def __call__(self, inputs, rng: np.random.Generator) -> pd.DataFrame:
        counts, starts = self._groups()
        extra = float(self.additional_followup)
        n_draws = int(getattr(self.curve, "n", 0))
        if n_draws < 1:
            raise HtaError("survival follow-up curve: expected a survival curve batch with n >= 1 draws; found none")
        events = np.zeros(n_draws)
        exposure = np.zeros(n_draws)
        for count, start in zip(counts, starts):
            if count == 0:
                continue
            d, e = _simulate_followup(self.curve, n_draws, int(count), start, extra, int(self.grid_points), rng)
            events += d
            exposure += e
        return pd.DataFrame({"events": events, "exposure": exposure})


def _simulate_followup(curve, n_draws, count, start, extra, points, rng):
    """Events and exposure of ``count`` patients at risk at ``start``, followed ``extra`` more.

    Residual event times by inversion of the cumulative hazard: with E ~ Exp(1), a patient has
    the event at the first time tau with H(tau) - H(start) = E. H is evaluated on a grid and
    interpolated linearly (constant hazard within each cell). The search is vectorised over
    draws and patients by one ``searchsorted`` on the rows laid end to end: each row's values
    are shifted by a multiple of a band width larger than any row's range.
    """
    grid = start + np.linspace(0.0, extra, points)
    h = np.asarray(curve.cumhaz(grid), dtype=float)
    if h.shape != (n_draws, points):
        raise HtaError(f"survival follow-up curve: expected cumhaz of shape {(n_draws, points)}; found {h.shape}")
    h = h - h[:, :1]
    cap = 745.0  # exp(-745) underflows: beyond this everybody has had the event
    h = np.clip(np.nan_to_num(h, nan=cap, posinf=cap), 0.0, cap)
    h = np.maximum.accumulate(h, axis=1)
    e = rng.standard_exponential((n_draws, count))
    event = e < h[:, -1:]
    band = cap + 1.0
    offsets = band * np.arange(n_draws)[:, None]
    flat = (h + offsets).ravel()
    pos = np.searchsorted(flat, (np.minimum(e, h[:, -1:]) + offsets).ravel(), side="left").reshape(n_draws, count)
    pos = pos - points * np.arange(n_draws)[:, None]
    pos = np.clip(pos, 1, points - 1)  # the cell [k-1, k] containing the event
    rows = np.arange(n_draws)[:, None]
    h_lo, h_hi = h[rows, pos - 1], h[rows, pos]
    step = extra / (points - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(h_hi > h_lo, (np.minimum(e, h_hi) - h_lo) / (h_hi - h_lo), 0.0)
    time = (pos - 1 + np.clip(frac, 0.0, 1.0)) * step
    time = np.where(event, time, extra)
    return event.sum(axis=1).astype(float), time.sum(axis=1)


# --------------------------------------------------------------------------------------------
# EVSI
# --------------------------------------------------------------------------------------------


def simulate(design: Callable, inputs, seed: int | np.random.Generator = 0) -> pd.DataFrame:
    """Summary statistics of one simulated study per PSA draw, as a DataFrame ``(n_draws, s)``.

    ``design(inputs, rng)`` is called once (vectorised over draws) with a generator seeded by
    ``seed``; its result is checked (finite numbers, one row per draw).
    """
    if not callable(design):
        raise HtaError(f"EVSI study design: expected a callable design(inputs, rng); found {type(design).__name__}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    data = design(inputs, rng)
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(dict(data))
    if frame.shape[1] < 1:
        raise HtaError("EVSI study design: expected at least one summary statistic; found none")
    values = frame.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        col = frame.columns[np.argwhere(~np.isfinite(values))[0][1]]
        raise HtaError(f"EVSI summary statistic '{col}': expected finite numbers; found a non-finite value")
    return frame.reset_index(drop=True)


def _check_rows(summaries: pd.DataFrame, n: int) -> None:
    if summaries.shape[0] != n:
        raise HtaError(
            f"EVSI summary statistics: expected {n} rows (one per PSA draw); found {summaries.shape[0]}"
        )


def evsi_from_summaries(nb, summaries, method: str = "gam", *, return_details: bool = False,
                        se_draws: int = 0, seed: int = 0, **options):
    """EVSI per patient given simulated summary statistics (one row per PSA draw).

    Args:
        nb: ``(n_draws, n_strategies)`` net benefits per patient (array or DataFrame); the
            first strategy is the reference.
        summaries: DataFrame (or mapping) of the summary statistics, one row per draw in the
            order of ``nb`` (e.g. from :func:`simulate`).
        method: ``"gam"`` (default, as ``voi``), ``"gp"`` or ``"auto"``.
        return_details: return an :class:`EvsiResult` instead of a float.
        se_draws: draws of the regression coefficients for a standard error (0: none).
        seed, options: passed to :func:`hta.analysis.voi.evppi` (``k``, ``gp_n``).
    """
    frame = summaries if isinstance(summaries, pd.DataFrame) else pd.DataFrame(dict(summaries))
    n = np.asarray(nb).shape[0]
    _check_rows(frame, n)
    names = [str(c) for c in frame.columns]
    frame = frame.set_axis(names, axis=1)
    if not return_details:
        return _regression_voi(nb, frame, names, method, seed=seed, **options)
    res = _regression_voi(nb, frame, names, method, return_details=True, se_draws=se_draws, seed=seed, **options)
    values = np.asarray(nb, dtype=float)
    inb = values[:, 1:] - values[:, :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ((inb - res.fitted[:, 1:]) ** 2).sum(axis=0) / ((inb - inb.mean(axis=0)) ** 2).sum(axis=0)
    return EvsiResult(evsi=res.evppi, evpi=res.evpi, summaries=tuple(names), method=res.method,
                      strategies=res.strategies, fitted=res.fitted, se=res.se, edf=res.edf, r_squared=r2)


def evsi(nb, inputs, design: Callable, method: str = "gam", *, seed: int = 0, return_details: bool = False, **options):
    """EVSI per patient of the study ``design`` (simulate, then regress; Strong et al. 2015).

    Args:
        nb: ``(n_draws, n_strategies)`` net benefits per patient at one WTP.
        inputs: the PSA parameter draws in the order of ``nb`` (passed to ``design``).
        design: a study design (:class:`TwoArmBinary`, :class:`SurvivalFollowUp` or any
            ``design(inputs, rng)``).
        seed: seed of the simulated data (the same seed gives the same EVSI).
        method, return_details, options: as :func:`evsi_from_summaries`.
    """
    summaries = simulate(design, inputs, seed)
    return evsi_from_summaries(nb, summaries, method, return_details=return_details, seed=seed, **options)


def evsi_wtp(costs, effects, summaries, wtp, method: str = "gam", *, seed: int = 0, **options) -> pd.DataFrame:
    """EVSI and EVPI per patient over a grid of willingness-to-pay values.

    As ``voi`` does for cost-effectiveness outputs, the incremental costs and the incremental
    effects are each regressed once on the summary statistics; at each WTP k the fitted INB is
    k * E[dE | T] - E[dC | T].

    Args:
        costs, effects: ``(n_draws, n_strategies)`` per-patient costs and effects (QALYs); the
            first strategy is the reference.
        summaries: summary statistics, one row per draw (from :func:`simulate`).
        wtp: willingness-to-pay values (currency per unit of effect), scalar or 1-D.

    Returns:
        DataFrame indexed by ``wtp`` with columns ``evsi`` and ``evpi`` (per patient).
    """
    c = np.asarray(costs, dtype=float)
    e = np.asarray(effects, dtype=float)
    if c.ndim != 2 or c.shape != e.shape or c.shape[1] < 2:
        raise HtaError(f"EVSI costs and effects: expected two arrays (n_draws, n_strategies >= 2) of the same shape; found {c.shape} and {e.shape}")
    k = np.atleast_1d(np.asarray(wtp, dtype=float))
    if k.ndim != 1 or k.size == 0 or not np.all(np.isfinite(k)):
        raise HtaError(f"EVSI wtp: expected finite willingness-to-pay values; found {wtp!r}")
    fits = []
    for values in (c, e):
        res = evsi_from_summaries(values, summaries, method, return_details=True, seed=seed, **options)
        fits.append(res.fitted)
    fitted_c, fitted_e = fits
    inb = k[:, None, None] * fitted_e[None] - fitted_c[None]  # (W, n, S)
    value = np.maximum(inb.max(axis=2).mean(axis=1) - inb.mean(axis=1).max(axis=1), 0.0)
    perfect = np.array([_evpi(kk * e - c) for kk in k])
    return pd.DataFrame({"evsi": value, "evpi": perfect}, index=pd.Index(k, name="wtp"))


def evsi_sample_sizes(nb, inputs, designs: Mapping[str, Callable], method: str = "gam", *, seed: int = 0,
                      **options) -> pd.DataFrame:
    """EVSI per patient of several designs (e.g. 12, 24, 36 more months), one row each.

    Each design is simulated with the same ``seed``, so neighbouring designs share random
    numbers where their structure allows (common random numbers).

    Returns:
        DataFrame with columns ``design``, ``evsi`` and ``evpi`` (per patient), in the order given.
    """
    if not designs:
        raise HtaError("EVSI designs: expected at least one study design; found none")
    rows = []
    for label, design in designs.items():
        res = evsi(nb, inputs, design, method, seed=seed, return_details=True, **options)
        rows.append({"design": str(label), "evsi": res.evsi, "evpi": res.evpi})
    return pd.DataFrame(rows)


def evsi_replicates(nb, inputs, design: Callable, seeds=(0, 1, 2, 3, 4), method: str = "gam",
                    **options) -> pd.DataFrame:
    """EVSI of one design re-estimated with independently simulated data (one seed each).

    The spread over seeds is the Monte Carlo error of the simulated study (Strong et al. 2015
    report it the same way); use it to state EVSI as mean +/- SD and to choose the number of
    draws and the regression method.

    Returns:
        DataFrame with one row per seed (``seed``, ``evsi``, ``r_squared`` of the first
        comparison), plus ``attrs["mean"]`` and ``attrs["sd"]`` of ``evsi``.
    """
    rows = []
    for s in seeds:
        res = evsi(nb, inputs, design, method, seed=int(s), return_details=True, **options)
        rows.append({"seed": int(s), "evsi": res.evsi, "r_squared": float(res.r_squared[0])})
    table = pd.DataFrame(rows)
    table.attrs["mean"] = float(table["evsi"].mean())
    table.attrs["sd"] = float(table["evsi"].std(ddof=1)) if len(table) > 1 else float("nan")
    return table


def population_evsi(per_patient, patients_per_year, discount_rate: float, years: int | None = None):
    """Population EVSI (or EVPI, EVPPI): per-patient value x discounted patients.

    ``per_patient * sum_y N_y / (1 + r)^(y - 1)`` over decision years y = 1..H; year 1 is
    undiscounted (discrete, per annum), as :func:`hta.analysis.psa.population_evpi`.

    Args:
        per_patient: per-patient value (scalar or array, e.g. the ``evsi`` column).
        patients_per_year: patients facing the decision each year: a scalar (with ``years``)
            or an array ``(H,)``, e.g. the patients a capacity-limited budget impact treats
            (:func:`hta.analysis.capacity.treated_per_year`).
        discount_rate: annual discount rate r >= 0.
        years: the decision's lifetime H in whole years when ``patients_per_year`` is a scalar.
    """
    return population_value(per_patient, patients_per_year, discount_rate, years)
