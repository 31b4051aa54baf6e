"""Managed-entry agreements: what the payer pays per patient, and the price-negotiation grid.

A managed-entry agreement (MEA) changes what the payer pays for a product's acquisition, not
the product's effects. This module takes the model's per-draw costs and QALYs and the
acquisition-cost component at list price, and replaces that component by the expected payment
under each scheme:

* :class:`SimpleDiscount` (confidential discount off the list price; also the grid's axis),
* :class:`PriceVolume` (an annual cap on patients or on spending; above it the payer pays a
  share of the price, 0 = nothing),
* :class:`OutcomeBased` (an upfront share, then instalments payable only while the patient is
  alive or progression-free at given times, from each draw's own survival curves),
* :class:`NotInfusedRefund` (a refund of a share of the price for patients who are not infused).

Conventions (``docs/agreements.md``)
------------------------------------
* **Prices** are HK$ per patient; ``list_price`` is the acquisition cost of one patient at list
  price as counted in the model (time 0, so undiscounted), per draw ``(n,)`` or scalar. The
  confidential discount d applies to every payment: the net price is ``(1 - d) x list``.
* **Expected payment** per patient = ``(1 - d) x list x f``, where the scheme's payment factor f
  (per draw) is the expected, discounted share of the price paid. Instalments at time t years
  are discounted by ``(1 + r)^-t`` with the model's annual cost discount rate r.
* **An instalment** (time t, share s, condition) is the payment of ``s x`` the net price at time
  t if the patient is alive (``"alive"``: overall survival) or alive and progression-free
  (``"progression-free"``) at t; otherwise it is never paid. Upfront share + instalment shares = 1
  (the whole price is paid for a patient who meets every condition). Survival arrays are
  ``(n, T+1)`` state-membership probabilities on a time grid in years (starting at 0), linearly
  interpolated at t; an instalment after the grid's last time (the horizon) is an error.
* **Price-volume**: patients per year N_y (e.g. the budget impact's treated patients); with a
  patient cap c the payer pays the full net price for min(N_y, c) patients and ``share_above`` of
  it for the rest; with a spending cap B (HK$ a year) the payer pays ``min(spend, B) + share_above
  x max(spend - B, 0)``. The factor is total paid / total at net price over the years, so it is
  the average per patient. A spending cap makes f depend on d (root-finding for thresholds).
* **Costs of the strategy**: ``cost - list_price + payment`` for the new strategy only.
* **Threshold discount** at WTP k: the d at which the mean incremental net monetary benefit of the
  new strategy against the comparator is 0 (ICER = k). Closed form when f does not depend on d;
  otherwise Brent's method on [-1, 1]. NaN with a note when no d in that range works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from hta.errors import HtaError

__all__ = [
    "AgreementError",
    "Combined",
    "Instalment",
    "NotInfusedRefund",
    "OutcomeBased",
    "PaymentContext",
    "PriceVolume",
    "SimpleDiscount",
    "expected_payment",
    "negotiation_grid",
    "negotiation_summary",
    "payment_factor",
    "scheme_costs",
    "threshold_discounts",
]

CONDITIONS = ("alive", "progression-free")


class AgreementError(HtaError):
    """A bad agreement input; ``field`` names it (e.g. ``"outcome_based.instalments[1].time"``)."""

    def __init__(self, field_name: str, expected: str, found):
        self.field = field_name
        super().__init__(f"agreement input '{field_name}': expected {expected}; found {found!r}")


def _share(value, name: str, low: float = 0.0, high: float = 1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise AgreementError(name, f"a number from {low:g} to {high:g}", value) from None
    if not np.isfinite(v) or v < low or v > high:
        raise AgreementError(name, f"a number from {low:g} to {high:g}", value)
    return v


# --------------------------------------------------------------------------------------------
# Schemes (typed inputs)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimpleDiscount:
    """The list price less the grid's confidential discount; nothing else (f = 1)."""

    name: str = "discount"

    def validate(self, context: PaymentContext | None = None) -> None:
        return None


