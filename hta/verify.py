"""Model verification: the black-box checks a reviewer runs (TECH-VER), on any ``hta`` model.

``verify(model)`` runs a battery of checks on a model that follows the protocol of
``docs/architecture.md`` (``parameters``, ``strategies``, ``evaluate(batch)``) and returns a
:class:`VerificationReport`: one row per check with its status (``pass``, ``fail``, ``reported``,
``not applicable``), what was expected, what was observed, and where. The checks and the
conventions they rely on are documented in ``docs/verification.md``; in short:

* **Extreme values** (one model call each): every cost parameter at 0 gives zero costs; every
  utility at 1 and every utility decrement at 0 gives QALYs equal to LYs; discount rates of 0
  give the undiscounted totals; identical efficacy gives identical LYs and QALYs; a one-cycle
  horizon gives at most one cycle of life; doubling a price doubles its cost line and nothing
  else.
* **Structure** (on the sweep batch, traces on request): traces sum to 1, no negative
  occupancy, dead states never decrease, no survival curve rises or leaves [0, 1], survival never
  exceeds the general population's, PSM curves do not cross (or the capping is reported),
  transition matrices are valid.
* **Parameter sweeps**: every parameter at its low and high values and at its 0.1% and 99.9%
  PSA quantiles (one batch, one call) gives finite results; parameter values stay in their
  natural ranges; PSA means equal the deterministic results for parameters that enter linearly.

What a check needs from a model beyond the protocol, it asks for by name and reports the check
"not applicable" (with the reason) when the model does not offer it:

* parameter *roles* come from the parameter table (names, units, groups: :func:`parameter_roles`)
  or from ``model.parameter_roles`` (a dict ``name -> role``), which takes precedence;
* ``model.evaluate(batch, keep_cohort=True)`` for traces (``Outcomes.results[s].cohort``) and
  ``Outcomes.results[s].lines`` for disaggregated lines;
* ``model.with_settings(...)`` and ``model.grid`` for the discounting and horizon checks;
* ``model.with_identical_efficacy()``, or relative-effect parameters, for the efficacy check;
* ``model.survival_curves(batch)``, ``model.general_population_survival()`` (or
  ``model.background_cumhaz()``) and ``model.transition_matrices(batch)`` for the curve and
  matrix checks.

No loop runs over samples: each check builds one batch and evaluates it in one call. Units:
costs in the model's currency, LYs and QALYs in years, as the model reports them.
"""

from __future__ import annotations

import inspect
import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.params import Batch

__all__ = ["PASS", "FAIL", "NA", "Check", "VerificationReport", "parameter_roles", "verify"]

PASS, FAIL, NA = "pass", "fail", "not applicable"

EXTREME, STRUCTURE, SWEEP = "extreme values", "structure", "parameter sweeps"

#: Relative tolerance of equalities between model results (floating-point noise only).
RTOL = 1e-9
#: Absolute tolerance on proportions (trace sums, occupancy, survival).
PTOL = 1e-9
#: PSA quantiles of the extreme sweep.
EXTREME_QUANTILES = (0.001, 0.999)

_CURRENCY = re.compile(r"^\s*(HK\$|US\$|A\$|C\$|S\$|NZ\$|\$|£|€|¥|HKD|USD|GBP|EUR|RMB|CNY|JPY|AUD|CAD)", re.I)
_EFFECT_NAME = re.compile(r"^(hr|rr|or|irr|af)(_|$)", re.I)
_EFFECT_UNITS = ("hazard ratio", "relative risk", "risk ratio", "odds ratio", "rate ratio", "acceleration factor")
ROLES = ("price", "cost", "utility", "disutility", "probability", "effect", "other")


@dataclass
class Check:
    """One verification check: status, what was expected, what was observed, and where."""

    section: str
    check: str
    status: str
    expected: str
    observed: str
    detail: str = ""


@dataclass
class VerificationReport:
    """The checks of one model, with the number of model calls and rows and the run time (s)."""

    model: str
    checks: list
    elapsed: float = 0.0
    calls: int = 0
    rows: int = 0
    roles: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["name", "role", "from"]))

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(c) for c in self.checks],
                            columns=["section", "check", "status", "expected", "observed", "detail"])

    @property
    def failed(self) -> list:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict:
        out = {s: 0 for s in (PASS, FAIL, NA)}
        for c in self.checks:
            out[c.status] += 1
        return out

    def summary_line(self) -> str:
        k = self.counts()
        return (f"{len(self.checks)} checks: {k[PASS]} passed, {k[FAIL]} failed, "
                f"{k[NA]} not applicable ({self.calls} model calls, {self.rows:,} parameter sets, "
                f"{self.elapsed:.1f} s)")

    def console(self) -> str:
        """A console summary: one line per check, failures with expected and observed values."""
        mark = {PASS: "ok  ", FAIL: "FAIL", NA: "n/a "}
        lines = [f"Verification of model '{self.model}' (TECH-VER black-box checks)"]
        section = None
        for c in self.checks:
            if c.section != section:
                section = c.section
                lines.append(f"  {section}")
            lines.append(f"    [{mark[c.status]}] {c.check}")
            if c.status == FAIL:
                lines.append(f"           expected: {c.expected}")
                lines.append(f"           observed: {c.observed}")
                lines.append(f"           {c.detail}")
            elif c.status == NA:
                lines.append(f"           {c.detail}")
            elif c.observed:
                lines.append(f"           {_clip(c.observed)}")
        lines.append("  " + self.summary_line())
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Parameter roles


def _role(p) -> str:
    name, unit, group = p.name.lower(), (p.unit or "").strip().lower(), (p.group or "").lower()
    is_cost = name.startswith("c_") or bool(_CURRENCY.match(p.unit or ""))
    if is_cost:
        return "price" if ("price" in name or "price" in group) else "cost"
    if name.startswith("du_") or "decrement" in unit or "disutility" in unit:
        return "disutility"
    if name.startswith("u_") or "utility" in unit:
        return "utility"
    if name.startswith("p_") or unit in ("probability", "proportion"):
        return "probability"
    if _EFFECT_NAME.match(name) or unit in _EFFECT_UNITS:
        return "effect"
    return "other"


