"""Structural checks on the traces, survival curves and transition matrices of the sweep batch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.analysis.verify.access import ModelUnderTest, cohorts
from hta.analysis.verify.report import FAIL, NA, PASS, PTOL, STRUCTURE, Check, fmt
from hta.analysis.verify.sweeps import row_label
from hta.params import Batch


def _first(mask: np.ndarray):
    return tuple(int(v[0]) for v in np.nonzero(mask))


def structure_checks(m: ModelUnderTest, batch: Batch, frame: pd.DataFrame, out) -> list:
    checks = []
    cs = cohorts(out, m.strategies) if out is not None else None
    no_trace = ("the model does not expose cohort traces (evaluate(batch, keep_cohort=True) with "
                "Outcomes.results[strategy].cohort)")
    grid = getattr(m.model, "grid", None)
    times = np.asarray(grid.times) if grid is not None else None

    def where(r, k=None):
        text = row_label(frame, r)
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
                worst, info = float(dev.max()), f"largest: strategy '{s}', {where(r, k)}: occupancy sums to {fmt(c.trace[r, k].sum())}"
            if dev.max() > PTOL:  # the first failing point: lowest row, then earliest time
                r, k = _first(dev > PTOL)
                if first is None or (r, k) < first[:2]:
                    first = (r, k, f"first: strategy '{s}', {where(r, k)}: occupancy sums to {fmt(c.trace[r, k].sum())}")
        if first is not None:
            info = first[2] + "; " + info
        checks.append(Check(STRUCTURE, name, PASS if worst <= PTOL else FAIL, expected,
                            f"largest deviation {fmt(worst)}", info if worst > PTOL else rows_note))
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
        checks.append(Check(STRUCTURE, name, PASS if low >= -PTOL else FAIL, expected, f"smallest occupancy {fmt(low)}",
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
        checks.append(Check(STRUCTURE, name, PASS if drop <= PTOL else FAIL, expected, f"largest fall {fmt(drop)}",
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
                problems.append(f"curve '{label}' rises by {fmt(diff.max())} at {where(r, k + 1)}")
            rise = max(rise, float(diff.max()))
            if not (np.nanmin(S) >= -PTOL and np.nanmax(S) <= 1 + PTOL) or np.isnan(S).any():
                problems.append(f"curve '{label}' leaves [0, 1] (from {fmt(np.nanmin(S))} to {fmt(np.nanmax(S))})")
        checks.append(Check(STRUCTURE, name, FAIL if problems else PASS, expected, f"largest rise {fmt(max(rise, 0.0))}",
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
                excess, info = float(over.max()), f"curve '{label}', {where(r, k)}: {fmt(S[r, k])} vs {fmt(gp[k])}"
        ok = excess <= PTOL
        if not compared:
            checks.append(Check(STRUCTURE, name, NA, expected, "",
                                f"no curve has the {gp.shape[0]} time points of the general-population survival"))
        else:
            checks.append(Check(STRUCTURE, name, PASS if ok else FAIL, expected,
                                f"largest excess {fmt(max(excess, 0.0))} over {compared} curves", rows_note if ok else info))
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
        # The engine's uncapped crossing records (Cohort.report["crossing"]), when the cohorts carry
        # them: every crossing is then counted and reported, not only those the cap touched.
        recorded = {s: c.report for s, c in cs.items()
                    if isinstance(c.report, dict) and c.report.get("crossing")}
        if recorded:
            from hta.engine.psm import crossing_summary

            summary = crossing_summary(recorded, PTOL, times=times)
            for row in summary.to_dict("records"):
                if row["n_over"]:
                    where = f" at {row['time']:.3g} years" if np.isfinite(row["time"]) else ""
                    found[row["strategy"]] = [
                        f"{row['earlier']} above {row['later']} in {row['n_over']} of {row['draws']} parameter sets "
                        f"(largest gap {row['largest_gap']:.4g}{where}); recorded by the engine and capped"]
                    reports.setdefault(row["strategy"], {})[row["earlier"]] = row
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
            problems.append(f"strategy '{s}', from '{states[a]}' to '{states[b]}', cycle {j + 1}, {where(r)}: probability {fmt(P[r, j, a, b])}")
        worst_range = max(worst_range, float(bad_val.max()))
        dev = np.abs(P.sum(axis=-1) - 1.0)
        dev = np.where(np.isnan(dev), np.inf, dev)
        if dev.max() > PTOL:
            r, j, a = _first(dev == dev.max())
            problems.append(f"strategy '{s}', row '{states[a]}', cycle {j + 1}, {where(r)}: row sums to {fmt(P[r, j, a].sum())}")
        worst_sum = max(worst_sum, float(dev.max()))
    observed = f"largest row-sum deviation {fmt(worst_sum)}; largest probability outside [0, 1] by {fmt(max(worst_range, 0.0))}"
    if problems:
        return Check(STRUCTURE, name, FAIL, expected, observed, "; ".join(problems[:4]))
    return Check(STRUCTURE, name, PASS, expected, observed, f"{len(mats)} strategies")
