"""Markov cohort (state-transition) engine, vectorised over samples.

A cohort of proportions moves through ``K`` states over ``T`` cycles:
``x_j = x_{j-1} P_j`` (row vector times a row-stochastic matrix), for a batch of ``n`` samples at
once. Transition probabilities may be

* ``(K, K)``: the same in every cycle and sample;
* ``(n, K, K)``: per sample, constant over cycles;
* ``(n, T, K, K)``: per sample and cycle (``n`` may be 1 to share across samples);
* a callable ``P(j)`` of the cycle index ``j = 1..T`` returning ``(K, K)`` or ``(n, K, K)``,
  which keeps memory at one cycle's matrices (e.g. age-dependent mortality);
* :func:`piecewise` segments ``(cycles, matrices)``: matrices constant within each segment (a
  treatment effect for the first two years, then none). Each segment's matrices are stored and
  validated once, instead of being repeated into an ``(n, T, K, K)`` array.

Transitions ``A->B`` listed in ``track`` (or all of them with ``track="all"``) are recorded per
cycle, so transition rewards (a cost of progression, of death) apply on the flows without tunnel
workarounds.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from hta.cohort import Cohort
from hta.errors import HtaError

TOLERANCE = 1e-9


def _all_valid(P: np.ndarray, tol: float = TOLERANCE) -> bool:
    """Fast check that every probability is in [0, 1] and every row sums to 1 (NaN fails).

    Reductions only, no boolean temporaries, so a whole ``(n, T, K, K)`` array is checked in a
    few passes; :func:`_validate_matrix` finds and names the culprit when this fails.
    """
    lo, hi = P.min(), P.max()
    if not (lo >= -tol and hi <= 1 + tol):
        return False
    K = P.shape[-1]
    row_sums = P.reshape(-1, K) @ np.ones(K)  # a matrix-vector product: 5x faster than sum(-1)
    return bool(np.abs(row_sums - 1.0).max() <= tol)


def _validate_matrix(P: np.ndarray, strategy: str, states, cycle: int | None, tol: float = TOLERANCE) -> None:
    """Check probabilities in [0, 1] and rows summing to 1; ``P`` is ``(n, K, K)``.

    ``cycle`` is None when the matrix applies to every cycle.
    """
    if _all_valid(P, tol):
        return
    bad_range = (P < -tol) | (P > 1 + tol) | ~np.isfinite(P)
    row_sums = P.sum(axis=-1)
    bad_rows = np.abs(row_sums - 1.0) > tol
    if not (bad_range.any() or bad_rows.any()):
        return
    where_cycle = "every cycle" if cycle is None else f"cycle {cycle}"
    if bad_range.any():
        s, a, b = (int(v[0]) for v in np.nonzero(bad_range))
        raise HtaError(
            f"strategy '{strategy}', state '{states[a]}', {where_cycle}, sample {s}: transition "
            f"probability to '{states[b]}' must be in [0, 1]; found {P[s, a, b]!r}"
        )
    s, a = (int(v[0]) for v in np.nonzero(bad_rows))
    raise HtaError(
        f"strategy '{strategy}', state '{states[a]}', {where_cycle}, sample {s}: transition "
        f"probabilities out of the state must sum to 1 (tolerance {tol:g}); found {row_sums[s, a]!r}"
    )


class Piecewise:
    """Transition matrices that are constant within consecutive runs of cycles.

    Build with :func:`piecewise`. ``segments`` is a tuple of ``(first_cycle, last_cycle, P)``
    with ``P`` of shape ``(K, K)`` or ``(n, K, K)`` and cycles numbered ``1..T``; the last
    segment may be open (``last_cycle`` None: every later cycle).
    """

    def __init__(self, segments):
        self.segments = tuple(segments)

    def __repr__(self) -> str:
        return "Piecewise(" + ", ".join(f"cycles {a}-{'' if b is None else b}" for a, b, _ in self.segments) + ")"


def piecewise(*segments) -> Piecewise:
    """Piecewise-constant transition matrices: ``piecewise((2, P_early), (None, P_late))``.

    Each argument is ``(cycles, P)``: ``P`` (``(K, K)`` or ``(n, K, K)``) applies for the next
    ``cycles`` cycles; ``cycles=None`` (last segment only) means every remaining cycle. The
    segments must cover the model's cycles. Passing the result to :func:`cohort` gives the same
    cohort, bit for bit, as the equivalent ``(n, T, K, K)`` array, without building it.
    """
    if not segments:
        raise HtaError("piecewise transition matrices: need at least one (cycles, matrices) segment; found none")
    out = []
    first = 1
    for i, seg in enumerate(segments):
        try:
            cycles, P = seg
        except (TypeError, ValueError):
            raise HtaError(f"piecewise transition matrices, segment {i + 1}: expected a pair (cycles, matrices); found {seg!r}") from None
        if cycles is None:
            if i != len(segments) - 1:
                raise HtaError(f"piecewise transition matrices, segment {i + 1}: only the last segment may have cycles=None")
            last = None
        else:
            if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer)) or cycles < 1:
                raise HtaError(f"piecewise transition matrices, segment {i + 1}: cycles must be a whole number >= 1; found {cycles!r}")
            last = first + int(cycles) - 1
        out.append((first, last, P))
        if last is not None:
            first = last + 1
    return Piecewise(out)


def _parse_track(track, states) -> list[tuple[int, int]]:
    K = len(states)
    if track is None:
        return []
    if isinstance(track, str) and track == "all":
        return [(a, b) for a in range(K) for b in range(K) if a != b]
    pairs = []
    for item in track:
        if isinstance(item, str):
            if "->" not in item:
                raise HtaError(f"tracked transition: expected 'A->B'; found '{item}'")
            a, b = (s.strip() for s in item.split("->", 1))
        else:
            a, b = item
        for s in (a, b):
            if s not in states:
                raise HtaError(f"tracked transition '{a}->{b}': no state named '{s}'; states are {', '.join(states)}")
        pairs.append((states.index(a), states.index(b)))
    return pairs


def cohort(
    P,
    initial,
    n_cycles: int,
    *,
    states: Iterable[str] | None = None,
    strategy: str = "",
    track=None,
    dead_states: Iterable[str] = (),
    validate: bool = True,
) -> Cohort:
    """Run a Markov cohort over ``n_cycles`` cycles.

    Parameters
    ----------
    P : array, callable or Piecewise
        Transition probabilities, see the module docstring. Rows are "from", columns "to".
    initial : array, shape (K,) or (n, K)
        Starting distribution over states (sums to 1).
    n_cycles : int
        Number of cycles ``T``.
    states : list of str, optional
        State names (default ``S0 .. S{K-1}``).
    strategy : str
        Strategy name, used in error messages.
    track : None, "all", or iterable of "A->B" / (A, B)
        Transitions whose flows are recorded per cycle in ``Cohort.events["A->B"]`` (n, T).
    dead_states : iterable of str
        States that accrue no life-years (e.g. ``("dead",)``).
    validate : bool
        Check every probability is in [0, 1] and every row sums to 1 (tolerance 1e-9); errors
        name the strategy, state, cycle and sample.

    Returns
    -------
    Cohort
        With ``trace`` of shape ``(n, T + 1, K)``.
    """
    T = int(n_cycles)
    if T < 1:
        raise HtaError(f"strategy '{strategy}': number of cycles must be at least 1; found {n_cycles}")
    x0 = np.atleast_2d(np.asarray(initial, dtype=float))
    K = x0.shape[-1]
    states = tuple(states) if states is not None else tuple(f"S{k}" for k in range(K))
    if len(states) != K:
        raise HtaError(f"strategy '{strategy}': {len(states)} state names for {K} states")
    if validate and (np.any(x0 < -TOLERANCE) or np.any(np.abs(x0.sum(axis=-1) - 1) > TOLERANCE)):
        raise HtaError(f"strategy '{strategy}': the initial distribution must be proportions summing to 1; found {x0[0].tolist()}")

    matrix_for_cycle: Callable[[int], np.ndarray]
    checked = False  # True once every cycle's matrices are known to be valid
    if isinstance(P, Piecewise):
        matrix_for_cycle, per_cycle, n_mats = _piecewise_lookup(P, T, K, strategy, states, validate)
        checked = True
    elif callable(P):
        def matrix_for_cycle(j):
            Pj = np.asarray(P(j), dtype=float)
            return Pj[None] if Pj.ndim == 2 else Pj
        per_cycle = True
    else:
        P = np.asarray(P, dtype=float)
        if P.shape[-2:] != (K, K):
            raise HtaError(f"strategy '{strategy}': transition matrix must end in shape ({K}, {K}); found {P.shape}")
        if P.ndim == 2:
            P = P[None]
        if P.ndim == 3:
            if validate:
                _validate_matrix(P, strategy, states, None)
            per_cycle = False
            matrix_for_cycle = lambda j: P  # noqa: E731
        elif P.ndim == 4:
            if P.shape[1] < T:
                raise HtaError(f"strategy '{strategy}': per-cycle transition matrices cover {P.shape[1]} cycles; the model has {T}")
            per_cycle = True
            matrix_for_cycle = lambda j: P[:, j - 1]  # noqa: E731
            # one vectorised check of all cycles; the per-cycle check below then only runs to
            # name the first bad cycle
            checked = validate and _all_valid(P[:, :T])
        else:
            raise HtaError(f"strategy '{strategy}': transition matrix must have 2, 3 or 4 dimensions; found shape {P.shape}")

    first = matrix_for_cycle(1)
    n = max(x0.shape[0], first.shape[0], n_mats if isinstance(P, Piecewise) else 1)
    trace = np.empty((n, T + 1, K))
    trace[:, 0] = x0
    pairs = _parse_track(track, states)
    flows = {f"{states[a]}->{states[b]}": np.empty((n, T)) for a, b in pairs}

    x = np.broadcast_to(x0, (n, K))
    for j in range(1, T + 1):
        Pj = first if j == 1 else (matrix_for_cycle(j) if per_cycle else first)
        if validate and per_cycle and not checked:
            _validate_matrix(Pj, strategy, states, j)
        for (a, b), key in zip(pairs, flows):
            flows[key][:, j - 1] = x[:, a] * Pj[:, a, b]
        if Pj.shape[0] == 1:
            x = x @ Pj[0]
        else:
            x = np.einsum("nk,nkl->nl", x, Pj)
        trace[:, j] = x
    dead = tuple(dead_states)
    for s in dead:
        if s not in states:
            raise HtaError(f"strategy '{strategy}': dead state '{s}' is not a state; states are {', '.join(states)}")
    return Cohort(strategy=strategy, states=states, trace=trace, events=flows, dead_states=dead)


def _piecewise_lookup(P: Piecewise, T: int, K: int, strategy: str, states, validate: bool):
    """(matrix_for_cycle, per_cycle) for piecewise matrices; each segment is validated once."""
    segments = []
    for first, last, M in P.segments:
        M = np.asarray(M, dtype=float)
        if M.ndim == 2:
            M = M[None]
        if M.ndim != 3 or M.shape[-2:] != (K, K):
            raise HtaError(f"strategy '{strategy}': piecewise transition matrices for cycles {first}-{'' if last is None else last} "
                           f"must have shape ({K}, {K}) or (n, {K}, {K}); found {M.shape}")
        if validate and first <= T:
            where = f"cycles {first}-{T if last is None else min(last, T)}"
            try:
                _validate_matrix(M, strategy, states, None)
            except HtaError as exc:  # name the cycles the bad matrices apply to
                raise HtaError(str(exc).replace("every cycle", where)) from None
        segments.append((first, last, M))
    end = segments[-1][1]
    if end is not None and end < T:
        raise HtaError(f"strategy '{strategy}': piecewise transition matrices cover {end} cycles; the model has {T}")
    lookup = [None] * (T + 1)
    for first, last, M in segments:
        for j in range(first, (T if last is None else min(last, T)) + 1):
            lookup[j] = M
    n = max(M.shape[0] for _, _, M in segments)
    return (lambda j: lookup[j]), len(segments) > 1, n


def with_tunnel(P, states, state: str, exit_rows):
    """Expand ``state`` into a chain of tunnel states (time since entry).

    Parameters
    ----------
    P : array (..., K, K)
        Transitions of the base model. The row of ``state`` is ignored: its exits come from
        ``exit_rows``. Entries into ``state`` go to the first tunnel state.
    states : sequence of str
        Base state names.
    state : str
        The state to expand.
    exit_rows : array (..., L, K)
        Row ``i`` holds the probabilities of moving from tunnel position ``i + 1`` to each base
        state; the mass on ``state`` itself means "remain", i.e. move on to position ``i + 2``
        (the last position is absorbing within the tunnel).

    Returns
    -------
    P_expanded : array (..., K + L - 1, K + L - 1)
    new_states : list of str
        ``state`` is replaced in place by ``state#1 .. state#L``.
    """
    states = list(states)
    if state not in states:
        raise HtaError(f"tunnel: no state named '{state}'; states are {', '.join(states)}")
    P = np.asarray(P, dtype=float)
    E = np.asarray(exit_rows, dtype=float)
    K = len(states)
    L = E.shape[-2]
    s = states.index(state)
    names = states[:s] + [f"{state}#{i + 1}" for i in range(L)] + states[s + 1:]

    def new_index(base: int) -> int:  # index of a non-tunnel base state in the expanded model
        return base if base < s else base + L - 1

    batch = np.broadcast_shapes(P.shape[:-2], E.shape[:-2])
    Q = np.zeros(batch + (K + L - 1, K + L - 1))
    others = [k for k in range(K) if k != s]
    for a in others:
        for b in others:
            Q[..., new_index(a), new_index(b)] = P[..., a, b]
        Q[..., new_index(a), s] = P[..., a, s]  # entries go to the first tunnel position
    for i in range(L):
        row = s + i
        for b in others:
            Q[..., row, new_index(b)] = E[..., i, b]
        Q[..., row, s + min(i + 1, L - 1)] = E[..., i, s]
    return Q, names