def parameter_roles(table, overrides: dict | None = None) -> pd.DataFrame:
    """The role of every parameter of ``table``: one row per parameter (name, role, why).

    Convention (``docs/verification.md``): a **cost** has a name starting ``c_`` or a unit
    starting with a currency (``HK$``, ``GBP``, ...); a **price** is a cost whose name or group
    contains "price"; a **disutility** starts ``du_`` or has "decrement"/"disutility" in its unit;
    a **utility** starts ``u_`` or has "utility" in its unit; a **probability** starts ``p_`` or
    has unit "probability"/"proportion"; a relative **effect** (null value 1) is named ``hr``,
    ``rr``, ``or`` (alone or as a prefix ``hr_``...) or has a ratio unit. ``overrides``
    (``model.parameter_roles``) maps names to roles and wins over the convention.
    """
    overrides = dict(overrides or {})
    unknown = [n for n in overrides if n not in table]
    if unknown:
        raise HtaError(f"parameter_roles: no parameter named '{unknown[0]}' in the table")
    bad = [r for r in overrides.values() if r not in ROLES]
    if bad:
        raise HtaError(f"parameter_roles: role must be one of {', '.join(ROLES)}; found '{bad[0]}'")
    rows = []
    for p in table.parameters:
        if p.name in overrides:
            rows.append({"name": p.name, "role": overrides[p.name], "from": "model.parameter_roles"})
        else:
            rows.append({"name": p.name, "role": _role(p), "from": "name/unit/group convention"})
    return pd.DataFrame(rows, columns=["name", "role", "from"])


# ---------------------------------------------------------------------------------------------
# Talking to the model


class _Model:
    """The model under verification, with call counting and uniform access to its outcomes."""

    def __init__(self, model):
        self.model = model
        self.name = str(getattr(model, "name", type(model).__name__))
        try:
            self.table = model.parameters
        except AttributeError:
            raise HtaError(f"model {self.name!r}: expected a 'parameters' attribute (a ParameterTable); found none") from None
        self.strategies = tuple(model.strategies)
        self.calls = 0
        self.rows = 0
        try:
            sig = inspect.signature(model.evaluate)
            self.keeps_cohort = "keep_cohort" in sig.parameters or any(
                p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        except (TypeError, ValueError):
            self.keeps_cohort = False

    def evaluate(self, batch: Batch, *, model=None, cohort: bool = False):
        m = self.model if model is None else model
        self.calls += 1
        self.rows += batch.n
        if cohort and self.keeps_cohort:
            return m.evaluate(batch, keep_cohort=True)
        return m.evaluate(batch)

    def try_evaluate(self, batch, **kw):
        """``(outcomes, None)``, or ``(None, message)`` when the model raised."""
        try:
            out = self.evaluate(batch, **kw)
            totals(out, batch.n)
            return out, None
        except HtaError as err:
            return None, f"the model raised an error: {err}"
        except Exception as err:  # a model defect found by the check, reported not raised
            return None, f"the model raised {type(err).__name__}: {err}"


def totals(out, n: int) -> dict:
    """``{"costs", "qalys", "lys"}`` -> float arrays ``(n, S)`` of an outcomes object."""
    res = {}
    for attr in ("costs", "qalys", "lys"):
        a = np.asarray(getattr(out, attr), dtype=float)
        if a.ndim != 2 or a.shape[0] != n:
            raise HtaError(f"evaluate() must return {attr} of shape (n={n}, strategies); found {a.shape}")
        res[attr] = a
    return res


def _per_strategy(out) -> dict | None:
    results = getattr(out, "results", None)
    return results if isinstance(results, dict) and results else None


def undiscounted(out, strategies, n) -> dict | None:
    """Undiscounted ``costs``, ``qalys``, ``lys`` ``(n, S)``, when the outcomes carry them."""
    res = _per_strategy(out)
    if res is None:
        return None
    try:
        return {m: np.stack([np.broadcast_to(np.asarray(getattr(res[s], f"{m}_undiscounted"), float), (n,))
                             for s in strategies], axis=1) for m in ("costs", "qalys", "lys")}
    except (AttributeError, KeyError):
        return None


def lines(out, strategies) -> dict | None:
    """``(strategy, measure, category, state) -> (2, n)`` (discounted, undiscounted), if available."""
    res = _per_strategy(out)
    if res is None:
        return None
    found = {}
    for s in strategies:
        ls = getattr(res.get(s), "lines", None)
        if not isinstance(ls, dict):
            return None
        for (measure, category, state), v in ls.items():
            found[(s, measure, category, state)] = np.asarray(v, dtype=float)
    return found


def cohorts(out, strategies) -> dict | None:
    res = _per_strategy(out)
    if res is None:
        return None
    found = {s: getattr(res.get(s), "cohort", None) for s in strategies}
    return found if all(c is not None for c in found.values()) else None


def _close(a, b, rtol=RTOL, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))


def _fmt(x) -> str:
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.6g}"
    return f"{x:,.6g}"


def _clip(text: str, width: int = 150) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _line_name(key) -> str:
    s, measure, category, state = key
    return f"{s} {measure} '{category}'" + (f" in '{state}'" if state else "")


# ---------------------------------------------------------------------------------------------
# The sweep batch: base, one-way low/high, extreme PSA quantiles


def sweep_batch(table, quantiles=EXTREME_QUANTILES) -> tuple[Batch, pd.DataFrame]:
    """Base case, every parameter at low and high, every stochastic one at the extreme quantiles.

    Returns the batch and a frame describing each row (``parameter``, ``setting``, ``value``).
    Extreme rows move one parameter to its marginal quantile with the others at base, except
    that members of a Dirichlet block are rescaled in proportion so the block sums to 1 (as in
    ``ParameterTable.one_way``).
    """
    base = table.base()
    ow, ow_rows = table.one_way()
    lo_q, hi_q = quantiles
    level = hi_q - lo_q
    names = table.unit_columns
    values = {n: np.full(2 * len(names), table[n].base) for n in table.names}
    rows = []
    for i, name in enumerate(names):
        p = table[name]
        ext = p.dist.interval(level)[:, p.component]
        for j, (label, v) in enumerate(((f"{lo_q:.1%} quantile", ext[0]), (f"{hi_q:.1%} quantile", ext[1]))):
            r = 2 * i + j
            values[name][r] = v
            if p.block is not None and p.dist.kind.lower().startswith("dirichlet"):
                others = [m for m in p.block if m != name]
                rest = sum(table[m].base for m in others)
                if rest > 0:
                    for m in others:
                        values[m][r] = table[m].base * (1.0 - v) / rest
            rows.append({"parameter": name, "setting": label, "value": float(v)})
    parts = [base, ow]
    if names:
        parts.append(Batch(values, n=2 * len(names)))
    frame = pd.concat([pd.DataFrame([{"parameter": "", "setting": "base case", "value": np.nan}]),
                       ow_rows.rename(columns={"bound": "setting"}), pd.DataFrame(rows)], ignore_index=True)
    return Batch.concat([b for b in parts if b.n]), frame


