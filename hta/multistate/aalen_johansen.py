"""Aalen-Johansen estimator of state occupancy probabilities (nonparametric reference).

For a multi-state model with transition rows ``(from, to, tstart, tstop, status, weight)`` (the
long format of :func:`hta.multistate.data.transition_data`, clock-forward times), the
Nelson-Aalen increments at each distinct event time ``u`` are
``dA_rs(u) = dN_rs(u) / Y_r(u)``, with ``Y_r(u)`` the (weighted) number of rows from state ``r``
with ``tstart < u <= tstop`` (at risk, left-truncated at state entry) and ``dN_rs(u)`` the
(weighted) number of ``r -> s`` transitions at ``u``. The occupancy is the product integral
``p(t) = p(0) prod_{u <= t} (I + dA(u))`` (Aalen & Johansen 1978; Andersen, Borgan, Gill &
Keiding 1993, IV.4), which R ``survival::survfit(Surv(tstart, tstop, event) ~ 1, id = id)``
computes for multi-state data (``pstate``). Everyone starts in state 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.multistate.data import STATES

__all__ = ["aalen_johansen"]


def aalen_johansen(msdata: pd.DataFrame, times=None, *, n_states: int | None = None,
                   states=None) -> pd.DataFrame:
    """State occupancy probabilities, a right-continuous step function of time.

    Parameters
    ----------
    msdata : transition rows with ``from, to, tstart, tstop, status`` and optional ``weight``
        (case weights, e.g. MAIC weights). Times in the data's unit (clock-forward).
    times : times at which to report the occupancy; default every distinct event time (and 0).
    n_states, states : number of states / state names (default ``max(to) + 1`` states, named
        ``S0, S1, ...``, or the names of :mod:`hta.multistate.data` for three states).

    Returns
    -------
    DataFrame indexed by ``time`` with one column per state (probabilities summing to 1).
    """
    need = {"from", "to", "tstart", "tstop", "status"}
    if not need <= set(msdata.columns):
        raise HtaError(f"Aalen-Johansen: expected columns {sorted(need)}; missing "
                       f"{sorted(need - set(msdata.columns))}")
    frm = msdata["from"].to_numpy(int)
    to = msdata["to"].to_numpy(int)
    t0 = msdata["tstart"].to_numpy(float)
    t1 = msdata["tstop"].to_numpy(float)
    ev = msdata["status"].to_numpy(float)
    w = msdata["weight"].to_numpy(float) if "weight" in msdata else np.ones(len(msdata))
    K = int(n_states if n_states is not None else max(frm.max(), to.max()) + 1)
    if states is None:
        if K == 3:
                    states = STATES
        else:
            states = tuple(f"S{k}" for k in range(K))
    # a patient has one row per possible transition out of a state: the at-risk count of a state
    # counts each patient once (the first transition row of each (patient, state) interval)
    key = msdata["row"].to_numpy() if "row" in msdata else np.arange(len(msdata))
    first = ~pd.DataFrame({"k": key, "f": frm, "s": t0}).duplicated().to_numpy()
    event_times = np.unique(t1[ev == 1])
    U = event_times.size
    # dN: (U, K, K) weighted transition counts at each event time
    dn = np.zeros((U, K, K))
    hit = ev == 1
    np.add.at(dn, (np.searchsorted(event_times, t1[hit]), frm[hit], to[hit]), w[hit])
    # Y_r(u) = sum w [tstart < u] - sum w [tstop < u] over the first rows of state r
    Y = np.zeros((U, K))
    for r in range(K):
        m = first & (frm == r)
        if not m.any():
            continue
        s0, s1 = np.sort(t0[m]), np.sort(t1[m])
        c0 = np.concatenate([[0.0], np.cumsum(w[m][np.argsort(t0[m], kind="stable")])])
        c1 = np.concatenate([[0.0], np.cumsum(w[m][np.argsort(t1[m], kind="stable")])])
        Y[:, r] = c0[np.searchsorted(s0, event_times, "left")] - c1[np.searchsorted(s1, event_times, "left")]
    with np.errstate(invalid="ignore", divide="ignore"):
        dA = np.where(Y[:, :, None] > 0, dn / Y[:, :, None], 0.0)
    idx = np.arange(K)
    dA[:, idx, idx] = -dA.sum(axis=2)
    p = np.zeros((U + 1, K))
    p[0, 0] = 1.0
    for j in range(U):  # a loop over event times (hundreds), each a K x K product
        p[j + 1] = p[j] + p[j] @ dA[j]
    grid = np.concatenate([[0.0], event_times])
    if times is None:
        out_t, rows = grid, np.arange(U + 1)
    else:
        out_t = np.asarray(times, dtype=float).ravel()
        if np.any(~np.isfinite(out_t)) or np.any(out_t < 0):
            raise HtaError("Aalen-Johansen: expected finite times >= 0")
        rows = np.searchsorted(grid, out_t, side="right") - 1
    frame = pd.DataFrame(p[rows], columns=list(states), index=pd.Index(out_t, name="time"))
    return frame
