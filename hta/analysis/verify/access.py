"""Talking to the model under verification: counted calls and uniform access to its outcomes.

Only ``costs``, ``qalys`` and ``lys`` ``(n, S)`` are required; undiscounted totals, disaggregated lines and
cohorts are read when the outcomes carry them (``Outcomes.results[strategy]`` of :mod:`hta.engine.outcomes`).
"""

from __future__ import annotations

import numpy as np

from hta.analysis.verify.report import RTOL
from hta.errors import HtaError
from hta.params import Batch
from hta.protocol import capabilities


class ModelUnderTest:
    """The model under verification, with call counting and uniform access to its outcomes."""

    def __init__(self, model):
        self.model = model
        self.capabilities = capabilities(model)  # the required protocol, checked once
        self.name = str(model.name)
        self.table = model.parameters
        self.strategies = tuple(model.strategies)
        self.calls = 0
        self.rows = 0
        self.keeps_cohort = self.capabilities.keeps_cohort

    def evaluate(self, batch: Batch, *, model=None, cohort: bool = False):
        m = self.model if model is None else model
        self.calls += 1
        self.rows += batch.n
        if cohort and self.keeps_cohort:
            return m.evaluate(batch, keep_cohort=True)
        return m.evaluate(batch)

    def try_evaluate(self, batch, **kw):
        """``(outcomes, None)``, or ``(None, message)`` when the model raised."""
        try:
            out = self.evaluate(batch, **kw)
            totals(out, batch.n)
            return out, None
        except HtaError as err:
            return None, f"the model raised an error: {err}"
        except Exception as err:  # a model defect found by the check, reported not raised
            return None, f"the model raised {type(err).__name__}: {err}"


    def try_totals(self, batch, workers=None):
        """``(totals, None)`` or ``(None, message)``: the batch's ``costs``, ``qalys``, ``lys``
        ``(n, S)``, evaluated in chunks on ``workers`` threads (:func:`hta.analysis.evaluate.evaluate_all`;
        default every core, the same results bit for bit). Non-finite results are an error here."""
        import threading

        from hta.analysis.evaluate import evaluate_all

        lock = threading.Lock()
        under_test = self

        class _Counted:
            name, strategies = self.name, self.strategies
            parameters = self.table

            @staticmethod
            def evaluate(b):
                with lock:
                    under_test.calls += 1
                    under_test.rows += b.n
                return self.model.evaluate(b)

        try:
            costs, qalys, lys = evaluate_all(_Counted(), batch, workers=workers)
            return {"costs": costs, "qalys": qalys, "lys": lys}, None
        except HtaError as err:
            return None, f"the model raised an error: {err}"
        except Exception as err:  # a model defect found by the check, reported not raised
            return None, f"the model raised {type(err).__name__}: {err}"


def totals(out, n: int) -> dict:
    """``{"costs", "qalys", "lys"}`` -> float arrays ``(n, S)`` of an outcomes object."""
    res = {}
    for attr in ("costs", "qalys", "lys"):
        a = np.asarray(getattr(out, attr), dtype=float)
        if a.ndim != 2 or a.shape[0] != n:
            raise HtaError(f"evaluate() must return {attr} of shape (n={n}, strategies); found {a.shape}")
        res[attr] = a
    return res


def _per_strategy(out) -> dict | None:
    results = getattr(out, "results", None)
    return results if isinstance(results, dict) and results else None


def undiscounted(out, strategies, n) -> dict | None:
    """Undiscounted ``costs``, ``qalys``, ``lys`` ``(n, S)``, when the outcomes carry them."""
    res = _per_strategy(out)
    if res is None:
        return None
    try:
        return {m: np.stack([np.broadcast_to(np.asarray(getattr(res[s], f"{m}_undiscounted"), float), (n,))
                             for s in strategies], axis=1) for m in ("costs", "qalys", "lys")}
    except (AttributeError, KeyError):
        return None


def lines(out, strategies) -> dict | None:
    """``(strategy, measure, category, state) -> (2, n)`` (discounted, undiscounted), if available."""
    res = _per_strategy(out)
    if res is None:
        return None
    found = {}
    for s in strategies:
        ls = getattr(res.get(s), "lines", None)
        if not isinstance(ls, dict):
            return None
        for (measure, category, state), v in ls.items():
            found[(s, measure, category, state)] = np.asarray(v, dtype=float)
    return found


def cohorts(out, strategies) -> dict | None:
    res = _per_strategy(out)
    if res is None:
        return None
    found = {s: getattr(res.get(s), "cohort", None) for s in strategies}
    return found if all(c is not None for c in found.values()) else None


def close(a, b, rtol=RTOL, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))


def line_name(key) -> str:
    s, measure, category, state = key
    return f"{s} {measure} '{category}'" + (f" in '{state}'" if state else "")