def _row_label(frame: pd.DataFrame, r: int) -> str:
    row = frame.iloc[r]
    if not row["parameter"]:
        return "the base case"
    return f"row {r}: {row['parameter']} at {row['setting']} ({_fmt(row['value'])})"


# ---------------------------------------------------------------------------------------------
# Extreme-value checks


def _check_costs_zero(m: _Model, base: Batch, roles: pd.DataFrame) -> Check:
    name = "all costs zero gives zero costs"
    costs = roles.loc[roles["role"].isin(["cost", "price"]), "name"].tolist()
    expected = "costs of 0 for every strategy (discounted and undiscounted)"
    if not costs:
        return Check(EXTREME, name, NA, expected, "", "no cost parameters (names c_*, or a currency unit) in the parameter table")
    batch = base.with_values({c: 0.0 for c in costs})
    out, err = m.try_evaluate(batch)
    if err:
        return Check(EXTREME, name, FAIL, expected, err, f"{len(costs)} cost parameters set to 0")
    c = totals(out, 1)["costs"][0]
    und = undiscounted(out, m.strategies, 1)
    worst = np.abs(c).max()
    if und is not None:
        worst = max(worst, np.abs(und["costs"][0]).max())
    observed = ", ".join(f"{s}: {_fmt(v)}" for s, v in zip(m.strategies, c))
    detail = f"{len(costs)} cost parameters set to 0"
    if worst <= 1e-6:
        return Check(EXTREME, name, PASS, expected, observed, detail)
    ls = lines(out, m.strategies) or {}
    bad = [f"{_line_name(k)} = {_fmt(v[0, 0])}" for k, v in ls.items() if k[1] == "cost" and abs(v[0, 0]) > 1e-6]
    why = ("nonzero cost lines: " + "; ".join(bad[:5])) if bad else "the costs do not all come from cost parameters"
    return Check(EXTREME, name, FAIL, expected, observed, f"{detail}; {why}")


def _check_utilities_one(m: _Model, base: Batch, roles: pd.DataFrame) -> Check:
    name = "all utilities one gives QALYs equal to LYs"
    utils = roles.loc[roles["role"] == "utility", "name"].tolist()
    dis = roles.loc[roles["role"] == "disutility", "name"].tolist()
    expected = "QALYs = LYs for every strategy and state (discounted and undiscounted)"
    if not utils:
        return Check(EXTREME, name, NA, expected, "", "no utility parameters (names u_*, or a unit containing 'utility')")
    batch = base.with_values({**{u: 1.0 for u in utils}, **{d: 0.0 for d in dis}})
    detail = f"{len(utils)} utilities set to 1, {len(dis)} utility decrements set to 0"
    out, err = m.try_evaluate(batch)
    if err:
        return Check(EXTREME, name, FAIL, expected, err, detail)
    t = totals(out, 1)
    observed = ", ".join(f"{s}: QALYs {_fmt(q)}, LYs {_fmt(y)}" for s, q, y in zip(m.strategies, t["qalys"][0], t["lys"][0]))
    problems = []
    ls = lines(out, m.strategies)
    if ls is not None:
        for s in m.strategies:
            states = {k[3] for k in ls if k[0] == s and k[1] in ("qaly", "ly")}
            for state in sorted(states):
                q = sum(v for k, v in ls.items() if k[0] == s and k[1] == "qaly" and k[3] == state)
                y = sum(v for k, v in ls.items() if k[0] == s and k[1] == "ly" and k[3] == state)
                q = np.zeros((2, 1)) if np.isscalar(q) else q
                y = np.zeros((2, 1)) if np.isscalar(y) else y
                if not np.all(_close(q, y, atol=1e-12)):
                    where = f"state '{state}'" if state else "one-off QALY changes"
                    problems.append(f"strategy '{s}', {where}: QALYs {_fmt(q[0, 0])} vs LYs {_fmt(y[0, 0])}")
    und = undiscounted(out, m.strategies, 1)
    pairs = [("discounted", t["qalys"][0], t["lys"][0])]
    if und is not None:
        pairs.append(("undiscounted", und["qalys"][0], und["lys"][0]))
    for label, q, y in pairs:
        for s, a, b in zip(m.strategies, q, y):
            if not _close(a, b, atol=1e-12):
                problems.append(f"strategy '{s}' ({label}): QALYs {_fmt(a)} vs LYs {_fmt(b)}")
    if problems:
        return Check(EXTREME, name, FAIL, expected, observed, f"{detail}; " + "; ".join(problems[:6]))
    return Check(EXTREME, name, PASS, expected, observed, detail)


def _has_settings(model, *names) -> bool:
    s = getattr(model, "settings", None)
    return callable(getattr(model, "with_settings", None)) and s is not None and all(hasattr(s, n) for n in names)


def _check_discount_zero(m: _Model, base: Batch, base_out) -> Check:
    name = "discount rates zero give undiscounted totals"
    expected = "costs, QALYs and LYs at 0% equal the base case's undiscounted totals"
    und = undiscounted(base_out, m.strategies, 1)
    if not _has_settings(m.model, "discount_costs", "discount_outcomes"):
        return Check(EXTREME, name, NA, expected, "", "the model has no with_settings(discount_costs=, discount_outcomes=)")
    if und is None:
        return Check(EXTREME, name, NA, expected, "", "the model's outcomes carry no undiscounted totals")
    try:
        zero = m.model.with_settings(discount_costs=0.0, discount_outcomes=0.0)
    except HtaError as err:
        return Check(EXTREME, name, FAIL, expected, f"with_settings raised: {err}")
    out, err = m.try_evaluate(zero.parameters.base(), model=zero)
    if err:
        return Check(EXTREME, name, FAIL, expected, err)
    t = totals(out, 1)
    problems, obs = [], []
    for measure in ("costs", "qalys", "lys"):
        for j, s in enumerate(m.strategies):
            a, b = t[measure][0, j], und[measure][0, j]
            obs.append(f"{s} {measure} {_fmt(a)} vs {_fmt(b)}")
            if not _close(a, b, atol=1e-9):
                problems.append(f"strategy '{s}' {measure}: {_fmt(a)} at 0% vs {_fmt(b)} undiscounted")
    st = m.model.settings
    detail = f"base case discounting {st.discount_costs:g} (costs), {st.discount_outcomes:g} (outcomes) per annum"
    if problems:
        return Check(EXTREME, name, FAIL, expected, "; ".join(problems[:6]), detail)
    return Check(EXTREME, name, PASS, expected, "; ".join(obs), detail)


