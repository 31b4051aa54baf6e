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
  validated once, instead of being repeated into an ``(n, T, K, K)`` array;
* :func:`transitions`: only the transitions that can happen, ``{(from, to): probability}``,
  each a scalar, ``(n,)``, ``(1, T)`` or ``(n, T)``; staying is the complement. No ``K x K``
  matrix is built, and each cycle costs one multiply-add per transition (the cycle loop a
  hand-written model would have), which suits sparse, time-dependent models.

Transitions ``A->B`` listed in ``track`` (or all of them with ``track="all"``) are recorded per
cycle, so transition rewards (a cost of progression, of death) apply on the flows without tunnel
workarounds.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from hta.engine.cohort import Cohort
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
    if P.flags.c_contiguous:
        row_sums = P.reshape(-1, K) @ np.ones(K)  # a matrix-vector product: 5x faster than sum(-1)
    else:  # e.g. (n, K, K) views of (K, K, n) arrays: numpy adds whole (n,) columns, no copy
        row_sums = P.sum(axis=-1)
    return bool(row_sums.min() >= 1.0 - tol and row_sums.max() <= 1.0 + tol)  # NaN fails both


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


class Transitions:
    """Transition probabilities by (from, to) pair, staying as the complement.

    Build with :func:`transitions`. ``exits[a]`` lists ``(b, values)`` for the transitions out
    of state ``a`` (state indices), ``stay[a]`` the probability of staying; ``values`` are
    floats, ``(n,)`` arrays (per sample) or ``(n, T')`` arrays (per cycle, ``n`` possibly 1).
    """

    def __init__(self, states, exits, stay, n: int, n_cycles: int | None):
        self.states = tuple(states)
        self.exits = exits
        self.stay = stay
        self.n = n
        self.n_cycles = n_cycles

    @staticmethod
    def by_cycle(values, T: int) -> list:
        """Values of one probability in cycles ``1..T``: a list of floats or ``(n,)`` arrays."""
        if isinstance(values, np.ndarray) and values.ndim == 2:
            if values.shape[0] == 1:
                return values[0, :T].tolist()
            return [values[:, j] for j in range(T)]
        return [values] * T

    def matrices(self) -> np.ndarray:
        """The equivalent dense matrices ``(n, T, K, K)`` (for checks and small models)."""
        K, T = len(self.states), self.n_cycles or 1
        P = np.zeros((self.n, T, K, K))
        for a in range(K):
            for b, v in self.exits[a] + [(a, self.stay[a])]:
                P[:, :, a, b] = _as_nt(v, self.n, T)
        return P

    def __repr__(self) -> str:
        pairs = [f"{self.states[a]}->{self.states[b]}" for a in range(len(self.states)) for b, _ in self.exits[a]]
        return f"Transitions({', '.join(pairs)})"


def _as_nt(v, n: int, T: int) -> np.ndarray:
    if isinstance(v, np.ndarray) and v.ndim == 2:
        return np.broadcast_to(v, (n, T))
    return np.broadcast_to(np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) else v, (n, T))