@dataclass(frozen=True)
class PriceVolume:
    """An annual cap on patients (``cap_patients``) or on spending (``cap_spending``, HK$/year).

    ``share_above``: share of the net price the payer pays for patients (or spending) above the
    cap (0 = the company bears it all; 0.5 = half price). Exactly one cap is given.
    """

    cap_patients: float | None = None
    cap_spending: float | None = None
    share_above: float = 0.0
    name: str = "price-volume"

    def validate(self, context: PaymentContext | None = None) -> None:
        if (self.cap_patients is None) == (self.cap_spending is None):
            raise AgreementError(f"{self.name}.cap", "exactly one of a patient cap or a spending cap",
                                 {"cap_patients": self.cap_patients, "cap_spending": self.cap_spending})
        for label, cap in (("cap_patients", self.cap_patients), ("cap_spending", self.cap_spending)):
            if cap is not None and (not np.isfinite(float(cap)) or float(cap) < 0):
                raise AgreementError(f"{self.name}.{label}", "a cap >= 0", cap)
        _share(self.share_above, f"{self.name}.share_above")
        if context is not None and context.patients_per_year is None:
            raise AgreementError(f"{self.name}.patients_per_year", "patients per year in the payment context", None)

    @property
    def depends_on_price(self) -> bool:
        return self.cap_spending is not None


@dataclass(frozen=True)
class Instalment:
    """``share`` of the net price paid at ``time`` (years since infusion) if ``condition`` holds.

    ``condition`` names a curve of the payment context's ``survival``: ``"alive"``,
    ``"progression-free"``, or any other probability-over-time array the caller supplies (e.g.
    ``"in response"``).
    """

    time: float
    share: float
    condition: str = "alive"


@dataclass(frozen=True)
class OutcomeBased:
    """``upfront`` share at time 0, then :class:`Instalment` s; upfront + shares = 1."""

    upfront: float
    instalments: tuple[Instalment, ...] = field(default_factory=tuple)
    name: str = "outcome-based"

    def validate(self, context: PaymentContext | None = None) -> None:
        total = _share(self.upfront, f"{self.name}.upfront")
        horizon = None if context is None else context.horizon
        for i, inst in enumerate(self.instalments, start=1):
            where = f"{self.name}.instalments[{i}]"
            t = inst.time
            if not np.isfinite(float(t)) or float(t) < 0:
                raise AgreementError(f"{where}.time", "a time >= 0 years", t)
            if horizon is not None and float(t) > horizon + 1e-12:
                raise AgreementError(f"{where}.time", f"a time within the model horizon ({horizon:g} years)", t)
            total += _share(inst.share, f"{where}.share")
            if not isinstance(inst.condition, str) or not inst.condition:
                raise AgreementError(f"{where}.condition", f"a condition name such as {list(CONDITIONS)}", inst.condition)
            if context is not None and inst.condition not in context.survival:
                raise AgreementError(f"{where}.condition",
                                     f"a condition with a survival array in the context ({list(context.survival)})",
                                     inst.condition)
        if abs(total - 1.0) > 1e-9:
            raise AgreementError(f"{self.name}.shares", "upfront + instalment shares summing to 1", round(total, 12))


@dataclass(frozen=True)
class NotInfusedRefund:
    """Refund of ``refund_share`` of the price for the share ``p_not_infused`` of patients billed
    but not infused (a column name of the context's draws, an array ``(n,)`` or a scalar)."""

    p_not_infused: float | np.ndarray | str
    refund_share: float = 1.0
    name: str = "refund (not infused)"

    def validate(self, context: PaymentContext | None = None) -> None:
        _share(self.refund_share, f"{self.name}.refund_share")
        if not isinstance(self.p_not_infused, str):
            p = np.asarray(self.p_not_infused, dtype=float)
            if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
                raise AgreementError(f"{self.name}.p_not_infused", "probabilities from 0 to 1", self.p_not_infused)