def _check_identical_efficacy(m: _Model, base: Batch, roles: pd.DataFrame) -> Check:
    name = "identical efficacy gives identical LYs and QALYs"
    expected = "LYs and state QALYs the same for every strategy"
    if len(m.strategies) < 2:
        return Check(EXTREME, name, NA, expected, "", "the model has one strategy")
    hook = getattr(m.model, "with_identical_efficacy", None)
    effects = roles.loc[roles["role"] == "effect", "name"].tolist()
    if callable(hook):
        try:
            same = hook()
        except HtaError as err:
            return Check(EXTREME, name, FAIL, expected, f"with_identical_efficacy raised: {err}")
        out, err = m.try_evaluate(same.parameters.base(), model=same)
        how = "model.with_identical_efficacy(): every strategy given the comparator's efficacy"
    elif effects:
        out, err = m.try_evaluate(base.with_values({e: 1.0 for e in effects}))
        how = f"relative effects set to 1: {', '.join(effects)}"
    else:
        return Check(EXTREME, name, NA, expected, "",
                     "the model has no with_identical_efficacy() and no relative-effect parameters (hr_*, rr_*, or_*)")
    if err:
        return Check(EXTREME, name, FAIL, expected, err, how)
    t = totals(out, 1)
    lys = t["lys"][0]
    ls = lines(out, m.strategies)
    if ls is not None:  # QALYs accrued in states; one-off QALY changes (e.g. adverse events) are safety, not efficacy
        qalys = np.array([sum(float(v[0, 0]) for k, v in ls.items() if k[0] == s and k[1] == "qaly" and k[3])
                          for s in m.strategies])
        one_off = {s: sum(float(v[0, 0]) for k, v in ls.items() if k[0] == s and k[1] == "qaly" and not k[3])
                   for s in m.strategies}
        how += "; one-off QALY changes excluded (" + ", ".join(f"{s}: {_fmt(v)}" for s, v in one_off.items()) + ")"
    else:
        qalys = t["qalys"][0]
    observed = ", ".join(f"{s}: LYs {_fmt(y)}, QALYs {_fmt(q)}" for s, y, q in zip(m.strategies, lys, qalys))
    ok = np.all(_close(lys, lys[0], atol=1e-12)) and np.all(_close(qalys, qalys[0], atol=1e-12))
    return Check(EXTREME, name, PASS if ok else FAIL, expected, observed, how)


def _check_one_cycle(m: _Model) -> Check:
    name = "a one-cycle horizon"
    if not _has_settings(m.model, "horizon_years") or getattr(m.model, "grid", None) is None:
        return Check(EXTREME, name, NA, "", "", "the model has no with_settings(horizon_years=) and grid")
    dt = float(m.model.grid.cycle_years)
    expected = f"one cycle; finite results; 0 <= LYs <= {_fmt(dt)} years (one cycle); QALYs <= LYs + one-off QALYs"
    try:
        one = m.model.with_settings(horizon_years=dt)
        n_cycles = one.grid.n_cycles
    except HtaError as err:
        return Check(EXTREME, name, FAIL, expected, f"with_settings(horizon_years={dt:g}) raised: {err}")
    if n_cycles != 1:
        return Check(EXTREME, name, FAIL, expected, f"the grid has {n_cycles} cycles for a horizon of one cycle")
    out, err = m.try_evaluate(one.parameters.base(), model=one)
    if err:
        return Check(EXTREME, name, FAIL, expected, err)
    t = totals(out, 1)
    ls = lines(out, m.strategies) or {}
    problems = []
    for j, s in enumerate(m.strategies):
        c, q, y = t["costs"][0, j], t["qalys"][0, j], t["lys"][0, j]
        if not np.all(np.isfinite([c, q, y])):
            problems.append(f"strategy '{s}': non-finite result (costs {c}, QALYs {q}, LYs {y})")
            continue
        if y < -1e-12 or y > dt * (1 + RTOL):
            problems.append(f"strategy '{s}': LYs {_fmt(y)} outside [0, {_fmt(dt)}]")
        gain = sum(max(float(v[0, 0]), 0.0) for k, v in ls.items() if k[0] == s and k[1] == "qaly" and not k[3])
        if q > y + gain + 1e-12:
            problems.append(f"strategy '{s}': QALYs {_fmt(q)} exceed LYs {_fmt(y)}")
    observed = ", ".join(f"{s}: LYs {_fmt(y)}, QALYs {_fmt(q)}, costs {_fmt(c)}"
                         for s, c, q, y in zip(m.strategies, t["costs"][0], t["qalys"][0], t["lys"][0]))
    if problems:
        return Check(EXTREME, name, FAIL, expected, observed, "; ".join(problems))
    return Check(EXTREME, name, PASS, expected, observed, f"horizon {_fmt(dt)} years")


