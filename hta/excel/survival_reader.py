"""The survival sheets of an input workbook: Survival, SurvivalCoefficients and the KM/IPD data sheets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hta.excel import schema as S
from hta.excel.cells import Record, fmt, show
from hta.inputs import SurvivalInput


class SurvivalReader:
    """Reads the survival evidence (see docs/inputs.md) for a :class:`hta.excel.reader.Reader`."""

    def __init__(self, reader):
        self.r = reader
        self.book = reader.book
        self.cells = reader.cells

    def source(self, rec):
        return self.r.source(rec)

    def read(self, strategies: pd.DataFrame | None
                      ) -> dict[tuple[str, str], SurvivalInput]:
        records = self.book.records(S.SURVIVAL_SHEET)
        if not records:
            coefficient_records = self.book.records(S.SURVIVAL_COEFFICIENTS_SHEET)
            for rec in coefficient_records or []:
                self.book.problem(rec.sheet, rec.coord("strategy"), "coefficients of a curve "
                                  "listed in the Survival sheet", "no Survival rows")
                break
            return {}
        known = {} if strategies is None else {s.lower(): s for s in strategies["strategy"]}
        coefficients = self._read_coefficients()
        curves: dict[tuple[str, str], SurvivalInput] = {}
        seen: dict[tuple[str, str], str] = {}
        for rec in records:
            strategy = self.cells.text(rec, "strategy", required=True,
                                       expected="a strategy name")
            endpoint = self.cells.text(rec, "endpoint", required=True,
                                       expected="an endpoint such as PFS or OS")
            kind = self.cells.choice(rec, "input", S.SURVIVAL_INPUTS, required=True)
            distribution = self.cells.choice(rec, "distribution", S.SURVIVAL_DISTRIBUTIONS,
                                             required=kind == "parametric")
            time_unit = self.cells.choice(rec, "time_unit", S.TIME_UNITS, required=True)
            data_sheet = self.cells.text(rec, "data_sheet", required=kind in ("km", "ipd"),
                                         expected="the name of the sheet holding the data")
            n0 = self.cells.number(rec, "n_at_risk_0", expected="a whole number > 0",
                                   minimum=0, exclusive_min=True, integer=True)
            events = self.cells.number(rec, "total_events", expected="a whole number >= 0",
                                       minimum=0, integer=True)
            description = self.cells.text(rec, "description") or ""
            source = self.r.source(rec)
            if strategy is not None and strategies is not None:
                if strategy.lower() not in known:
                    self.cells.fail(rec, "strategy", "a strategy listed in the Strategies sheet "
                                    "(" + ", ".join(known.values()) + ")", show(strategy))
                else:
                    strategy = known[strategy.lower()]
            if strategy is None or endpoint is None:
                continue
            key = (strategy.lower(), endpoint.lower())
            if key in seen:
                self.book.problem(rec.sheet, f"{seen[key]}, {rec.coord('endpoint')}",
                                  "one row per strategy and endpoint",
                                  f"{strategy} {endpoint} twice")
                continue
            seen[key] = rec.coord("endpoint")
            self.r.survival_cells[(strategy, endpoint.lower())] = (rec, endpoint, kind)
            if events is not None and n0 is not None and events > n0:
                self.cells.fail(rec, "total_events", f"at most n_at_risk_0 = {int(n0)} events",
                                fmt(events))
            curve = dict(strategy=strategy, endpoint=endpoint, kind=kind,
                         distribution=distribution, time_unit=time_unit,
                         description=description, source=source or "")
            if kind == "parametric":
                block = coefficients.pop(key, None)
                if rec.bad:
                    continue
                if block is None:
                    self.cells.fail(rec, "input", f"coefficients for {strategy} {endpoint} in "
                                    "the SurvivalCoefficients sheet", "none")
                    continue
                if rec.bad or distribution is None:
                    continue
                parsed = self._coefficient_block(block, distribution)
                if parsed is None:
                    continue
                curve.update(coef=parsed[0], coef_names=parsed[1], cov=parsed[2])
            elif kind in ("km", "ipd") and data_sheet is not None:
                actual = self.book.find_sheet(data_sheet)
                if actual is None:
                    self.cells.fail(rec, "data_sheet", "the name of a sheet in the workbook",
                                    f"'{data_sheet}' (no such sheet)")
                    continue
                curve["data_sheet"] = actual
                if kind == "km":
                    km = self._read_km(actual, None if n0 is None else int(n0))
                    if km is None:
                        continue
                    curve_km, at_risk, n0_used = km
                    if n0_used is None:
                        self.cells.missing(rec, "n_at_risk_0", "the number at risk at time 0 "
                                           "(or an at-risk table starting at time 0)")
                        continue
                    curve.update(km=curve_km, at_risk=at_risk, n_at_risk_0=n0_used,
                                 total_events=None if events is None else int(events))
                else:
                    ipd = self._read_ipd(actual)
                    if ipd is None:
                        continue
                    curve["ipd"] = ipd
            if rec.bad or kind is None or time_unit is None:
                continue
            curves[(strategy, endpoint)] = SurvivalInput(**curve)
        for key, block in coefficients.items():
            rec = block[0]
            self.book.problem(rec.sheet, rec.coord("strategy"), "coefficients of a parametric "
                              "curve listed in the Survival sheet (input = parametric)",
                              f"coefficients for {rec.cells['strategy'].value} "
                              f"{rec.cells['endpoint'].value} with no such Survival row")
        return curves

    def _read_coefficients(self) -> dict[tuple[str, str], list[Record]]:
        records = self.book.records(S.SURVIVAL_COEFFICIENTS_SHEET)
        blocks: dict[tuple[str, str], list[Record]] = {}
        for rec in records or []:
            strategy = self.cells.text(rec, "strategy", required=True,
                                       expected="a strategy name")
            endpoint = self.cells.text(rec, "endpoint", required=True,
                                       expected="an endpoint name")
            if strategy is None or endpoint is None:
                continue
            blocks.setdefault((strategy.lower(), endpoint.lower()), []).append(rec)
        return blocks

    def _coefficient_block(self, rows: list[Record], distribution: str):
        """(coef, names, cov or None) of one curve, or None after reporting problems."""
        expected_names = S.SURVIVAL_COEFFICIENTS[distribution]
        k = len(expected_names)
        sheet = rows[0].sheet
        where = f"{rows[0].cells['strategy'].value} {rows[0].cells['endpoint'].value}"
        names, estimates = [], []
        for rec in rows:
            names.append(self.cells.text(rec, "coefficient", required=True,
                                         expected="a coefficient name"))
            estimates.append(self.cells.number(
                rec, "estimate", required=True, minimum=-S.MAX_COEFFICIENT, maximum=S.MAX_COEFFICIENT,
                expected=f"a coefficient from -{S.MAX_COEFFICIENT:g} to {S.MAX_COEFFICIENT:g} (on the log "
                         "scale; beyond it the curve overflows)"))
            self.r.source(rec)
        if any(r.bad for r in rows):
            return None
        if [n.lower() for n in names] != [n.lower() for n in expected_names]:
            self.book.problem(sheet, f"{rows[0].coord('coefficient')}:"
                              f"{rows[-1].coord('coefficient')}",
                              f"{k} coefficient{'s' if k > 1 else ''} of the {distribution} "
                              f"curve {where}, in this order: {', '.join(expected_names)}",
                              ", ".join(names))
            return None
        cov_columns = [f"cov_{j}" for j in range(1, S.MAX_COEFFICIENTS + 1)]
        cov = np.full((k, k), np.nan)
        any_given = False
        for i, rec in enumerate(rows):
            for j, column in enumerate(cov_columns):
                x = self.cells.number(rec, column, minimum=-S.MAX_COVARIANCE, maximum=S.MAX_COVARIANCE,
                                      expected=f"a covariance from -{S.MAX_COVARIANCE:g} to {S.MAX_COVARIANCE:g}")
                if x is None:
                    continue
                any_given = True
                if j >= k:
                    self.cells.fail(rec, column, f"a blank cell (the {distribution} curve has "
                                    f"{k} coefficient{'s' if k > 1 else ''})", fmt(x))
                else:
                    cov[i, j] = x
        if any(r.bad for r in rows):
            return None
        coef = np.array(estimates, dtype=float)
        if not any_given:
            return coef, tuple(expected_names), None
        for i, rec in enumerate(rows):
            for j in range(k):
                if np.isnan(cov[i, j]):
                    self.cells.missing(rec, cov_columns[j], f"covariance ({i + 1}, {j + 1}) of "
                                       f"{where} (fill the whole matrix, or leave it all blank "
                                       "for fixed coefficients)")
        if any(r.bad for r in rows):
            return None
        scale = max(float(np.max(np.abs(cov))), 1e-300)
        for i in range(k):
            for j in range(i + 1, k):
                if abs(cov[i, j] - cov[j, i]) > 1e-8 * scale:
                    self.book.problem(sheet, f"{rows[i].coord(cov_columns[j])}, "
                                      f"{rows[j].coord(cov_columns[i])}",
                                      f"a symmetric covariance matrix for {where}",
                                      f"{fmt(cov[i, j])} and {fmt(cov[j, i])}")
                    return None
        eigenvalues = np.linalg.eigvalsh(cov)
        if eigenvalues.min() < -1e-10 * scale:
            self.book.problem(sheet, f"{rows[0].coord(cov_columns[0])}:"
                              f"{rows[-1].coord(cov_columns[k - 1])}",
                              f"a positive semi-definite covariance matrix for {where}",
                              f"a matrix with eigenvalue {eigenvalues.min():.3g}")
            return None
        return coef, tuple(expected_names), cov

    def _read_km(self, sheet: str, n0: int | None):
        """(curve, at-risk table or None, number at risk at 0) from a KM data sheet."""
        records = self.book.records(S.KM_SHEET, sheet, missing_ok=False)
        if records is None:
            return None
        points, at_risk = [], []
        for rec in records:
            if not (rec.blank("time") and rec.blank("survival")):
                # Slightly negative digitised times are checked below, against the last time.
                t = self.cells.number(rec, "time", required=True, expected=f"a time <= {S.MAX_DATA_TIME:g}",
                                      maximum=S.MAX_DATA_TIME)
                s = self.cells.number(rec, "survival", required=True,
                                      expected="a survival from 0 to 1 (or 0 to 100 percent)",
                                      minimum=0.0, maximum=100.0)
                if t is not None and s is not None:
                    points.append((t, s, rec))
            if not (rec.blank("at_risk_time") and rec.blank("n_at_risk")):
                t = self.cells.number(rec, "at_risk_time", required=True,
                                      expected=f"a time from 0 to {S.MAX_DATA_TIME:g}", minimum=0.0,
                                      maximum=S.MAX_DATA_TIME)
                n = self.cells.number(rec, "n_at_risk", required=True,
                                      expected="a whole number from 0 to 1e9", minimum=0.0, maximum=1e9,
                                      integer=True)
                if t is not None and n is not None:
                    at_risk.append((t, int(n), rec))
        if any(r.bad for r in records):
            return None
        if len(points) < 2:
            self.book.problem(sheet, "A2", "at least two digitised (time, survival) points",
                              f"{len(points)}")
            return None
        limit = S.KM_NEGATIVE_TIME_TOLERANCE * max(max(t for t, _, _ in points), 0.0)
        negative = [(t, rec) for t, _, rec in points if t < -limit]
        for t, rec in negative:
            self.cells.fail(rec, "time", f"a time >= 0 (digitised times down to -{fmt(limit)}, "
                            f"{S.KM_NEGATIVE_TIME_TOLERANCE:.0%} of the last time, are read as 0)", fmt(t))
        if negative:
            return None
        # Percent or proportion: a percent curve has most values above 1 (it starts near 100);
        # a few values above 1 among proportions are typos, not a change of scale.
        above_one = [(s, rec) for _, s, rec in points if s > 1.0]
        percent = 2 * len(above_one) >= len(points)
        if above_one and not percent:
            for s, rec in above_one:
                self.cells.fail(rec, "survival", "a survival proportion from 0 to 1, like most "
                                "of this sheet's points", fmt(s))
            return None
        scale = 100.0 if percent else 1.0
        order = sorted(range(len(points)), key=lambda i: points[i][0])  # stable: ties keep order
        ok = True
        lowest = math.inf
        for i in order:
            t, s, rec = points[i]
            s /= scale
            if s > lowest + S.KM_RISE_TOLERANCE:
                self.cells.fail(rec, "survival", f"a survival that does not rise by more than "
                                f"{fmt(S.KM_RISE_TOLERANCE * scale)} above earlier points "
                                f"(lowest so far {fmt(lowest * scale)})", fmt(s * scale))
                ok = False
            lowest = min(lowest, s)
        km = pd.DataFrame({"time": [points[i][0] for i in order],
                           "survival": [points[i][1] / scale for i in order]})
        if not at_risk:
            return (km, None, n0) if ok else None
        t_max = float(km["time"].max())
        first_n = at_risk[0][1] if at_risk[0][0] == 0 else None
        if n0 is None:
            n0 = first_n
        elif first_n is not None and first_n != n0:
            self.cells.fail(at_risk[0][2], "n_at_risk", f"the number at risk at time 0 to "
                            f"equal n_at_risk_0 = {n0} in the Survival sheet", str(first_n))
            ok = False
        previous_t, previous_n = -math.inf, math.inf
        for t, n, rec in at_risk:
            if t <= previous_t:
                self.cells.fail(rec, "at_risk_time", "at-risk times in increasing order",
                                f"{fmt(t)} after {fmt(previous_t)}")
                ok = False
            elif t > t_max:
                self.cells.fail(rec, "at_risk_time", f"an at-risk time within the curve's time "
                                f"range [0, {fmt(t_max)}]", fmt(t))
                ok = False
            if n > previous_n:
                self.cells.fail(rec, "n_at_risk", "numbers at risk that never rise",
                                f"{n} after {previous_n}")
                ok = False
            elif n0 is not None and n > n0:
                self.cells.fail(rec, "n_at_risk", f"at most the initial number at risk {n0}",
                                str(n))
                ok = False
            elif n0 is not None and t > 0:
                # Patients still at risk at t have survived to just before t, so n(t) cannot
                # exceed n0 * S(t-) beyond digitisation error.
                before = km["survival"][km["time"] < t]
                s_before = float(before.min()) if len(before) else 1.0
                limit = n0 * (s_before + S.KM_RISE_TOLERANCE) + 1
                if n > limit:
                    self.cells.fail(rec, "n_at_risk", f"at most about {math.floor(limit)} at "
                                    f"risk at time {fmt(t)}: the curve shows {fmt(s_before)} "
                                    f"surviving of {n0}", str(n))
                    ok = False
            previous_t, previous_n = t, n
        if not ok:
            return None
        table = pd.DataFrame({"time": [t for t, _, _ in at_risk],
                              "n_at_risk": [n for _, n, _ in at_risk]})
        return km, table, n0

    def _read_ipd(self, sheet: str) -> pd.DataFrame | None:
        records = self.book.records(S.IPD_SHEET, sheet, missing_ok=False)
        if records is None:
            return None
        times, events = [], []
        for rec in records:
            t = self.cells.number(rec, "time", required=True, expected=f"a time from 0 to {S.MAX_DATA_TIME:g}",
                                  minimum=0.0, maximum=S.MAX_DATA_TIME)
            e = self.cells.number(rec, "event", required=True, expected="1 (event) or 0 "
                                  "(censored)", minimum=0.0, maximum=1.0, integer=True)
            times.append(t)
            events.append(e)
        if any(r.bad for r in records):
            return None
        if not records:
            self.book.problem(sheet, "A2", "individual patient data (time, event) rows",
                              "no rows")
            return None
        return pd.DataFrame({"time": np.array(times, dtype=float),
                             "event": np.array(events, dtype=int)})