@dataclass(frozen=True)
class Combined:
    """Several schemes at once; the payment factor is the product of theirs.

    E.g. ``Combined((NotInfusedRefund(q), OutcomeBased(0.5, ...)))``: billed for infused patients
    only, half at infusion and half at 12 months if alive. The product assumes the schemes act
    on independent parts of the payment (who is billed, when and on what condition). A spending
    cap is applied last, to the net price after the other schemes.
    """

    schemes: tuple
    name: str = "combined"

    def validate(self, context: PaymentContext | None = None) -> None:
        if not self.schemes:
            raise AgreementError(f"{self.name}.schemes", "at least one scheme", self.schemes)
        caps = [s for s in self.schemes if isinstance(s, PriceVolume)]
        if len(caps) > 1:
            raise AgreementError(f"{self.name}.schemes", "at most one price-volume cap", len(caps))
        for s in self.schemes:
            if isinstance(s, Combined):
                raise AgreementError(f"{self.name}.schemes", "schemes that are not themselves combined", s.name)
            s.validate(context)

    @property
    def depends_on_price(self) -> bool:
        return any(getattr(s, "depends_on_price", False) for s in self.schemes)


Scheme = SimpleDiscount | PriceVolume | OutcomeBased | NotInfusedRefund | Combined


@dataclass(frozen=True)
class PaymentContext:
    """What the schemes need from the model besides prices.

    Attributes:
        times: ``(T+1,)`` model time grid in years, starting at 0 (cycle boundaries).
        survival: ``{"alive": (n, T+1), "progression-free": (n, T+1)}`` probabilities per draw.
        discount_rate: annual discount rate of costs (e.g. 0.03).
        patients_per_year: ``(H,)`` patients treated per year (price-volume schemes).
        draws: optional mapping of per-draw columns (e.g. ``p_not_infused``).
    """

    times: np.ndarray | None = None
    survival: dict = field(default_factory=dict)
    discount_rate: float = 0.0
    patients_per_year: np.ndarray | None = None
    draws: dict = field(default_factory=dict)

    @property
    def horizon(self) -> float | None:
        return None if self.times is None else float(np.asarray(self.times)[-1])


# --------------------------------------------------------------------------------------------
# Payment factors and payments
# --------------------------------------------------------------------------------------------


def _interpolate(times: np.ndarray, surv: np.ndarray, t: float) -> np.ndarray:
    j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 2))
    w = (t - times[j]) / (times[j + 1] - times[j])
    return surv[:, j] * (1.0 - w) + surv[:, j + 1] * w


def _check_context_arrays(context: PaymentContext, n: int | None) -> None:
    if context.times is None:
        raise AgreementError("context.times", "the model time grid in years", None)
    times = np.asarray(context.times, dtype=float)
    if times.ndim != 1 or times.size < 2 or times[0] != 0 or np.any(np.diff(times) <= 0):
        raise AgreementError("context.times", "an increasing time grid in years starting at 0", times[:3])
    for key, s in context.survival.items():
        s = np.asarray(s)
        if s.ndim != 2 or s.shape[1] != times.size or (n is not None and s.shape[0] not in (1, n)):
            raise AgreementError(f"context.survival[{key}]", f"an array (n, {times.size})", s.shape)