def _check_price_doubling(m: _Model, base: Batch, roles: pd.DataFrame) -> Check:
    name = "doubling a price doubles its cost line and nothing else"
    prices = [p for p in roles.loc[roles["role"] == "price", "name"] if m.table[p].base != 0]
    expected = ("one cost line per strategy changes and it doubles; every other line, QALYs and LYs unchanged; "
                "a per-patient price is paid at most once per patient")
    if not prices:
        return Check(EXTREME, name, NA, expected, "", "no price parameters with a nonzero base (costs with 'price' in the name or group)")
    rows = [base] + [base.with_values({p: 2.0 * m.table[p].base}) for p in prices] \
        + [base.with_values({p: 0.0}) for p in prices]
    batch = Batch.concat(rows)
    out, err = m.try_evaluate(batch)
    if err:
        return Check(EXTREME, name, FAIL, expected, err, f"prices: {', '.join(prices)}")
    t = totals(out, batch.n)
    ls = lines(out, m.strategies)
    problems, observed = [], []
    for i, p in enumerate(prices, start=1):
        price = m.table[p].base
        for measure in ("qalys", "lys"):
            if not np.all(_close(t[measure][i], t[measure][0], atol=1e-12)):
                problems.append(f"{p}: doubling it changed {measure} ({', '.join(_fmt(v) for v in t[measure][i])} "
                                f"vs {', '.join(_fmt(v) for v in t[measure][0])})")
        if ls is None:  # totals only: the price-attributable cost doubles
            d_up = t["costs"][i] - t["costs"][0]
            d_own = t["costs"][0] - t["costs"][i + len(prices)]
            observed.append(f"{p}: cost change {', '.join(_fmt(v) for v in d_up)} vs its cost {', '.join(_fmt(v) for v in d_own)}")
            if not np.all(_close(d_up, d_own, atol=1e-6)):
                problems.append(f"{p}: doubling it raised costs by {', '.join(_fmt(v) for v in d_up)}, "
                                f"expected {', '.join(_fmt(v) for v in d_own)}")
            continue
        changed = {k: v for k, v in ls.items() if k[1] == "cost" and not np.all(_close(v[:, i], v[:, 0], atol=1e-9))}
        other = [k for k, v in ls.items() if k[1] != "cost" and not np.all(_close(v[:, i], v[:, 0], atol=1e-12))]
        if not changed:
            problems.append(f"{p}: doubling it changed no cost line")
        per_strategy: dict = {}
        for k in changed:
            per_strategy.setdefault(k[0], []).append(k)
        for s, keys in per_strategy.items():
            if len(keys) > 1:
                problems.append(f"{p}: doubling it changed {len(keys)} cost lines of strategy '{s}' "
                                f"({'; '.join(_line_name(k) for k in keys)}): is it counted twice?")
        for k, v in changed.items():
            if not np.all(_close(v[:, i], 2.0 * v[:, 0], atol=1e-9)):
                problems.append(f"{p}: {_line_name(k)} went from {_fmt(v[0, 0])} to {_fmt(v[0, i])} (expected {_fmt(2 * v[0, 0])})")
            observed.append(f"{p}: {_line_name(k)} {_fmt(v[0, 0])} -> {_fmt(v[0, i])}")
            if "per patient" in (m.table[p].unit or "").lower() and not k[3] and v[1, 0] > price * (1 + RTOL):
                problems.append(f"{p}: {_line_name(k)} is {_fmt(v[1, 0])} undiscounted, more than the price per "
                                f"patient {_fmt(price)}: is it counted twice?")
        if other:
            problems.append(f"{p}: doubling it changed non-cost lines: {'; '.join(_line_name(k) for k in other[:3])}")
    detail = f"prices: {', '.join(prices)}"
    if problems:
        return Check(EXTREME, name, FAIL, expected, "; ".join(observed[:6]), detail + "; " + "; ".join(problems[:6]))
    return Check(EXTREME, name, PASS, expected, "; ".join(observed[:6]), detail)


# ---------------------------------------------------------------------------------------------
# Structural checks


def _first(mask: np.ndarray):
    return tuple(int(v[0]) for v in np.nonzero(mask))


