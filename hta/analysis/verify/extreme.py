"""Extreme-value checks: each builds one batch (or one changed model) and evaluates it in one call."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.analysis.verify.access import ModelUnderTest, close, line_name, lines, totals, undiscounted
from hta.analysis.verify.report import EXTREME, FAIL, NA, PASS, RTOL, Check, fmt
from hta.errors import HtaError
from hta.params import Batch
from hta.protocol import capabilities


def check_costs_zero(m: ModelUnderTest, base: Batch, roles: pd.DataFrame) -> Check:
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
    observed = ", ".join(f"{s}: {fmt(v)}" for s, v in zip(m.strategies, c))
    detail = f"{len(costs)} cost parameters set to 0"
    if worst <= 1e-6:
        return Check(EXTREME, name, PASS, expected, observed, detail)
    ls = lines(out, m.strategies) or {}
    bad = [f"{line_name(k)} = {fmt(v[0, 0])}" for k, v in ls.items() if k[1] == "cost" and abs(v[0, 0]) > 1e-6]
    why = ("nonzero cost lines: " + "; ".join(bad[:5])) if bad else "the costs do not all come from cost parameters"
    return Check(EXTREME, name, FAIL, expected, observed, f"{detail}; {why}")


def check_utilities_one(m: ModelUnderTest, base: Batch, roles: pd.DataFrame) -> Check:
    name = "all utilities one gives QALYs equal to LYs"
    utils = roles.loc[roles["role"] == "utility", "name"].tolist()
    dis = roles.loc[roles["role"] == "disutility", "name"].tolist()
    expected = "QALYs = LYs for every strategy and state (discounted and undiscounted)"
    if not utils:
        return Check(EXTREME, name, NA, expected, "", "no utility parameters (names u_*, or a unit containing 'utility')")
    batch = base.with_values({**{u: 1.0 for u in utils}, **{d: 0.0 for d in dis}})
    detail = f"{len(utils)} utilities set to 1, {len(dis)} utility decrements set to 0"
    # A model whose utilities are age-adjusted (a general-population multiplier below 1) offers a
    # copy without the adjustment; the identity QALYs = LYs holds for that copy.
    model = None
    if hasattr(m.model, "without_age_adjustment"):
        model = m.model.without_age_adjustment()
        detail += "; age adjustment of utilities off (model.without_age_adjustment())"
    out, err = m.try_evaluate(batch, model=model)
    if err:
        return Check(EXTREME, name, FAIL, expected, err, detail)
    t = totals(out, 1)
    observed = ", ".join(f"{s}: QALYs {fmt(q)}, LYs {fmt(y)}" for s, q, y in zip(m.strategies, t["qalys"][0], t["lys"][0]))
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
                if not np.all(close(q, y, atol=1e-12)):
                    where = f"state '{state}'" if state else "one-off QALY changes"
                    problems.append(f"strategy '{s}', {where}: QALYs {fmt(q[0, 0])} vs LYs {fmt(y[0, 0])}")
    und = undiscounted(out, m.strategies, 1)
    pairs = [("discounted", t["qalys"][0], t["lys"][0])]
    if und is not None:
        pairs.append(("undiscounted", und["qalys"][0], und["lys"][0]))
    for label, q, y in pairs:
        for s, a, b in zip(m.strategies, q, y):
            if not close(a, b, atol=1e-12):
                problems.append(f"strategy '{s}' ({label}): QALYs {fmt(a)} vs LYs {fmt(b)}")
    if problems:
        return Check(EXTREME, name, FAIL, expected, observed, f"{detail}; " + "; ".join(problems[:6]))
    return Check(EXTREME, name, PASS, expected, observed, detail)


def _has_settings(model, *names) -> bool:
    s = model.settings
    return capabilities(model).reconfigurable and s is not None and all(hasattr(s, n) for n in names)


def check_discount_zero(m: ModelUnderTest, base: Batch, base_out) -> Check:
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
            obs.append(f"{s} {measure} {fmt(a)} vs {fmt(b)}")
            if not close(a, b, atol=1e-9):
                problems.append(f"strategy '{s}' {measure}: {fmt(a)} at 0% vs {fmt(b)} undiscounted")
    st = m.model.settings
    detail = f"base case discounting {st.discount_costs:g} (costs), {st.discount_outcomes:g} (outcomes) per annum"
    if problems:
        return Check(EXTREME, name, FAIL, expected, "; ".join(problems[:6]), detail)
    return Check(EXTREME, name, PASS, expected, "; ".join(obs), detail)


def check_identical_efficacy(m: ModelUnderTest, base: Batch, roles: pd.DataFrame) -> Check:
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
        how += "; one-off QALY changes excluded (" + ", ".join(f"{s}: {fmt(v)}" for s, v in one_off.items()) + ")"
    else:
        qalys = t["qalys"][0]
    observed = ", ".join(f"{s}: LYs {fmt(y)}, QALYs {fmt(q)}" for s, y, q in zip(m.strategies, lys, qalys))
    ok = np.all(close(lys, lys[0], atol=1e-12)) and np.all(close(qalys, qalys[0], atol=1e-12))
    return Check(EXTREME, name, PASS if ok else FAIL, expected, observed, how)


def check_one_cycle(m: ModelUnderTest) -> Check:
    name = "a one-cycle horizon"
    if not _has_settings(m.model, "horizon_years") or getattr(m.model, "grid", None) is None:
        return Check(EXTREME, name, NA, "", "", "the model has no with_settings(horizon_years=) and grid")
    dt = float(m.model.grid.cycle_years)
    expected = f"one cycle; finite results; 0 <= LYs <= {fmt(dt)} years (one cycle); QALYs <= LYs + one-off QALYs"
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
            problems.append(f"strategy '{s}': LYs {fmt(y)} outside [0, {fmt(dt)}]")
        gain = sum(max(float(v[0, 0]), 0.0) for k, v in ls.items() if k[0] == s and k[1] == "qaly" and not k[3])
        if q > y + gain + 1e-12:
            problems.append(f"strategy '{s}': QALYs {fmt(q)} exceed LYs {fmt(y)}")
    observed = ", ".join(f"{s}: LYs {fmt(y)}, QALYs {fmt(q)}, costs {fmt(c)}"
                         for s, c, q, y in zip(m.strategies, t["costs"][0], t["qalys"][0], t["lys"][0]))
    if problems:
        return Check(EXTREME, name, FAIL, expected, observed, "; ".join(problems))
    return Check(EXTREME, name, PASS, expected, observed, f"horizon {fmt(dt)} years")


def check_price_doubling(m: ModelUnderTest, base: Batch, roles: pd.DataFrame) -> Check:
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
            if not np.all(close(t[measure][i], t[measure][0], atol=1e-12)):
                problems.append(f"{p}: doubling it changed {measure} ({', '.join(fmt(v) for v in t[measure][i])} "
                                f"vs {', '.join(fmt(v) for v in t[measure][0])})")
        if ls is None:  # totals only: the price-attributable cost doubles
            d_up = t["costs"][i] - t["costs"][0]
            d_own = t["costs"][0] - t["costs"][i + len(prices)]
            observed.append(f"{p}: cost change {', '.join(fmt(v) for v in d_up)} vs its cost {', '.join(fmt(v) for v in d_own)}")
            if not np.all(close(d_up, d_own, atol=1e-6)):
                problems.append(f"{p}: doubling it raised costs by {', '.join(fmt(v) for v in d_up)}, "
                                f"expected {', '.join(fmt(v) for v in d_own)}")
            continue
        changed = {k: v for k, v in ls.items() if k[1] == "cost" and not np.all(close(v[:, i], v[:, 0], atol=1e-9))}
        other = [k for k, v in ls.items() if k[1] != "cost" and not np.all(close(v[:, i], v[:, 0], atol=1e-12))]
        if not changed:
            problems.append(f"{p}: doubling it changed no cost line")
        per_strategy: dict = {}
        for k in changed:
            per_strategy.setdefault(k[0], []).append(k)
        for s, keys in per_strategy.items():
            if len(keys) > 1:
                problems.append(f"{p}: doubling it changed {len(keys)} cost lines of strategy '{s}' "
                                f"({'; '.join(line_name(k) for k in keys)}): is it counted twice?")
        for k, v in changed.items():
            if not np.all(close(v[:, i], 2.0 * v[:, 0], atol=1e-9)):
                problems.append(f"{p}: {line_name(k)} went from {fmt(v[0, 0])} to {fmt(v[0, i])} (expected {fmt(2 * v[0, 0])})")
            observed.append(f"{p}: {line_name(k)} {fmt(v[0, 0])} -> {fmt(v[0, i])}")
            if "per patient" in (m.table[p].unit or "").lower() and not k[3] and v[1, 0] > price * (1 + RTOL):
                problems.append(f"{p}: {line_name(k)} is {fmt(v[1, 0])} undiscounted, more than the price per "
                                f"patient {fmt(price)}: is it counted twice?")
        if other:
            problems.append(f"{p}: doubling it changed non-cost lines: {'; '.join(line_name(k) for k in other[:3])}")
    detail = f"prices: {', '.join(prices)}"
    if problems:
        return Check(EXTREME, name, FAIL, expected, "; ".join(observed[:6]), detail + "; " + "; ".join(problems[:6]))
    return Check(EXTREME, name, PASS, expected, "; ".join(observed[:6]), detail)