def payment_factor(scheme: Scheme, context: PaymentContext | None = None, net_price=None) -> np.ndarray:
    """Expected discounted share of the (net) price the payer pays per patient, per draw.

    Args:
        scheme: one scheme.
        context: a :class:`PaymentContext` (needed by outcome-based, price-volume and refunds
            whose probability is a named column).
        net_price: ``(n,)`` or scalar net price per patient (HK$); needed by a spending cap.

    Returns:
        ``(n,)`` or ``(1,)`` factors in [0, 1].
    """
    context = context or PaymentContext()
    scheme.validate(context)
    if isinstance(scheme, Combined):
        ordered = sorted(scheme.schemes, key=lambda s: getattr(s, "depends_on_price", False))
        f = np.ones(1)
        for part in ordered:
            price = None if net_price is None else np.asarray(net_price, dtype=float) * f
            f = f * payment_factor(part, context, net_price=price)
        return f
    if isinstance(scheme, SimpleDiscount):
        return np.ones(1)
    if isinstance(scheme, NotInfusedRefund):
        p = scheme.p_not_infused
        if isinstance(p, str):
            if p not in context.draws:
                raise AgreementError(f"{scheme.name}.p_not_infused", "a column of the context's draws", p)
            p = context.draws[p]
        p = np.atleast_1d(np.asarray(p, dtype=float))
        if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
            raise AgreementError(f"{scheme.name}.p_not_infused", "probabilities from 0 to 1", p[:3])
        return 1.0 - p * scheme.refund_share
    if isinstance(scheme, OutcomeBased):
        _check_context_arrays(context, None)
        times = np.asarray(context.times, dtype=float)
        f = np.full(1, scheme.upfront)
        for inst in scheme.instalments:
            surv = np.asarray(context.survival[inst.condition], dtype=float)
            paid = _interpolate(times, surv, float(inst.time))
            f = f + inst.share * paid * (1.0 + context.discount_rate) ** -float(inst.time)
        return f
    if isinstance(scheme, PriceVolume):
        n_y = np.asarray(context.patients_per_year, dtype=float)
        if n_y.ndim != 1 or np.any(n_y < 0) or not np.all(np.isfinite(n_y)):
            raise AgreementError(f"{scheme.name}.patients_per_year", "patient numbers >= 0 per year", n_y)
        total = n_y.sum()
        if total <= 0:
            return np.ones(1)
        if scheme.cap_patients is not None:
            cap = float(scheme.cap_patients)
            paid = np.minimum(n_y, cap) + scheme.share_above * np.maximum(n_y - cap, 0.0)
            return np.atleast_1d(paid.sum() / total)
        if net_price is None:
            raise AgreementError(f"{scheme.name}.cap_spending", "a net price to compare the spending with", None)
        price = np.atleast_1d(np.asarray(net_price, dtype=float))[:, None]
        spend = price * n_y[None, :]  # (n, H)
        cap = float(scheme.cap_spending)
        paid = np.minimum(spend, cap) + scheme.share_above * np.maximum(spend - cap, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(spend.sum(axis=1) > 0, paid.sum(axis=1) / np.where(spend.sum(axis=1) > 0, spend.sum(axis=1), 1.0), 1.0)
    raise AgreementError("scheme", "one of SimpleDiscount, PriceVolume, OutcomeBased, NotInfusedRefund", type(scheme).__name__)


def _check_discount(d) -> float:
    d = float(d)
    if not np.isfinite(d) or d > 1:
        raise AgreementError("discount", "a discount of at most 1 (a share of the list price)", d)
    return d


def expected_payment(scheme: Scheme, list_price, discount: float = 0.0, context: PaymentContext | None = None) -> np.ndarray:
    """Expected discounted payment per patient (HK$), per draw: ``(1 - d) x list x f``."""
    d = _check_discount(discount)
    price = np.atleast_1d(np.asarray(list_price, dtype=float))
    if not np.all(np.isfinite(price)) or np.any(price < 0):
        raise AgreementError("list_price", "prices >= 0", price[:3])
    net = (1.0 - d) * price
    return net * payment_factor(scheme, context, net_price=net)


def _acquisition(list_price, acquisition_in_model, n: int) -> np.ndarray:
    base = list_price if acquisition_in_model is None else acquisition_in_model
    arr = np.asarray(base, dtype=float)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size not in (1, n)) or not np.all(np.isfinite(arr)):
        raise AgreementError("acquisition_in_model", f"a scalar or {n} finite values", arr.shape)
    return np.broadcast_to(arr, (n,))