def _structure_checks(m: _Model, batch: Batch, frame: pd.DataFrame, out) -> list:
    checks = []
    cs = cohorts(out, m.strategies) if out is not None else None
    no_trace = ("the model does not expose cohort traces (evaluate(batch, keep_cohort=True) with "
                "Outcomes.results[strategy].cohort)")
    grid = getattr(m.model, "grid", None)
    times = np.asarray(grid.times) if grid is not None else None

    def where(r, k=None):
        text = _row_label(frame, r)
        if k is not None:
            text += f", time point {k}" + (f" ({times[k]:.4g} years)" if times is not None and k < len(times) else "")
        return text

    rows_note = f"{batch.n} parameter sets: base case, low/high and extreme quantiles"
    # Traces sum to 1 -------------------------------------------------------------------------
    name = "traces sum to 1 in every cycle"
    expected = f"|sum of occupancy - 1| <= {PTOL:g}"
    if cs is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", no_trace))
    else:
        worst, info, first = 0.0, "", None
        for s, c in cs.items():
            dev = np.abs(c.trace.sum(axis=2) - 1.0)
            if np.isnan(dev).any():
                dev = np.where(np.isnan(dev), np.inf, dev)
            if dev.max() > worst:
                r, k = _first(dev == dev.max())
                worst, info = float(dev.max()), f"largest: strategy '{s}', {where(r, k)}: occupancy sums to {_fmt(c.trace[r, k].sum())}"
            if dev.max() > PTOL:  # the first failing point: lowest row, then earliest time
                r, k = _first(dev > PTOL)
                if first is None or (r, k) < first[:2]:
                    first = (r, k, f"first: strategy '{s}', {where(r, k)}: occupancy sums to {_fmt(c.trace[r, k].sum())}")
        if first is not None:
            info = first[2] + "; " + info
        checks.append(Check(STRUCTURE, name, PASS if worst <= PTOL else FAIL, expected,
                            f"largest deviation {_fmt(worst)}", info if worst > PTOL else rows_note))
    # No negative occupancy -------------------------------------------------------------------
    name = "no negative state occupancy"
    expected = f"every occupancy >= -{PTOL:g}"
    if cs is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", no_trace))
    else:
        low, info = np.inf, ""
        for s, c in cs.items():
            tr = np.where(np.isnan(c.trace), -np.inf, c.trace)
            if tr.min() < low:
                r, k, j = _first(tr == tr.min())
                low, info = float(tr.min()), f"strategy '{s}', state '{c.states[j]}', {where(r, k)}"
        checks.append(Check(STRUCTURE, name, PASS if low >= -PTOL else FAIL, expected, f"smallest occupancy {_fmt(low)}",
                            info if low < -PTOL else rows_note))
    # Dead state never decreases --------------------------------------------------------------
    name = "dead state never decreases"
    expected = f"occupancy of dead states non-decreasing (tolerance {PTOL:g})"
    if cs is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", no_trace))
    elif not any(c.dead_states for c in cs.values()):
        checks.append(Check(STRUCTURE, name, NA, expected, "", "the cohorts declare no dead state (Cohort.dead_states)"))
    else:
        drop, info = 0.0, ""
        for s, c in cs.items():
            for d in c.dead_states:
                diff = np.diff(c.trace[:, :, c.state_index(d)], axis=1)
                if -diff.min() > drop:
                    r, k = _first(diff == diff.min())
                    drop, info = float(-diff.min()), f"strategy '{s}', state '{d}', {where(r, k + 1)}"
        checks.append(Check(STRUCTURE, name, PASS if drop <= PTOL else FAIL, expected, f"largest fall {_fmt(drop)}",
                            info if drop > PTOL else rows_note))
    # Survival curves ------------------------------------------------------------------------
    curves, curve_err = None, ""
    if callable(getattr(m.model, "survival_curves", None)):
        try:
            curves = {k: np.atleast_2d(np.asarray(v, float)) for k, v in m.model.survival_curves(batch).items()}
        except Exception as err:  # reported as a failed check
            curve_err = f"survival_curves raised {type(err).__name__}: {err}"
    name = "no survival curve rises (and every curve is in [0, 1])"
    expected = f"S(t) non-increasing (tolerance {PTOL:g}), 0 <= S(t) <= 1"
    if curve_err:
        checks.append(Check(STRUCTURE, name, FAIL, expected, curve_err))
    elif curves is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", "the model has no survival_curves(batch)"))
    elif not curves:
        checks.append(Check(STRUCTURE, name, NA, expected, "", "survival_curves(batch) returned no curves"))
    else:
        problems, rise = [], 0.0
        for key, S in curves.items():
            label = " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            diff = np.diff(np.where(np.isnan(S), np.inf, S), axis=1)
            if diff.max() > PTOL:
                r, k = _first(diff == diff.max())
                problems.append(f"curve '{label}' rises by {_fmt(diff.max())} at {where(r, k + 1)}")
            rise = max(rise, float(diff.max()))
            if not (np.nanmin(S) >= -PTOL and np.nanmax(S) <= 1 + PTOL) or np.isnan(S).any():
                problems.append(f"curve '{label}' leaves [0, 1] (from {_fmt(np.nanmin(S))} to {_fmt(np.nanmax(S))})")
        checks.append(Check(STRUCTURE, name, FAIL if problems else PASS, expected, f"largest rise {_fmt(max(rise, 0.0))}",
                            "; ".join(problems[:4]) if problems else f"{len(curves)} curves, {rows_note}"))
    # Survival never above the general population ---------------------------------------------
    name = "survival never exceeds the general population's"
    expected = f"S(t) <= general-population survival (tolerance {PTOL:g})"
    gp, gp_err = None, ""
    try:
        if callable(getattr(m.model, "general_population_survival", None)):
            gp = np.asarray(m.model.general_population_survival(), float).reshape(-1)
        elif callable(getattr(m.model, "background_cumhaz", None)):
            gp = np.exp(-np.asarray(m.model.background_cumhaz(), float).reshape(-1))
    except Exception as err:  # reported as a failed check
        gp_err = f"the general-population survival raised {type(err).__name__}: {err}"
    if gp_err:
        checks.append(Check(STRUCTURE, name, FAIL, expected, gp_err))
    elif gp is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "",
                            "the model has no general_population_survival() or background_cumhaz()"))
    elif curves is None and cs is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", "the model exposes neither survival curves nor traces"))
    else:
        excess, info, compared = -np.inf, "", 0
        series = dict(curves or {})
        for s, c in (cs or {}).items():
            if c.dead_states:
                dead = sum(c.trace[:, :, c.state_index(d)] for d in c.dead_states)
                series[(s, "alive (1 - dead, from the trace)")] = 1.0 - dead
        for key, S in series.items():
            label = " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            if S.shape[1] != gp.shape[0]:
                continue
            compared += 1
            over = S - gp[None, :]
            if over.max() > excess:
                r, k = _first(over == over.max())
                excess, info = float(over.max()), f"curve '{label}', {where(r, k)}: {_fmt(S[r, k])} vs {_fmt(gp[k])}"
        ok = excess <= PTOL
        if not compared:
            checks.append(Check(STRUCTURE, name, NA, expected, "",
                                f"no curve has the {gp.shape[0]} time points of the general-population survival"))
        else:
            checks.append(Check(STRUCTURE, name, PASS if ok else FAIL, expected,
                                f"largest excess {_fmt(max(excess, 0.0))} over {compared} curves", rows_note if ok else info))
    # PSM curves do not cross -----------------------------------------------------------------
    name = "partitioned-survival curves do not cross (or the crossing is reported)"
    expected = "earlier endpoint <= later endpoint (PFS <= OS); any crossing capped by the engine and reported"
    reports = {s: c.report.get("capped") or {} for s, c in (cs or {}).items()
               if isinstance(c.report, dict) and "capped" in c.report}
    if cs is None:
        checks.append(Check(STRUCTURE, name, NA, expected, "", no_trace))
    elif not reports:
        checks.append(Check(STRUCTURE, name, NA, expected, "", "not a partitioned-survival model (no engine crossing report)"))
    else:
        found = {}  # strategy -> text, from the model's own curves (endpoints in the model's order)
        by_strategy: dict = {}
        for key, S in (curves or {}).items():
            if isinstance(key, tuple) and len(key) == 2 and key[0] in reports:
                by_strategy.setdefault(key[0], []).append((key[1], S))
        for s, pairs in by_strategy.items():
            for (e1, S1), (e2, S2) in zip(pairs, pairs[1:]):
                over = S1 > S2 + PTOL
                if over.any():
                    found.setdefault(s, []).append(
                        f"{e1} above {e2} at {int(over.sum())} points in {int(over.any(axis=1).sum())} of {batch.n} "
                        f"parameter sets (base case: {'yes' if over[0].any() else 'no'})")
        for s, rep in reports.items():
            if rep and s not in found:
                found[s] = [f"{curve} capped at {v['points']} points in {v['samples']} of {batch.n} parameter sets"
                            for curve, v in rep.items()]
        unreported = [s for s in found if not reports.get(s)]
        text = "; ".join(f"strategy '{s}': " + ", ".join(v) for s, v in found.items()) or "no crossing"
        if unreported:
            checks.append(Check(STRUCTURE, name, FAIL, expected, text,
                                "crossing not capped or reported by the engine for strategy "
                                + ", ".join(f"'{s}'" for s in unreported)))
        else:
            checks.append(Check(STRUCTURE, name, PASS, expected, text,
                                ("the engine capped the earlier curve at the later one and reported it (Cohort.report); "
                                 if found else "") + rows_note))
    # Transition matrices ---------------------------------------------------------------------
    name = "transition matrices valid"
    expected = f"probabilities in [0, 1], rows summing to 1 (tolerance {PTOL:g})"
    if not callable(getattr(m.model, "transition_matrices", None)):
        checks.append(Check(STRUCTURE, name, NA, expected, "", "the model has no transition_matrices(batch)"))
    else:
        try:
            mats = m.model.transition_matrices(batch)
        except Exception as err:  # reported as a failed check
            checks.append(Check(STRUCTURE, name, FAIL, expected, f"transition_matrices raised {type(err).__name__}: {err}"))
            mats = None
        if mats is not None and not mats:
            structure = getattr(m.model, "structure", "")
            checks.append(Check(STRUCTURE, name, NA, expected, "",
                                f"the model ({structure or 'this structure'}) uses no transition matrices"))
        elif mats:
            checks.append(_matrix_check(name, expected, mats, cs, where))
    return checks


