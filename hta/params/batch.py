"""Parameter batches: the one argument of every model.

A :class:`Batch` is a read-only mapping ``name -> ndarray (n,)``: one row per parameter set
(n = 1 for the base case, 2 per parameter for a one-way analysis, n draws for a PSA). Models
read columns by name and broadcast them against their own arrays; a column may have shape
``(1,)`` when it is constant across the batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = ["Batch"]

def _as_column(name: str, value: Any) -> np.ndarray:
    try:
        a = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise HtaError(f"parameter '{name}': values must be numbers; found {value!r}") from None
    if a.ndim > 1:
        raise HtaError(
            f"parameter '{name}': values must be a scalar or a 1-D array; found shape {a.shape}"
        )
    return a


class Batch(Mapping):
    """A read-only batch of parameter sets: ``name -> float ndarray (n,)``.

    ``columns`` maps names to scalars or 1-D arrays; scalars (and length-1 arrays) are
    broadcast to ``n`` (the common length of the other columns, or ``n=`` if given). The arrays
    are copied and made read-only.
    """

    def __init__(self, columns: Mapping[str, Any], n: int | None = None):
        arrays = {str(k): _as_column(str(k), v) for k, v in columns.items()}
        lengths = {a.size for a in arrays.values() if a.ndim == 1 and a.size != 1}
        if n is None:
            if len(lengths) > 1:
                raise HtaError(
                    "batch columns must all have the same length; found lengths "
                    f"{sorted(lengths)}"
                )
            n = lengths.pop() if lengths else 1
        n = int(n)
        self._n = n
        self._data: dict[str, np.ndarray] = {}
        for name, a in arrays.items():
            if a.ndim == 1 and a.size not in (1, n):
                raise HtaError(
                    f"parameter '{name}': expected {n} values (one per batch row); "
                    f"found {a.size}"
                )
            if a.ndim == 1 and a.size == n:
                col = a  # already this batch's own copy (_as_column copies)
            else:
                col = np.array(np.broadcast_to(a.reshape(-1)[:1] if a.size == 1 else a, (n,)))
            col.setflags(write=False)
            self._data[name] = col

    # Mapping protocol -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._data[name]
        except KeyError:
            known = ", ".join(self._data) or "none"
            raise HtaError(f"no parameter named '{name}' in the batch; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Batch(n={self._n}, parameters={list(self._data)})"

    # Batch helpers ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of parameter sets (rows)."""
        return self._n

    @property
    def names(self) -> list[str]:
        return list(self._data)

    def with_values(self, values: Mapping[str, Any] | None = None, /, **overrides: Any) -> "Batch":
        """A new batch with some columns replaced by scalars or ``(n,)`` arrays.

        Names may be given as keywords or, for names that are not Python identifiers, as a
        mapping. A batch of one (the base case) is broadcast to the length of the overrides,
        which is how a threshold or price sweep is built from ``table.base()``.
        """
        changes = {**(dict(values) if values else {}), **overrides}
        unknown = [k for k in changes if k not in self._data]
        if unknown:
            raise HtaError(
                f"no parameter named '{unknown[0]}' in the batch; known: {', '.join(self._data)}"
            )
        new = {k: _as_column(k, v) for k, v in changes.items()}
        lengths = sorted({a.size for a in new.values() if a.ndim == 1 and a.size != 1})
        n = self._n
        if len(lengths) > 1 or (lengths and n != 1 and lengths[0] != n):
            raise HtaError(
                f"batch overrides must be scalars or arrays of length {n}; found lengths "
                f"{lengths}"
            )
        if lengths:
            n = lengths[0]
        return Batch({**self._data, **new}, n=n)

    def take(self, idx: Any) -> "Batch":
        """Rows ``idx`` (integer indices, a slice or a boolean mask) as a new batch."""
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]
        try:
            data = {k: np.atleast_1d(v[idx]) for k, v in self._data.items()}
        except IndexError as exc:
            raise HtaError(f"batch of {self._n} rows: cannot take rows {idx!r} ({exc})") from None
        n = len(next(iter(data.values()))) if data else np.arange(self._n)[idx].size
        return Batch(data, n=n)

    @classmethod
    def concat(cls, batches: Sequence["Batch"]) -> "Batch":
        """Rows of several batches with the same parameter names, in order."""
        batches = list(batches)
        if not batches:
            raise HtaError("Batch.concat needs at least one batch; found none")
        names = batches[0].names
        for i, b in enumerate(batches[1:], start=1):
            if set(b.names) != set(names):
                missing = sorted(set(names) - set(b.names))
                extra = sorted(set(b.names) - set(names))
                raise HtaError(
                    f"Batch.concat: batch {i} has different parameters from batch 0 "
                    f"(missing {missing}, extra {extra})"
                )
        data = {k: np.concatenate([b[k] for b in batches]) for k in names}
        return cls(data, n=sum(b.n for b in batches))

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter set, one column per parameter."""
        return pd.DataFrame({k: np.array(v) for k, v in self._data.items()})


# ---------------------------------------------------------------------------------------------
# Parameters and the table
