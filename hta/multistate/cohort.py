"""Cohort state-transition models from a multi-state model's hazards (discrete cycles).

* :func:`markov_cohort` — clock-forward (Markov) hazards on the existing Markov engine
  (``hta.engine.markov.cohort``). In cycle ``j`` (``t_{j-1}`` to ``t_j``, years) each hazard is held at
  its average over the cycle (the generator ``A_j[r, s] = H_rs(t_j) - H_rs(t_{j-1})``) and the
  cycle's transition matrix is ``exp(A_j)``: exact competing risks and sequences of transitions
  within a cycle; exact for constant hazards, and converging as cycles shrink otherwise.
* :func:`semi_markov_cohort` — hazards in time since entering the state (clock-reset) with tunnel
  states: the mass in each transient state is kept by whole cycles since entry, over the whole
  horizon (no truncation of the time in state). Entrants during a cycle are taken to enter at
  mid-cycle (half a cycle of exposure at once, cascading to later states within the cycle),
  then tunnel ``k`` leaves with the cumulative hazards over ``[k + 1/2, k + 3/2]`` cycles since
  entry (clock-forward transitions over ``[t_{j-1}, t_j]``), split between competing transitions
  in proportion to their cumulative hazards (``p_h = dH_h / dH (1 - e^-dH)``). An approximation
  that converges as the cycle shrinks (see tests and docs/multistate.md).

Both return an ``hta.engine.cohort.Cohort`` with ``trace`` (D, T + 1, S) on the grid ``j * cycle`` and
``events["A->B"]`` (D, T) per transition; :func:`outcomes` integrates costs and QALYs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hta.engine.cohort import Cohort
from hta.engine.markov import cohort as markov_engine
from hta.errors import HtaError
from hta.multistate.model import MultiStateModel

__all__ = ["expm_batched", "markov_cohort", "outcomes", "semi_markov_cohort"]


def expm_batched(A: np.ndarray) -> np.ndarray:
    """exp(A) for a stack of small matrices (..., K, K): scaling and squaring with a Taylor
    series of degree 18 after scaling to a 1-norm of at most 1/2 (truncation below 1e-22)."""
    A = np.asarray(A, dtype=float)
    norm = float(np.abs(A).sum(axis=-2).max()) if A.size else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    X = A / 2.0**s
    eye = np.broadcast_to(np.eye(A.shape[-1]), A.shape)
    E = eye.copy()
    for k in range(18, 0, -1):  # Horner: I + X/1 (I + X/2 (I + ...))
        E = eye + (X @ E) / k
    for _ in range(s):
        E = E @ E
    return E


def _grid(cycle: float, horizon: float) -> tuple[int, np.ndarray]:
    if not (cycle > 0 and horizon > 0):
        raise HtaError(f"cohort: expected a positive cycle length and horizon (years); found {cycle}, {horizon}")
    T = round(horizon / cycle)
    if abs(T * cycle - horizon) > 1e-9 * horizon:
        raise HtaError(f"cohort: expected the horizon ({horizon}) to be a whole number of cycles ({cycle})")
    return T, np.arange(T + 1) * cycle


def markov_cohort(model: MultiStateModel, *, cycle: float, horizon: float, start_state: int = 0,
                  strategy: str = "") -> Cohort:
    """Clock-forward (Markov) cohort on ``hta.engine.markov``; ``cycle`` and ``horizon`` in years.

    Every transition out of a state other than ``start_state`` must be clock-forward (a
    clock-reset hazard there needs :func:`semi_markov_cohort`); out of the start state, entered
    at time 0, the two clocks agree.
    """
    T, t = _grid(cycle, horizon)
    S, D = len(model.states), model.n_draws
    for tr in model.transitions:
        if tr.clock == "reset" and tr.origin != start_state:
            raise HtaError(f"markov_cohort: transition {tr.name} is clock-reset (semi-Markov); expected "
                           f"clock-forward hazards, or use semi_markov_cohort")
    A = np.zeros((D, T, S, S))
    for tr in model.transitions:
        dH = np.diff(np.broadcast_to(tr.cumhaz(t), (D, T + 1)), axis=1)
        A[:, :, tr.origin, tr.target] += dH
        A[:, :, tr.origin, tr.origin] -= dH
    P = expm_batched(A)
    np.clip(P, 0.0, 1.0, out=P)
    P /= P.sum(axis=-1, keepdims=True)  # rounding only (rows sum to 1 to ~1e-16)
    x0 = np.zeros(S)
    x0[start_state] = 1.0
    dead = tuple(model.states[s] for s in model.absorbing)
    return markov_engine(P, x0, T, states=model.states, strategy=strategy, dead_states=dead,
                         track=[(model.states[tr.origin], model.states[tr.target]) for tr in model.transitions])


def _topological(model: MultiStateModel, start_state: int) -> list:
    """Transient states in an order where every transition goes forward; HtaError on cycles."""
    S = len(model.states)
    indeg = np.zeros(S, int)
    for tr in model.transitions:
        indeg[tr.target] += 1
    order, ready = [], [s for s in range(S) if indeg[s] == 0]
    while ready:
        s = ready.pop(0)
        order.append(s)
        for h in model.out_of(s):
            indeg[model.transitions[h].target] -= 1
            if indeg[model.transitions[h].target] == 0:
                ready.append(model.transitions[h].target)
    if len(order) < S:
        raise HtaError("semi_markov_cohort: expected a model without cycles (no state re-entered); "
                       "use the individual-level simulation for models with cycles")
    if any(tr.target == start_state for tr in model.transitions):
        raise HtaError("semi_markov_cohort: expected no transition into the start state")
    absorbing = set(model.absorbing)
    return [s for s in order if s not in absorbing]


def semi_markov_cohort(model: MultiStateModel, *, cycle: float, horizon: float, start_state: int = 0,
                       strategy: str = "", max_tunnels: int | None = None) -> Cohort:
    """Semi-Markov cohort with tunnel states (years); acyclic models.

    ``max_tunnels``: tunnels per state; default (None) one per cycle of the horizon, so time in
    state is never truncated. With ``K`` tunnels, mass that has spent ``K`` cycles in a state stays
    in the last tunnel and keeps its hazard (over ``[K - 1/2, K + 1/2]`` cycles since entry): exact
    up to ``K`` cycles in the state, an approximation beyond, at ``O(D T K)`` cost.

    Tunnels: the mass in a transient state is kept by whole cycles since entry. Everyone enters
    the start state at time 0 (its hazards use the exact times). Mass entering another state
    during a cycle is taken to enter at mid-cycle: it is exposed to that state's hazards for half
    a cycle at once (leaving to later states within the same cycle, in topological order), and
    from then on tunnel ``k`` covers ``[k + 1/2, k + 3/2]`` cycles since entry. Within each
    exposure the competing transitions share the exits in proportion to their cumulative hazards.
    Clock-forward transitions use the cumulative hazard over the same calendar interval.
    """
    T, t = _grid(cycle, horizon)
    S, D = len(model.states), model.n_draws
    order = _topological(model, start_state)
    absorbing = [s for s in range(S) if s in set(model.absorbing)]
    trans = model.transitions
    half = np.concatenate([[0.0], (np.arange(T + 1) + 0.5) * cycle])  # 0, 1/2, 3/2, ... cycles
    H_full = [np.broadcast_to(tr.cumhaz(t), (D, T + 1)) for tr in trans]  # at whole cycles
    H_half = [np.broadcast_to(tr.cumhaz(half), (D, T + 2)) for tr in trans]  # at 0 and half cycles
    tun = [np.diff(h[:, 1:], axis=1) for h in H_half]  # (D, T): tunnel k over [k+1/2, k+3/2]
    first_half = [h[:, 1] for h in H_half]  # (D,): [0, 1/2] cycle since entry
    cal_mid = [np.broadcast_to(tr.cumhaz((np.arange(T) + 0.5) * cycle), (D, T)) for tr in trans]
    K = T if max_tunnels is None else int(max_tunnels)
    if not 1 <= K:
        raise HtaError(f"max_tunnels: expected a positive number of tunnels; found {max_tunnels}")
    K = min(K, T)
    x = {s: np.zeros((D, K)) for s in order}  # mass by tunnel
    start = np.ones(D)  # the start state's mass (entered at 0: no tunnels needed)
    trace = np.zeros((D, T + 1, S))
    trace[:, 0, start_state] = 1.0
    events = np.zeros((len(trans), D, T))
    absorbed = np.zeros((D, S))

    def split(mass, dHs, hs, j, inflow):
        total = np.sum(dHs, axis=0)
        leave = mass * -np.expm1(-total)
        for h, dh in zip(hs, dHs):
            with np.errstate(invalid="ignore", divide="ignore"):
                flow = leave * np.where(total > 0, dh / total, 0.0)
            flow = flow.sum(axis=1) if flow.ndim == 2 else flow
            events[h, :, j - 1] += flow
            inflow[:, trans[h].target] += flow
        return mass * np.exp(-total)

    for j in range(1, T + 1):  # a loop over cycles; tunnels 0..j-2 can hold mass in cycle j
        inflow = np.zeros((D, S))
        for s in order:
            hs = model.out_of(s)
            if s == start_state:
                dHs = [H_full[h][:, j] - H_full[h][:, j - 1] for h in hs]
                start = split(start, dHs, hs, j, inflow) if hs else start
                continue
            n = min(j - 1, K)
            mass = x[s][:, :n]
            if hs and n:
                dHs = [tun[h][:, :n] if trans[h].clock == "reset"
                       else np.broadcast_to((H_full[h][:, j] - H_full[h][:, j - 1])[:, None], mass.shape)
                       for h in hs]
                mass = split(mass, dHs, hs, j, inflow)
            new = inflow[:, s].copy()  # entrants this cycle (from states earlier in the order)
            if hs:
                dHs = [first_half[h] if trans[h].clock == "reset"
                       else H_full[h][:, j] - cal_mid[h][:, j - 1] for h in hs]
                new = split(new, dHs, hs, j, inflow)
            shifted = np.zeros((D, K))
            shifted[:, 1:min(n + 1, K)] = mass[:, :min(n, K - 1)]  # one tunnel on
            if n == K:
                shifted[:, K - 1] += mass[:, K - 1]  # the last tunnel keeps its mass
            shifted[:, 0] += new
            x[s] = shifted
        for s in order:
            trace[:, j, s] = start if s == start_state else x[s].sum(axis=1)
        for s in absorbing:
            absorbed[:, s] += inflow[:, s]
            trace[:, j, s] = absorbed[:, s]
    ev = {tr.name: events[h] for h, tr in enumerate(trans)}
    return Cohort(strategy, model.states, trace, ev, dead_states=tuple(model.states[s] for s in absorbing))


def outcomes(cohort: Cohort, *, cycle: float, state_costs: Mapping | None = None,
             state_utilities: Mapping | None = None, event_costs: Mapping | None = None,
             event_qalys: Mapping | None = None, discount_costs: float = 0.035,
             discount_outcomes: float = 0.035) -> dict:
    """Discounted costs and QALYs and undiscounted years per state of a cohort (per patient).

    Occupancy is integrated by the trapezoid rule within each cycle against the exact integral of
    the continuous discount factor ``exp(-r t)``, ``r = log(1 + annual rate)``; events are
    discounted at mid-cycle. State values are per year (a number or (D,) array); event values
    per transition name ``"A->B"``.

    Returns a dict of (D,) arrays: ``costs``, ``qalys``, ``life_years`` and ``years:<state>``.
    """
    trace = cohort.trace
    D, T1, _ = trace.shape
    t = np.arange(T1) * cycle
    mid = 0.5 * (trace[:, 1:] + trace[:, :-1])  # (D, T, S)

    def weights(rate):
        r = np.log1p(rate)
        return np.full(T1 - 1, cycle) if r == 0 else (np.exp(-r * t[:-1]) - np.exp(-r * t[1:])) / r

    wc, wo = weights(discount_costs), weights(discount_outcomes)
    out = {f"years:{name}": mid[:, :, s].sum(axis=1) * cycle for s, name in enumerate(cohort.states)}
    alive = [s for s, name in enumerate(cohort.states) if name not in cohort.dead_states]
    out["life_years"] = mid[:, :, alive].sum(axis=(1, 2)) * cycle
    costs, qalys = np.zeros(D), np.zeros(D)
    for name, v in (state_costs or {}).items():
        costs = costs + np.asarray(v, float) * (mid[:, :, cohort.state_index(name)] @ wc)
    for name, v in (state_utilities or {}).items():
        qalys = qalys + np.asarray(v, float) * (mid[:, :, cohort.state_index(name)] @ wo)
    tm = 0.5 * (t[1:] + t[:-1])
    for values, rate, target in ((event_costs, discount_costs, "c"), (event_qalys, discount_outcomes, "q")):
        for name, v in (values or {}).items():
            if name not in cohort.events:
                raise HtaError(f"event values: expected a transition from {', '.join(cohort.events)}; found {name!r}")
            add = np.asarray(v, float) * (cohort.events[name] @ np.exp(-np.log1p(rate) * tm))
            if target == "c":
                costs = costs + add
            else:
                qalys = qalys + add
    out["costs"], out["qalys"] = costs, qalys
    return out
