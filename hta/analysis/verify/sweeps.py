"""Parameter sweeps: the sweep batch (base, low/high, extreme PSA quantiles), finiteness, natural ranges,
and the PSA-mean check for parameters that enter linearly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.analysis.verify.access import ModelUnderTest, close
from hta.analysis.verify.report import EXTREME_QUANTILES, FAIL, NA, PASS, SWEEP, Check, fmt
from hta.params import Batch


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


def row_label(frame: pd.DataFrame, r: int) -> str:
    row = frame.iloc[r]
    if not row["parameter"]:
        return "the base case"
    return f"row {r}: {row['parameter']} at {row['setting']} ({fmt(row['value'])})"




def check_finite(name, out_t, frame, mask, expected, detail) -> Check:
    bad_rows = [r for r in np.nonzero(mask)[0]
                if not all(np.all(np.isfinite(out_t[m][r])) for m in ("costs", "qalys", "lys"))]
    n_rows = int(mask.sum())
    if bad_rows:
        names = "; ".join(row_label(frame, r) for r in bad_rows[:5])
        return Check(SWEEP, name, FAIL, expected, f"non-finite results in {len(bad_rows)} of {n_rows} parameter sets", names)
    return Check(SWEEP, name, PASS, expected, f"finite in all {n_rows} parameter sets", detail)


def check_ranges(m: ModelUnderTest, batch: Batch, frame: pd.DataFrame, roles: pd.DataFrame, utility_min: float) -> Check:
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
            problems.append(f"{row['role']} '{row['name']}' is {fmt(v[r])} at {row_label(frame, r).replace('row ', 'sweep row ')}")
    if problems:
        return Check(SWEEP, name, FAIL, expected, f"{len(problems)} parameters out of range", "; ".join(problems[:5]))
    if not n_checked:
        return Check(SWEEP, name, NA, expected, "", "no parameter is a probability, cost, utility, decrement or "
                                                    "relative effect by the role convention")
    return Check(SWEEP, name, PASS, expected, f"{n_checked} parameters with a role checked", "roles from the parameter table (docs/verification.md)")


def linear_parameters(m: ModelUnderTest, t: dict, frame: pd.DataFrame) -> list:
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


def check_psa_linear(m: ModelUnderTest, base_t: dict, linear: list, n: int, seed, workers: int | None = None) -> Check:
    name = "PSA means equal deterministic results for parameters that enter linearly"
    expected = "|PSA mean - deterministic| <= 4 Monte Carlo standard errors, for every strategy and outcome"
    if not linear:
        return Check(SWEEP, name, NA, expected, "", "no stochastic scalar parameter enters the results linearly")
    others = [c for c in m.table.unit_columns if c not in linear]
    draws = m.table.sample(n, seed)
    base = m.table.base()
    if others:
        draws = draws.with_values({c: np.full(n, base[c][0]) for c in others})
    t, err = m.try_totals(draws, workers)  # in chunks, on every core (or on ``workers`` threads)
    detail = (f"{n:,} draws (seed {seed}) of the {len(linear)} linear parameters, others at base: "
              + ", ".join(linear[:12]) + (" ..." if len(linear) > 12 else ""))
    if err:
        return Check(SWEEP, name, FAIL, expected, err, detail)
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
                worst, info = float(z[j]), f"{s} {measure}: PSA mean {fmt(mean[j])} vs deterministic {fmt(det[j])}"
            if z[j] > 4.0:
                problems.append(f"{s} {measure}: PSA mean {fmt(mean[j])} vs deterministic {fmt(det[j])} "
                                f"({z[j]:.1f} standard errors)")
    if problems:
        off = [f"{c} (base {fmt(m.table[c].base)}, distribution mean {fmt(m.table[c].dist.mean[0])})"
               for c in linear if not close(m.table[c].base, m.table[c].dist.mean[0], rtol=1e-6)]
        cause = ("; base value differs from the distribution mean for: " + ", ".join(off[:5])) if off else ""
        return Check(SWEEP, name, FAIL, expected, "; ".join(problems[:4]), detail + cause)
    return Check(SWEEP, name, PASS, expected, f"largest difference {worst:.2f} standard errors ({info})", detail)
