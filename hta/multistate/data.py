"""Patient-level progression/death data -> transition data of the illness-death model.

States: 0 ``progression-free`` (PF), 1 ``progressed`` (P), 2 ``dead`` (D). Transitions, numbered
as in NICE DSU TSD 19 and R ``mstate``: 1 PF->P, 2 PF->D, 3 P->D.

Input: one row per patient with the time to progression (or to last progression-free follow-up),
its event indicator, the time to death (or last follow-up) and its indicator, in one time unit
(the CLL example uses years). A patient without progression is progression-free until
``death_time`` (so ``prog_time`` equals ``death_time``, the layout of R ``survHE``'s TA174 data and
``mstate::msprep``).

Output: one row per patient and transition at risk (``mstate``'s long format) with
``tstart``/``tstop`` on the clock-forward scale (time since start; P->D rows are left-truncated
at the progression time) and ``time = tstop - tstart`` on the clock-reset scale (time since
entering the state). A P->D row with zero length (censored at the progression time) carries no
information and is left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = ["STATES", "TRANSITIONS", "transition_data"]

STATES: tuple[str, ...] = ("progression-free", "progressed", "dead")
#: (number, from-state index, to-state index, name)
TRANSITIONS: tuple[tuple[int, int, int, str], ...] = (
    (1, 0, 1, "PF->P"), (2, 0, 2, "PF->D"), (3, 1, 2, "P->D"))


def _row_name(frame: pd.DataFrame, pos: int, id_col: str | None) -> str:
    label = frame.index[pos]
    text = f"row {label!r}" if not isinstance(label, (int, np.integer)) else f"row {int(label)}"
    if id_col is not None:
        value = frame[id_col].iloc[pos]
        text += f" ({id_col} {value.item() if isinstance(value, np.generic) else value!r})"
    return text


def _column(frame: pd.DataFrame, name: str, what: str, id_col) -> np.ndarray:
    if name not in frame.columns:
        raise HtaError(f"patient data: expected a column '{name}' ({what}); found columns "
                       f"{', '.join(map(str, frame.columns))}")
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        found = frame[name].iloc[pos]
        found = found.item() if isinstance(found, np.generic) else found
        raise HtaError(f"patient data, {_row_name(frame, pos, id_col)}: expected a number in "
                       f"'{name}' ({what}); found {found!r} "
                       f"({int(bad.sum())} such row(s))")
    return values


def transition_data(patients: pd.DataFrame, *, prog_time: str = "prog_ty", prog_event: str = "prog",
                    death_time: str = "death_ty", death_event: str = "death", arm: str | None = None,
                    weights=None, id: str | None = None) -> pd.DataFrame:
    """Transition rows of the illness-death model from one row per patient.

    Parameters
    ----------
    patients : DataFrame, one row per patient.
    prog_time, prog_event : columns of the time to progression or to the end of progression-free
        follow-up, and 1 = progression observed, 0 = not.
    death_time, death_event : columns of the time to death or last follow-up, and 1 = died.
    arm : optional column of a 0/1 treatment indicator, copied to the output.
    weights : optional column name or (N,) array of non-negative case weights (e.g. MAIC weights
        from ``hta.survival.maic``); default 1.
    id : optional column identifying patients (used in error messages and copied); default the
        row position.

    Returns
    -------
    DataFrame with columns ``id, row, trans, from, to, tstart, tstop, time, status, arm, weight``
    (``row`` is the patient's position in ``patients``; ``arm`` only if given). Times in the
    input's unit.

    Raises
    ------
    HtaError naming the first bad row: a missing or non-numeric value (e.g. a missing censoring
    indicator), an indicator that is not 0/1, a time <= 0, progression after death or last
    follow-up, progression recorded at the time of death (a death before progression marked as
    progression), or progression-free follow-up that ends before death/last follow-up without a
    progression.
    """
    if not isinstance(patients, pd.DataFrame) or len(patients) == 0:
        raise HtaError("patient data: expected a DataFrame with one row per patient; found "
                       f"{type(patients).__name__} with no rows" if isinstance(patients, pd.DataFrame)
                       else f"patient data: expected a DataFrame; found {type(patients).__name__}")
    if id is not None and id not in patients.columns:
        raise HtaError(f"patient data: expected an id column '{id}'; found columns "
                       f"{', '.join(map(str, patients.columns))}")
    tp = _column(patients, prog_time, "time to progression", id)
    dp = _column(patients, prog_event, "progression indicator, 1 = progressed, 0 = censored", id)
    td = _column(patients, death_time, "time to death", id)
    dd = _column(patients, death_event, "death indicator, 1 = died, 0 = censored", id)

    def first(mask, message):
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            raise HtaError(f"patient data, {_row_name(patients, pos, id)}: {message(pos)} "
                           f"({int(mask.sum())} such row(s))")

    for name, v in ((prog_event, dp), (death_event, dd)):
        first(~np.isin(v, (0.0, 1.0)), lambda p, n=name, v=v: f"expected '{n}' to be 0 or 1; found {v[p]:g}")
    for name, v in ((prog_time, tp), (death_time, td)):
        first(v <= 0, lambda p, n=name, v=v: f"expected '{n}' > 0; found {v[p]:g}")
    first(tp > td, lambda p: f"expected the progression time '{prog_time}' ({tp[p]:g}) to be at most "
                             f"the death/follow-up time '{death_time}' ({td[p]:g})")
    first((dp == 1) & (dd == 1) & (tp >= td),
          lambda p: f"progression recorded at the time of death ({tp[p]:g}): expected progression "
                    f"strictly before death; a death without progression has '{prog_event}' = 0")
    first((dp == 0) & (tp < td),
          lambda p: f"no progression, so expected progression-free follow-up '{prog_time}' "
                    f"({tp[p]:g}) to equal '{death_time}' ({td[p]:g}); the status between them is unknown")
    n = len(patients)
    if weights is None:
        w = np.ones(n)
    elif isinstance(weights, str):
        w = _column(patients, weights, "case weight", id)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (n,):
            raise HtaError(f"weights: expected {n} values (one per patient); found shape {w.shape}")
    first(~np.isfinite(w) | (w < 0), lambda p: f"expected a finite weight >= 0; found {w[p]!r}")
    a = None
    if arm is not None:
        a = _column(patients, arm, "treatment arm, 0/1", id)
        first(~np.isin(a, (0.0, 1.0)), lambda p: f"expected '{arm}' to be 0 or 1; found {a[p]:g}")

    ids = patients[id].to_numpy() if id is not None else np.arange(n)
    rows = np.arange(n)
    parts = []
    for number, origin, target, _ in TRANSITIONS:
        if origin == 0:
            keep = np.ones(n, bool)
            start, stop = np.zeros(n), tp
            status = dp if target == 1 else (1.0 - dp) * dd
        else:
            keep = (dp == 1) & (td > tp)
            start, stop, status = tp, td, dd
        part = pd.DataFrame({"id": ids[keep], "row": rows[keep], "trans": number, "from": origin,
                             "to": target, "tstart": start[keep], "tstop": stop[keep],
                             "time": (stop - start)[keep], "status": status[keep].astype(int)})
        if a is not None:
            part["arm"] = a[keep].astype(int)
        part["weight"] = w[keep]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["row", "trans"], kind="stable").reset_index(drop=True)
