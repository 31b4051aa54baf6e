"""Cox proportional-hazards regression and the log-rank test for patient-level data.

Written with numpy/scipy (no lifelines, which pins pandas < 3) and checked against R's
``survival`` package (``coxph``, ``survdiff``) to 1e-6 or better; see ``tests/test_cox.py``.

* :func:`coxph` -- partial-likelihood fit with Efron (default, as R) or Breslow handling of
  tied event times, optional strata (a separate baseline hazard per stratum, common
  coefficients). Returns coefficients, standard errors (inverse observed information), hazard
  ratios with confidence intervals, and the likelihood-ratio, Wald and score (log-rank) tests
  of all coefficients being zero, as ``summary(coxph(...))`` prints them.
* :func:`logrank` -- the G-group log-rank test (``survdiff``, ``rho = 0``) or the
  Harrington-Fleming G-rho family (``rho > 0``; ``rho = 1`` is the Peto-Peto modification of
  the Gehan-Wilcoxon test), optionally stratified.

Typical use is on patient data reconstructed from published Kaplan-Meier curves
(:mod:`hta.survival.reconstruct`), to reproduce a trial's reported hazard ratio and log-rank p.

Times may be in any unit (hazard ratios do not depend on it); ``event`` is 1 for an observed
event, 0 for right censoring. Computation is vectorised over patients and event times; the
only Python loops are over strata and Newton iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg

from hta.errors import HtaError

__all__ = ["ChiSquareTest", "CoxResult", "LogrankResult", "coxph", "logrank"]

_TIES = ("efron", "breslow")
_MAX_ITER = 50
# Newton stops when the log partial likelihood changes by less than this (relative), as R's
# coxph.control(eps = 1e-9) but tighter, then takes no further step.
_EPS = 1e-12


@dataclass(frozen=True)
class ChiSquareTest:
    """A chi-square test: ``statistic``, degrees of freedom ``df`` and ``p_value``."""

    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes:
        table: one row per covariate: ``coef`` (log hazard ratio per unit of the covariate),
            ``se``, ``hr`` = exp(coef), ``lower``/``upper`` (CI of the HR at ``conf_level``),
            ``z`` and two-sided Wald ``p``.
        cov: covariance of the coefficients (inverse observed information), a DataFrame.
        loglik_null, loglik: log partial likelihood at coef = 0 and at the estimate.
        lr, wald, score: tests of all coefficients = 0 (likelihood ratio; Wald at the
            estimate; score at 0, which for one binary covariate is the log-rank test with
            the Cox variance).
        n, n_events, iterations, ties, conf_level, n_strata: as the names say.
    """

    table: pd.DataFrame
    cov: pd.DataFrame
    loglik_null: float
    loglik: float
    lr: ChiSquareTest
    wald: ChiSquareTest
    score: ChiSquareTest
    n: int
    n_events: int
    iterations: int
    ties: str
    conf_level: float
    n_strata: int

    @property
    def coef(self) -> pd.Series:
        return self.table["coef"]

    @property
    def hazard_ratio(self) -> pd.Series:
        return self.table["hr"]


