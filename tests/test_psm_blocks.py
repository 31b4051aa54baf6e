"""hta.engine.psm's one pass over blocks of rows (range check, clip and cap fused) against the
implementation it replaced, kept here as the reference: the same capped curves (bits, signs of
zeros included), the same report, and the same error (message text, which curve) for any block
size, for curves that are clipped, capped in some blocks only, or rejected in any block."""

import warnings

import numpy as np
import pytest

from hta.engine import psm
from hta.engine.cohort import Cohort
from hta.errors import HtaError

# =============================================================================================
# Reference: hta.engine.psm before the fusion (main at f847564), with the block size an argument
# =============================================================================================


def _ref_row_blocks(n, T1, block_bytes):
    rows = max(1, block_bytes // (8 * max(T1, 1)))
    return [slice(a, min(a + rows, n)) for a in range(0, n, rows)]


def _ref_check_range(c, strategy, name, block_bytes):
    blocks = _ref_row_blocks(c.shape[0], c.shape[-1], block_bytes) if c.ndim == 2 else [slice(None)]
    lo = np.min([c[b].min() for b in blocks])
    hi = np.max([c[b].max() for b in blocks])
    if not (lo >= -1e-12 and hi <= 1 + 1e-12):
        raise HtaError(f"strategy '{strategy}', {name}: survival must be in [0, 1]; found values from {np.nanmin(c):.6g} to {np.nanmax(c):.6g}")
    return bool(lo >= 0.0 and hi <= 1.0)


def _ref_partition(S, inside, states, endpoint_names, strategy, block_bytes):
    m, n, T1 = S.shape
    gaps = {i: (np.empty(n), np.empty(n, dtype=np.intp)) for i in range(m - 1)}
    points = {i: 0 for i in range(m - 1)}
    samples = {i: 0 for i in range(m - 1)}
    cycles_over = {i: np.zeros(T1, dtype=bool) for i in range(m - 1)}
    for rows in _ref_row_blocks(n, T1, block_bytes):
        block = S[:, rows]
        for i in range(m):
            if not inside[i]:
                np.clip(block[i], 0.0, 1.0, out=block[i])
        for i in range(m - 2, -1, -1):
            c, later = block[i], block[i + 1]
            gap = c - later
            at = np.argmax(gap, axis=1)
            gaps[i][0][rows] = gap[np.arange(gap.shape[0]), at]
            gaps[i][1][rows] = at
            over = c > later
            if over.any():
                points[i] += int(np.count_nonzero(over))
                samples[i] += int(over.any(axis=1).sum())
                cycles_over[i] |= over.any(axis=0)
                np.minimum(c, later, out=c)
    report = {"capped": {}, "crossing": {}}
    for i in range(m - 2, -1, -1):
        report["crossing"][endpoint_names[i]] = psm.Crossing(endpoint_names[i + 1], gaps[i][0], gaps[i][1])
        if points[i]:
            report["capped"][endpoint_names[i]] = {
                "points": points[i], "cycles": int(cycles_over[i].sum()), "samples": samples[i],
                "first_time_index": int(np.argmax(cycles_over[i]))}
    return Cohort(strategy=strategy, states=states, report=report, dead_states=(states[-1],),
                  partition=[S[i] for i in range(m)], partition_stack=S)


def ref_cohort(survival, block_bytes, *, states=None, strategy="", endpoint_names=None):
    curves = [np.atleast_2d(np.asarray(s, dtype=float)) for s in survival]
    if len(curves) < 1:
        raise HtaError(f"strategy '{strategy}': a partitioned-survival model needs at least one survival curve")
    states, endpoint_names = psm._names(len(curves), states, endpoint_names, strategy)
    shapes = {c.shape[1] for c in curves}
    if len(shapes) != 1:
        raise HtaError(f"strategy '{strategy}': survival curves must share the time grid; found lengths {sorted(shapes)}")
    n = max(c.shape[0] for c in curves)
    T1 = shapes.pop()
    inside = [_ref_check_range(c, strategy, name, block_bytes) for name, c in zip(endpoint_names, curves)]
    stacked = np.empty((len(curves), n, T1))
    for i, c in enumerate(curves):
        stacked[i] = c
    return _ref_partition(stacked, inside, states, endpoint_names, strategy, block_bytes)


def ref_cohort_from_stack(S, block_bytes, *, states=None, strategy="", endpoint_names=None):
    states, endpoint_names = psm._names(S.shape[0], states, endpoint_names, strategy)
    inside = [_ref_check_range(S[i], strategy, name, block_bytes) for i, name in enumerate(endpoint_names)]
    return _ref_partition(S, inside, states, endpoint_names, strategy, block_bytes)


# =============================================================================================
# Helpers
# =============================================================================================


def _curves(n, T1, m, seed, cross_rows=()):
    """m survival curves (n, T1), decreasing from 1, each later curve above the earlier one except
    in ``cross_rows``, where curve 0 rises above curve 1 from a third of the grid on."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, T1)
    rates = np.sort(rng.uniform(0.05, 0.9, (n, m)), axis=1)[:, ::-1]   # earlier curves fall faster
    S = np.exp(-rates.T[:, :, None] * t)
    for r in cross_rows:
        S[0, r, T1 // 3:] = np.minimum(1.0, S[1, r, T1 // 3:] * rng.uniform(1.001, 1.2))
    return np.ascontiguousarray(S)


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint64)


def _same_cohort(new, ref):
    assert np.array_equal(_bits(new.partition_stack), _bits(ref.partition_stack))   # -0.0 vs 0.0 too
    assert new.report["capped"] == ref.report["capped"]
    assert list(new.report["crossing"]) == list(ref.report["crossing"])
    for k, rec in ref.report["crossing"].items():
        got = new.report["crossing"][k]
        assert got.later == rec.later
        assert np.array_equal(_bits(got.largest_gap), _bits(rec.largest_gap))
        assert np.array_equal(got.time_index, rec.time_index) and got.time_index.dtype == rec.time_index.dtype
    assert new.states == ref.states and new.dead_states == ref.dead_states and new.strategy == ref.strategy


def _outcome(fn):
    """('ok', value) or (exception type, message, RuntimeWarnings raised) of ``fn()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:   # noqa: BLE001 - the type is compared too
            return (type(exc), str(exc), sorted(str(w.message) for w in caught))
    return ("ok", value)


def _compare(S, block_bytes, monkeypatch, **kw):
    """Both entry points, new and reference, on copies of ``S``: same cohorts or same errors."""
    monkeypatch.setattr(psm, "_BLOCK_BYTES", block_bytes)
    runs = {
        "stack": (_outcome(lambda: psm.cohort_from_stack(S.copy(), **kw)),
                  _outcome(lambda: ref_cohort_from_stack(S.copy(), block_bytes, **kw))),
        "list": (_outcome(lambda: psm.cohort(list(S), **kw)),
                 _outcome(lambda: ref_cohort(list(S), block_bytes, **kw))),
    }
    for new, ref in runs.values():
        if ref[0] == "ok":
            assert new[0] == "ok", new
            _same_cohort(new[1], ref[1])
        else:
            assert new == ref
    return runs["stack"][1]


# rows per block: 1, 7 (does not divide 61), 61 (all), and more than all
BLOCKS = [8 * 40 * r for r in (1, 7, 61, 1000)]


# =============================================================================================
# Tests
# =============================================================================================


@pytest.mark.parametrize("block_bytes", BLOCKS)
@pytest.mark.parametrize("m", [1, 2, 3])
def test_cohorts_and_reports_equal_the_reference(block_bytes, m, monkeypatch):
    S = _curves(61, 40, m, seed=m, cross_rows=(3, 4, 40) if m > 1 else ())
    if m == 3:
        S[1, 50, 20:] = S[2, 50, 20:] * 1.01   # curve 1 above curve 2: capped, then curve 0 at the capped curve
    ref = _compare(S, block_bytes, monkeypatch)
    if m > 1:
        assert ref[1].report["capped"]["PFS" if m == 2 else "curve 1"]["samples"] >= 3


@pytest.mark.parametrize("block_bytes", BLOCKS)
def test_values_just_outside_the_unit_interval_are_clipped_as_before(block_bytes, monkeypatch):
    S = _curves(61, 40, 2, seed=7, cross_rows=(10, 11))
    S[1, 5, 3] = 1.0 + 5e-13       # clipped to 1
    S[1, 59, 39] = -3e-13          # clipped to 0
    S[1, 30, 39] = 1e-300          # tiny, kept
    S[0, 33, 12] = -1e-12          # exactly the tolerance: clipped
    ref = _compare(S, block_bytes, monkeypatch)
    capped = ref[1].partition_stack
    assert capped[1, 5, 3] == 1.0 and capped[1, 59, 39] == 0.0 and capped[0, 33, 12] == 0.0


@pytest.mark.parametrize("block_bytes", BLOCKS)
def test_signed_zeros_are_kept_or_capped_as_before(block_bytes, monkeypatch):
    # np.minimum(+0, -0) takes the later curve's zero: blocks holding -0.0 are capped whole, as before.
    S = _curves(61, 40, 2, seed=11, cross_rows=(2, 20, 45))
    S[:, :, 30:] = 0.0
    S[0, 2, 35] = -0.0             # a crossing row
    S[1, 21, 31:33] = -0.0         # a row that does not cross, in a block that may hold a crossing row
    S[1, 50, 36] = -0.0            # a block without a crossing row (for small blocks)
    S[0, 58, 38] = -2e-13          # clipped, to +0.0
    ref = _compare(S, block_bytes, monkeypatch)
    assert np.signbit(ref[1].partition_stack).any()


@pytest.mark.parametrize("block_bytes", BLOCKS)
@pytest.mark.parametrize("case", [
    # (curve, row, time index, value): bad values, the first bad curve in curve order is reported
    [(1, 3, 5, np.nan)],
    [(0, 60, 39, np.nan)],
    [(1, 0, 0, 1.5), (0, 59, 2, -0.2)],                 # curve 0 bad only in a later block than curve 1
    [(0, 30, 7, 1.0 + 2e-12)],                          # just beyond the tolerance
    [(1, 45, 1, -np.inf), (1, 46, 1, np.nan)],
    [(0, 12, 20, np.inf)],
    [(1, 60, 39, 2.0)],                                 # the last value of all
])
def test_errors_equal_the_reference(block_bytes, case, monkeypatch):
    S = _curves(61, 40, 2, seed=13, cross_rows=(1, 2, 8, 9, 25, 59))
    S[0, 14, 5] = 1.0 + 4e-13      # clipped where it is reached before the bad value
    for i, r, k, v in case:
        S[i, r, k] = v
    ref = _compare(S, block_bytes, monkeypatch, strategy="arm")
    assert ref[0] is HtaError and "survival must be in [0, 1]" in ref[1]
    first_bad = min(i for i, *_ in case)
    assert f"'arm', {('PFS', 'OS')[first_bad]}:" in ref[1]


def test_error_messages_come_from_the_curves_before_capping(monkeypatch):
    # The smallest value of curve 0 lies in a row capped in an earlier block; its largest value in
    # a block that was clipped: the message still gives them as they were given.
    S = _curves(61, 40, 2, seed=17, cross_rows=(4,))
    S[1, 4, 39], S[0, 4, 39] = 1e-9, 1e-8          # PFS's smallest value, above OS: capped to 1e-9
    low = float(S[0].min())
    assert low == 1e-8
    S[0, 9, 0] = 1.0 + 1e-12                       # clipped, and the largest value
    S[0, 55, 30] = np.nan
    monkeypatch.setattr(psm, "_BLOCK_BYTES", 8 * 40 * 5)
    with pytest.raises(HtaError) as got:
        psm.cohort_from_stack(S.copy(), strategy="x")
    assert str(got.value) == f"strategy 'x', PFS: survival must be in [0, 1]; found values from {low:.6g} to {1 + 1e-12:.6g}"
    _compare(S, 8 * 40 * 5, monkeypatch, strategy="x")


def test_a_curve_of_nan_only_warns_and_reports_as_before(monkeypatch):
    S = _curves(12, 40, 2, seed=19)
    S[1] = np.nan
    ref = _compare(S, 8 * 40 * 5, monkeypatch)
    assert ref[0] is HtaError and "found values from nan to nan" in ref[1] and ref[2]   # numpy's all-NaN warning


@pytest.mark.parametrize("block_bytes", BLOCKS)
def test_one_sample(block_bytes, monkeypatch):
    S = _curves(1, 40, 2, seed=23, cross_rows=(0,))
    _compare(S, block_bytes, monkeypatch)
    S[1, 0, 39] = 1.0 + 1e-11
    assert _compare(S, block_bytes, monkeypatch)[0] is HtaError


def test_curves_given_as_one_row_and_odd_shapes(monkeypatch):
    monkeypatch.setattr(psm, "_BLOCK_BYTES", 8 * 40 * 3)
    S = _curves(10, 40, 2, seed=29, cross_rows=(6,))
    for survival in ([S[0], S[1, :1]], [S[0, 2], S[1]], [S[0, :3], S[1]], [S[0, :3], S[1] * 2],
                     [S[0][None], S[1]], [S[0, :0], S[1, :0]], [S[0, :, :0], S[1, :, :0]]):
        new = _outcome(lambda: psm.cohort(survival, strategy="s"))
        ref = _outcome(lambda: ref_cohort(survival, 8 * 40 * 3, strategy="s"))
        if ref[0] == "ok":
            _same_cohort(new[1], ref[1])
        else:
            assert new[:2] == ref[:2]
    for stack in (np.empty((0, 10, 40)), np.empty((2, 0, 40)), np.empty((2, 10, 0))):
        new = _outcome(lambda: psm.cohort_from_stack(stack.copy()))
        ref = _outcome(lambda: ref_cohort_from_stack(stack.copy(), 8 * 40 * 3))
        assert (new[0] == "ok") == (ref[0] == "ok") and (new[:2] == ref[:2] if ref[0] != "ok" else True)
        if ref[0] == "ok":
            _same_cohort(new[1], ref[1])


def test_random_curves_and_blocks_equal_the_reference(monkeypatch):
    # 300 small cases: 1 to 3 curves, 1 to 25 samples, 1 to 9 time points, any rows per block, with
    # crossings, zeros of either sign, values near and far outside [0, 1], NaN and infinities.
    rng = np.random.default_rng(2026)
    specials = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1e-12, 1 + 1e-12, -5e-13, 1 + 5e-13,
                -2e-12, 1 + 3e-12, 1.7, -0.4, 5e-324]
    outcomes = set()
    for _ in range(300):
        m, n, T1 = int(rng.integers(1, 4)), int(rng.integers(1, 26)), int(rng.integers(1, 10))
        S = np.sort(rng.uniform(0.0, 1.0, (m, n, T1)), axis=0)          # ordered curves
        S = np.where(rng.random((m, n, T1)) < 0.15, np.roll(S, 1, axis=0), S)   # some crossings
        S[rng.random((m, n, T1)) < 0.1] = 0.0
        k = rng.poisson(rng.choice([0.0, 0.5, 2.0]))
        for v in rng.choice(np.array(specials), size=k):
            S[rng.integers(m), rng.integers(n), rng.integers(T1)] = v
        ref = _compare(S, 8 * T1 * int(rng.integers(1, n + 2)), monkeypatch, strategy="r")
        outcomes.add("ok" if ref[0] == "ok" else "error")
    assert outcomes == {"ok", "error"}
