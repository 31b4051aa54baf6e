"""Read and validate an input workbook.

:func:`read_inputs` turns a workbook laid out as in :mod:`hta.excel.schema` (documented in
``docs/inputs.md``) into a :class:`ModelInputs`. It checks everything before it builds
anything and reports **all** problems at once in one :class:`hta.errors.InputError`; each
problem names the workbook, the sheet and the cell, what was expected and what was found.
:func:`validate` returns the same problems as a list instead of raising.

Cell access lives in :mod:`hta.excel.cells`, the survival sheets in
:mod:`hta.excel.survival_reader` and the budget sheets in :mod:`hta.excel.budget_reader`.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hta.errors import HtaError, InputError, Problem
from hta.excel import schema as S
from hta.excel.budget_reader import BudgetReader
from hta.excel.cells import Access, Book, Record, fmt, show, strip_who, to_number, to_text
from hta.excel.payers_reader import read_negotiation
from hta.excel.survival_reader import SurvivalReader
from hta.inputs import BudgetInputs, DirichletBlock, ModelInputs, Settings, SurvivalInput
from hta.inputs.kinds import domain, infer_kind, suitable, support
from hta.inputs.requirements import Requirements, model_requirements
from hta.params import ParameterTable
from hta.params.distributions import from_spec

#: ``requirements`` default: look up the model named by the workbook's ``model`` setting.
AUTO = "auto"


def read_inputs(path: str | Path, requirements: Requirements | str | None = AUTO) -> ModelInputs:
    """Read and validate an input workbook; raise :class:`InputError` listing every problem.

    ``requirements``: what the model needs (:class:`hta.inputs.requirements.Requirements`),
    checked at the cells; by default the ``REQUIREMENTS`` of ``models/<model>.py`` when the
    workbook's ``model`` setting names one; None to check none.
    """
    inputs, problems = _read(Path(path), requirements)
    if problems:
        raise InputError(problems)
    assert inputs is not None
    return inputs


def validate(path: str | Path, requirements: Requirements | str | None = AUTO) -> list[Problem]:
    """Every problem in an input workbook (an empty list when it is valid)."""
    return _read(Path(path), requirements)[1]


def _read(path: Path, requirements=AUTO) -> tuple[ModelInputs | None, list[Problem]]:
    with warnings.catch_warnings():  # no library warning is ever printed around the messages
        warnings.simplefilter("ignore")
        book = Book.open(path)
        if book.problems:
            return None, book.problems
        reader = Reader(book, requirements)
        try:
            inputs = reader.read()
            inputs = read_negotiation(book, inputs)  # optional sheets Payers, Agreements, Capacity
        finally:
            if book.workbook is not None:
                book.workbook.archive.close()
    return (None if book.problems else inputs), book.problems


# ---------------------------------------------------------------------------------------------
# The reader: one method per sheet


class Reader:
    def __init__(self, book: Book, requirements=AUTO):
        self.book = book
        self.requirements = requirements
        self.strategy_cells: dict[str, tuple[str, str]] = {}   # lower name -> (name, coord)
        self.survival_cells: dict[tuple[str, str], tuple] = {}  # (strategy, lower endpoint) -> (rec, endpoint, input)
        self.parameter_names: dict[str, str] = {}               # lower name -> name
        self.cells = Access(book)
        self.parameter_cells: dict[str, tuple[str, str]] = {}  # lower name -> (sheet, coord)
        self.kinds: dict[str, str] = {}       # parameter name -> kind
        self.kind_notes: dict[str, str] = {}  # parameter name -> how its kind was inferred

    def read(self) -> ModelInputs | None:
        settings = self.read_settings()
        strategies = self.read_strategies()
        parameters = self.read_parameters()
        dirichlet = self.read_dirichlet(parameters)
        survival = self.read_survival(strategies)
        lifetable = self.read_lifetable(settings)
        budget = self.read_budget(strategies, parameters)
        self.check_consistency(settings, lifetable, budget)
        self.check_requirements(settings)
        if self.book.problems:
            return None
        return ModelInputs(
            path=self.book.path.resolve(),
            sha256=hashlib.sha256(self.book.path.read_bytes()).hexdigest(),
            settings=settings,
            parameters=parameters,
            strategies=strategies,
            survival=survival,
            lifetable=lifetable,
            dirichlet=dirichlet,
            budget=budget,
            kinds=dict(self.kinds),
            kind_notes=dict(self.kind_notes),
        )

    # -- Settings ---------------------------------------------------------------------------

    def read_settings(self) -> Settings | None:
        records = self.book.records(S.SETTINGS_SHEET)
        if records is None:
            return None
        sheet = S.SETTINGS_SHEET.name
        values: dict[str, Any] = {}
        coords: dict[str, str] = {}
        value_cells: dict[str, str] = {}
        sources: dict[str, str] = {}
        wtp: dict[int, tuple[str, float]] = {}
        known = ", ".join([s.name for s in S.SETTINGS] + ["wtp_1, wtp_2, ..."])
        for rec in records:
            name = self.cells.text(rec, "setting", required=True, expected="a setting name")
            if name is None:
                continue
            key = name.lower()
            if key in coords:
                self.book.problem(sheet, f"{coords[key]}, {rec.coord('setting')}",
                                  "each setting once", f"'{name}' twice")
                continue
            coords[key] = rec.coord("setting")
            value_cells[key] = rec.coord("value")
            sources[key] = self.cells.text(rec, "source") or ""
            wtp_match = S.WTP_SETTING.match(key)
            spec = S.SETTINGS_BY_NAME.get(key)
            if spec is None and wtp_match is None:
                self.cells.fail(rec, "setting", f"a known setting ({known})", show(name))
                continue
            if wtp_match is not None:
                value = self.setting_value(rec, S.WTP)
                if value is not None:
                    k = int(wtp_match.group(1))
                    label = self.cells.text(rec, "description") or f"WTP {k}"
                    wtp[k] = (label, value)
                continue
            value = self.setting_value(rec, spec)
            if value is not None:
                values[key] = value
            elif spec.required and rec.blank("value"):
                self.cells.missing(rec, "value", f"a value for '{key}': {spec.expected()}")

        for spec in S.SETTINGS:
            if spec.required and spec.name not in coords:
                self.book.problem(sheet, "", f"a row for the required setting '{spec.name}' "
                                  f"({spec.expected()})", "no such row")
        if not wtp and not any(S.WTP_SETTING.match(k) for k in coords):
            self.book.problem(sheet, "", "at least one willingness-to-pay row named wtp_1 "
                              "(a number > 0 per QALY)", "no such row")
        elif not wtp:
            first = next(k for k in coords if S.WTP_SETTING.match(k))
            self.book.problem(sheet, value_cells[first], "a value for at least one wtp_N row "
                              "(a number > 0 per QALY)", "no WTP value")
        if not all(s.name in values for s in S.SETTINGS if s.required) or not wtp:
            return None
        kwargs = {s.name: values[s.name] if values.get(s.name) is not None else s.default
                  for s in S.SETTINGS}
        for s in S.SETTINGS:
            if s.kind == S.INTEGER and kwargs[s.name] is not None:
                kwargs[s.name] = int(kwargs[s.name])
        return Settings(wtp=tuple(wtp[k] for k in sorted(wtp)), sources=sources, **kwargs)

    def setting_value(self, rec: Record, spec: S.Setting) -> Any:
        """The typed value of one setting row, or None (blank, or reported as wrong)."""
        cell = rec.cell("value")
        if cell is None or cell.bad or cell.value is None:
            return None
        if spec.kind == S.TEXT:
            return to_text(cell.value)
        if spec.kind == S.CHOICE:
            return self.cells.choice(rec, "value", spec.choices)
        x = to_number(cell.value)
        name = (rec.cells.get("setting") or rec.cells.get("item")).value
        if x is None or (spec.kind == S.INTEGER and not x.is_integer()):
            self.cells.fail(rec, "value", f"{spec.expected()} for '{name}'", show(cell.value))
            return None
        if spec.maximum == S.MAX_DISCOUNT_RATE and 1.0 < x <= 100.0:
            self.cells.fail(rec, "value", f"a per-annum rate from 0 to {fmt(spec.maximum)} "
                            f"for '{name}', as a fraction", f"{fmt(x)} (did you mean "
                            f"{fmt(x / 100)}? 3% is entered as 0.03)")
            return None
        lo, hi = spec.minimum, spec.maximum
        if (lo is not None and (x <= lo if spec.minimum_exclusive else x < lo)) or (
                hi is not None and x > hi):
            self.cells.fail(rec, "value", f"{spec.expected()} for '{name}'", fmt(x))
            return None
        return x

    # -- Strategies -------------------------------------------------------------------------

    def read_strategies(self) -> pd.DataFrame | None:
        records = self.book.records(S.STRATEGIES_SHEET)
        if records is None:
            return None
        rows, seen, labels = [], {}, {}
        for rec in records:
            name = self.cells.text(rec, "strategy", required=True, expected="a strategy name")
            if name is None:
                continue
            if name.lower() in seen:
                self.book.problem(rec.sheet, f"{seen[name.lower()]}, {rec.coord('strategy')}",
                                  "unique strategy names", f"'{name}' twice")
                continue
            seen[name.lower()] = rec.coord("strategy")
            self.strategy_cells[name.lower()] = (name, rec.coord("strategy"))
            label = self.cells.text(rec, "label") or name
            if label.lower() in labels:
                self.book.problem(rec.sheet, f"{labels[label.lower()]}, {rec.coord('label')}",
                                  "a different label for each strategy (results are shown by label)",
                                  f"'{label}' twice")
            labels.setdefault(label.lower(), rec.coord("label"))
            rows.append({"strategy": name, "label": label,
                         "description": self.cells.text(rec, "description") or ""})
        if not rows and not records:
            self.book.problem(S.STRATEGIES_SHEET.name, "A2", "at least one strategy",
                              "no strategies")
        return pd.DataFrame(rows, columns=["strategy", "label", "description"])

    # -- Parameters -------------------------------------------------------------------------

    def _parameter_name(self, rec: Record, column: str = "name") -> str | None:
        name = self.cells.text(rec, column, required=True,
                               expected="a parameter name (letters, digits, underscore)")
        if name is None:
            return None
        if not S.IDENTIFIER.match(name):
            self.cells.fail(rec, column, "a parameter name of letters, digits and underscores, "
                            "starting with a letter", show(name))
            return None
        key = name.lower()
        if key in self.parameter_cells:
            sheet, coord = self.parameter_cells[key]
            where = coord if sheet == rec.sheet else f"{sheet}!{coord}"
            self.book.problem(rec.sheet, f"{where}, {rec.coord(column)}",
                              "unique parameter names (ignoring case)", f"'{name}' twice")
            rec.bad = True
            return None
        self.parameter_cells[key] = (rec.sheet, rec.coord(column))
        self.parameter_names[key] = name
        return name

    def source(self, rec: Record) -> str | None:
        source = self.cells.text(rec, "source", required=True,
                                 expected="a source: a citation, or 'assumption' and the "
                                          "rationale")
        if source is not None and source.lower().rstrip(" .:;-") == "assumption":
            self.cells.fail(rec, "source", "a citation, or 'assumption' followed by the "
                            "rationale", "'assumption' with no rationale")
            return None
        return source

    def read_parameters(self):
        table = ParameterTable()
        records = self.book.records(S.PARAMETERS_SHEET)
        if records is None:
            return table
        for rec in records:
            name = self._parameter_name(rec)
            value = self.cells.number(rec, "value", required=True)
            unit = self.cells.text(rec, "unit") or ""
            kind = self.cells.choice(rec, "distribution", S.PARAMETER_DISTRIBUTIONS) or "fixed"
            declared = self.cells.choice(rec, "kind", S.PARAMETER_KINDS)
            se = self.cells.number(rec, "se")
            a = self.cells.number(rec, "param_a")
            b = self.cells.number(rec, "param_b")
            low = self.cells.number(rec, "low")
            high = self.cells.number(rec, "high")
            group = self.cells.text(rec, "group")
            description = self.cells.text(rec, "description") or ""
            source = self.source(rec)
            if rec.bad or name is None or value is None:
                continue
            if declared is None:
                declared, why = infer_kind(name, unit, S.is_cost(name, unit))
                self.kind_notes[name] = f"{declared}: {why}"
            self.kinds[name] = declared
            dom = domain(declared, unit)
            for x, column in ((value, "value"), (low, "low"), (high, "high")):
                if x is not None and not dom.contains(x):
                    self.cells.fail(rec, column, f"{dom.describe(x)} for '{name}' (its kind)", fmt(x))
            if rec.bad:
                continue
            spec = self._distribution_arguments(rec, kind, value, se, a, b)
            if spec is None:
                continue
            self._check_support(rec, name, declared, dom, kind, spec)
            for bound, column in ((low, "low"), (high, "high")):
                if bound is None:
                    continue
                ok = bound <= value if column == "low" else bound >= value
                if not ok:
                    rel = "<=" if column == "low" else ">="
                    self.cells.fail(rec, column, f"a {column} value {rel} the value "
                                    f"{fmt(value)} of '{name}'", fmt(bound))
            if rec.bad:
                continue
            try:
                with np.errstate(all="ignore"):
                    dist = from_spec(kind, name=name, **spec)
            except HtaError as exc:
                self._report_distribution_error(rec, kind, exc)
                continue
            except (ArithmeticError, ValueError) as exc:
                column = "se" if se is not None else "distribution"
                self.cells.fail(rec, column, f"a {kind} distribution that can be computed from these "
                                "numbers", (f"se {fmt(se)}" if se is not None else kind)
                                + f" (the computation fails: {type(exc).__name__})")
                continue
            if not self._finite_draws(rec, kind, dist):
                continue
            if source is None:
                continue
            try:
                table.add(name, value, dist=dist, low=low, high=high, group=group, unit=unit,
                          description=description, source=source)
            except HtaError as exc:
                self.cells.fail(rec, "name", "a parameter the table accepts",
                                strip_who(str(exc)))
        return table

    def _distribution_arguments(self, rec: Record, kind: str, value: float, se, a, b):
        """Keyword arguments for ``from_spec``, or None after reporting a wrong combination."""
        given = {"se": se is not None, "param_a": a is not None, "param_b": b is not None}
        if kind == "fixed":
            allowed: tuple[str, ...] = ()
        elif kind == "normal":
            allowed = ("se",)
        elif kind in S.NATIVE_PARAMETERS:
            native = S.NATIVE_PARAMETERS[kind]
            if given["se"] and (given["param_a"] or given["param_b"]):
                col = "param_a" if given["param_a"] else "param_b"
                self.cells.fail(rec, col, f"either se (with the mean in value) or native "
                                f"parameters {native[0]}/{native[1]} in param_a/param_b, "
                                f"not both", f"se and {col} both filled")
                return None
            if given["param_a"] or given["param_b"]:
                for col, p in zip(("param_a", "param_b"), native):
                    if not given[col]:
                        self.cells.missing(rec, col, f"the {kind} {p} (param_{col[-1]})")
                if rec.bad:
                    return None
                lo, hi = self._SUPPORT[kind]
                if value < lo or (hi is not None and value > hi):
                    support = f"[{fmt(lo)}, {fmt(hi)}]" if hi is not None else f">= {fmt(lo)}"
                    self.cells.fail(rec, "value", f"a base value within the support of the "
                                    f"{kind} distribution ({support})", fmt(value))
                    return None
                return {native[0]: a, native[1]: b}
            allowed = ("se",)
        else:  # uniform, triangular
            allowed = ("param_a", "param_b")
        for col in ("se", "param_a", "param_b"):
            if given[col] and col not in allowed:
                self.cells.fail(rec, col, f"a blank cell ({col} is not used by a {kind} "
                                "distribution)", show(rec.cells[col].value))
            elif not given[col] and col in allowed:
                what = {"se": "the standard error", "param_a": "the lower limit",
                        "param_b": "the upper limit"}[col]
                if kind in S.NATIVE_PARAMETERS:
                    what += " (or native parameters in param_a/param_b)"
                self.cells.missing(rec, col, f"{what} of the {kind} distribution")
        if rec.bad:
            return None
        if kind == "fixed":
            return {"value": value}
        if kind == "normal":
            return {"mean": value, "sd": se}
        if kind in S.NATIVE_PARAMETERS:
            return {"mean": value, "se": se}
        if kind == "uniform":
            if a >= b:
                self.cells.fail(rec, "param_a", f"a uniform lower limit below the upper limit "
                                f"{fmt(b)}", fmt(a))
                return None
            if not a <= value <= b:
                self.cells.fail(rec, "value", f"a value within the uniform range "
                                f"[{fmt(a)}, {fmt(b)}]", fmt(value))
                return None
            return {"low": a, "high": b}
        return {"low": a, "mode": value, "high": b}

    _SUPPORT = {"beta": (0.0, 1.0), "gamma": (0.0, None), "lognormal": (0.0, None)}

    def _finite_draws(self, rec: Record, kind: str, dist) -> bool:
        """False (reported at the distribution cell) if the extreme quantiles a PSA or a
        Sobol design can reach are not finite numbers (parameters so large they overflow)."""
        try:
            with np.errstate(all="ignore"):
                q = np.asarray(dist._marginal_ppf(np.array([1e-12, 0.5, 1.0 - 1e-12])), dtype=float)
        except (ArithmeticError, ValueError):
            q = np.array([np.nan])
        if np.isfinite(q).all():
            return True
        self.cells.fail(rec, "distribution", f"a {kind} distribution whose draws are finite numbers",
                        "parameters so large that draws overflow to infinity")
        return False

    def _report_distribution_error(self, rec: Record, kind: str, exc: HtaError) -> None:
        """Re-report an invalid-distribution error from ``from_spec`` at the cell at fault."""
        message = strip_who(str(exc))
        expected, _, found = message.partition("; found ")
        column = "distribution"
        argument = re.search(rf"\b{kind}\s+(\w+)", expected, flags=re.IGNORECASE)
        if argument:
            word = argument.group(1).lower()
            native = S.NATIVE_PARAMETERS.get(kind, ())
            column = {"mean": "value", "mode": "value", "se": "se", "sd": "se",
                      "low": "param_a", "high": "param_b"}.get(word, column)
            if word in native:
                column = "param_a" if word == native[0] else "param_b"
        if rec.cell(column) is None:
            column = "value"
        self.cells.fail(rec, column, f"a valid {kind} distribution: {expected}",
                        found or "an invalid specification")

    def _check_support(self, rec: Record, name: str, declared: str, dom, kind: str, spec: dict) -> None:
        """Report a distribution that can draw values outside the parameter's kind."""
        if kind in ("uniform", "triangular"):
            for column, x in (("param_a", spec["low"]), ("param_b", spec["high"])):
                if not dom.contains(x):
                    self.cells.fail(rec, column, f"{dom.describe(x)} for '{name}' (its kind)", fmt(x))
            return
        lo, hi = support(kind, spec)
        if declared == "free":
            return
        if lo < dom.low or (dom.high_structural and hi > dom.high):
            self.cells.fail(rec, "distribution", f"a distribution that draws only {dom.describe()} "
                            f"values for '{name}' ({suitable(declared)}; kind free allows any)",
                            f"{kind} (draws from {fmt(lo)} to {fmt(hi)})")

    # -- Dirichlet --------------------------------------------------------------------------

    def read_dirichlet(self, table: ParameterTable) -> dict[str, DirichletBlock]:
        records = self.book.records(S.DIRICHLET_SHEET)
        if not records:
            return {}
        blocks: dict[str, list[tuple[Record, str, float, str, str]]] = {}
        first_cell: dict[str, str] = {}
        for rec in records:
            block = self.cells.text(rec, "block", required=True, expected="a block name")
            name = self._parameter_name(rec)
            count = self.cells.number(rec, "count", required=True,
                                      expected="a count > 0 and <= 1e9", minimum=0.0,
                                      exclusive_min=True, maximum=1e9)
            description = self.cells.text(rec, "description") or ""
            source = self.source(rec)
            if block is None:
                continue
            first_cell.setdefault(block, rec.coord("block"))
            blocks.setdefault(block, []).append((rec, name, count, description, source))
        result = {}
        for block, rows in blocks.items():
            if len(rows) < 2:
                self.book.problem(S.DIRICHLET_SHEET.name, first_cell[block],
                                  f"at least two categories in Dirichlet block '{block}'",
                                  "one")
                continue
            if any(r[0].bad for r in rows):
                continue
            names = [r[1] for r in rows]
            counts = np.array([r[2] for r in rows], dtype=float)
            try:
                dist = from_spec("dirichlet", name=block, counts=counts)
                table.add_block(names, dist, base=counts / counts.sum(), group=block,
                                description=[r[3] for r in rows],
                                source="; ".join(dict.fromkeys(r[4] for r in rows)))
            except HtaError as exc:
                self.book.problem(S.DIRICHLET_SHEET.name, first_cell[block],
                                  f"a valid Dirichlet block '{block}'", strip_who(str(exc)))
                continue
            result[block] = DirichletBlock(block, tuple(names), counts,
                                           tuple(r[4] for r in rows))
        return result

    # -- Survival ---------------------------------------------------------------------------

    def read_survival(self, strategies: pd.DataFrame | None
                      ) -> dict[tuple[str, str], SurvivalInput]:
        return SurvivalReader(self).read(strategies)

    # -- Budget impact ----------------------------------------------------------------------

    def read_budget(self, strategies, parameters) -> BudgetInputs | None:
        return BudgetReader(self).read(strategies, parameters)

    # -- Life table -------------------------------------------------------------------------

    def read_lifetable(self, settings: Settings | None) -> pd.DataFrame | None:
        wanted = settings is not None and settings.life_table == "sheet"
        records = self.book.records(S.LIFETABLE_SHEET, missing_ok=not wanted)
        if records is None:
            return None
        rows, seen = [], {}
        for rec in records:
            age = self.cells.number(rec, "age", required=True, expected="an age from 0 to 120",
                                    minimum=0.0, maximum=120.0)
            sex = self.cells.choice(rec, "sex", S.SEXES, required=True)
            mx = self.cells.number(rec, "mx", required=True, expected="a death rate >= 0",
                                   minimum=0.0)
            if rec.bad:
                continue
            key = (age, sex)
            if key in seen:
                self.book.problem(rec.sheet, f"{seen[key]}, {rec.coord('age')}",
                                  "one row per age and sex", f"age {fmt(age)} {sex} twice")
                continue
            seen[key] = rec.coord("age")
            rows.append({"age": age, "sex": sex, "mx": mx})
        if not rows:
            if wanted and not records:
                self.book.problem(S.LIFETABLE_SHEET.name, "A2", "life-table rows (age, sex, "
                                  "mx), because the setting life_table is 'sheet'", "no rows")
            return None
        return pd.DataFrame(rows).sort_values(["sex", "age"], ignore_index=True)

    # -- Consistency and the model's requirements ----------------------------------------------

    def check_consistency(self, settings: Settings | None, lifetable, budget) -> None:
        """Settings that conflict with each other (each reported at the cell to change)."""
        if settings is None:
            return
        if lifetable is not None and settings.life_table == "sheet":
            sexes = set(lifetable["sex"])
            needed = {s for s, share in (("male", settings.male_share),
                                         ("female", 1.0 - settings.male_share)) if share > 0}
            for sex in sorted(needed - sexes):
                self.book.problem(S.LIFETABLE_SHEET.name, "", f"rows for {sex} (male_share is "
                                  f"{fmt(settings.male_share)}, so the cohort has {sex} members)",
                                  f"only {', '.join(sorted(sexes))} rows")
        if budget is not None and budget.entry == "mid-year" and settings.cycle == "year":
            entry = self.book.records(S.BUDGET_SHEET) or []
            cell = next((r.coord("value") for r in entry
                         if (r.cells.get("item") and str(r.cells["item"].value).lower() == "entry")), "")
            self.book.problem(S.BUDGET_SHEET.name, cell, "entry = start with yearly cycles (mid-year "
                              "entry needs the costs by half-year: cycles of at most half a year)",
                              "entry mid-year" + ("" if cell else " (the default)") + " and cycle year")

    def check_requirements(self, settings: Settings | None) -> None:
        """Refuse, at the cell, what the model will refuse (see hta.inputs.requirements)."""
        req = self.requirements
        if req == AUTO:
            model = settings.model if settings is not None else None
            req, _ = model_requirements(model, self.book.path)
        if req is None:
            return
        model = (settings.model if settings is not None else None) or "the model"
        # A sheet that could not be read was reported already; do not list everything it holds.
        parameters = req.parameters if self.book.was_read(S.PARAMETERS_SHEET.name) else ()
        if not self.book.was_read(S.STRATEGIES_SHEET.name):
            return
        if not self.book.was_read(S.SURVIVAL_SHEET.name):
            req = Requirements(parameters=req.parameters, strategies=req.strategies)
        for name in parameters:
            actual = self.parameter_names.get(name.lower())
            if actual == name:
                continue
            if actual is not None:
                sheet, coord = self.parameter_cells[name.lower()]
                self.book.problem(sheet, coord, f"the parameter name '{name}' that {model} reads "
                                  "(names are case-sensitive)", f"'{actual}'")
            else:
                self.book.problem(S.PARAMETERS_SHEET.name, "", f"a row for the parameter '{name}' "
                                  f"that {model} reads", "no such row")
        for strategy in req.strategies:
            actual, coord = self.strategy_cells.get(strategy.lower(), (None, ""))
            if actual == strategy:
                pass
            elif actual is not None:
                self.book.problem(S.STRATEGIES_SHEET.name, coord, f"the strategy name '{strategy}' "
                                  f"that {model} uses (names are case-sensitive)", f"'{actual}'")
                continue
            else:
                self.book.problem(S.STRATEGIES_SHEET.name, "", f"a row for the strategy '{strategy}' "
                                  f"that {model} compares", "no such row")
                continue
            for endpoint in req.endpoints:
                found = self.survival_cells.get((strategy, endpoint.lower()))
                if found is None:
                    self.book.problem(S.SURVIVAL_SHEET.name, "", f"a {endpoint} curve for strategy "
                                      f"'{strategy}' ({model} needs {', '.join(req.endpoints)})", "no such row")
                    continue
                rec, actual_endpoint, kind = found
                if actual_endpoint != endpoint:
                    self.book.problem(rec.sheet, rec.coord("endpoint"), f"the endpoint name '{endpoint}' "
                                      f"that {model} uses (names are case-sensitive)", f"'{actual_endpoint}'")
                if kind is not None and kind not in req.survival_inputs:
                    self.book.problem(rec.sheet, rec.coord("input"), f"input {' or '.join(req.survival_inputs)}"
                                      f" ({model} takes only these; fit km/ipd data with hta fit)", f"'{kind}'")
