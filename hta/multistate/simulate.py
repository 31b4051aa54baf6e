"""Individual-level continuous-time simulation of a multi-state model (hesim's iCTSTM class).

Every (PSA draw, patient) pair is one simulated life, and all of them move at once: arrays have
shape ``(draws, patients)`` (flattened to the pairs still moving), and the only Python loops are
over transitions made (a handful) and over the few transitions of the model.

Method
------
* **Competing risks by inverse cumulative hazard.** In a state entered at time ``s`` (years since
  the start), each transition ``h`` out of it gets a latent time: clock-reset (semi-Markov)
  ``s + H_h^-1(E_h)``, clock-forward (Markov) ``H_h^-1(H_h(s) + E_h)`` (the time since start,
  conditional on having reached ``s``), ``E_h ~ Exp(1)`` independent. The earliest latent time is
  the transition, its ``h`` the destination: the joint law of (time, destination) is that of the
  cause-specific hazards.
* **Background mortality** (optional): a life table's piecewise-constant ``mx`` by single year of
  age and sex adds a competing transition to the dead state from every transient state, in
  attained age (inverted exactly by linear interpolation of the cumulative hazard).
* **Patients** (optional): age and sex drawn from a population table (rows with ``age``, ``sex``
  and optional ``weight``); the same patients in every PSA draw.
* **Costs and QALYs**: state costs and utilities per year in the state, event costs and QALY
  changes at each transition; discounting in continuous time at ``r = log(1 + annual rate)``:
  a sojourn ``[a, b)`` contributes ``(e^(-r a) - e^(-r b)) / r`` discounted years (exact), an
  event at ``t`` the factor ``e^(-r t)``. The horizon ends every sojourn.
* **Random numbers** are counter-based: the uniform of (draw ``d``, patient ``i``, slot ``k``) is
  a two-round SplitMix64 hash of the run's key (from ``numpy.random.SeedSequence(seed)``), ``d``
  and ``(i, k)``. Every life uses the same numbers whatever the chunking, the number of draws or
  the order of the work, and patients are accumulated in fixed blocks of ``block`` patients (sums
  over blocks in a fixed order), so results are the same bit for bit for any ``chunk`` that is a
  multiple of ``block``. The same seed gives the same numbers to both arms of a comparison
  (common random numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.multistate.hazards import cumhaz, inverse_cumhaz
from hta.multistate.model import MultiStateModel

__all__ = ["SimulationResult", "simulate", "uniforms"]

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_G1, _G2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_SLOTS = 1 << 20  # random-number slots per patient
_POP_SLOT = _SLOTS - 1  # the slot of a patient's profile (age, sex)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014), elementwise on uint64 (wraps mod 2^64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _keys(seed) -> tuple[np.uint64, np.uint64]:
    k = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return k[0], k[1]


def _draw_keys(k0, draws: np.ndarray) -> np.ndarray:
    return _mix(np.asarray(k0 ^ _mix((draws.astype(np.uint64) + np.uint64(1)) * _G1), np.uint64))


def _uniform(draw_key: np.ndarray, k1, patient: np.ndarray, slot) -> np.ndarray:
    """Uniforms in (0, 1) for elementwise (draw key, patient, slot)."""
    counter = patient.astype(np.uint64) * np.uint64(_SLOTS) + np.uint64(slot + 1)
    z = _mix(draw_key ^ _mix((counter * _G2) ^ k1))
    return ((z >> _S11).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def uniforms(seed, draws, patients, slot: int) -> np.ndarray:
    """The simulation's uniform for each (draw, patient) at ``slot``, shape (len(draws),
    len(patients)): for tests of the generator."""
    k0, k1 = _keys(seed)
    d = np.asarray(draws)
    return _uniform(_draw_keys(k0, d)[:, None], k1, np.asarray(patients)[None, :], slot)


@dataclass
class SimulationResult:
    """Means per patient for each PSA draw (arrays with the draw axis first).

    Attributes
    ----------
    states, transitions : names.
    n_patients : patients per draw.
    time_in_state : (D, S) undiscounted years in each state within the horizon.
    disc_time_costs, disc_time_outcomes : (D, S) discounted years (cost and outcome rates).
    events : (D, H) transitions made per patient (background deaths are the last column when a
        life table is used).
    Absorbing states accrue no time (a life is not followed past absorption).
    costs, qalys, life_years : (D,) discounted costs, discounted QALYs, undiscounted life-years.
    se_costs, se_qalys, se_life_years : (D,) Monte Carlo standard errors of those means (patient
        variation within the draw).
    grid : (G,) times (years) of ``occupancy``; occupancy : (D, G, S) proportion in each state.
    """

    states: tuple
    transitions: tuple
    n_patients: int
    time_in_state: np.ndarray
    disc_time_costs: np.ndarray
    disc_time_outcomes: np.ndarray
    events: np.ndarray
    costs: np.ndarray
    qalys: np.ndarray
    life_years: np.ndarray
    se_costs: np.ndarray
    se_qalys: np.ndarray
    se_life_years: np.ndarray
    grid: np.ndarray
    occupancy: np.ndarray

    def summary(self) -> pd.DataFrame:
        """Mean over draws of costs, QALYs, life-years and years in each state, with the mean
        Monte Carlo standard error."""
        row = {"costs": self.costs.mean(), "qalys": self.qalys.mean(), "life_years": self.life_years.mean(),
               "se_costs": self.se_costs.mean(), "se_qalys": self.se_qalys.mean(),
               "se_life_years": self.se_life_years.mean()}
        for s, name in enumerate(self.states):
            row[f"years:{name}"] = self.time_in_state[:, s].mean()
        return pd.DataFrame([row])


def _per_draw(value, D: int, what: str) -> np.ndarray:
    v = np.asarray(value, dtype=float)
    if v.ndim == 0:
        return np.full(D, float(v))
    if v.shape != (D,) or not np.all(np.isfinite(v)):
        raise HtaError(f"{what}: expected a number or {D} finite values (one per PSA draw); found shape {v.shape}")
    return v


def _by_name(values: Mapping | None, names, D: int, what: str) -> np.ndarray:
    out = np.zeros((D, len(names)))
    for key, v in (values or {}).items():
        if key not in names:
            raise HtaError(f"{what}: expected keys from {', '.join(names)}; found {key!r}")
        out[:, list(names).index(key)] = _per_draw(v, D, f"{what} '{key}'")
    return out


def _grid_indexer(grid: np.ndarray):
    """A function giving, for times t, the index of the first grid point >= t (``searchsorted``
    left); arithmetic on an evenly spaced grid, which is 10x faster on unsorted times."""
    if grid.ndim != 1 or grid.size == 0 or np.any(np.diff(grid) <= 0) or np.any(~np.isfinite(grid)) or grid[0] < 0:
        raise HtaError("grid: expected increasing finite times >= 0 (years)")
    G = grid.size
    if G > 2:
        h = (grid[-1] - grid[0]) / (G - 1)
        if np.allclose(grid, grid[0] + h * np.arange(G), rtol=0, atol=1e-12 * max(1.0, grid[-1])):
            g0 = grid[0]

            def index(t):
                with np.errstate(invalid="ignore"):
                    k = np.ceil(np.minimum((t - g0) / h, G)).astype(np.int64)
                k = np.clip(k, 0, G)
                # correct rounding: grid[k - 1] < t <= grid[k]
                below = (k > 0) & (grid[np.maximum(k - 1, 0)] >= t)
                k = k - below
                above = (k < G) & (grid[np.minimum(k, G - 1)] < t)
                return k + above
            return index
    return lambda t: np.searchsorted(grid, t)


class _Background:
    """Cumulative background hazard by attained age, per sex (mx constant within each year of age,
    as ``hta.population.lifetables.LifeTable``; ages from the table's first age to ``max_age``, the last
    rate continuing beyond)."""

    def __init__(self, table, max_age: float = 130.0):
        first = float(getattr(table, "min_age", 0.0))
        self.ages = np.arange(first, max_age + 1.0)
        self.cum, self.last = [], []
        for sex in ("male", "female"):
            mx = np.asarray(table.mx(self.ages[:-1], sex), dtype=float).ravel()
            self.cum.append(np.concatenate([[0.0], np.cumsum(mx)]))
            self.last.append(max(float(mx[-1]), 1e-12))

    def exit_age(self, sex_female: np.ndarray, age_now: np.ndarray, e: np.ndarray) -> np.ndarray:
        out = np.empty_like(age_now)
        for s in (0, 1):
            m = sex_female == s
            if not m.any():
                continue
            cum = self.cum[s]
            target = np.interp(age_now[m], self.ages, cum) + e[m]
            age = np.interp(target, cum, self.ages)
            beyond = target > cum[-1]
            age[beyond] = self.ages[-1] + (target[beyond] - cum[-1]) / self.last[s]
            out[m] = age
        return out


def _population(population: pd.DataFrame | None, k1, patients: np.ndarray):
    """(age, female) for each patient index, drawn with the patient's own uniform."""
    if population is None:
        return None
    for col in ("age", "sex"):
        if col not in population.columns:
            raise HtaError(f"population: expected columns age and sex (and optional weight); missing '{col}'")
    age = pd.to_numeric(population["age"], errors="coerce").to_numpy(float)
    sex = population["sex"].astype(str).str.strip().str.lower()
    if not np.all(np.isfinite(age)) or np.any(age < 0) or not sex.isin(["male", "female"]).all():
        raise HtaError("population: expected ages >= 0 and sex 'male'/'female' in every row")
    w = population["weight"].to_numpy(float) if "weight" in population else np.ones(len(age))
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise HtaError("population: expected non-negative weights with a positive sum")
    cw = np.cumsum(w) / w.sum()
    u = _uniform(np.uint64(0x5DEECE66D), k1, patients, _POP_SLOT - 1)
    row = np.minimum(np.searchsorted(cw, u, side="right"), len(age) - 1)
    return age[row], (sex.to_numpy() == "female")[row].astype(np.int8)