def _matrix_check(name, expected, mats: dict, cs, where) -> Check:
    problems, worst_sum, worst_range = [], 0.0, 0.0
    for s, P in mats.items():
        P = np.asarray(P, float)
        if P.ndim == 2:
            P = P[None]
        if P.ndim == 3:
            P = P[:, None]  # (n, 1, K, K): the same matrix in every cycle
        states = cs[s].states if cs and s in cs else tuple(f"state {i}" for i in range(P.shape[-1]))
        bad_val = np.where(np.isfinite(P), np.maximum(-P, P - 1.0), np.inf)
        if bad_val.max() > PTOL:
            r, j, a, b = _first(bad_val == bad_val.max())
            problems.append(f"strategy '{s}', from '{states[a]}' to '{states[b]}', cycle {j + 1}, {where(r)}: probability {_fmt(P[r, j, a, b])}")
        worst_range = max(worst_range, float(bad_val.max()))
        dev = np.abs(P.sum(axis=-1) - 1.0)
        dev = np.where(np.isnan(dev), np.inf, dev)
        if dev.max() > PTOL:
            r, j, a = _first(dev == dev.max())
            problems.append(f"strategy '{s}', row '{states[a]}', cycle {j + 1}, {where(r)}: row sums to {_fmt(P[r, j, a].sum())}")
        worst_sum = max(worst_sum, float(dev.max()))
    observed = f"largest row-sum deviation {_fmt(worst_sum)}; largest probability outside [0, 1] by {_fmt(max(worst_range, 0.0))}"
    if problems:
        return Check(STRUCTURE, name, FAIL, expected, observed, "; ".join(problems[:4]))
    return Check(STRUCTURE, name, PASS, expected, observed, f"{len(mats)} strategies")


# ---------------------------------------------------------------------------------------------
# Parameter sweeps


def _sweep_finite(name, out_t, frame, mask, expected, detail) -> Check:
    bad_rows = [r for r in np.nonzero(mask)[0]
                if not all(np.all(np.isfinite(out_t[m][r])) for m in ("costs", "qalys", "lys"))]
    n_rows = int(mask.sum())
    if bad_rows:
        names = "; ".join(_row_label(frame, r) for r in bad_rows[:5])
        return Check(SWEEP, name, FAIL, expected, f"non-finite results in {len(bad_rows)} of {n_rows} parameter sets", names)
    return Check(SWEEP, name, PASS, expected, f"finite in all {n_rows} parameter sets", detail)


def _check_ranges(m: _Model, batch: Batch, frame: pd.DataFrame, roles: pd.DataFrame, utility_min: float) -> Check:
    name = "parameter values in their natural ranges"
    expected = (f"probabilities in [0, 1]; costs >= 0; utilities in [{utility_min:g}, 1]; utility decrements >= 0; "
                "relative effects > 0 (base, low/high, extreme quantiles)")
    bounds = {"probability": (0.0, 1.0), "cost": (0.0, np.inf), "price": (0.0, np.inf),
              "utility": (utility_min, 1.0), "disutility": (0.0, np.inf), "effect": (1e-300, np.inf)}
    problems, n_checked = [], 0
    for _, row in roles.iterrows():
        if row["role"] not in bounds:
            continue
        n_checked += 1
        lo, hi = bounds[row["role"]]
        v = batch[row["name"]]
        bad = (v < lo - 1e-12) | (v > hi + 1e-12) | ~np.isfinite(v)
        if bad.any():
            r = int(np.nonzero(bad)[0][0])
            problems.append(f"{row['role']} '{row['name']}' is {_fmt(v[r])} at {_row_label(frame, r).replace('row ', 'sweep row ')}")
    if problems:
        return Check(SWEEP, name, FAIL, expected, f"{len(problems)} parameters out of range", "; ".join(problems[:5]))
    if not n_checked:
        return Check(SWEEP, name, NA, expected, "", "no parameter is a probability, cost, utility, decrement or "
                                                    "relative effect by the role convention")
    return Check(SWEEP, name, PASS, expected, f"{n_checked} parameters with a role checked", "roles from the parameter table (docs/verification.md)")


def _linear_parameters(m: _Model, t: dict, frame: pd.DataFrame) -> list:
    """Scalar stochastic parameters whose low, base and high results lie on a straight line."""
    linear = []
    for name in m.table.unit_columns:
        p = m.table[name]
        if p.block is not None or p.low == p.high or p.low == p.base or p.high == p.base:
            continue
        idx = frame.index[(frame["parameter"] == name) & frame["setting"].isin(["low", "high"])].tolist()
        if len(idx) != 2:
            continue
        lo_r, hi_r = idx
        ok = True
        for measure in ("costs", "qalys", "lys"):
            y0, ylo, yhi = t[measure][0], t[measure][lo_r], t[measure][hi_r]
            s_lo = (y0 - ylo) / (p.base - p.low)
            s_hi = (yhi - y0) / (p.high - p.base)
            scale = np.maximum(np.abs(y0), 1.0)
            if not np.all(np.abs(s_hi - s_lo) * (p.high - p.low) <= 1e-9 * scale):
                ok = False
                break
        if ok:
            linear.append(name)
    return linear