def scheme_costs(costs, new: int, list_price, scheme: Scheme, discount: float = 0.0,
                 context: PaymentContext | None = None, acquisition_in_model=None) -> np.ndarray:
    """Per-draw costs ``(n, S)`` with the new strategy's acquisition replaced by the payment.

    ``acquisition_in_model``: the acquisition component included in ``costs`` per draw when it
    differs from ``list_price`` (e.g. an intention-to-treat model that already pays only for
    infused patients, discounted to infusion); by default ``list_price``.
    """
    c = np.array(costs, dtype=float, copy=True)
    if c.ndim != 2:
        raise AgreementError("costs", "an array (n_draws, n_strategies)", c.shape)
    pay = expected_payment(scheme, list_price, discount, context)
    c[:, new] = c[:, new] - _acquisition(list_price, acquisition_in_model, c.shape[0]) + pay
    return c


def _strategy_index(value, strategies, what):
    if isinstance(value, str):
        if value not in strategies:
            raise AgreementError(what, f"one of the strategies {list(strategies)}", value)
        return list(strategies).index(value)
    return int(value)


def _frames(costs, qalys, strategies=None):
    names = list(strategies) if strategies is not None else (
        [str(x) for x in costs.columns] if isinstance(costs, pd.DataFrame) else None)
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qalys, dtype=float)
    if c.ndim != 2 or c.shape != q.shape or c.shape[1] < 2:
        raise AgreementError("costs/qalys", "two arrays (n_draws, n_strategies >= 2) of the same shape", (c.shape, q.shape))
    names = names or [f"strategy {j}" for j in range(c.shape[1])]
    if len(names) != c.shape[1]:
        raise AgreementError("strategies", f"{c.shape[1]} strategy names", names)
    return c, q, names


def negotiation_grid(schemes: dict, discounts, costs, qalys, list_price, wtp, new=1, comparator=0,
                     context: PaymentContext | None = None, acquisition_in_model=None,
                     strategies=None) -> pd.DataFrame:
    """ICER, incremental NMB and P(cost-effective) for every scheme x discount x WTP.

    Args:
        schemes: ``{label: scheme}``.
        discounts: confidential discounts (shares of the list price, e.g. ``[0, 0.1, ..., 0.5]``).
        costs, qalys: ``(n, S)`` per-patient discounted costs (at list price) and QALYs per draw.
        list_price: acquisition cost of the new strategy per patient at list price, ``(n,)`` or scalar.
        wtp: willingness-to-pay values (HK$ per QALY).
        new, comparator: strategy index or name of the new therapy and of its comparator.
        context: :class:`PaymentContext` for the schemes that need one.
        acquisition_in_model: see :func:`scheme_costs`.
        strategies: names of the strategy columns (default: the DataFrame's columns).

    Returns:
        Long DataFrame: ``scheme, discount, wtp, payment`` (mean expected payment per patient),
        ``inc_cost, inc_qaly, icer, inmb`` (means, new vs comparator), ``p_ce`` (share of draws in
        which the new strategy has the highest NMB of all strategies).
    """
    c, q, names = _frames(costs, qalys, strategies)
    i_new = _strategy_index(new, names, "new strategy")
    i_cmp = _strategy_index(comparator, names, "comparator strategy")
    k = np.atleast_1d(np.asarray(wtp, dtype=float))
    rows = []
    for label, scheme in schemes.items():
        for d in np.atleast_1d(np.asarray(discounts, dtype=float)):
            cs = scheme_costs(c, i_new, list_price, scheme, d, context, acquisition_in_model)
            pay = float(np.mean(expected_payment(scheme, list_price, d, context) * np.ones(c.shape[0])))
            dc = float(np.mean(cs[:, i_new] - cs[:, i_cmp]))
            dq = float(np.mean(q[:, i_new] - q[:, i_cmp]))
            nmb = k[:, None, None] * q[None] - cs[None]  # (W, n, S)
            p_ce = (nmb.argmax(axis=2) == i_new).mean(axis=1)
            for kk, p in zip(k, p_ce):
                rows.append({"scheme": str(label), "discount": float(d), "wtp": float(kk), "payment": pay,
                             "inc_cost": dc, "inc_qaly": dq, "icer": dc / dq if dq != 0 else np.nan,
                             "inmb": kk * dq - dc, "p_ce": float(p)})
    return pd.DataFrame(rows)


