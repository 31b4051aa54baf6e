"""The parameter table and parameter batches.

A model is a function of a :class:`Batch`: a read-only mapping ``name -> ndarray (n,)``. The
:class:`ParameterTable` holds every model input (base value, one-way range, PSA distribution,
group, unit, description, source) and builds the batches that every analysis evaluates:

* ``base()``: the base case, n = 1;
* ``one_way(names)``: two rows per parameter (low, then high), every other parameter at base;
* ``sample(n, seed, start=0)``: PSA draws ``start .. start+n-1``, chunk-invariant;
* ``from_unit(u)``: any unit-hypercube design (Latin hypercube, SALib) through the same ppf.

Sampling scheme (see ``docs/parameters.md``): ``SeedSequence(seed)`` spawns one child per
*entry* (a scalar parameter or a block) in the order entries were added. A stochastic scalar
draws from ``PCG64(child)``; a block of k columns from ``PCG64`` of the child's k spawned
children; a fixed parameter leaves its child unused. Draw number ``i`` of a column is the
``i``-th output of its generator, so ``sample(n, seed, start)`` advances each generator by
``start`` outputs (``Generator.random`` uses exactly one 64-bit output per double) and the
draws do not depend on how a PSA is split into chunks. Because a column's stream depends only
on its entry's position, appending parameters, or switching a parameter between fixed and
stochastic, leaves every other parameter's draws unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.params.batch import Batch
from hta.params.distributions import Dirichlet, Distribution, Fixed, MultivariateNormal

__all__ = ["Parameter", "ParameterTable"]

# Generator.random never returns 1 but can return exactly 0 (probability 2^-53 per draw);
# 0 would map to -inf for unbounded distributions, so it is replaced by this tiny uniform.
_SMALLEST_UNIFORM = 2.0**-54


# ---------------------------------------------------------------------------------------------
# Batch


@dataclass(frozen=True)
class Parameter:
    """One scalar model input.

    ``base`` is the deterministic (base-case) value; ``dist`` the PSA distribution (``Fixed``
    for a parameter without uncertainty); ``low``/``high`` the one-way range. A member of a
    multivariate block carries the block's distribution, the block's names in ``block`` and
    its position in ``component``.
    """

    name: str
    base: float
    dist: Distribution
    low: float
    high: float
    group: str | None = None
    unit: str = ""
    description: str = ""
    source: str = ""
    block: tuple[str, ...] | None = None
    component: int = 0

    @property
    def is_fixed(self) -> bool:
        return isinstance(self.dist, Fixed)


@dataclass(frozen=True)
class _Entry:
    """A scalar parameter or a multivariate block: the unit of stream allocation."""

    names: tuple[str, ...]
    dist: Distribution

    @property
    def stochastic(self) -> bool:
        return not isinstance(self.dist, Fixed)


def _finite(name: str, what: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise HtaError(f"parameter '{name}': {what} must be a number; found {value!r}") from None
    if not np.isfinite(x):
        raise HtaError(f"parameter '{name}': {what} must be a finite number; found {x}")
    return x


def _check_range(name: str, base: float, low: float, high: float, given: tuple[bool, bool]):
    if low > high:
        raise HtaError(
            f"parameter '{name}': low must not exceed high; found low {low:g}, high {high:g}"
        )
    if (given[0] and base < low) or (given[1] and base > high):
        raise HtaError(
            f"parameter '{name}': base value must lie in [low, high] = [{low:g}, {high:g}]; "
            f"found {base:g}"
        )


_KEEP: Any = object()  # sentinel: "leave this field as it is" in ParameterTable.replace


class ParameterTable:
    """Every model input with its base value, one-way range and PSA distribution.

    Parameters are kept in the order they were added; that order fixes the random streams
    (module docstring) and the columns of batches, frames and unit-hypercube designs.
    """

    def __init__(self) -> None:
        self._params: dict[str, Parameter] = {}
        self._entries: list[_Entry] = []
        #: What-if notes of parameters fixed by with_overrides outside their PSA range, by name.
        self._fixed_outside: dict[str, str] = {}

    # Building ---------------------------------------------------------------------------------
    def _check_new_name(self, name: Any) -> str:
        if not isinstance(name, str) or not name.strip():
            raise HtaError(f"parameter names must be non-empty text; found {name!r}")
        if name in self._params:
            raise HtaError(f"parameter '{name}': defined twice; names must be unique")
        return name

    def add(
        self,
        name: str,
        base: float | None = None,
        dist: Distribution | None = None,
        low: float | None = None,
        high: float | None = None,
        group: str | None = None,
        unit: str = "",
        description: str = "",
        source: str = "",
    ) -> "ParameterTable":
        """Add a scalar parameter (returns the table, so calls can be chained).

        ``dist=None`` fixes the parameter at ``base``; ``base=None`` takes the distribution's
        mean. ``low``/``high`` default to the distribution's 2.5th/97.5th percentiles
        (``low = high = base`` for a fixed parameter).
        """
        name = self._check_new_name(name)
        param = self._make_scalar(name, base, dist, low, high, group, unit, description, source)
        self._params[name] = param
        self._entries.append(_Entry((name,), param.dist))
        return self

    @staticmethod
    def _make_scalar(name, base, dist, low, high, group, unit, description, source) -> Parameter:
        if dist is not None and not isinstance(dist, Distribution):
            raise HtaError(
                f"parameter '{name}': dist must be a distribution (hta.params.distributions); "
                f"found {type(dist).__name__}"
            )
        if dist is not None and dist.dim != 1:
            raise HtaError(
                f"parameter '{name}': a {dist.kind} distribution has {dist.dim} components; "
                "add it with add_block(names, dist)"
            )
        if base is None:
            if dist is None:
                raise HtaError(f"parameter '{name}': needs a base value or a distribution")
            base = float(dist.mean[0])
        base = _finite(name, "base value", base)
        if dist is None:
            dist = Fixed(base, name=name)
        if isinstance(dist, Fixed):
            default_low = default_high = base
        else:
            default_low, default_high = (float(x) for x in dist.interval(0.95)[:, 0])
        lo = default_low if low is None else _finite(name, "low", low)
        hi = default_high if high is None else _finite(name, "high", high)
        _check_range(name, base, lo, hi, (low is not None, high is not None))
        return Parameter(name, base, dist, lo, hi, group, unit, description, source)

    def add_block(
        self,
        names: Sequence[str],
        dist: Distribution,
        base: Sequence[float] | None = None,
        group: str | None = None,
        low: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
        unit: str | Sequence[str] = "",
        description: str | Sequence[str] = "",
        source: str = "",
    ) -> "ParameterTable":
        """Add correlated parameters drawn jointly (multivariate normal or Dirichlet).

        ``len(names) == dist.dim``; ``base`` defaults to the distribution mean and
        ``low``/``high`` to its marginal 2.5th/97.5th percentiles. Members share ``group``
        (default: the names joined by ``+``), which also groups them in SALib problems.
        """
        names = [str(n) if isinstance(n, str) else n for n in names]
        label = "+".join(str(n) for n in names)
        if not isinstance(dist, (MultivariateNormal, Dirichlet)):
            kind = getattr(dist, "kind", type(dist).__name__)
            raise HtaError(
                f"parameter block '{label}': add_block expects a multivariate normal or "
                f"Dirichlet distribution; found {kind}"
            )
        if len(names) != dist.dim:
            raise HtaError(
                f"parameter block '{label}': the {dist.kind} distribution has {dist.dim} "
                f"components; found {len(names)} names"
            )
        if len(set(names)) != len(names):
            raise HtaError(f"parameter block '{label}': names must be unique")
        for n in names:
            self._check_new_name(n)

        def per_member(what: str, values: Any, default: np.ndarray) -> list[Any]:
            if values is None:
                return [float(x) for x in default]
            values = list(values)
            if len(values) != dist.dim:
                raise HtaError(
                    f"parameter block '{label}': {what} needs {dist.dim} values; "
                    f"found {len(values)}"
                )
            return values

        interval = dist.interval(0.95)
        bases = per_member("base", base, dist.mean)
        lows = per_member("low", low, interval[0])
        highs = per_member("high", high, interval[1])
        units = [unit] * dist.dim if isinstance(unit, str) else per_member("unit", unit, None)
        descriptions = (
            [description] * dist.dim
            if isinstance(description, str)
            else per_member("description", description, None)
        )
        block = tuple(names)
        members = []
        for i, n in enumerate(names):
            b = _finite(n, "base value", bases[i])
            lo = _finite(n, "low", lows[i])
            hi = _finite(n, "high", highs[i])
            _check_range(n, b, lo, hi, (low is not None, high is not None))
            members.append(
                Parameter(
                    n, b, dist, lo, hi, group or label, units[i], descriptions[i], source,
                    block=block, component=i,
                )
            )
        if isinstance(dist, Dirichlet) and abs(sum(p.base for p in members) - 1.0) > 1e-9:
            total = sum(p.base for p in members)
            raise HtaError(
                f"parameter block '{label}': Dirichlet base values must sum to 1; found {total:g}"
            )
        for p in members:
            self._params[p.name] = p
        self._entries.append(_Entry(block, dist))
        return self

    # Looking up -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            raise HtaError(
                f"no parameter named '{name}' in the table; known: {', '.join(self._params)}"
            ) from None

    def __repr__(self) -> str:
        return f"ParameterTable({len(self)} parameters, {len(self.unit_columns)} stochastic)"

    @property
    def names(self) -> list[str]:
        """All scalar columns, in the order they were added."""
        return list(self._params)

    @property
    def parameters(self) -> list[Parameter]:
        return list(self._params.values())

    @property
    def groups(self) -> dict[str, list[str]]:
        """``group -> names``, a partition of all parameters (ungrouped ones by own name)."""
        out: dict[str, list[str]] = {}
        for p in self._params.values():
            out.setdefault(p.group or p.name, []).append(p.name)
        return out

    @property
    def unit_columns(self) -> list[str]:
        """One name per stochastic dimension (the columns of ``from_unit`` and SALib)."""
        return [n for e in self._entries if e.stochastic for n in e.names]

    def to_frame(self) -> pd.DataFrame:
        """One row per scalar parameter, for display and for the results workbook."""
        rows = []
        for p in self._params.values():
            text = p.dist.describe()
            if p.block is not None:
                text += f" [component {p.component + 1} of {len(p.block)}]"
            rows.append(
                {
                    "name": p.name,
                    "base": p.base,
                    "low": p.low,
                    "high": p.high,
                    "distribution": text,
                    "group": p.group,
                    "unit": p.unit,
                    "description": p.description,
                    "source": p.source,
                }
            )
        columns = ["name", "base", "low", "high", "distribution", "group", "unit",
                   "description", "source"]
        return pd.DataFrame(rows, columns=columns)

    # Batches ----------------------------------------------------------------------------------
    def _base_values(self) -> dict[str, float]:
        return {n: p.base for n, p in self._params.items()}

    def base(self) -> Batch:
        """The base case: a batch of one row with every parameter at its base value."""
        return Batch(self._base_values(), n=1)

    def one_way(self, names: Iterable[str] | None = None) -> tuple[Batch, pd.DataFrame]:
        """One-way sensitivity batch: for each parameter, a row at ``low`` then one at ``high``.

        Every other parameter stays at base. ``names=None`` varies every parameter whose low
        and high differ; parameters named explicitly are varied even when low == high. When a
        member of a Dirichlet block is varied, the other members are rescaled in proportion to
        their base values so the block still sums to 1; members of a multivariate normal block
        are varied alone (others at base). Returns the batch (2 rows per parameter) and a frame
        with columns ``parameter``, ``bound`` ("low"/"high") and ``value``, one row per batch
        row.
        """
        if names is None:
            varied = [p.name for p in self._params.values() if p.low != p.high]
        else:
            varied = [names] if isinstance(names, str) else list(names)
            for n in varied:
                self[n]  # raises HtaError naming an unknown parameter
        base = self._base_values()
        rows = 2 * len(varied)
        columns = {n: np.full(rows, b) for n, b in base.items()}
        frame_rows = []
        for i, name in enumerate(varied):
            p = self._params[name]
            for j, (bound, value) in enumerate((("low", p.low), ("high", p.high))):
                r = 2 * i + j
                columns[name][r] = value
                if p.block is not None and isinstance(p.dist, Dirichlet):
                    self._rescale_dirichlet(p, value, columns, r)
                frame_rows.append({"parameter": name, "bound": bound, "value": value})
        frame = pd.DataFrame(frame_rows, columns=["parameter", "bound", "value"])
        return Batch(columns, n=rows), frame

    def _rescale_dirichlet(self, p: Parameter, value: float, columns: dict, row: int) -> None:
        others = [n for n in p.block if n != p.name]
        rest = sum(self._params[n].base for n in others)
        if rest <= 0.0:
            raise HtaError(
                f"parameter '{p.name}': cannot vary a Dirichlet member whose base is 1 "
                "(the other members have nothing to rescale)"
            )
        factor = (1.0 - value) / rest
        for n in others:
            columns[n][row] = self._params[n].base * factor

    def _uniforms(self, n: int, seed: Any, start: int) -> np.ndarray:
        """Uniforms ``(n, len(unit_columns))`` for draws ``start .. start+n-1``."""
        root = _seed_sequence(seed)
        children = root.spawn(len(self._entries))
        blocks = []
        for entry, child in zip(self._entries, children):
            if not entry.stochastic:
                continue
            streams = [child] if entry.dist.dim == 1 else child.spawn(entry.dist.dim)
            for s in streams:
                bit_generator = np.random.PCG64(s)
                bit_generator.advance(start)
                blocks.append(np.random.Generator(bit_generator).random(n))
        if not blocks:
            return np.empty((n, 0))
        u = np.stack(blocks, axis=1)
        u[u == 0.0] = _SMALLEST_UNIFORM
        return u

    def sample(self, n: int, seed: Any, start: int = 0) -> Batch:
        """PSA draws number ``start .. start+n-1`` for ``seed`` (an int or a SeedSequence).

        Chunk-invariant: ``sample(a + b, seed)`` equals ``sample(a, seed)`` followed by
        ``sample(b, seed, start=a)``, bit for bit.
        """
        n = _count("n", n, minimum=1)
        start = _count("start", start, minimum=0)
        return self._from_uniforms(self._uniforms(n, seed, start))

    def from_unit(self, u: Any) -> Batch:
        """Map a unit-hypercube design ``(n, len(unit_columns))`` to a batch via each ppf.

        Fixed parameters stay at base. Values of exactly 0 or 1 map to the ends of the
        support; for unbounded distributions that is infinite and raises an error.
        """
        d = len(self.unit_columns)
        u = np.asarray(u, dtype=float)
        if u.ndim == 1 and d == 1:
            u = u[:, None]
        if u.ndim != 2 or u.shape[1] != d:
            raise HtaError(
                f"unit-hypercube design must have shape (n, {d}) (one column per stochastic "
                f"dimension: {', '.join(self.unit_columns)}); found shape {u.shape}"
            )
        bad = ~((u >= 0.0) & (u <= 1.0))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise HtaError(
                f"unit-hypercube design: column '{self.unit_columns[c]}' must lie in [0, 1]; "
                f"found {u[r, c]!r} in row {r}"
            )
        return self._from_uniforms(u)

    def _from_uniforms(self, u: np.ndarray) -> Batch:
        n = u.shape[0]
        columns: dict[str, Any] = self._base_values()
        col = 0
        for entry in self._entries:
            if not entry.stochastic:
                continue
            k = entry.dist.dim
            # the uniforms are known to lie in [0, 1] (drawn, or checked by from_unit), so the
            # distribution's own range check (two passes per parameter) is skipped
            values = entry.dist._ppf(u[:, col : col + k])
            col += k
            if not np.all(np.isfinite(values)):
                r = int(np.argwhere(~np.isfinite(values))[0, 0])
                raise HtaError(
                    f"parameter '{entry.names[0]}': {entry.dist.describe()} gives a non-finite "
                    f"value for the uniform(s) {u[r, col - k : col].tolist()} in row {r}; "
                    "use uniforms strictly inside (0, 1)"
                )
            for i, name in enumerate(entry.names):
                columns[name] = values[:, i]
        return Batch(columns, n=n)

    def salib_problem(self, use_groups: bool = False) -> dict[str, Any]:
        """A SALib problem over ``unit_columns`` with bounds [0, 1] (map samples with from_unit).

        Members of a block always share a group. ``use_groups=True`` groups parameters by
        their table group instead of individually.
        """
        names = self.unit_columns
        groups = []
        for n in names:
            p = self._params[n]
            groups.append(p.group or n if (use_groups or p.block is not None) else n)
        return {
            "num_vars": len(names),
            "names": names,
            "bounds": [[0.0, 1.0] for _ in names],
            "groups": groups,
        }

    # Scenarios --------------------------------------------------------------------------------
    def _copy(self) -> "ParameterTable":
        new = ParameterTable()
        new._params = dict(self._params)
        new._entries = list(self._entries)
        new._fixed_outside = dict(getattr(self, "_fixed_outside", {}))
        return new

    def outside_range(self) -> list[str]:
        """What-if notes: every parameter whose base value lies outside its one-way range / PSA
        interval ``[low, high]`` (set by :meth:`replace` or :meth:`with_overrides` for a scenario),
        one sentence each, in table order. The PSA distributions are unchanged by such values."""
        notes = []
        fixed = getattr(self, "_fixed_outside", {})
        for name, p in self._params.items():
            if name in fixed and p.is_fixed:
                notes.append(fixed[name])
            elif not p.is_fixed and not (p.low <= p.base <= p.high):
                notes.append(f"parameter '{name}': base {p.base:g} lies outside its range [{p.low:g}, {p.high:g}] "
                             f"(a what-if value; the PSA distribution {p.dist.describe()} is unchanged)")
        return notes

    def replace(
        self,
        name: str,
        *,
        base: Any = _KEEP,
        dist: Any = _KEEP,
        low: Any = _KEEP,
        high: Any = _KEEP,
        group: Any = _KEEP,
        unit: Any = _KEEP,
        description: Any = _KEEP,
        source: Any = _KEEP,
    ) -> "ParameterTable":
        """A new table with one parameter changed (this table is left as it is).

        * ``dist=`` a new scalar distribution (``None`` fixes the parameter): ``base`` defaults
          to its mean and ``low``/``high`` to its 2.5th/97.5th percentiles.
        * ``base=`` only: a fixed parameter stays fixed at the new base (low = high = base); a
          stochastic one keeps its distribution and one-way range.
        * Members of a block may change base, low, high and text fields, not the distribution.

        The parameter keeps its position, so the random draws of all others are unchanged.
        """
        old = self[name]
        text = {
            k: (getattr(old, k) if v is _KEEP else v)
            for k, v in (("group", group), ("unit", unit), ("description", description),
                         ("source", source))
        }
        if old.block is not None:
            if dist is not _KEEP:
                raise HtaError(
                    f"parameter '{name}': is a member of the block {'+'.join(old.block)}; its "
                    "distribution cannot be replaced alone"
                )
            new_base = old.base if base is _KEEP else _finite(name, "base value", base)
            lo = old.low if low is _KEEP else _finite(name, "low", low)
            hi = old.high if high is _KEEP else _finite(name, "high", high)
            # a new base alone may lie outside [low, high] (a what-if, listed by outside_range())
            _check_range(name, new_base, lo, hi, (low is not _KEEP, high is not _KEEP))
            param = dataclasses.replace(old, base=new_base, low=lo, high=hi, **text)
            return self._with_param(param, entry=None)

        if (dist is _KEEP and low is _KEEP and high is _KEEP and base is not _KEEP and not old.is_fixed
                and not old.low <= _finite(name, "base value", base) <= old.high):
            # a what-if outside the range: the distribution and one-way range stay as they are
            # (outside_range() lists it, so the report says so)
            param = dataclasses.replace(old, base=_finite(name, "base value", base), **text)
            return self._with_param(param, entry=None)
        if dist is _KEEP:
            new_dist = None if old.is_fixed else old.dist
            new_base = old.base if base is _KEEP else base
            if not old.is_fixed:
                low = old.low if low is _KEEP else low
                high = old.high if high is _KEEP else high
        else:
            new_dist = dist
            new_base = None if base is _KEEP else base
            if dist is None and new_base is None:
                new_base = old.base
        param = self._make_scalar(
            name, new_base, new_dist,
            None if low is _KEEP else low, None if high is _KEEP else high,
            text["group"], text["unit"], text["description"], text["source"],
        )
        return self._with_param(param, entry=_Entry((name,), param.dist))

    def _with_param(self, param: Parameter, entry: _Entry | None) -> "ParameterTable":
        new = self._copy()
        new._params[param.name] = param
        if entry is not None:
            i = next(i for i, e in enumerate(new._entries) if e.names == entry.names)
            new._entries[i] = entry
        return new

    def with_overrides(self, values: Mapping[str, Any] | None = None, /, **changes: Any):
        """A new table for a scenario: a number fixes the parameter at that value; a
        distribution replaces its distribution (base = its mean). Names that are not Python
        identifiers can be passed in a mapping."""
        table = self
        for name, value in {**(dict(values) if values else {}), **changes}.items():
            if isinstance(value, Distribution):
                table = table.replace(name, dist=value)
            elif table[name].block is not None:
                raise HtaError(
                    f"parameter '{name}': is a member of the block "
                    f"{'+'.join(table[name].block)}; use replace(name, base=...) to change its "
                    "base value"
                )
            else:
                old = table[name]
                table = table.replace(name, dist=None, base=value)
                if not old.is_fixed and not old.low <= table[name].base <= old.high:
                    table._fixed_outside[name] = (
                        f"parameter '{name}': fixed at {table[name].base:g}, outside its PSA range "
                        f"[{old.low:g}, {old.high:g}] (a what-if value)")
                else:
                    table._fixed_outside.pop(name, None)
        return table


def _count(what: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise HtaError(f"{what} must be a whole number >= {minimum}; found {value!r}")
    if value < minimum:
        raise HtaError(f"{what} must be a whole number >= {minimum}; found {value}")
    return int(value)


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    """A fresh SeedSequence (never one whose spawn counter was already used)."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(
            seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size
        )
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise HtaError(f"PSA seed must be a non-negative whole number; found {seed!r}")
    return np.random.SeedSequence(int(seed))