def simulate(model: MultiStateModel, n_patients: int, *, horizon: float, seed=0, start_state: int = 0,
             state_costs: Mapping | None = None, state_utilities: Mapping | None = None,
             event_costs: Mapping | None = None, event_qalys: Mapping | None = None,
             discount_costs: float = 0.035, discount_outcomes: float = 0.035, grid=None,
             population: pd.DataFrame | None = None, life_table=None, block: int = 250,
             chunk: int | None = None, max_transitions: int = 100) -> SimulationResult:
    """Simulate ``n_patients`` lives for every PSA draw of ``model``.

    Parameters
    ----------
    model : MultiStateModel (hazards in years).
    n_patients : patients per draw (the same patients, i.e. the same random numbers, in each draw).
    horizon : years; every life is followed to death or the horizon.
    seed : entropy for ``numpy.random.SeedSequence``.
    start_state : index of the state everyone starts in.
    state_costs, state_utilities : state name -> cost per year / utility (a number or (D,) array).
    event_costs, event_qalys : transition name (``"A->B"``, or ``"background"``) -> one-off cost /
        QALY change at the transition.
    discount_costs, discount_outcomes : annual (effective) rates; continuous rate log(1 + rate).
    grid : times (years, within the horizon) for the state occupancy; default 0..horizon by 0.25.
    population : optional table with ``age``, ``sex`` (male/female), optional ``weight``: each
        patient's profile is drawn from it; needed with ``life_table``.
    life_table : optional object with ``mx(ages, sex)`` (e.g. ``hta.population.lifetables.LifeTable``): adds
        background mortality (to the last absorbing state) from every transient state.
    block : patients per accumulation block; chunk : patients simulated at once (a multiple of
        ``block``; default about 1 million lives per chunk).
    max_transitions : guard for models with cycles.
    """
    states, trans = model.states, model.transitions
    S, D = len(states), model.n_draws
    N = int(n_patients)
    if N < 1:
        raise HtaError(f"n_patients: expected at least 1; found {n_patients}")
    if not (np.isfinite(horizon) and horizon > 0):
        raise HtaError(f"horizon: expected a positive number of years; found {horizon}")
    absorbing = model.absorbing
    if not absorbing:
        raise HtaError("multi-state model: expected at least one absorbing state (death); found none")
    background = None
    if life_table is not None:
        if population is None:
            raise HtaError("life_table: background mortality needs a population table (age, sex)")
        background = _Background(life_table)
    names = tuple(tr.name for tr in trans) + (("background",) if background is not None else ())
    H = len(names)
    if max_transitions * H >= _POP_SLOT - 1:
        raise HtaError(f"max_transitions: expected at most {(_POP_SLOT - 2) // H} for {H} transitions "
                       f"(random-number slots per patient); found {max_transitions}")
    dead = absorbing[-1]
    cost_rate = _by_name(state_costs, states, D, "state_costs")
    util = _by_name(state_utilities, states, D, "state_utilities")
    ev_cost = _by_name(event_costs, names, D, "event_costs")
    ev_qaly = _by_name(event_qalys, names, D, "event_qalys")
    rc, ro = np.log1p(float(discount_costs)), np.log1p(float(discount_outcomes))
    grid = np.arange(0.0, horizon + 1e-9, 0.25) if grid is None else np.asarray(grid, dtype=float)
    G = grid.size
    block = int(block)
    if chunk is None:
        chunk = max(block, (1_000_000 // max(D, 1)) // block * block)
    chunk = int(chunk)
    if block < 1 or chunk % block:
        raise HtaError(f"chunk: expected a multiple of block ({block}); found {chunk}")
    NB = -(-N // block)
    k0, k1 = _keys(seed)
    dkeys = _draw_keys(k0, np.arange(D))
    out_of = {r: model.out_of(r) for r in range(S) if r not in absorbing}
    target_of = np.array([tr.target for tr in trans] + ([dead] if background is not None else []), dtype=np.int64)
    is_absorbing = np.zeros(S, bool)
    is_absorbing[list(absorbing)] = True
    cost_flat, util_flat = cost_rate.ravel(), util.ravel()
    grid_index = _grid_indexer(grid)
    if grid[-1] > horizon:
        raise HtaError(f"grid: expected times within the horizon ({horizon:g} years); found {grid[-1]:g}")
    if not 0 <= int(start_state) < S:
        raise HtaError(f"start_state: expected a state index in 0..{S - 1}; found {start_state}")
    # block partial sums: time (undiscounted, cost-, outcome-discounted) by state, events,
    # per-patient costs/qalys/life-years and their squares
    acc_state = np.zeros((3, D, NB, S))
    acc_events = np.zeros((D, NB, H))
    acc_pat = np.zeros((6, D, NB))
    occ = np.zeros((D, S, G + 1), dtype=np.int64)

    for lo in range(0, N, chunk):  # chunks of patients (each all draws at once)
        n = min(chunk, N - lo)
        nb = -(-n // block)
        b0 = lo // block
        prof = _population(population, k1, np.arange(lo, lo + n)) if population is not None else None
        el = np.arange(D * n, dtype=np.int64)  # flat (draw, patient) of the lives still moving
        st = np.full(el.size, start_state, dtype=np.int64)
        te = np.zeros(el.size)
        te_idx = np.full(el.size, int(np.searchsorted(grid, 0.0)), dtype=np.int64)  # grid index of te
        ec, eo = np.ones(el.size), np.ones(el.size)  # exp(-r te) for costs and outcomes
        pat_cost = np.zeros(D * n)
        pat_qaly = np.zeros(D * n)
        pat_ly = np.zeros(D * n)
        step = 0
        while el.size:
            if step >= max_transitions:
                raise HtaError(f"simulation: {el.size} lives still moving after {max_transitions} transitions; "
                               "expected every life to reach an absorbing state or the horizon")
            d, p = np.divmod(el, n)
            t_next = np.full(el.size, np.inf)
            dest = np.full(el.size, -1, dtype=np.int64)
            hit = np.full(el.size, -1, dtype=np.int64)
            for r, hs in out_of.items():
                m = np.flatnonzero(st == r)
                if m.size == 0:
                    continue
                dm, pm, tm = d[m], p[m] + lo, te[m]
                keys_m = dkeys[dm]
                best = np.full(m.size, np.inf)
                best_h = np.full(m.size, -1, dtype=np.int64)
                for h in hs:
                    tr = trans[h]
                    e = -np.log(_uniform(keys_m, k1, pm, step * H + h))
                    c = tr.coef_columns(dm)
                    if tr.clock == "reset":
                        t = tm + inverse_cumhaz(tr.distribution, c, e)
                    else:
                        t = inverse_cumhaz(tr.distribution, c, cumhaz(tr.distribution, c, tm) + e)
                    better = t < best
                    best = np.where(better, t, best)
                    best_h = np.where(better, h, best_h)
                if background is not None:
                    e = -np.log(_uniform(keys_m, k1, pm, step * H + H - 1))
                    age0, fem = prof[0][pm - lo], prof[1][pm - lo]
                    if step == 0 and np.any(age0 < background.ages[0]):
                        raise HtaError(f"population: expected ages >= {background.ages[0]:g} (the life "
                                       f"table's first age); found {age0.min():g}")
                    t = background.exit_age(fem, age0 + tm, e) - age0
                    better = t < best
                    best = np.where(better, t, best)
                    best_h = np.where(better, H - 1, best_h)
                t_next[m] = best
                hit[m] = best_h
                dest[m] = target_of[best_h]
            # the sojourn [te, min(t_next, horizon)) in state st (never absorbing)
            stop = np.minimum(t_next, horizon)
            ds = d * S + st
            key = (d * nb + p // block) * S + st
            span = stop - te
            ec_stop, eo_stop = np.exp(-rc * stop), np.exp(-ro * stop)
            disc_c = (ec - ec_stop) / rc if rc != 0 else span
            disc_o = (eo - eo_stop) / ro if ro != 0 else span
            for j, w in enumerate((span, disc_c, disc_o)):
                acc_state[j, :, b0:b0 + nb, :] += np.bincount(key, w, D * nb * S).reshape(D, nb, S)
            pat_cost[el] += np.take(cost_flat, ds) * disc_c
            pat_qaly[el] += np.take(util_flat, ds) * disc_o
            pat_ly[el] += span
            # occupancy: grid points in [te, t_next) (to infinity when the horizon ends the life)
            stop_idx = grid_index(np.where(t_next > horizon, np.inf, t_next))
            okey = ds * (G + 1)
            occ += (np.bincount(okey + te_idx, minlength=D * S * (G + 1))
                    - np.bincount(okey + stop_idx, minlength=D * S * (G + 1))).reshape(D, S, G + 1)
            # transitions within the horizon
            done = t_next <= horizon
            if done.any():
                di, pi, hi, ti = d[done], p[done], hit[done], t_next[done]
                acc_events[:, b0:b0 + nb, :] += np.bincount((di * nb + pi // block) * H + hi,
                                                            minlength=D * nb * H).reshape(D, nb, H)
                pat_cost[el[done]] += ev_cost[di, hi] * np.exp(-rc * ti)
                pat_qaly[el[done]] += ev_qaly[di, hi] * np.exp(-ro * ti)
                # absorbed: occupancy of the absorbing state from ti on
                ab = is_absorbing[dest[done]]
                if ab.any():
                    akey = (di[ab] * S + dest[done][ab]) * (G + 1) + stop_idx[done][ab]
                    occ += np.bincount(akey, minlength=D * S * (G + 1)).reshape(D, S, G + 1)
            moving = done & ~is_absorbing[np.maximum(dest, 0)]
            el, st, te, te_idx = el[moving], dest[moving], t_next[moving], stop_idx[moving]
            ec, eo = ec_stop[moving], eo_stop[moving]
            step += 1
        pd_, pp = np.divmod(np.arange(D * n), n)
        pkey = pd_ * nb + pp // block
        for j, v in enumerate((pat_cost, pat_qaly, pat_ly)):
            acc_pat[2 * j, :, b0:b0 + nb] = np.bincount(pkey, v, D * nb).reshape(D, nb)
            acc_pat[2 * j + 1, :, b0:b0 + nb] = np.bincount(pkey, v * v, D * nb).reshape(D, nb)

    sums = acc_pat.sum(axis=2)  # (6, D), fixed order over blocks

    def mean_se(j):
        s1, s2 = sums[2 * j], sums[2 * j + 1]
        mean = s1 / N
        var = np.maximum(s2 - s1 * mean, 0.0) / max(N - 1, 1)
        return mean, np.sqrt(var / N)

    costs, se_c = mean_se(0)
    qalys, se_q = mean_se(1)
    ly, se_ly = mean_se(2)
    st_sums = acc_state.sum(axis=2) / N
    occupancy = np.cumsum(occ, axis=2)[:, :, :G].transpose(0, 2, 1) / N
    return SimulationResult(states, names, N, st_sums[0], st_sums[1], st_sums[2],
                            acc_events.sum(axis=1) / N, costs, qalys, ly, se_c, se_q, se_ly, grid, occupancy)
