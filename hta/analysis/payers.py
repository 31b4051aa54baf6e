"""Who pays: split per-category costs between payers, and the HA and health-system perspectives.

In Hong Kong most drugs beyond the Hospital Authority (HA) formulary's general drugs are
self-financed: paid by the patient, or for those who qualify by the Samaritan Fund or the
Community Care Fund (SF/CCF). A model's cost lines (by category: acquisition, administration,
regimen, subsequent therapy, ...) are therefore shared between payers. :class:`PayerShares`
holds, for each cost category, the share each payer bears (shares of one category sum to 1);
:func:`costs_by_payer` splits any cost array whose last axis is the category, and
:func:`perspective_costs` sums the payers a perspective counts:

* ``"HA"``: the Hospital Authority's share only (the budget holder's perspective);
* ``"health system"``: every payer (HA + SF/CCF + patient), i.e. the total cost.

Costs keep their units (HK$, discounted or not as given); the split is linear, so it applies
equally to per-patient discounted costs (CEA) and to yearly budgets (BIA).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = [
    "PAYERS",
    "PERSPECTIVES",
    "PayerError",
    "PayerShares",
    "costs_by_payer",
    "payer_table",
    "perspective_costs",
]

PAYERS = ("HA", "SF/CCF", "patient")
PERSPECTIVES = {"HA": ("HA",), "health system": PAYERS}
_TOLERANCE = 1e-9


class PayerError(HtaError):
    """A bad payer share; ``field`` names it (e.g. ``"payer_shares[regimen].patient"``)."""

    def __init__(self, field_name: str, expected: str, found):
        self.field = field_name
        super().__init__(f"payer input '{field_name}': expected {expected}; found {found!r}")


@dataclass(frozen=True)
class PayerShares:
    """Share of each cost category paid by each payer.

    Attributes:
        shares: ``{category: {payer: share}}``; a payer missing from a category pays 0 of it.
            Each share is in [0, 1] and the shares of a category sum to 1.
        payers: the payer names (default ``("HA", "SF/CCF", "patient")``).
    """

    shares: Mapping[str, Mapping[str, float]]
    payers: tuple[str, ...] = field(default=PAYERS)

    def __post_init__(self):
        for category, row in self.shares.items():
            total = 0.0
            for payer, value in row.items():
                where = f"payer_shares[{category}].{payer}"
                if payer not in self.payers:
                    raise PayerError(where, f"a payer among {list(self.payers)}", payer)
                try:
                    v = float(value)
                except (TypeError, ValueError):
                    raise PayerError(where, "a share from 0 to 1", value) from None
                if not np.isfinite(v) or v < 0 or v > 1:
                    raise PayerError(where, "a share from 0 to 1", value)
                total += v
            if abs(total - 1.0) > _TOLERANCE:
                raise PayerError(f"payer_shares[{category}]", "shares summing to 1 over the payers", round(total, 12))

    @classmethod
    def all_ha(cls, categories: Sequence[str]) -> PayerShares:
        """Every category paid by the HA (the model's convention before payers existed)."""
        return cls({c: {"HA": 1.0} for c in categories})

    def matrix(self, categories: Sequence[str]) -> np.ndarray:
        """``(C, P)`` shares for ``categories`` in that order; a category without shares is an error."""
        missing = [c for c in categories if c not in self.shares]
        if missing:
            raise PayerError(f"payer_shares[{missing[0]}]", "payer shares for every cost category",
                             f"no row for {missing}")
        return np.array([[float(self.shares[c].get(p, 0.0)) for p in self.payers] for c in categories])


def costs_by_payer(costs, categories: Sequence[str], shares: PayerShares) -> np.ndarray:
    """Split costs ``(..., C)`` (last axis = ``categories``) into ``(..., P)`` by payer."""
    arr = np.asarray(costs, dtype=float)
    if arr.shape[-1] != len(categories):
        raise HtaError(f"costs by payer: expected a last axis of {len(categories)} categories; found shape {arr.shape}")
    return arr @ shares.matrix(categories)


def perspective_costs(costs, categories: Sequence[str], shares: PayerShares, perspective: str = "HA") -> np.ndarray:
    """Total costs ``(...)`` counted by a perspective (``"HA"`` or ``"health system"``)."""
    if perspective not in PERSPECTIVES:
        raise HtaError(f"cost perspective: expected one of {list(PERSPECTIVES)}; found '{perspective}'")
    by_payer = costs_by_payer(costs, categories, shares)
    keep = [shares.payers.index(p) for p in PERSPECTIVES[perspective] if p in shares.payers]
    return by_payer[..., keep].sum(axis=-1)


def payer_table(costs, strategies: Sequence[str], categories: Sequence[str], shares: PayerShares,
                reference: int | str = 0) -> pd.DataFrame:
    """Mean cost per patient by strategy and payer, with the increments against ``reference``.

    Args:
        costs: ``(n, S, C)`` per-draw costs (or ``(S, C)`` for one base case).
        strategies, categories: names of the strategy and category axes.
        reference: strategy (index or name) the increments are taken against.

    Returns:
        DataFrame indexed by strategy, one column per payer plus ``HA perspective`` and
        ``health system perspective``; then one row ``<strategy> vs <reference>`` per other
        strategy with the incremental costs and a column ``HA share of increment``.
    """
    arr = np.asarray(costs, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (len(strategies), len(categories)):
        raise HtaError(f"payer table: expected costs (n, {len(strategies)}, {len(categories)}); found {np.shape(costs)}")
    by_payer = costs_by_payer(arr, categories, shares).mean(axis=0)  # (S, P)
    frame = pd.DataFrame(by_payer, index=list(strategies), columns=list(shares.payers))
    frame["HA perspective"] = frame[[p for p in PERSPECTIVES["HA"] if p in shares.payers]].sum(axis=1)
    frame["health system perspective"] = frame[list(shares.payers)].sum(axis=1)
    ref = strategies[reference] if isinstance(reference, int) else reference
    if ref not in frame.index:
        raise HtaError(f"payer table reference: expected one of {list(strategies)}; found '{reference}'")
    rows = []
    for s in strategies:
        if s == ref:
            continue
        inc = frame.loc[s] - frame.loc[ref]
        inc.name = f"{s} vs {ref}"
        rows.append(inc)
    out = pd.concat([frame, pd.DataFrame(rows)]) if rows else frame
    total = out["health system perspective"]
    out["HA share of increment"] = np.where(out.index.isin(list(strategies)), np.nan,
                                            out["HA perspective"] / total.where(total != 0))
    return out