def transitions(states, probabilities, *, strategy: str = "", validate: bool = True) -> Transitions:
    """Transition probabilities given only where a transition can happen.

    Parameters
    ----------
    states : sequence of str
        State names, in the order of the trace.
    probabilities : dict (from, to) -> values
        Probability of moving from state ``from`` to state ``to`` in a cycle: a scalar, an
        ``(n,)`` array (per sample, the same in every cycle), a ``(1, T)`` array (per cycle, the
        same in every sample) or an ``(n, T)`` array (per sample and cycle; cycle ``j`` is
        column ``j - 1``). A 1-D array is always per sample. The probability of staying in a
        state is 1 minus its exits; a pair ``(a, a)`` is an error.
    validate : bool
        Check each probability is in [0, 1] and each state's exits sum to at most 1 (tolerance
        1e-9); errors name the transition, cycle and sample.

    The cohort of ``cohort(transitions(...), ...)`` equals, bit for bit, the cohort of the
    equivalent dense matrices (:meth:`Transitions.matrices`), and is computed with one
    multiply-add per transition and cycle.
    """
    states = tuple(states)
    K = len(states)
    index = {s: i for i, s in enumerate(states)}
    exits: list[list] = [[] for _ in range(K)]
    n, T = 1, None
    converted = []
    for pair, values in dict(probabilities).items():
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise HtaError(f"strategy '{strategy}': transitions are keyed by (from, to) state names; found {pair!r}") from None
        for s in (a, b):
            if s not in index:
                raise HtaError(f"strategy '{strategy}', transition '{a}->{b}': no state named '{s}'; states are {', '.join(states)}")
        if a == b:
            raise HtaError(f"strategy '{strategy}', transition '{a}->{b}': staying in a state is the complement of its exits; "
                           "leave it out")
        v = np.asarray(values, dtype=float)
        if v.ndim > 2:
            raise HtaError(f"strategy '{strategy}', transition '{a}->{b}': expected a scalar, (n,), (1, T) or (n, T); found shape {v.shape}")
        if v.ndim == 2:
            if T is not None and v.shape[1] != T:
                raise HtaError(f"strategy '{strategy}', transition '{a}->{b}': per-cycle values cover {v.shape[1]} cycles; "
                               f"other transitions cover {T}")
            T = v.shape[1]
        if v.ndim >= 1 and v.shape[0] != 1:
            if n != 1 and v.shape[0] != n:
                raise HtaError(f"strategy '{strategy}', transition '{a}->{b}': {v.shape[0]} samples; other transitions have {n}")
            n = v.shape[0]
        converted.append((index[a], index[b], f"{a}->{b}", v))
    if validate:
        for _, _, name, v in converted:
            if v.size and not (v.min() >= -TOLERANCE and v.max() <= 1 + TOLERANCE):
                _raise_bad(strategy, name, v, "must be in [0, 1]", (v < -TOLERANCE) | (v > 1 + TOLERANCE) | np.isnan(v))
    stay: list = [1.0] * K
    for a, b, _, v in converted:
        stored = float(v) if v.ndim == 0 else v
        exits[a].append((b, stored))
    for a in range(K):
        if exits[a]:
            per_cycle = any(np.ndim(v) == 2 for _, v in exits[a])
            total = None
            for _, v in exits[a]:
                if per_cycle and np.ndim(v) == 1:
                    v = v[:, None]  # per sample, against per-cycle values (n|1, T)
                total = v if total is None else total + v
            stay[a] = 1.0 - total
            if validate and np.min(stay[a]) < -TOLERANCE:
                arr = np.asarray(stay[a])
                _raise_bad(strategy, f"exits from '{states[a]}'", arr, "must sum to at most 1", arr < -TOLERANCE, 1.0 - arr)
    return Transitions(states, exits, stay, n, T)


def _raise_bad(strategy: str, what: str, v: np.ndarray, expected: str, bad: np.ndarray, shown: np.ndarray | None = None):
    """Name the first sample (and cycle) where ``bad`` holds; ``v`` and ``bad`` are (), (n,) or (n, T)."""
    shown = v if shown is None else shown
    if v.ndim == 0:
        raise HtaError(f"strategy '{strategy}', transition {what}: probability {expected}; found {float(shown)!r}")
    idx = tuple(int(i[0]) for i in np.nonzero(np.atleast_1d(bad)))
    where = f"sample {idx[0]}" if len(idx) == 1 else f"cycle {idx[1] + 1}, sample {idx[0]}"
    raise HtaError(f"strategy '{strategy}', transition {what}, {where}: probability {expected}; found {shown[idx]!r}")


