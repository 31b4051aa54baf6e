"""Read the optional sheets ``Payers``, ``Agreements`` and ``Capacity`` of an input workbook.

Called from :func:`hta.excel.reader.read_inputs` by one hook (:func:`read_negotiation`), after
the other sheets; problems are added to the workbook's problem list (one per bad cell, naming the
sheet and cell), so they are reported with every other problem in one
:class:`hta.errors.InputError`. Layouts (``docs/agreements.md``; header in row 1):

* ``Payers``: ``category | HA | SF/CCF | patient | source``: the share of each cost category
  each payer bears (proportions 0 to 1, summing to 1 by row; a blank share is 0).
* ``Agreements``: ``item | value | unit | description | source`` with the items of
  :data:`AGREEMENT_ITEMS` and ``instalment_<k>_months`` / ``_share`` / ``_condition``
  (k = 1, 2, ...; months since infusion, within the model horizon).
* ``Capacity``: ``item | value | unit | description | source`` with :data:`CAPACITY_ITEMS`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from hta.excel import xlsx
from hta.inputs.negotiation import AgreementTerms, CapacityTerms, NegotiationInputs

__all__ = ["AGREEMENT_ITEMS", "CAPACITY_ITEMS", "PAYER_COLUMNS", "read_negotiation"]

PAYER_COLUMNS = ("category", "HA", "SF/CCF", "patient", "source")
ITEM_COLUMNS = ("item", "value", "unit", "description", "source")
#: item -> (required, low, high, what); high None = no upper bound; low_open: strictly above.
AGREEMENT_ITEMS = {
    "outcome_upfront": (True, 0.0, 1.0, "a share of the net price from 0 to 1"),
    "refund_not_infused": (True, 0.0, 1.0, "a share of the price from 0 to 1"),
    "cap_patients_per_year": (False, 0.0, None, "a cap of 0 or more patients a year"),
    "share_above_cap": (False, 0.0, 1.0, "a share of the net price from 0 to 1"),
}
CAPACITY_ITEMS = {
    "slots_per_year": (True, 0.0, None, "0 or more treatment slots a year"),
    "p_death_waiting_month": (False, 0.0, 0.999999, "a monthly probability from 0 to below 1"),
    "p_progression_waiting_month": (False, 0.0, 0.999999, "a monthly probability from 0 to below 1"),
    "fixed_centre_cost_year": (False, 0.0, None, "a cost of HK$0 or more a year"),
    "initial_waiting": (False, 0.0, None, "0 or more patients"),
}
_INSTALMENT = re.compile(r"^instalment_(\d+)_(months|share|condition)$")
_CONDITIONS = ("alive", "progression-free")


def _show(value: Any) -> str:
    if value is None:
        return "an empty cell"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return f"'{value}'"


class _Sheet:
    """One optional sheet, read through the streaming reader of :mod:`hta.excel.xlsx`."""

    def __init__(self, book, name: str):
        self.book = book
        self.name = book.find_sheet(name)
        self.ws = None  # {row: {column: (value, formula)}} of the used cells, or None
        if self.name is not None:
            try:
                self.ws = book.workbook.cells(self.name).by_row()
            except (xlsx.Damaged, xlsx.TooLarge) as exc:
                book.problem(self.name, "", f"a readable worksheet named '{self.name}'", str(exc))

    def problem(self, cell: str, expected: str, found: str) -> None:
        self.book.problem(self.name, cell, expected, found)

    def rows(self, columns: tuple) -> list[dict]:
        """Non-blank rows as ``{column: (value, coord)}``; a missing required header is a problem."""
        header = {}
        for j, (value, _formula) in self.ws.get(1, {}).items():
            if isinstance(value, str) and value.strip():
                header[value.strip().lower()] = j
        missing = [c for c in columns[:-1] if c.lower() not in header]
        if missing:
            self.problem("row 1", f"the columns {', '.join(columns)}", f"no column '{missing[0]}'")
            return []
        out = []
        for r, cells in self.ws.items():
            if r == 1:
                continue
            rec = {}
            for c in columns:
                j = header.get(c.lower())
                if j is None:
                    continue
                v = cells.get(j, (None, None))[0]
                rec[c] = (v.strip() if isinstance(v, str) else v, f"{xlsx.column_letter(j)}{r}")
            first = rec[columns[0]][0]
            if first is None or first == "":
                continue
            out.append(rec)
        return out

    def number(self, rec: dict, column: str, low: float, high: float | None, what: str) -> float | None:
        value, coord = rec[column]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            self.problem(coord, what, _show(value))
            return None
        v = float(value)
        if v < low or (high is not None and v > high):
            self.problem(coord, what, _show(value))
            return None
        return v


def _payers(book) -> tuple[dict | None, dict]:
    sheet = _Sheet(book, "Payers")
    if sheet.ws is None:
        return None, {}
    shares, sources, first_row = {}, {}, {}
    for rec in sheet.rows(PAYER_COLUMNS):
        category, coord = rec["category"]
        category = str(category)
        if category in first_row:
            sheet.problem(coord, "each cost category once", f"'{category}' also in {first_row[category]}")
            continue
        first_row[category] = coord
        row, ok = {}, True
        for payer in PAYER_COLUMNS[1:4]:
            value, where = rec[payer]
            if value is None or value == "":
                row[payer] = 0.0
                continue
            v = sheet.number(rec, payer, 0.0, 1.0, f"a share of the '{category}' costs paid by {payer}, from 0 to 1")
            ok = ok and v is not None
            row[payer] = v
        if not ok:
            continue
        total = sum(row.values())
        if abs(total - 1.0) > 1e-9:
            cells = f"{rec['HA'][1]}:{rec['patient'][1]}"
            sheet.problem(cells, f"shares of the '{category}' costs summing to 1 over HA, SF/CCF and patient",
                          f"a sum of {total:g}")
            continue
        shares[category] = row
        sources[category] = str(rec["source"][0] or "") if "source" in rec else ""
    if not shares and not book.problems:
        sheet.problem("A2", "at least one cost category with its payer shares", "none")
    return shares, sources


def _items(book, name: str) -> tuple[_Sheet | None, dict]:
    sheet = _Sheet(book, name)
    if sheet.ws is None:
        return None, {}
    items = {}
    for rec in sheet.rows(ITEM_COLUMNS):
        key = str(rec["item"][0]).strip().lower()
        if key in items:
            sheet.problem(rec["item"][1], "each item once", f"'{key}' twice (also {items[key]['item'][1]})")
            continue
        items[key] = rec
    return sheet, items


def _scalar_items(sheet: _Sheet, items: dict, spec: dict) -> dict:
    values = {}
    for key, (required, low, high, what) in spec.items():
        rec = items.get(key)
        if rec is None:
            if required:
                sheet.problem("A:A", f"an item '{key}' ({what})", "no such row")
            continue
        values[key] = sheet.number(rec, "value", low, high, f"{key}: {what}")
    return values


def _agreements(book, horizon_years: float | None) -> AgreementTerms | None:
    sheet, items = _items(book, "Agreements")
    if sheet is None:
        return None
    known = set(AGREEMENT_ITEMS)
    parts: dict[int, dict] = {}
    for key, rec in items.items():
        m = _INSTALMENT.match(key)
        if m:
            parts.setdefault(int(m.group(1)), {})[m.group(2)] = rec
        elif key not in known:
            sheet.problem(rec["item"][1], f"an agreement item ({', '.join(sorted(known))}, instalment_<k>_months/"
                          "_share/_condition)", _show(key))
    values = _scalar_items(sheet, items, AGREEMENT_ITEMS)
    instalments = []
    for k in sorted(parts):
        p = parts[k]
        for part in ("months", "share", "condition"):
            if part not in p:
                sheet.problem("A:A", f"an item 'instalment_{k}_{part}' (instalment {k} has months, share and "
                              "condition)", "no such row")
        if len(p) != 3:
            continue
        limit = None if horizon_years is None else 12.0 * float(horizon_years)
        what = ("a time in months since infusion from 0 to the model horizon"
                + ("" if limit is None else f" ({limit:g} months)"))
        months = sheet.number(p["months"], "value", 0.0, limit, f"instalment_{k}_months: {what}")
        share = sheet.number(p["share"], "value", 0.0, 1.0, f"instalment_{k}_share: a share of the net price from 0 to 1")
        cond, coord = p["condition"]["value"]
        if cond not in _CONDITIONS:
            sheet.problem(coord, f"instalment_{k}_condition: one of {', '.join(_CONDITIONS)}", _show(cond))
            cond = None
        if None not in (months, share, cond):
            instalments.append((months, share, cond))
    if any(v is None for v in values.values()) or len(instalments) != len(parts):
        return None
    upfront = values["outcome_upfront"]
    total = upfront + sum(s for _, s, _ in instalments)
    if parts and abs(total - 1.0) > 1e-9:
        sheet.problem(items["outcome_upfront"]["value"][1], "outcome_upfront + instalment shares summing to 1",
                      f"a sum of {total:g}")
        return None
    sources = {k: str(rec["source"][0] or "") for k, rec in items.items() if "source" in rec}
    return AgreementTerms(upfront=upfront, instalments=tuple(instalments),
                          refund_not_infused=values["refund_not_infused"],
                          cap_patients=values.get("cap_patients_per_year"),
                          share_above_cap=values.get("share_above_cap") or 0.0, sources=sources)


def _capacity(book) -> CapacityTerms | None:
    sheet, items = _items(book, "Capacity")
    if sheet is None:
        return None
    for key, rec in items.items():
        if key not in CAPACITY_ITEMS:
            sheet.problem(rec["item"][1], f"a capacity item ({', '.join(CAPACITY_ITEMS)})", _show(key))
    values = _scalar_items(sheet, items, CAPACITY_ITEMS)
    if any(v is None for v in values.values()):
        return None
    sources = {k: str(rec["source"][0] or "") for k, rec in items.items() if "source" in rec}
    return CapacityTerms(slots_per_year=values["slots_per_year"],
                         p_death_month=values.get("p_death_waiting_month", 0.0),
                         p_progression_month=values.get("p_progression_waiting_month", 0.0),
                         fixed_cost_per_year=values.get("fixed_centre_cost_year", 0.0),
                         initial_waiting=values.get("initial_waiting", 0.0), sources=sources)


def read_negotiation(book, inputs):
    """Read the Payers, Agreements and Capacity sheets of ``book`` (a :class:`hta.excel.cells.Book`).

    Returns ``inputs`` with :attr:`ModelInputs.negotiation` set (unchanged when none of the
    sheets exists; None when ``inputs`` is None). Problems go to ``book.problems``.
    """
    if book.workbook is None or book.problems:  # the main sheets already failed: nothing to add
        return inputs
    horizon = None
    if inputs is not None and getattr(inputs, "settings", None) is not None:
        horizon = inputs.settings.horizon_years
    shares, sources = _payers(book)
    agreements = _agreements(book, horizon)
    capacity = _capacity(book)
    if inputs is None or (shares is None and agreements is None and capacity is None):
        return inputs
    return dataclasses.replace(inputs, negotiation=NegotiationInputs(shares, sources, agreements, capacity))