@dataclass(frozen=True)
class LogrankResult:
    """A (stratified) log-rank or G-rho test.

    Attributes:
        statistic, df, p_value: the chi-square test of equal hazards in all groups.
        table: one row per group (index: group label, sorted): ``n``, ``observed`` and
            ``expected`` events (weighted by S(t-)^rho when rho > 0), summed over strata.
        variance: ``(G, G)`` variance matrix of observed - expected.
        rho: the G-rho weight exponent.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    variance: np.ndarray
    rho: float


# ---------------------------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------------------------


def _time_event(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).reshape(-1)
    e = np.asarray(event, dtype=float).reshape(-1)
    if t.size == 0:
        raise HtaError("survival data: expected at least one patient; found none")
    if e.shape != t.shape:
        raise HtaError(f"event: expected {t.size} values (one per time); found {e.size}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise HtaError("time: expected finite times >= 0; found "
                       f"{t[~np.isfinite(t) | (t < 0)][0]!r}")
    if not np.all((e == 0) | (e == 1)):
        raise HtaError(f"event: expected 0 (censored) or 1 (event); found {e[(e != 0) & (e != 1)][0]!r}")
    if e.sum() == 0:
        raise HtaError("event: expected at least one event; found none (all censored)")
    return t, e


def _strata_codes(strata, n: int, what: str = "strata") -> tuple[np.ndarray, int]:
    if strata is None:
        return np.zeros(n, dtype=int), 1
    values = pd.Series(np.asarray(strata).reshape(-1) if not isinstance(strata, pd.Series) else strata.to_numpy())
    if values.size != n:
        raise HtaError(f"{what}: expected {n} labels (one per patient); found {values.size}")
    if values.isna().any():
        raise HtaError(f"{what}: expected a label for every patient; found a missing value at row "
                       f"{int(np.flatnonzero(values.isna().to_numpy())[0])}")
    codes, uniques = pd.factorize(values, sort=True)
    return codes, len(uniques)


def _covariates(covariates, n: int) -> tuple[np.ndarray, list[str]]:
    if isinstance(covariates, pd.DataFrame):
        names = [str(c) for c in covariates.columns]
        try:
            x = covariates.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise HtaError("covariates: expected numeric columns (code categories as 0/1 dummies); "
                           f"found dtypes {dict(covariates.dtypes.astype(str))}") from None
    elif isinstance(covariates, pd.Series):
        names = [str(covariates.name) if covariates.name is not None else "x1"]
        x = covariates.to_numpy(dtype=float)[:, None]
    else:
        x = np.asarray(covariates, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        names = [f"x{j + 1}" for j in range(x.shape[1])] if x.ndim == 2 else []
    if x.ndim != 2 or x.shape[0] != n or x.shape[1] == 0:
        raise HtaError(f"covariates: expected {n} rows (one per patient) and at least one column; "
                       f"found shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise HtaError(f"covariate '{names[col]}': expected finite values (drop rows with missing values "
                       f"first, as R's na.omit does); found {x[row, col]} at row {row}")
    constant = [names[j] for j in range(x.shape[1]) if np.ptp(x[:, j]) == 0]
    if constant:
        raise HtaError(f"covariate '{constant[0]}': expected values that vary between patients; found a constant")
    return x, names


# ---------------------------------------------------------------------------------------------
# Cox partial likelihood
# ---------------------------------------------------------------------------------------------


class _Stratum:
    """The fixed structure of one stratum: rows sorted by time, groups of tied times."""

    def __init__(self, t: np.ndarray, e: np.ndarray, x: np.ndarray, efron: bool):
        order = np.argsort(t, kind="stable")
        self.t, self.e, self.x = t[order], e[order], x[order]
        _, first = np.unique(self.t, return_index=True)
        d = np.add.reduceat(self.e, first)
        has = d > 0
        self.d_index = np.flatnonzero(has)  # positions of the event times among all distinct times
        self.first = first[has]            # index of the first row of each event time
        self.d = d[has]                    # number of events at that time
        self.all_first = first
        self.sum_x_dead = np.add.reduceat(self.e[:, None] * self.x, first, axis=0)[has]  # (G, p)
        # One row per event for the tie correction: event time index and the Efron fraction l/d
        self.rep = np.repeat(np.arange(self.d.size), self.d.astype(int))
        if efron:
            start = np.repeat(np.cumsum(self.d) - self.d, self.d.astype(int))
            self.frac = (np.arange(self.rep.size) - start) / self.d[self.rep]
        else:
            self.frac = np.zeros(self.rep.size)

    def terms(self, beta: np.ndarray, second: bool = True):
        """Log partial likelihood, score and information of this stratum at ``beta``."""
        eta = self.x @ beta
        shift = eta.max()
        r = np.exp(eta - shift)
        xr = self.x * r[:, None]
        s0 = np.cumsum(r[::-1])[::-1][self.first]
        s1 = np.cumsum(xr[::-1], axis=0)[::-1][self.first]
        dead = self.e
        d0 = np.add.reduceat(dead * r, self.all_first)[self.d_index]
        d1 = np.add.reduceat(dead[:, None] * xr, self.all_first, axis=0)[self.d_index]
        f = self.frac
        s0l = s0[self.rep] - f * d0[self.rep]
        s1l = s1[self.rep] - f[:, None] * d1[self.rep]
        a = s1l / s0l[:, None]
        loglik = float(np.sum(dead * (eta - shift)) - np.sum(np.log(s0l)))
        score = self.sum_x_dead.sum(axis=0) - a.sum(axis=0)
        if not second:
            return loglik, score, None
        xxr = self.x[:, :, None] * xr[:, None, :]
        s2 = np.cumsum(xxr[::-1], axis=0)[::-1][self.first]
        d2 = np.add.reduceat(dead[:, None, None] * xxr, self.all_first, axis=0)[self.d_index]
        s2l = s2[self.rep] - f[:, None, None] * d2[self.rep]
        info = np.sum(s2l / s0l[:, None, None], axis=0) - a.T @ a
        return loglik, score, info


def _totals(strata: list[_Stratum], beta: np.ndarray, second: bool = True):
    p = beta.size
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in strata:
        ll, u, i = s.terms(beta, second)
        loglik += ll
        score += u
        if second:
            info += i
    return loglik, score, info


def _solve(info: np.ndarray, vector: np.ndarray, names: list[str]) -> np.ndarray:
    try:
        factor = linalg.cho_factor(info)
    except linalg.LinAlgError:
        raise HtaError("covariates: expected linearly independent covariates with information in the data; "
                       f"found a singular information matrix for {', '.join(names)} (collinear columns, or "
                       "a covariate that separates events perfectly)") from None
    return linalg.cho_solve(factor, vector)


def coxph(time, event, covariates, *, ties: str = "efron", strata=None, conf_level: float = 0.95) -> CoxResult:
    """Fit a Cox proportional-hazards model by Newton-Raphson on the partial likelihood.

    Args:
        time: ``(n,)`` follow-up times >= 0, any unit.
        event: ``(n,)`` 1 = event, 0 = censored.
        covariates: ``(n,)`` or ``(n, p)`` numbers, a Series or a DataFrame (column names are
            the coefficient names). Categories must be given as 0/1 dummy columns (the
            reference level left out), as R's model matrix does; rows with missing values must
            be dropped first.
        ties: ``"efron"`` (R's default) or ``"breslow"``.
        strata: optional ``(n,)`` labels; each stratum has its own baseline hazard.
        conf_level: level of the hazard-ratio intervals.

    Returns:
        :class:`CoxResult`. Hazard ratios are per unit increase of each covariate.
    """
    if ties not in _TIES:
        raise HtaError(f"ties: expected one of {', '.join(_TIES)}; found {ties!r}")
    level = float(conf_level)
    if not 0.0 < level < 1.0:
        raise HtaError(f"conf_level: expected a number in (0, 1); found {conf_level!r}")
    t, e = _time_event(time, event)
    x, names = _covariates(covariates, t.size)
    codes, n_strata = _strata_codes(strata, t.size)
    # Centring the covariates changes neither the estimates nor the likelihood, and keeps
    # exp(x beta) well scaled (R centres too).
    xc = x - x.mean(axis=0)
    groups = [_Stratum(t[codes == k], e[codes == k], xc[codes == k], ties == "efron") for k in range(n_strata)]
    groups = [g for g in groups if g.d.size > 0]

    beta = np.zeros(x.shape[1])
    loglik0, score0, info0 = _totals(groups, beta)
    score_stat = float(score0 @ _solve(info0, score0, names))
    loglik, score, info = loglik0, score0, info0
    iterations = 0
    for iterations in range(1, _MAX_ITER + 1):
        step = _solve(info, score, names)
        new = beta + step
        new_ll, new_score, new_info = _totals(groups, new)
        halvings = 0
        while not (np.isfinite(new_ll) and new_ll >= loglik - _EPS * max(1.0, abs(loglik))) and halvings < 30:
            step = step / 2.0
            new = beta + step
            new_ll, new_score, new_info = _totals(groups, new)
            halvings += 1
        converged = abs(new_ll - loglik) <= _EPS * max(1.0, abs(new_ll)) and halvings == 0
        beta, loglik, score, info = new, new_ll, new_score, new_info
        if converged:
            break
    else:
        raise HtaError(f"Cox model: expected the Newton iterations to converge; found no convergence after "
                       f"{_MAX_ITER} iterations (coefficients {np.round(beta, 4).tolist()}: a covariate may "
                       "separate events perfectly)")

    cov = linalg.inv(info)
    cov = 0.5 * (cov + cov.T)
    # R's check (coxph.fit): the likelihood converged while a coefficient still moves, i.e. the
    # next Newton step is not negligible relative to the coefficient -> monotone likelihood
    remaining = np.abs(cov @ score)
    infinite = (remaining > 1e-9) & (remaining > np.sqrt(1e-9) * np.abs(beta))
    if infinite.any() or not np.all(np.isfinite(cov)):
        bad = names[int(np.flatnonzero(infinite)[0])] if infinite.any() else names[0]
        raise HtaError(f"covariate '{bad}': expected a finite hazard ratio; found a coefficient that grows "
                       f"without bound ({beta[names.index(bad)]:.3g} after {iterations} iterations): the "
                       "covariate separates patients with and without events (monotone likelihood)")
    from scipy import stats  # here, not at import: scipy.stats takes 0.2-0.3 s to import

    se = np.sqrt(np.diag(cov))
    z = beta / se
    q = stats.norm.ppf(0.5 + level / 2.0)
    table = pd.DataFrame({"coef": beta, "se": se, "hr": np.exp(beta), "lower": np.exp(beta - q * se),
                          "upper": np.exp(beta + q * se), "z": z, "p": 2.0 * stats.norm.sf(np.abs(z))},
                         index=pd.Index(names, name="covariate"))
    p = beta.size
    wald = float(beta @ info @ beta)
    lr = 2.0 * (loglik - loglik0)
    return CoxResult(
        table=table,
        cov=pd.DataFrame(cov, index=names, columns=names),
        loglik_null=loglik0,
        loglik=loglik,
        lr=ChiSquareTest(lr, p, float(stats.chi2.sf(lr, p))),
        wald=ChiSquareTest(wald, p, float(stats.chi2.sf(wald, p))),
        score=ChiSquareTest(score_stat, p, float(stats.chi2.sf(score_stat, p))),
        n=int(t.size),
        n_events=int(e.sum()),
        iterations=iterations,
        ties=ties,
        conf_level=level,
        n_strata=n_strata,
    )


# ---------------------------------------------------------------------------------------------
# Log-rank and G-rho tests
# ---------------------------------------------------------------------------------------------


def _logrank_stratum(t, e, g, n_groups, rho):
    """Observed, expected (weighted) and variance (G, G) of one stratum."""
    order = np.argsort(t, kind="stable")
    t, e, g = t[order], e[order], g[order]
    onehot = np.zeros((t.size, n_groups))
    onehot[np.arange(t.size), g] = 1.0
    _, first = np.unique(t, return_index=True)
    at_risk_g = np.cumsum(onehot[::-1], axis=0)[::-1][first]          # (T, G) n_gt
    dead_g = np.add.reduceat(e[:, None] * onehot, first, axis=0)      # (T, G) d_gt
    n_t = at_risk_g.sum(axis=1)
    d_t = dead_g.sum(axis=1)
    if rho != 0.0:
        # S(t-) of the pooled Kaplan-Meier curve of the stratum (R survdiff)
        km = np.cumprod(1.0 - d_t / n_t)
        w = np.concatenate([[1.0], km[:-1]]) ** rho
    else:
        w = np.ones(n_t.size)
    share = at_risk_g / n_t[:, None]
    observed = (w[:, None] * dead_g).sum(axis=0)
    expected = (w[:, None] * d_t[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_t > 1, w**2 * d_t * (n_t - d_t) / (n_t - 1.0), 0.0)
    variance = np.einsum("t,tg->g", factor, share)
    variance = np.diag(variance) - np.einsum("t,tg,th->gh", factor, share, share)
    return observed, expected, variance


def logrank(time, event, group, *, strata=None, rho: float = 0.0) -> LogrankResult:
    """Log-rank test of equal survival in G groups (R ``survdiff``).

    Args:
        time, event: as for :func:`coxph`.
        group: ``(n,)`` group labels (2 or more distinct values).
        strata: optional ``(n,)`` labels; observed, expected and variance are summed over
            strata (the stratified log-rank test).
        rho: G-rho weights S(t-)^rho with S the pooled Kaplan-Meier curve (0 = log-rank,
            1 = Peto-Peto).

    The statistic is (O - E)' V^- (O - E) over the groups, V the hypergeometric variance,
    on G - 1 degrees of freedom.
    """
    t, e = _time_event(time, event)
    codes, n_groups = _strata_codes(group, t.size, "group")
    labels = pd.factorize(pd.Series(np.asarray(group).reshape(-1)), sort=True)[1]
    if n_groups < 2:
        raise HtaError(f"group: expected at least 2 distinct groups; found {n_groups}")
    if not np.isfinite(rho) or rho < 0:
        raise HtaError(f"rho: expected a number >= 0; found {rho!r}")
    s_codes, n_strata = _strata_codes(strata, t.size)
    observed = np.zeros(n_groups)
    expected = np.zeros(n_groups)
    variance = np.zeros((n_groups, n_groups))
    for k in range(n_strata):
        keep = s_codes == k
        o, ex, v = _logrank_stratum(t[keep], e[keep], codes[keep], n_groups, float(rho))
        observed += o
        expected += ex
        variance += v
    diff = observed - expected
    # R: df = rank of the variance; the statistic with a generalised inverse
    df = int(np.linalg.matrix_rank(variance, tol=1e-10 * max(np.abs(variance).max(), 1e-300)))
    if df == 0:
        raise HtaError("log-rank test: expected events while more than one group is at risk; found none")
    statistic = float(diff @ np.linalg.pinv(variance, rcond=1e-10, hermitian=True) @ diff)
    table = pd.DataFrame({"n": np.bincount(codes, minlength=n_groups), "observed": observed,
                          "expected": expected}, index=pd.Index(labels, name="group"))
    from scipy import stats  # here, not at import: scipy.stats takes 0.2-0.3 s to import

    return LogrankResult(statistic, df, float(stats.chi2.sf(statistic, df)), table, variance, float(rho))