def threshold_discounts(schemes: dict, costs, qalys, list_price, wtp, new=1, comparator=0,
                        context: PaymentContext | None = None, acquisition_in_model=None,
                        strategies=None) -> pd.DataFrame:
    """The discount at which each scheme makes the new strategy's ICER equal each WTP.

    Mean incremental NMB(d) = k * dQ - (dC_other + (1 - d) * mean(list x f)) where f is the
    scheme's payment factor; when f does not depend on d, d* = 1 - (k dQ - dC_other) /
    mean(list x f). A spending cap makes f depend on d: d* is found by Brent's method on [-1, 1].
    A negative d* means the new strategy is cost-effective at list price (a premium of -d* would
    still be); NaN (with a note) when no d in [-1, 1] gives an ICER of k.

    Returns:
        DataFrame ``scheme, wtp, threshold_discount, method, note``.
    """
    c, q, names = _frames(costs, qalys, strategies)
    i_new = _strategy_index(new, names, "new strategy")
    i_cmp = _strategy_index(comparator, names, "comparator strategy")
    price = np.broadcast_to(np.asarray(list_price, dtype=float), (c.shape[0],))
    dq = float(np.mean(q[:, i_new] - q[:, i_cmp]))
    dc_other = float(np.mean(c[:, i_new] - _acquisition(list_price, acquisition_in_model, c.shape[0]) - c[:, i_cmp]))
    rows = []
    for label, scheme in schemes.items():
        linear = not getattr(scheme, "depends_on_price", False)
        for kk in np.atleast_1d(np.asarray(wtp, dtype=float)):
            target = kk * dq - dc_other  # what the payment may cost on average
            note = ""
            if linear:
                full = float(np.mean(price * payment_factor(scheme, context)))
                d = 1.0 - target / full if full > 0 else np.nan
                method = "closed form"
            else:
                def inmb(dd, target=target, scheme=scheme):
                    return target - float(np.mean(expected_payment(scheme, price, dd, context)))
                lo, hi = inmb(-1.0), inmb(1.0)
                method = "root (Brent)"
                if lo * hi > 0:
                    d = np.nan
                    note = "no discount in [-1, 1] gives ICER = WTP"
                else:
                    d = optimize.brentq(inmb, -1.0, 1.0, xtol=1e-10)
            if np.isfinite(d) and d > 1:
                note = "not cost-effective even if the product were free"
            rows.append({"scheme": str(label), "wtp": float(kk), "threshold_discount": d, "method": method, "note": note})
    return pd.DataFrame(rows)


def negotiation_summary(grid: pd.DataFrame, thresholds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide tables for a "Price negotiation" sheet and the console.

    Returns:
        ``(table, threshold_table)``: ``table`` indexed by (scheme, discount) with the expected
        payment per patient, the ICER, and ``inmb @ k`` and ``p_ce @ k`` for each WTP k;
        ``threshold_table`` indexed by scheme with one column ``threshold discount @ k`` per WTP.
    """
    keys = ["scheme", "discount"]
    wide = grid.pivot_table(index=keys, columns="wtp", values=["inmb", "p_ce"], sort=False)
    wide.columns = [f"{m} @ {k:,.0f}" for m, k in wide.columns]
    first = grid.drop_duplicates(keys).set_index(keys)[["payment", "inc_cost", "inc_qaly", "icer"]]
    table = first.join(wide)
    thr = thresholds.pivot_table(index="scheme", columns="wtp", values="threshold_discount", sort=False)
    thr.columns = [f"threshold discount @ {k:,.0f}" for k in thr.columns]
    return table, thr
