"""The budget impact sheets of an input workbook: Budget and BudgetShares (see docs/bia.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.excel import schema as S
from hta.excel.cells import Record, fmt, show
from hta.inputs import BudgetInputs
from hta.inputs import budget as bia
from hta.inputs.kinds import domain

#: The largest price of the one-way price range: the sanity bound of a cost (hta.inputs.kinds).
MAX_PRICE = domain("cost").high


class BudgetReader:
    """The Budget and BudgetShares sheets -> :class:`hta.analysis.bia.BudgetInputs` (see docs/bia.md)."""

    def __init__(self, reader):
        self.r = reader
        self.book = reader.book
        self.cells = reader.cells

    def read(self, strategies: pd.DataFrame | None, parameters) -> BudgetInputs | None:
        items = self.book.records(S.BUDGET_SHEET)
        shares = self.book.records(S.BUDGET_SHARES_SHEET)
        if items is None and shares is None:
            return None
        if items is not None and not shares and all(rec.blank("value") for rec in items):
            return None  # the template's item list, not filled in
        if items is None or shares is None:
            missing, present = ((S.BUDGET_SHEET.name, S.BUDGET_SHARES_SHEET.name) if items is None
                                else (S.BUDGET_SHARES_SHEET.name, S.BUDGET_SHEET.name))
            if self.book.find_sheet(missing) is None:
                self.book.problem(missing, "", f"a sheet named '{missing}' (a budget impact needs both "
                                  f"Budget and BudgetShares)", f"only '{present}'")
            return None
        values, rows = self._items(items)
        if values is None or strategies is None:
            return None
        names = [] if strategies is None else list(strategies["strategy"])
        sheet = S.BUDGET_SHEET.name
        new = values.get("new_strategy")
        if new is not None and strategies is not None and new not in names:
            self.book.problem(sheet, rows["new_strategy"].coord("value"),
                              "the name of a strategy of the Strategies sheet (" + ", ".join(names) + ")",
                              show(new))
            return None
        price = values.get("price_parameter")
        if price is not None and parameters is not None and price not in parameters:
            self.book.problem(sheet, rows["price_parameter"].coord("value"),
                              "the name of a parameter of the Parameters sheet", show(price))
            return None
        horizon = int(values.get("horizon_years") or 5)
        market = self._shares(shares, names, new, horizon, values.get("uptake_curve"))
        if market is None or self.book.problems:
            return None
        without, explicit, displacement, share_cells = market
        kwargs = {k: v for k, v in values.items() if k in {f.name for f in dataclasses.fields(BudgetInputs)}
                  and k not in ("eligible", "ranges", "sources", "labels")}
        for k in ("start_year", "horizon_years", "population_year"):
            if k in kwargs:
                kwargs[k] = int(kwargs[k])
        spec = BudgetInputs(shares_without=without, uptake_explicit=explicit, displacement=displacement,
                            eligible=tuple(values["eligible"]), ranges=values["ranges"],
                            price_range=values["ranges"].pop("price_parameter", None),
                            sources=values["sources"], labels=values["labels"], **kwargs)
        # The curves and shares must work in the base case and at every one-way value.
        checks = [("the base case", spec)] + [
            (f"{item} = {fmt(v)} (its {level} value)", spec.with_values(**{item: v}))
            for item, (lo, hi) in spec.ranges.items() for level, v in (("low", lo), ("high", hi))]
        for what, variant in checks:
            try:
                bia.market_shares(variant)
            except HtaError as err:
                cell = share_cells if what == "the base case" else rows[what.split(" ")[0]].coord("value")
                where = S.BUDGET_SHARES_SHEET.name if what == "the base case" else sheet
                message = str(err).replace("budget impact: ", "")
                self.book.problem(where, cell, f"market shares that work in {what}", message)
                return None
        return spec

    def _items(self, records):
        sheet = S.BUDGET_SHEET.name
        known = ", ".join([s.name for s in S.BUDGET_ITEMS] + ["eligible_<name>"])
        values: dict[str, Any] = {"eligible": [], "ranges": {}, "sources": {}, "labels": {}}
        rows: dict[str, Record] = {}
        for rec in records:
            name = self.cells.text(rec, "item", required=True, expected="an item name")
            if name is None:
                continue
            key = name.lower()
            if key in rows:
                self.book.problem(sheet, f"{rows[key].coord('item')}, {rec.coord('item')}",
                                  "each item once", f"'{name}' twice")
                continue
            rows[key] = rec
            spec = S.BUDGET_ITEMS_BY_NAME.get(key)
            eligible = S.ELIGIBLE_ITEM.match(key) is not None
            if spec is None and not eligible:
                self.cells.fail(rec, "item", f"a known budget item ({known})", show(name))
                continue
            spec = spec or S.ELIGIBLE
            value = self.r.setting_value(rec, spec)
            if value is None:
                if rec.blank("value") and (spec.required or eligible):
                    self.cells.missing(rec, "value", f"a value for '{key}': {spec.expected()}")
                continue
            source = self.r.source(rec)
            if source is not None:
                values["sources"][key] = source
            label = self.cells.text(rec, "description") or key
            values["labels"][key] = label
            if eligible:
                values["eligible"].append((key, label, float(value)))
            else:
                values[key] = value
            low = self.cells.number(rec, "low")
            high = self.cells.number(rec, "high")
            if low is None and high is None:
                continue
            if low is None or high is None:
                self.cells.missing(rec, "high" if low is not None else "low",
                                   "both low and high (or neither) for a one-way range")
                continue
            if spec.kind not in (S.NUMBER, S.INTEGER) and key != "price_parameter":
                self.cells.fail(rec, "low", f"a blank cell ('{key}' is not a number)", fmt(low))
                continue
            if key != "price_parameter" and not (low <= float(value) <= high):
                self.cells.fail(rec, "low", f"low <= value <= high for '{key}'",
                                f"low {fmt(low)}, value {fmt(float(value))}, high {fmt(high)}")
                continue
            for column, x in (("low", low), ("high", high)):
                bad = ((spec.minimum is not None and x < spec.minimum)
                       or (spec.maximum is not None and x > spec.maximum))
                if key == "price_parameter":
                    bad = not 0 <= x <= MAX_PRICE
                if bad:
                    self.cells.fail(rec, column, f"{spec.expected() if key != 'price_parameter' else 'a price from 0 to 1e10'} "
                                    f"for '{key}'", fmt(x))
            if not rec.bad:
                values["ranges"][key] = (low, high)
        for spec in S.BUDGET_ITEMS:
            if spec.required and spec.name not in rows:
                self.book.problem(sheet, "", f"a row for the required budget item '{spec.name}' "
                                  f"({spec.expected()})", "no such row")
        if any(r.bad for r in records) or any(s.required and s.name not in values for s in S.BUDGET_ITEMS):
            return None, rows
        curve = values["uptake_curve"]
        needed = {"linear": ("uptake_year_1", "uptake_peak", "uptake_peak_year"),
                  "s-shaped": ("uptake_peak", "uptake_midpoint", "uptake_steepness")}.get(curve, ())
        for k in needed:
            if k not in values:
                cell = rows[k].coord("value") if k in rows else ""
                self.book.problem(sheet, cell, f"a value for '{k}' (uptake_curve is {curve})",
                                  "an empty cell" if k in rows else "no such row")
        if self.book.problems:
            return None, rows
        for spec in S.BUDGET_ITEMS:
            if spec.name not in values and spec.default is not None:
                values[spec.name] = spec.default
        return values, rows

    def _shares(self, records, names, new, horizon, curve):
        sheet = S.BUDGET_SHARES_SHEET.name
        known = {n.lower(): n for n in names}
        cells: dict[tuple[str, int | None], Record] = {}
        for rec in records:
            strategy = self.cells.text(rec, "strategy", required=True, expected="a strategy name")
            year = self.cells.number(rec, "year", expected=f"a budget year from 1 to {horizon} (or blank "
                                     "for every year)", minimum=1.0, maximum=float(horizon), integer=True)
            for column in ("share_without", "share_with", "displacement"):
                self.cells.number(rec, column, required=(column == "share_without"),
                                  expected="a share from 0 to 1", minimum=0.0, maximum=1.0)
            self.r.source(rec)
            if strategy is None or rec.bad:
                continue
            if strategy.lower() not in known:
                self.cells.fail(rec, "strategy", "a strategy of the Strategies sheet (" + ", ".join(names) + ")",
                                show(strategy))
                continue
            key = (known[strategy.lower()], None if year is None else int(year))
            if key in cells:
                self.book.problem(sheet, f"{cells[key].coord('strategy')}, {rec.coord('strategy')}",
                                  "one row per strategy and year", f"{key[0]} year "
                                  f"{'(every year)' if key[1] is None else key[1]} twice")
                continue
            cells[key] = rec
        if any(r.bad for r in records) or self.book.problems:
            return None
        years = list(range(1, horizon + 1))
        table = {c: pd.DataFrame(np.nan, index=years, columns=names) for c in ("share_without", "share_with",
                                                                               "displacement")}
        where: dict[tuple[str, int], Record] = {}
        for (strategy, year), rec in sorted(cells.items(), key=lambda kv: kv[0][1] is not None):
            for y in (years if year is None else [year]):
                where[(strategy, y)] = rec
                for column, frame in table.items():
                    frame.loc[y, strategy] = self.cells.number(rec, column)
        for strategy in names:
            missing = [y for y in years if (strategy, y) not in where]
            if missing and strategy != new:
                self.book.problem(sheet, "", f"a share row for strategy '{strategy}' in every budget year "
                                  "(a row with a blank year covers them all)",
                                  "none for year " + ", ".join(map(str, missing)))
        if self.book.problems:
            return None
        without = table["share_without"].fillna(0.0)
        first, last = records[0].row, records[-1].row
        column = records[0].coord("share_without")[0]
        for y in years:
            total = float(without.loc[y].sum())
            if abs(total - 1.0) > bia.SHARE_TOLERANCE:
                self.book.problem(sheet, f"{column}{first}:{column}{last}", f"shares without the new drug "
                                  f"that sum to 1 in budget year {y}", fmt(total))
                return None
        if new is not None and float(without[new].abs().max()) > bia.SHARE_TOLERANCE:
            rec = next(where[(new, y)] for y in years if abs(without.loc[y, new]) > bia.SHARE_TOLERANCE)
            self.cells.fail(rec, "share_without", f"0 for the new strategy '{new}' (it is not used "
                            "without the new drug)", fmt(float(without[new].abs().max())))
            return None
        with_ = table["share_with"]
        for (strategy, y), rec in where.items():
            if strategy != new and not np.isnan(with_.loc[y, strategy]):
                self.cells.fail(rec, "share_with", "a blank cell (a comparator's share with the new drug "
                                "follows from the displacement weights)", fmt(float(with_.loc[y, strategy])))
                return None
            if strategy == new and curve != "explicit" and not np.isnan(with_.loc[y, strategy]):
                self.cells.fail(rec, "share_with", f"a blank cell (uptake_curve is {curve}; share_with is "
                                "read only for explicit uptake)", fmt(float(with_.loc[y, strategy])))
                return None
        explicit = None
        if curve == "explicit":
            values = with_[new] if new in with_ else pd.Series(np.nan, index=years)
            missing = [y for y in years if np.isnan(values.loc[y])]
            if missing:
                self.book.problem(sheet, "", f"share_with of the new strategy '{new}' in every budget year "
                                  "(uptake_curve is explicit)", "none for year " + ", ".join(map(str, missing)))
                return None
            explicit = tuple(float(values.loc[y]) for y in years)
        d = table["displacement"]
        displacement = None
        if d.notna().to_numpy().any():
            displacement = d.fillna(0.0)
        cell_range = f"{column}{first}:{column}{last}"
        return without, explicit, displacement, cell_range
