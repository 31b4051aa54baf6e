"""Structural uncertainty in the PSA: model averaging over alternative model structures.

Each structural alternative ``k`` (e.g. partitioned survival with one OS source, or a
state-transition structure) has its own PSA, ``costs_k`` and ``effects_k`` of shape
``(n_k, S)``, and a weight ``w_k`` (the analyst's probability that the alternative is the right
one; weights are inputs and must be labelled as such). The model-averaged PSA is the mixture
of the alternatives' predictive distributions (Bojke L et al. Value Health 2009;12(5):739-749,
"model averaging"; Jackson CH et al. 2011): every draw of alternative ``k`` carries the
probability weight ``w_k / n_k``. Then, at each willingness to pay ``lambda``,

    P(strategy s is cost-effective) = sum_k w_k P_k(s has the highest NMB),
    EVPI = sum_k w_k E_k[max_s NMB] - max_s sum_k w_k E_k[NMB_s],

computed without sampling the structure, so the mixture adds no Monte Carlo noise of its own.
The EVPI includes the value of learning which structure is right (perfect information resolves
structural and parameter uncertainty together). With one alternative of weight 1 the results
equal :func:`hta.analysis.psa.ceac` and :func:`hta.analysis.psa.evpi_curve` of that alternative exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hta.errors import HtaError

__all__ = ["StructuralPsa", "model_average"]


@dataclass
class StructuralPsa:
    """Model-averaged PSA results.

    ``table``: one row per WTP with ``p_ce_<strategy>`` (probability of the highest NMB) and
    ``evpi`` (per patient, currency units); ``means``: per alternative and for the mixture, the
    weight, draws and mean costs and effects of each strategy (``cost_<s>``, ``effect_<s>``);
    ``weights``: the normalised weights.
    """

    table: pd.DataFrame
    means: pd.DataFrame
    weights: dict


def _check(alternatives: dict, weights: dict):
    if not alternatives:
        raise HtaError("model averaging: expected at least one structural alternative; found none")
    unknown = set(weights) ^ set(alternatives)
    if unknown:
        raise HtaError(f"model averaging: expected one weight per alternative ({', '.join(map(str, alternatives))}); "
                       f"found weights for {', '.join(map(str, weights))}")
    w = np.array([float(weights[k]) for k in alternatives])
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise HtaError(f"model averaging: expected non-negative weights with a positive sum; found {w.tolist()}")
    S = None
    for name, (c, e) in alternatives.items():
        c, e = np.asarray(c, dtype=float), np.asarray(e, dtype=float)
        if c.ndim != 2 or c.shape != e.shape or c.shape[0] < 1:
            raise HtaError(f"model averaging, alternative '{name}': expected costs and effects of one shape (n, S); "
                           f"found {c.shape} and {e.shape}")
        if S is not None and c.shape[1] != S:
            raise HtaError(f"model averaging, alternative '{name}': expected {S} strategies; found {c.shape[1]}")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(e))):
            raise HtaError(f"model averaging, alternative '{name}': expected finite costs and effects")
        S = c.shape[1]
    return w / w.sum(), S


def model_average(alternatives: dict, weights: dict, wtp, strategies=None) -> StructuralPsa:
    """Model-averaged CEAC and EVPI (module docstring).

    ``alternatives``: ``{name: (costs, effects)}``, arrays ``(n_k, S)`` (the PSA of each
    structure; ``n_k`` may differ). ``weights``: ``{name: weight}`` (normalised to sum 1).
    ``wtp``: scalar or ``(W,)`` (currency per unit of effect). ``strategies``: names of the S
    columns. Raises HtaError for missing or negative weights or mismatched arrays.
    """
    w, S = _check(alternatives, weights)
    names = list(strategies) if strategies is not None else [f"strategy {i + 1}" for i in range(S)]
    if len(names) != S:
        raise HtaError(f"model averaging: expected {S} strategy names; found {len(names)}")
    k = np.atleast_1d(np.asarray(wtp, dtype=float))
    if k.ndim != 1 or not np.all(np.isfinite(k)) or np.any(k < 0):
        raise HtaError(f"model averaging: expected WTP values >= 0; found {wtp!r}")
    p_best = np.zeros((k.size, S))
    mean_nb = np.zeros((k.size, S))
    mean_max = np.zeros(k.size)
    rows = []
    for wk, (name, (c, e)) in zip(w, alternatives.items()):
        c, e = np.asarray(c, dtype=float), np.asarray(e, dtype=float)
        nb = k[:, None, None] * e[None, :, :] - c[None, :, :]             # (W, n, S)
        best = nb == nb.max(axis=-1, keepdims=True)
        p_best += wk * (best / best.sum(axis=-1, keepdims=True)).mean(axis=1)
        mean_nb += wk * nb.mean(axis=1)
        mean_max += wk * nb.max(axis=-1).mean(axis=1)
        rows.append({"alternative": name, "weight": wk, "draws": c.shape[0],
                     **{f"cost_{s}": c[:, i].mean() for i, s in enumerate(names)},
                     **{f"effect_{s}": e[:, i].mean() for i, s in enumerate(names)}})
    mix = {"alternative": "model average", "weight": 1.0, "draws": sum(r["draws"] for r in rows)}
    for col in rows[0]:
        if col.startswith(("cost_", "effect_")):
            mix[col] = float(sum(r["weight"] * r[col] for r in rows))
    evpi = np.maximum(mean_max - mean_nb.max(axis=-1), 0.0)
    table = pd.DataFrame({"wtp": k, **{f"p_ce_{s}": p_best[:, i] for i, s in enumerate(names)}, "evpi": evpi})
    return StructuralPsa(table=table, means=pd.DataFrame(rows + [mix]),
                         weights={name: float(x) for name, x in zip(alternatives, w)})