def _run_transitions(P: Transitions, x0: np.ndarray, T: int, pairs, strategy: str):
    """Trace (n, T+1, K) and tracked flows of a :class:`Transitions` cohort."""
    K = len(P.states)
    if P.n_cycles is not None and P.n_cycles < T:
        raise HtaError(f"strategy '{strategy}': per-cycle transition probabilities cover {P.n_cycles} cycles; the model has {T}")
    n = max(x0.shape[0], P.n)
    trace = np.empty((n, T + 1, K))
    trace[:, 0] = x0
    flows = {f"{P.states[a]}->{P.states[b]}": np.empty((n, T)) for a, b in pairs}
    # into[l]: (k, values) for every k with a transition to l (staying included), k ascending,
    # so the sums run in the order of the dense product
    into: list[list] = [[] for _ in range(K)]
    for a in range(K):
        for b, v in P.exits[a]:
            into[b].append((a, P.by_cycle(v, T)))
        into[a].append((a, P.by_cycle(P.stay[a], T)))
    for lst in into:
        lst.sort(key=lambda kv: kv[0])
    tracked = {(a, b): key for (a, b), key in zip(pairs, flows)}
    for (a, b), key in tracked.items():
        if not any(k == a for k, _ in into[b]):
            flows[key][:] = 0.0  # a transition that cannot happen
    x = np.broadcast_to(x0, (n, K))
    xc = [x[:, k] for k in range(K)]  # state columns; contiguous (n,) arrays after cycle 1
    for j in range(1, T + 1):
        new = []
        for l in range(K):
            acc = None
            for k, v in into[l]:
                term = xc[k] * v[j - 1]  # (n,)
                key = tracked.get((k, l))
                if key is not None:
                    flows[key][:, j - 1] = term
                if acc is None:
                    acc = term
                else:
                    acc += term
            new.append(acc)
        np.stack(new, axis=1, out=trace[:, j])  # one pass over the cycle's row of the trace
        xc = new
    return trace, flows


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
    keep_trace: bool = True,
) -> Cohort:
    """Run a Markov cohort over ``n_cycles`` cycles.

    Parameters
    ----------
    P : array, callable, Piecewise or Transitions
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
    keep_trace : bool
        False: do not store the trace (traces on request). The matrices are validated now; the
        cycle loop runs when :func:`hta.engine.outcomes.account` integrates the cohort, accumulating the
        person-cycles of each state instead of storing ``(n, T + 1, K)`` occupancies (less memory,
        fewer passes). Those sums are rounded in another order than with a stored trace: the
        same results to about ``2 (T + 1)`` units in the last place, not bit for bit. Asking for
        ``cohort.trace`` runs the loop again, storing it. For matrices given as an array or
        :func:`piecewise` segments, without ``track``.

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

    if isinstance(P, Transitions):
        if P.states != states:
            raise HtaError(f"strategy '{strategy}': the transitions are for states {', '.join(P.states)}; the cohort has {', '.join(states)}")
        trace, flows = _run_transitions(P, x0, T, _parse_track(track, states), strategy)
        return _finish(trace, flows, states, strategy, dead_states)

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
    pairs = _parse_track(track, states)
    flows = {f"{states[a]}->{states[b]}": np.empty((n, T)) for a, b in pairs}

    def cycles():
        """The occupancy x_j of cycles j = 1..T, each as a (K, n) array (see _matrix_cycles)."""
        plans = _Plans(P if isinstance(P, np.ndarray) and P.ndim == 4 else None, T, n,
                       reuse=isinstance(P, (np.ndarray, Piecewise)))
        return _matrix_cycles(first, matrix_for_cycle, per_cycle, plans, x0, n, K, T,
                              validate and per_cycle and not checked, strategy, states, zip(pairs, flows.values()))

    run = MatrixRun(x0, n, T, K, cycles)

    if not keep_trace:
        if pairs:
            raise HtaError(f"strategy '{strategy}': tracked transitions need the trace; run the cohort with keep_trace=True")
        if callable(P) and not isinstance(P, Piecewise):
            raise HtaError(f"strategy '{strategy}': keep_trace=False needs the transition matrices as an array or "
                           "piecewise(...), not a function of the cycle (its matrices would be computed again "
                           "whenever the trace is asked for)")
        if validate and per_cycle and not checked:
            for j in range(1, T + 1):  # name the first bad cycle now, not when the cohort is integrated
                _validate_matrix(matrix_for_cycle(j), strategy, states, j)
        dead = _check_dead(dead_states, states, strategy)
        return Cohort(strategy=strategy, states=states, events={}, dead_states=dead, runner=run)
    return _finish(run.trace(), flows, states, strategy, dead_states)


def _matrix_cycles(first, matrix_for_cycle, per_cycle: bool, plans: "_Plans", x0, n: int, K: int, T: int,
                   validate_each: bool, strategy: str, states, tracked):
    """Yield the occupancy ``x_j`` of each cycle ``j = 1..T`` as a ``(K, n)`` array (state rows).

    A yielded array is valid until the next-but-one cycle (two buffers alternate): copy what you
    keep. ``tracked`` pairs ``((a, b), flows)``: ``flows[:, j - 1]`` receives ``x_{j-1, a} P_j[a, b]``.
    """
    x = np.broadcast_to(x0, (n, K)).T  # (K, n) view of (n, K) state vectors
    rows = None  # the explicit update's two buffers, (2, K, n), allocated when first needed
    in_rows = False  # x is one of those buffers (else a view of (n, K) state vectors)
    tracked = list(tracked)
    for j in range(1, T + 1):
        Pj = first if j == 1 else (matrix_for_cycle(j) if per_cycle else first)
        if validate_each:
            _validate_matrix(Pj, strategy, states, j)
        for (a, b), flows in tracked:
            flows[:, j - 1] = x[a] * Pj[:, a, b]
        # A matrix shared by every sample takes the same elementwise sums as per-sample matrices
        # (never a BLAS product, whose order may depend on n): a sample's result is then the same
        # bits whatever the batch it is in, a chunk of one draw included.
        plan = plans.get(Pj)
        if plan is None:
            # einsum on (n, K) state vectors in C order
            xn = np.ascontiguousarray(x.T) if in_rows else x.T
            x = np.einsum("nk,nkl->nl", xn, Pj if Pj.shape[0] == n else np.broadcast_to(Pj, (n, K, K))).T
            in_rows = False
            yield x
            continue
        # x_l = sum_k x_k P[k, l] over the entries that are not 0 in every sample, k ascending:
        # einsum's sum in the same order without its multiply-adds by 0 (same bits, fewer passes)
        if rows is None:
            rows = np.empty((2, K, n))
            term = np.empty(n)
        new = rows[j % 2]
        for l, sources in enumerate(plan):
            if not sources:
                new[l] = 0.0
                continue
            (k, column), *rest = sources
            np.multiply(x[k], Pj[:, k, l] if column is None else column, out=new[l])
            for k, column in rest:
                np.multiply(x[k], Pj[:, k, l] if column is None else column, out=term)
                new[l] += term
        x, in_rows = new, True
        yield x


class MatrixRun:
    """The cycle loop of a Markov cohort with transition matrices, to run on request.

    :meth:`trace` runs it storing every cycle; :meth:`integrate` runs it accumulating weighted
    sums of the occupancy over the time points instead, for :func:`hta.engine.outcomes.account`. A
    cohort run with ``keep_trace=False`` keeps its run (and so its transition matrices) for both.
    """

    def __init__(self, x0, n: int, T: int, K: int, cycles):
        self.x0, self.n, self.T, self.K = x0, n, T, K
        self._cycles = cycles

    def trace(self) -> np.ndarray:
        """The trace ``(n, T + 1, K)``."""
        trace = np.empty((self.n, self.T + 1, self.K))
        trace[:, 0] = self.x0
        for j, x in enumerate(self._cycles(), start=1):
            trace[:, j] = x.T  # one pass over the cycle's row of the trace
        return trace

    def integrate(self, weights: np.ndarray, out: list, points: tuple[int, int] | None = None):
        """Accumulate ``out[c][k] = sum_t weights[t, c] x_t[k]`` for point weights ``(T + 1, C)``
        into ``out``, a list of ``C`` arrays ``(K, n)`` (e.g. views into the caller's result arrays);
        return the occupancy at points ``lo..hi`` (``points = (lo, hi)``) as an
        ``(n, hi - lo + 1, K)`` array, or None.

        The sums run over ``t = 0..T`` in that order, elementwise (so
        independent of n and of chunking); terms of weight 0 after the first point are skipped
        (for finite occupancies they add exactly 0); identical columns are summed once and copied.

        Each term is rounded once (no fused multiply-add), in time order: the sums differ from
        the matrix product over a stored trace (``_Integrator.point_totals_many`` in
        :mod:`hta.engine.outcomes`) in the last bits only, by at most ``2 (T + 1)`` units in the last
        place relative for non-negative weights (``tests/test_fast_paths.py`` checks the bound).
        """
        W = np.asarray(weights, dtype=float)
        # identical weight columns (e.g. undiscounted twice, or a discount rate of 0) are summed once
        first_of = [next(u for u in range(c + 1) if np.array_equal(W[:, u], W[:, c])) for c in range(W.shape[1])]
        unique = [c for c, u in enumerate(first_of) if u == c]
        x = np.broadcast_to(self.x0, (self.n, self.K)).T
        for c in unique:
            np.multiply(x, W[0, c], out=out[c])
        window = None
        if points is not None:
            lo, hi = points
            window = np.empty((self.n, hi - lo + 1, self.K))
            if lo == 0:
                window[:, 0] = self.x0
        term = np.empty((self.K, self.n))
        for j, x in enumerate(self._cycles(), start=1):
            for c in unique:
                w = W[j, c]
                if w == 1.0:    # x * 1.0 is x, bit for bit: skip the multiplication
                    out[c] += x
                elif w != 0.0:  # points of weight 0 add nothing (a reward in some cycles only)
                    np.multiply(x, w, out=term)
                    out[c] += term
            if window is not None and lo <= j <= hi:
                window[:, j - lo] = x.T
        for c, u in enumerate(first_of):
            if u != c:
                out[c][...] = out[u]
        return window


def _check_dead(dead_states, states, strategy: str) -> tuple:
    dead = tuple(dead_states)
    for s in dead:
        if s not in states:
            raise HtaError(f"strategy '{strategy}': dead state '{s}' is not a state; states are {', '.join(states)}")
    return dead


def _finish(trace, flows, states, strategy: str, dead_states) -> Cohort:
    dead = _check_dead(dead_states, states, strategy)
    return Cohort(strategy=strategy, states=states, trace=trace, events=flows, dead_states=dead)


#: The explicit (sparse) cohort update is used for batches of at least this many samples and
#: transition matrices with at most this many entries that are not 0 in every sample; larger
#: or denser problems use einsum (the same sums, in the same order, bit for bit).
SPARSE_MIN_SAMPLES = 32
SPARSE_MAX_ENTRIES = 64


class _Plans:
    """Which entries of the per-sample matrices can be skipped, per matrix object.

    A plan lists, for each target state ``l``, the source states ``k`` whose ``P[:, k, l]`` is
    not 0 in every sample (NaN counts as non-zero), with contiguous copies of those columns
    for matrices that serve many cycles. Matrices seen before (constant or piecewise
    matrices, the same object every cycle) reuse their plan; the cycle slices of an
    ``(n, T, K, K)`` array share one plan for all cycles; a callable's matrices (new arrays
    each cycle, ``reuse=False``) get a plan per cycle and are not kept. ``get`` returns None
    where einsum is the better choice.
    """

    def __init__(self, P4: np.ndarray | None, T: int, n: int, reuse: bool):
        self.enabled = n >= SPARSE_MIN_SAMPLES
        self.reuse = reuse
        self.cache: dict[int, tuple] = {}
        self.shared = None
        if self.enabled and P4 is not None:
            self.shared = self._plan(P4[:, :T].any(axis=(0, 1)))

    @staticmethod
    def _plan(nonzero: np.ndarray, P: np.ndarray | None = None):
        """Per target ``l``: ``(k, column)``; column is a contiguous copy of ``P[:, k, l]`` for
        matrices used in many cycles, else None (read from the cycle's matrix)."""
        if int(nonzero.sum()) > SPARSE_MAX_ENTRIES:
            return None
        return [[(k, None if P is None else np.ascontiguousarray(P[:, k, l])) for k in np.flatnonzero(nonzero[:, l]).tolist()]
                for l in range(nonzero.shape[1])]

    def get(self, Pj: np.ndarray):
        if not self.enabled:
            return None
        if self.shared is not None:
            return self.shared
        if not self.reuse:
            return self._plan(Pj.any(axis=0))
        hit = self.cache.get(id(Pj))
        if hit is not None and hit[0] is Pj:
            return hit[1]
        plan = self._plan(Pj.any(axis=0), Pj)
        self.cache[id(Pj)] = (Pj, plan)  # keeps Pj alive, so its id is not reused
        return plan


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