def _check_psa_linear(m: _Model, base_t: dict, linear: list, n: int, seed) -> Check:
    name = "PSA means equal deterministic results for parameters that enter linearly"
    expected = "|PSA mean - deterministic| <= 4 Monte Carlo standard errors, for every strategy and outcome"
    if not linear:
        return Check(SWEEP, name, NA, expected, "", "no stochastic scalar parameter enters the results linearly")
    others = [c for c in m.table.unit_columns if c not in linear]
    draws = m.table.sample(n, seed)
    base = m.table.base()
    if others:
        draws = draws.with_values({c: np.full(n, base[c][0]) for c in others})
    out, err = m.try_evaluate(draws)
    detail = (f"{n:,} draws (seed {seed}) of the {len(linear)} linear parameters, others at base: "
              + ", ".join(linear[:12]) + (" ..." if len(linear) > 12 else ""))
    if err:
        return Check(SWEEP, name, FAIL, expected, err, detail)
    t = totals(out, n)
    worst, info, problems = 0.0, "", []
    for measure in ("costs", "qalys", "lys"):
        mean = t[measure].mean(axis=0)
        se = t[measure].std(axis=0, ddof=1) / np.sqrt(n)
        det = base_t[measure][0]
        diff = np.abs(mean - det)
        tol_abs = 1e-9 * np.maximum(np.abs(det), 1.0)
        z = np.where(diff <= tol_abs, 0.0, diff / np.where(se > 0, se, np.nan))
        z = np.where(np.isnan(z), np.inf, z)
        for j, s in enumerate(m.strategies):
            if z[j] > worst:
                worst, info = float(z[j]), f"{s} {measure}: PSA mean {_fmt(mean[j])} vs deterministic {_fmt(det[j])}"
            if z[j] > 4.0:
                problems.append(f"{s} {measure}: PSA mean {_fmt(mean[j])} vs deterministic {_fmt(det[j])} "
                                f"({z[j]:.1f} standard errors)")
    if problems:
        off = [f"{c} (base {_fmt(m.table[c].base)}, distribution mean {_fmt(m.table[c].dist.mean[0])})"
               for c in linear if not _close(m.table[c].base, m.table[c].dist.mean[0], rtol=1e-6)]
        cause = ("; base value differs from the distribution mean for: " + ", ".join(off[:5])) if off else ""
        return Check(SWEEP, name, FAIL, expected, "; ".join(problems[:4]), detail + cause)
    return Check(SWEEP, name, PASS, expected, f"largest difference {worst:.2f} standard errors ({info})", detail)


# ---------------------------------------------------------------------------------------------
# Entry point


def verify(model, *, psa_draws: int = 2000, seed=None, utility_min: float = 0.0) -> VerificationReport:
    """Run every verification check on ``model`` and return the report.

    Parameters
    ----------
    model : a model following the protocol of ``docs/architecture.md``
    psa_draws : int
        Draws of the linear-parameter PSA check.
    seed : int, optional
        Seed of that PSA (default: ``model.settings.seed``, else 1).
    utility_min : float
        Lowest acceptable utility (0 by default; set it below 0 for models with states worse
        than dead).

    Raises :class:`HtaError` when the base case itself cannot be evaluated (a user error, as in
    ``hta run``); every other failure is a failed check in the report.
    """
    t0 = time.perf_counter()
    m = _Model(model)
    roles = parameter_roles(m.table, getattr(model, "parameter_roles", None))
    if seed is None:
        seed = getattr(getattr(model, "settings", None), "seed", None)
        seed = 1 if seed is None else seed
    base = m.table.base()
    base_out = m.evaluate(base)
    base_t = totals(base_out, 1)
    checks = [
        _check_costs_zero(m, base, roles),
        _check_utilities_one(m, base, roles),
        _check_discount_zero(m, base, base_out),
        _check_identical_efficacy(m, base, roles),
        _check_one_cycle(m),
        _check_price_doubling(m, base, roles),
    ]
    batch, frame = sweep_batch(m.table)
    out, err = m.try_evaluate(batch, cohort=True)
    if err:  # structural checks then run on the base case alone
        sb, sf = base, frame.iloc[:1]
        s_out, s_err = m.try_evaluate(base, cohort=True)
        checks += _structure_checks(m, sb, sf, s_out if not s_err else None)
    else:
        checks += _structure_checks(m, batch, frame, out)
    ow = (frame["setting"].isin(["low", "high"])).to_numpy()
    ext = frame["setting"].str.endswith("quantile").to_numpy()
    name_ow = "every parameter at its low and high values gives finite results"
    name_ext = (f"every parameter at its {EXTREME_QUANTILES[0]:.1%} and {EXTREME_QUANTILES[1]:.1%} "
                "PSA quantiles gives finite results")
    expected = "finite costs, QALYs and LYs for every strategy"
    if err:
        checks += [Check(SWEEP, name_ow, FAIL, expected, err, f"{batch.n} parameter sets in one batch"),
                   Check(SWEEP, name_ext, FAIL, expected, err, f"{batch.n} parameter sets in one batch")]
        linear = []
    else:
        t = totals(out, batch.n)
        checks.append(_sweep_finite(name_ow, t, frame, ow, expected, f"{int(ow.sum()) // 2} parameters with low != high")
                      if ow.any() else Check(SWEEP, name_ow, NA, expected, "", "no parameter has low != high"))
        checks.append(_sweep_finite(name_ext, t, frame, ext, expected, f"{int(ext.sum()) // 2} stochastic dimensions")
                      if ext.any() else Check(SWEEP, name_ext, NA, expected, "", "no stochastic parameters"))
        linear = _linear_parameters(m, t, frame)
    checks.append(_check_ranges(m, batch, frame, roles, utility_min))
    checks.append(_check_psa_linear(m, base_t, linear, int(psa_draws), seed) if not err else
                  Check(SWEEP, "PSA means equal deterministic results for parameters that enter linearly", NA,
                        "", "", "the sweep batch failed, so linearity could not be established"))
    return VerificationReport(model=m.name, checks=checks, elapsed=time.perf_counter() - t0, calls=m.calls, rows=m.rows,
                              roles=roles)
