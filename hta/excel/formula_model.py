"""A formula-live Excel copy of a cohort model's base case, for reviewers to audit.

The workbook recomputes the model in Excel: every parameter is an input cell with a defined name
on the ``Parameters`` sheet; each pathway's sheet has one row per time point (cycle ``k`` at
``t_k = k dt`` years) whose cells compute, by formula, the background mortality from the life
table, the survival curves or transition probabilities, the state occupancy, the within-cycle
weights, the discount factors and the cost, life-year and QALY lines; the ``Results`` sheet sums
the lines into totals, increments, the ICER and net monetary benefit; the ``Check`` sheet compares
each Excel total with the Python result. A reviewer who changes an input cell sees the ICER move.

The conventions are those of :mod:`hta.engine.outcomes` and :mod:`hta.engine.timegrid` (``docs/methods.md``):

* Row ``k`` (``k = 0..T``) holds point quantities at ``t_k`` (survival, occupancy, discount
  factors); per-cycle quantities of cycle ``j`` (spanning ``[t_{j-1}, t_j]``) sit on row ``k = j``
  and row 0 is blank for them.
* Person-time of state ``s`` in cycle ``j`` (in cycles) is ``a_j x_s(t_{j-1}) d(t_{j-1}) + b_j
  x_s(t_j) d(t_j)``, with the within-cycle weights ``a_j, b_j`` of :func:`hta.engine.timegrid.cycle_allocation`
  and the discount factor ``d``; state costs are per cycle, utilities annual (QALYs = utility x
  person-cycles x cycle length in years), event costs per event discounted at the event time of
  the within-cycle method (start, end or the cycle's midpoint).

A model opts in by writing its own sheets with this toolkit (a method
``write_excel_model(book)``, see ``models/fucaso_excel.py``), just as it writes ``evaluate`` with
the engines. Formula templates refer to columns of the same row as ``{name}``, to the row above as
``{name[-1]}``, to the first row as ``{name[0]}``, and to parameters and settings by their defined
names. A quantity with no formula form (a spline curve, say) is written as values with a visible
note (:meth:`CycleSheet.values`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName

from hta.engine.timegrid import CycleGrid, canonical_method, cycle_allocation
from hta.errors import HtaError
from hta.protocol import capabilities

#: Relative difference between an Excel total and the Python result the Check sheet accepts.
CHECK_TOLERANCE = 1e-9

_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")   # input cells: pale yellow
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_NOTE_FILL = PatternFill("solid", fgColor="FCE4D6")
_BOLD = Font(bold=True)

_TEMPLATE_REF = re.compile(r"\{([^{}\[\]]+)(?:\[(-1|0)\])?\}")
# Excel names may not look like cell references (A1 or R1C1 style) or be R/C alone.
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[RrCc]|[Rr][0-9]*[Cc][0-9]*)$")
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def excel_name(name: str) -> str:
    """The defined name used for a parameter or setting (``x_`` prefixed if it looks like a cell)."""
    if not _VALID_NAME.match(name):
        raise HtaError(f"Excel model: parameter name '{name}' cannot be an Excel defined name "
                       "(expected letters, digits, '_' or '.', starting with a letter or '_')")
    return f"x_{name}" if _CELL_LIKE.match(name) else name


def _put_text(cell, value):
    """Write text copied from inputs as text: never a formula, even if it starts with '=' (the
    design's rule; :func:`hta.excel.writer.put_text`)."""
    from hta.excel.writer import put_text

    return put_text(cell, "" if value is None else str(value), cell.parent.title)


# ---------------------------------------------------------------------------------------------
# Curve formulas (flexsurv parameterisations, hta.survival.curves)
# ---------------------------------------------------------------------------------------------


def cumhaz_formula(family: str, coef: dict, t: str) -> str:
    """Excel formula (without ``=``) of the cumulative hazard ``H(t)`` of a parametric family.

    ``coef`` maps the family's coefficient names (``hta.survival.curves`` ``coef_names``) to Excel
    expressions (usually defined names); ``t`` is the Excel expression of time in the curve's unit.
    ``H(0) = 0`` for every family (written out, since log(0) has no Excel value).
    """
    f = family.lower()
    c = {k: f"({v})" for k, v in coef.items()}
    if f == "exponential":
        h = f"EXP({c['log_rate']})*{t}"
    elif f == "weibull":              # AFT: H = (t / scale)^shape
        h = f"({t}/EXP({c['log_scale']}))^EXP({c['log_shape']})"
    elif f == "weibullph":            # PH: H = scale t^shape
        h = f"EXP({c['log_scale']})*{t}^EXP({c['log_shape']})"
    elif f == "gompertz":             # H = rate/shape (exp(shape t) - 1), -> rate t as shape -> 0
        a, b = c["shape"], f"EXP({c['log_rate']})"
        h = (f"IF(ABS({a}*{t})<1E-5,{b}*{t}*(1+{a}*{t}/2+({a}*{t})^2/6),"
             f"{b}/{a}*(EXP({a}*{t})-1))")
    elif f == "lognormal":            # H = -log(1 - Phi((log t - meanlog) / sdlog))
        h = f"-LN(NORMSDIST(-(LN({t})-{c['meanlog']})/EXP({c['log_sdlog']})))"
    elif f == "loglogistic":          # H = log(1 + (t / scale)^shape)
        h = f"LN(1+({t}/EXP({c['log_scale']}))^EXP({c['log_shape']}))"
    elif f == "gamma":                # H = -log(Q(shape, rate t))
        h = f"-LN(1-GAMMADIST(EXP({c['log_rate']})*{t},EXP({c['log_shape']}),1,TRUE()))"
    elif f == "gengamma":             # Prentice (1974) / flexsurv gengamma(mu, sigma, Q)
        mu, sigma, q = c["mu"], f"EXP({c['log_sigma']})", c["Q"]
        z = f"(LN({t})-{mu})/{sigma}"
        u = f"{q}^-2*EXP({q}*{z})"
        h = (f"IF({q}>0,-LN(1-GAMMADIST({u},{q}^-2,1,TRUE())),"
             f"IF({q}<0,-LN(GAMMADIST({u},{q}^-2,1,TRUE())),-LN(NORMSDIST(-{z}))))")
    else:
        raise HtaError(f"Excel model: no formula form for the '{family}' survival family "
                       "(write its values with CycleSheet.values and a note)")
    return f"IF({t}<=0,0,MAX({h},0))"


# ---------------------------------------------------------------------------------------------
# The cycle sheet
# ---------------------------------------------------------------------------------------------


@dataclass
class _Column:
    name: str
    header: str
    formulas: list          # one entry per row k = 0..T (str formula, number or None)
    kind: str = "point"     # "point" or "cycle"
    number_format: str = "0.000000"
    note: str = ""


class CycleSheet:
    """One pathway's sheet: one row per time point, one column per quantity.

    Built by :meth:`ModelBook.cycle_sheet`, which adds the time columns (``k``, ``t``), the
    discount factors (``d_costs``, ``d_outcomes`` at each point; ``d_event_costs`` at the event time
    of each cycle) and the within-cycle weights (``w_start``, ``w_end``).
    """

    HEADER_ROW = 3
    TOTAL_ROW = 2

    def __init__(self, book: "ModelBook", title: str, label: str):
        self.book = book
        self.title = title
        self.label = label
        self.grid = book.grid
        self.T = book.grid.n_cycles
        self.columns: dict[str, _Column] = {}
        self.totals: dict[str, str] = {}     # column name -> absolute reference of its total
        self.states: tuple = ()
        self.alive: tuple = ()
        self.events: dict[str, str] = {}     # event -> column
        self._letters, self._templates = {}, {}  # column -> letter; template -> parts (_render)
        self._time_columns()

    # -- geometry ------------------------------------------------------------------------------
    def row(self, k: int) -> int:
        return self.HEADER_ROW + 1 + k

    def letter(self, name: str) -> str:
        if name not in self._letters:  # a column keeps its letter: columns are only ever appended
            if name not in self.columns:
                raise HtaError(f"Excel model, sheet '{self.title}': no column '{name}'")
            self._letters[name] = get_column_letter(list(self.columns).index(name) + 1)
        return self._letters[name]

    def ref(self, name: str, k: int) -> str:
        return f"{self.letter(name)}{self.row(k)}"

    def total(self, name: str) -> str:
        """Absolute reference (with the sheet name) to the total of a per-cycle column."""
        if name not in self.totals:
            raise HtaError(f"Excel model, sheet '{self.title}': column '{name}' has no total")
        return self.totals[name]

    def _render(self, template: str, k: int) -> str:
        """``{name}``: row k of column ``name``, ``{name[-1]}`` row k - 1, ``{name[0]}`` row 0 (absolute)."""
        parts = self._templates.get(template) or self._split(template)
        return "=" + "".join(p if isinstance(p, str) else f"${p[0]}${self.row(0)}" if p[1] == "0"
                             else f"{p[0]}{self.row(k - 1 if p[1] == '-1' else k)}" for p in parts)

    def _split(self, template: str) -> list:  # text and (letter, offset) parts, once per sheet
        parts, end = [], 0
        for m in _TEMPLATE_REF.finditer(template):
            if m.group(1) not in self.columns:
                raise HtaError(f"Excel model, sheet '{self.title}': formula refers to unknown column '{m.group(1)}'")
            parts += [template[end:m.start()], (self.letter(m.group(1)), m.group(2))]
            end = m.end()
        return self._templates.setdefault(template, parts + [template[end:]])

    # -- adding columns ------------------------------------------------------------------------
    def column(self, name: str, template: str, *, header: str | None = None, first: str | float | None = None,
               per_cycle: bool = False, number_format: str = "0.000000") -> str:
        """Add a formula column; returns its name.

        ``template`` is the formula of rows ``k >= 1`` (and of row 0 unless ``first`` is given or
        the column is ``per_cycle``, whose row 0 is blank). ``first`` is row 0's formula template
        or a number.
        """
        if name in self.columns:
            raise HtaError(f"Excel model, sheet '{self.title}': column '{name}' added twice")
        self.columns[name] = _Column(name, header or name, [], "cycle" if per_cycle else "point",
                                     number_format)
        out = []
        for k in range(self.T + 1):
            if k == 0 and per_cycle:
                out.append(None)
            elif k == 0 and first is not None:
                out.append(first if isinstance(first, (int, float)) else self._render(first, 0))
            else:
                out.append(self._render(template, k))
        self.columns[name].formulas = out
        return name

    def values(self, name: str, values, *, note: str, header: str | None = None, per_cycle: bool = False) -> str:
        """Add a column of values (a quantity with no formula form), flagged by ``note``."""
        v = np.asarray(values, dtype=float).reshape(-1)
        expected = self.T if per_cycle else self.T + 1
        if v.size != expected:
            raise HtaError(f"Excel model, sheet '{self.title}', column '{name}': expected {expected} values; found {v.size}")
        rows = ([None] + v.tolist()) if per_cycle else v.tolist()
        self.columns[name] = _Column(name, header or name, rows, "cycle" if per_cycle else "point", note=note)
        self.book.notes.append(f"{self.title}, column '{header or name}': {note}")
        return name

    def _time_columns(self) -> None:
        T = self.T
        self.columns["k"] = _Column("k", "cycle k", list(range(T + 1)), number_format="0")
        self.column("t", "{k}*cycle_years", header="t (years)")
        self.column("d_costs", 'IF(discount_method="continuous",EXP(-discount_costs*{t}),(1+discount_costs)^(-{t}))',
                    header="discount factor, costs")
        self.column("d_outcomes", 'IF(discount_method="continuous",EXP(-discount_outcomes*{t}),(1+discount_outcomes)^(-{t}))',
                    header="discount factor, outcomes")
        self.column("t_event", 'IF(within_cycle="start",{t[-1]},IF(within_cycle="end",{t},({k}-0.5)*cycle_years))',
                    header="event time (years)", per_cycle=True)
        self.column("d_event_costs", 'IF(discount_method="continuous",EXP(-discount_costs*{t_event}),'
                                     '(1+discount_costs)^(-{t_event}))', header="discount factor, events", per_cycle=True)
        # Within-cycle weights: the start/end/half-cycle rules by formula; Simpson's weights depend on
        # the cycle's position (and the 3/8 rule on the last three cycles of an odd T), so they are
        # written into the formula as numbers from hta.engine.timegrid.cycle_allocation.
        A = cycle_allocation(T, "simpson") if T >= 2 else np.zeros((T, T + 1))
        a_s = [float(A[j, j]) for j in range(T)]
        b_s = [float(A[j, j + 1]) for j in range(T)]
        for name, header, which, values in (("w_start", "weight of the cycle's start", 0, a_s),
                                            ("w_end", "weight of the cycle's end", 1, b_s)):
            rows = [None]
            start, end, half = (1, 0, 0.5) if which == 0 else (0, 1, 0.5)
            for j in range(T):
                rows.append(f'=IF(within_cycle="start",{start},IF(within_cycle="end",{end},'
                            f'IF(within_cycle="half-cycle",{half},{values[j]!r})))')
            self.columns[name] = _Column(name, header, rows, "cycle")

    # -- building blocks -----------------------------------------------------------------------
    def general_population(self, prefix: str = "bg", *, start_age: str = "start_age",
                           male_share: str = "male_share", time: str = "t") -> str:
        """Cumulative general-population hazard of the cohort since t = 0 (column ``{prefix}_H``).

        Mixes the sexes' survival (``p S_m + (1 - p) S_f``) as :meth:`hta.population.lifetables.LifeTable.cohort_cumhaz`;
        each sex's cumulative hazard is read from the LifeTable sheet (rate constant within a
        year of age, the last age's rate beyond it). ``time`` is a column in years.
        """
        self.book._need_lifetable()
        self.column(f"{prefix}_age", f"{start_age}+{{{time}}}", header="attained age")
        self.column(f"{prefix}_a", f"MIN(MAX(INT({{{prefix}_age}}),lt_min_age),lt_max_age)", header="life-table age",
                    number_format="0")
        for sex in ("m", "f"):
            self.column(f"{prefix}_cum_{sex}",
                        f"INDEX(lt_cum_{sex},{{{prefix}_a}}-lt_min_age+1)+({{{prefix}_age}}-{{{prefix}_a}})"
                        f"*INDEX(lt_mx_{sex},{{{prefix}_a}}-lt_min_age+1)",
                        header=f"cumulative hazard from the table's first age, {'men' if sex == 'm' else 'women'}")
        return self.column(f"{prefix}_H",
                           f"MAX(-LN({male_share}*EXP(-({{{prefix}_cum_m}}-{{{prefix}_cum_m[0]}}))"
                           f"+(1-{male_share})*EXP(-({{{prefix}_cum_f}}-{{{prefix}_cum_f[0]}}))),0)",
                           header="general-population cumulative hazard")

    def age_multiplier(self, name: str = "u_multiplier", *, start_age: str = "start_age",
                       male_share: str = "male_share") -> str:
        """Per-cycle multiplier of state utilities ``U(a_0 + t_{j-1}) / U(a_0)`` (cycle ``j`` takes the
        norm at its start), sex-weighted by the starting male share, from the UtilityNorms sheet
        (a step function of age; :func:`hta.population.utility_norms.age_multiplier`)."""
        self.book._need_norms()

        def norm(age):
            i = f"IFERROR(MATCH({age},un_age,1),1)"
            return f"({male_share}*INDEX(un_male,{i})+(1-{male_share})*INDEX(un_female,{i}))"
        return self.column(name, f"{norm(f'{start_age}+{{t[-1]}}')}/{norm(start_age)}",
                           header="utility age multiplier (norm at the cycle's start / norm at the start age)",
                           per_cycle=True)

    def parametric_survival(self, name: str, family: str, coef: dict, *, units_per_year: float,
                            floor: str | None = None, cure: str | None = None, header: str = "") -> str:
        """Survival ``S`` of a parametric curve in column ``name``; its cumulative hazard in ``name_H``.

        ``coef``: the family's coefficient names -> defined names (parameters). ``units_per_year``:
        the curve's time unit (12 for months). ``cure``: a cure-fraction parameter name for a
        relative-survival mixture cure (``S = S_bg (pi + (1 - pi) S_u)``, needs ``floor``).
        ``floor``: the general-population cumulative-hazard column (years): each cycle's increment
        of the cumulative hazard is at least the population's (:class:`GeneralPopulationFloor`).
        """
        label = header or name
        t_col = f"t_x{_fmt_num(units_per_year)}"
        if t_col not in self.columns:
            self.column(t_col, f"{{t}}*{units_per_year!r}", header=f"t (curve time, {_fmt_num(units_per_year)} per year)")
        self.column(f"{name}_Hc", cumhaz_formula(family, coef, f"{{{t_col}}}"), header=f"{label}: {family} cumulative hazard")
        h = f"{name}_Hc"
        if cure is not None:
            if floor is None:
                raise HtaError(f"Excel model, curve '{name}': a mixture cure needs the general-population column")
            self.column(f"{name}_Hcure", f"MAX(-LN({cure}+(1-{cure})*EXP(-{{{h}}}))+{{{floor}}},0)",
                        header=f"{label}: mixture cure cumulative hazard")
            h = f"{name}_Hcure"
        if floor is not None:
            self.column(f"{name}_H", f"{{{name}_H[-1]}}+MAX({{{h}}}-{{{h}[-1]}},{{{floor}}}-{{{floor}[-1]}})",
                        first="0", header=f"{label}: cumulative hazard, floored at general-population mortality")
            h = f"{name}_H"
        return self.column(name, f"EXP(-{{{h}}})", header=f"{label}: survival")

    def partition(self, curves, states) -> tuple:
        """Partitioned survival: ``N-1`` survival columns (earliest endpoint first) -> ``N`` states.

        An earlier curve above a later one is capped at it (as :func:`hta.engine.psm.cohort`). Adds the
        events ``death`` (fall in the last curve) and ``pfs_event`` (fall in the first, capped).
        """
        curves, states = list(curves), tuple(states)
        if len(states) != len(curves) + 1:
            raise HtaError(f"Excel model, sheet '{self.title}': {len(curves)} curves need {len(curves) + 1} states")
        capped = [None] * len(curves)
        capped[-1] = curves[-1]
        for i in range(len(curves) - 2, -1, -1):
            capped[i] = self.column(f"{curves[i]}_capped", f"MIN({{{curves[i]}}},{{{capped[i + 1]}}})",
                                    header=f"{curves[i]} capped at {curves[i + 1]}")
        occ = [self.column(states[0], f"{{{capped[0]}}}", header=f"occupancy: {states[0]}")]
        for i in range(1, len(curves)):
            occ.append(self.column(states[i], f"{{{capped[i]}}}-{{{capped[i - 1]}}}", header=f"occupancy: {states[i]}"))
        occ.append(self.column(states[-1], f"1-{{{capped[-1]}}}", header=f"occupancy: {states[-1]}"))
        self.states, self.alive = states, states[:-1]
        self.events["death"] = self.column("ev_death", f"{{{capped[-1]}[-1]}}-{{{capped[-1]}}}",
                                           header="event: deaths in the cycle", per_cycle=True)
        self.events["pfs_event"] = self.column("ev_pfs_event", f"{{{capped[0]}[-1]}}-{{{capped[0]}}}",
                                               header="event: first-curve events in the cycle", per_cycle=True)
        return tuple(occ)

    def markov(self, states, start, probabilities: dict, *, dead=None) -> tuple:
        """A cohort state-transition model.

        ``probabilities`` maps ``(from, to)`` to the template of the per-cycle probability of cycle
        ``j`` (on row ``j``); the probability of staying is the complement of the row. ``start`` is the
        occupancy at t = 0 per state. Each transition ``A->B`` is also an event (its count per cycle).
        """
        states = tuple(states)
        dead = tuple(dead) if dead is not None else (states[-1],)
        p_cols = {}
        for (a, b), template in probabilities.items():
            if a not in states or b not in states or a == b:
                raise HtaError(f"Excel model, sheet '{self.title}': transition '{a}->{b}' is not between two states")
            p_cols[(a, b)] = self.column(f"p_{a}->{b}", template, header=f"probability {a} -> {b}", per_cycle=True)
        for a in states:
            out = [p_cols[(a, b)] for b in states if (a, b) in p_cols]
            if out:
                p_cols[(a, a)] = self.column(f"p_{a}->{a}", "1-" + "-".join(f"{{{c}}}" for c in out),
                                             header=f"probability {a} -> {a}", per_cycle=True)
        # Occupancy columns refer to each other's previous row: reserve them all, then fill.
        for b in states:
            if b in self.columns:
                raise HtaError(f"Excel model, sheet '{self.title}': column '{b}' added twice")
            self.columns[b] = _Column(b, f"occupancy: {b}", [])
        for i, b in enumerate(states):
            # x_b(j) = sum_a x_a(j-1) P[a, b], over the states a that can reach b (a ascending)
            terms = [f"{{{a}[-1]}}*{{{p_cols[(a, b)]}}}" if (a, b) in p_cols else f"{{{a}[-1]}}"
                     for a in states if (a, b) in p_cols or (a == b and not any((a, c) in p_cols for c in states))]
            self.columns[b].formulas = [float(start[i])] + [self._render("+".join(terms) or "0", k)
                                                             for k in range(1, self.T + 1)]
        for (a, b), c in p_cols.items():
            if a != b:
                self.events[f"{a}->{b}"] = self.column(f"ev_{a}->{b}", f"{{{a}[-1]}}*{{{c}}}",
                                                       header=f"event: {a} -> {b}", per_cycle=True)
        self.states, self.alive = states, tuple(s for s in states if s not in dead)
        return states

    def event(self, name: str, template: str, header: str = "") -> str:
        """A derived event count per cycle (e.g. progressions = PFS events less background deaths)."""
        self.events[name] = self.column(f"ev_{name}", template, header=header or f"event: {name}", per_cycle=True)
        return self.events[name]

    def person_time(self) -> None:
        """Person-cycles per living state in each cycle: discounted (costs, outcomes) and undiscounted."""
        for s in self.alive:
            for kind, d in (("costs", "d_costs"), ("outcomes", "d_outcomes")):
                self.column(f"pc_{kind}_{s}", f"{{w_start}}*{{{s}[-1]}}*{{{d}[-1]}}+{{w_end}}*{{{s}}}*{{{d}}}",
                            header=f"person-cycles in {s}, discounted ({kind})", per_cycle=True)

    def _with_total(self, name: str) -> str:
        col = self.columns[name]
        col.kind = "cycle"
        ref = f"{quote_sheetname(self.title)}!${self.letter(name)}${self.TOTAL_ROW}"
        self.totals[name] = ref
        return ref

    def life_years(self, name: str = "life-years") -> str:
        """Discounted life-years per cycle; returns the reference of the total."""
        terms = "+".join(f"{{pc_outcomes_{s}}}" for s in self.alive)
        self.column("LY", f"({terms})*cycle_years", header=f"LYs: {name}", per_cycle=True)
        return self._with_total("LY")

    def qalys(self, utilities: dict, name: str = "QALYs") -> str:
        """Discounted QALYs per cycle from annual utilities by state (templates); total reference."""
        terms = "+".join(f"({utilities[s]})*{{pc_outcomes_{s}}}" for s in self.alive if s in utilities)
        self.column("QALY", f"({terms})*cycle_years", header=f"QALYs: {name}", per_cycle=True)
        return self._with_total("QALY")

    def state_cost(self, category: str, per_state: dict) -> str:
        """Discounted cost per cycle of a category from costs per cycle by state (templates)."""
        terms = "+".join(f"({per_state[s]})*{{pc_costs_{s}}}" for s in self.alive if s in per_state)
        name = f"cost: {category}"
        self.column(name, terms or "0", header=name, per_cycle=True, number_format="#,##0.00")
        return self._with_total(name)

    def event_cost(self, category: str, per_event: dict) -> str:
        """Discounted cost per cycle of a category from costs per event (templates)."""
        terms = "+".join(f"({c})*{{{self.events[e]}}}" for e, c in per_event.items())
        name = f"cost: {category}"
        self.column(name, f"({terms})*{{d_event_costs}}", header=name, per_cycle=True, number_format="#,##0.00")
        return self._with_total(name)

    # -- writing -------------------------------------------------------------------------------
    def write(self, ws) -> None:
        _put_text(ws.cell(1, 1), self.label).font = Font(bold=True, size=12)
        ws.cell(self.TOTAL_ROW, 1, "total (discounted)").font = _BOLD
        for i, col in enumerate(self.columns.values(), start=1):
            letter = get_column_letter(i)
            h = _put_text(ws.cell(self.HEADER_ROW, i), col.header)
            h.font, h.fill = _BOLD, (_NOTE_FILL if col.note else _HEAD_FILL)
            h.alignment = Alignment(wrap_text=True, vertical="top")
            if col.note:
                _put_text(ws.cell(self.TOTAL_ROW - 1, i), f"values, not formulas: {col.note}").fill = _NOTE_FILL
            for k, f in enumerate(col.formulas):
                if f is not None:
                    c = ws.cell(self.row(k), i, f)
                    c.number_format = col.number_format
            if col.name in self.totals:
                c = ws.cell(self.TOTAL_ROW, i, f"=SUM({letter}{self.row(1)}:{letter}{self.row(self.T)})")
                c.font, c.number_format = _BOLD, col.number_format
            ws.column_dimensions[letter].width = 14
        ws.row_dimensions[self.HEADER_ROW].height = 96  # headers wrap to up to 7 lines
        ws.freeze_panes = ws.cell(self.HEADER_ROW + 1, 3)


def _page_setup(ws, fit_width: bool) -> None:
    """Landscape; the summary sheets one page wide (the cycle sheets are for the screen)."""
    ws.page_setup.orientation = "landscape"
    if fit_width:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True


def _fmt_num(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------------------------------------
# The workbook
# ---------------------------------------------------------------------------------------------


@dataclass
class _Line:
    strategy: str
    measure: str
    category: str
    formula: str


@dataclass
class ModelBook:
    """The formula-live workbook of one model's base case.

    ``grid`` fixes the rows; ``settings`` (cycle length, discount rates and method, within-cycle
    method, start age, male share, WTP values) and ``parameters`` (name -> (value, unit,
    description, source)) become named input cells.
    """

    grid: CycleGrid
    settings: dict
    parameters: dict
    lifetable: object = None             # hta.population.lifetables.LifeTable
    utility_norms: object = None         # hta.population.utility_norms.UtilityNorms (age adjustment of utilities)
    title: str = ""
    sheets: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    derived: list = field(default_factory=list)      # (name, formula, description) on the Results sheet
    notes: list = field(default_factory=list)
    strategies: list = field(default_factory=list)  # (strategy, label), comparator first
    wtp_labels: dict = field(default_factory=dict)  # setting name (wtp_1, ...) -> label
    _needs_lifetable: bool = False
    _needs_norms: bool = False

    def __post_init__(self):
        canonical_method(self.settings["within_cycle"])
        names = [excel_name(n) for n in list(self.parameters) + list(self.settings)]
        dup = sorted({n.lower() for n in names if [m.lower() for m in names].count(n.lower()) > 1})
        if dup:
            raise HtaError(f"Excel model: names used twice (Excel names ignore case): {', '.join(dup)}")

    def cycle_sheet(self, title: str, label: str) -> CycleSheet:
        if len(title) > 31 or any(ch in title for ch in "[]:*?/\\"):
            raise HtaError(f"Excel model: sheet name '{title}' must have at most 31 characters and none of []:*?/\\")
        sheet = CycleSheet(self, title, label)
        self.sheets.append(sheet)
        return sheet

    def _need_lifetable(self) -> None:
        if self.lifetable is None:
            raise HtaError("Excel model: general-population mortality needs the model's life table")
        self._needs_lifetable = True

    def _need_norms(self) -> None:
        if self.utility_norms is None:
            raise HtaError("Excel model: the utility age adjustment needs the model's utility norms")
        self._needs_norms = True

    def derive(self, name: str, formula: str, description: str) -> str:
        """A named intermediate quantity on the Results sheet (e.g. an intention-to-treat weight)."""
        self.derived.append((excel_name(name), formula, description))
        return excel_name(name)

    def line(self, strategy: str, measure: str, category: str, formula: str) -> None:
        """A discounted result line: ``measure`` is ``cost``, ``qaly`` or ``ly``; ``formula`` an
        Excel expression (without ``=``), usually built from sheet totals (:meth:`CycleSheet.total`)."""
        if measure not in ("cost", "qaly", "ly"):
            raise HtaError(f"Excel model: measure must be cost, qaly or ly; found '{measure}'")
        self.lines.append(_Line(strategy, measure, category, formula))

    # -- writing -------------------------------------------------------------------------------
    def save(self, path: Path, *, python_lines: dict, run_info: dict | None = None) -> Path:
        """Write the workbook atomically. ``python_lines`` maps ``(strategy, measure, category)`` to
        the Python result (discounted), for the Check sheet."""
        from hta.excel.writer import save_atomically

        wb = Workbook()
        ws = wb.active
        ws.title = "About"
        self._about(ws, run_info or {})
        self._parameters(wb.create_sheet("Parameters"), wb)
        if self._needs_lifetable:
            self._lifetable(wb.create_sheet("LifeTable"), wb)
        if self._needs_norms:
            self._norms(wb.create_sheet("UtilityNorms"), wb)
        for sheet in self.sheets:
            sheet.write(wb.create_sheet(sheet.title))
        results = wb.create_sheet("Results")
        refs = self._results(results, wb)
        self._check(wb.create_sheet("Check"), refs, python_lines)
        for ws in wb.worksheets:
            _page_setup(ws, fit_width=ws.title in ("About", "Parameters", "LifeTable", "Results", "Check"))
        return save_atomically(wb, Path(path))

    def _name(self, wb, name: str, ws, cell: str) -> None:
        absolute = re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", cell)
        ref = f"{quote_sheetname(ws.title)}!{absolute}"
        wb.defined_names[name] = DefinedName(name, attr_text=ref)

    def _about(self, ws, run_info: dict) -> None:
        _put_text(ws["A1"], self.title or "Formula-live model")
        ws["A1"].font = Font(bold=True, size=14)
        text = [
            "Every result in this workbook is an Excel formula. Yellow cells on the Parameters sheet are inputs:",
            "change one and the pathway sheets, the Results sheet and the ICER recalculate.",
            "Each pathway sheet has one row per time point k (t = k x cycle length, years); per-cycle",
            "quantities of cycle j sit on row k = j. Row 2 holds each line's discounted total.",
            "The Check sheet compares each Excel total with the Python result of the same inputs",
            f"(tolerance {CHECK_TOLERANCE:g} relative); after you change an input, the Python column no longer applies.",
            "Conventions: docs/excel_model.md and docs/methods.md of the hta package.",
        ]
        for i, t in enumerate(text, start=3):
            ws.cell(i, 1, t)
        r = len(text) + 4
        if self.notes:
            ws.cell(r, 1, "Values, not formulas:").font = _BOLD
            for i, note in enumerate(self.notes, start=r + 1):
                _put_text(ws.cell(i, 1), note).fill = _NOTE_FILL
            r += len(self.notes) + 2
        for key, value in run_info.items():
            _put_text(ws.cell(r, 1), key)
            _put_text(ws.cell(r, 2), value)
            r += 1
        ws.column_dimensions["A"].width = 100
        ws.column_dimensions["B"].width = 60

    def _parameters(self, ws, wb) -> None:
        ws.append(["name (defined name)", "value", "unit", "description", "source"])
        for c in ws[1]:
            c.font, c.fill = _BOLD, _HEAD_FILL
        ws.append(["Settings"])
        ws.cell(ws.max_row, 1).font = _BOLD
        for name, value in self.settings.items():
            ws.append([excel_name(name), value if isinstance(value, (int, float)) else None, "", "", "model settings"])
            if not isinstance(value, (int, float)):
                _put_text(ws.cell(ws.max_row, 2), value)
            ws.cell(ws.max_row, 2).fill = _INPUT_FILL
            self._name(wb, excel_name(name), ws, f"B{ws.max_row}")
        ws.append(["Parameters (base case)"])
        ws.cell(ws.max_row, 1).font = _BOLD
        for name, (value, unit, description, source) in self.parameters.items():
            ws.append([excel_name(name), float(value)])
            for col, text in ((3, unit), (4, description), (5, source)):
                _put_text(ws.cell(ws.max_row, col), text)
            ws.cell(ws.max_row, 2).fill = _INPUT_FILL
            ws.cell(ws.max_row, 2).number_format = "General"
            self._name(wb, excel_name(name), ws, f"B{ws.max_row}")
        for letter, width in zip("ABCDE", (34, 16, 14, 50, 60)):
            ws.column_dimensions[letter].width = width
        ws.freeze_panes = "B2"

    def _lifetable(self, ws, wb) -> None:
        lt = self.lifetable
        ws.append(["age", "mx men", "mx women", "cumulative hazard to this age, men", "cumulative hazard to this age, women"])
        for c in ws[1]:
            c.font, c.fill = _BOLD, _HEAD_FILL
        ages = range(lt.min_age, lt.max_age + 1)
        for i, age in enumerate(ages):
            r = i + 2
            cum = (0, 0) if i == 0 else (f"=D{r - 1}+B{r - 1}", f"=E{r - 1}+C{r - 1}")
            ws.append([age, float(lt._mx[0][i]), float(lt._mx[1][i]), *cum])
            ws.cell(r, 2).fill = ws.cell(r, 3).fill = _INPUT_FILL
        last = len(ages) + 1
        for name, col in (("lt_mx_m", "B"), ("lt_mx_f", "C"), ("lt_cum_m", "D"), ("lt_cum_f", "E")):
            wb.defined_names[name] = DefinedName(name, attr_text=f"LifeTable!${col}$2:${col}${last}")
        ws["G1"], ws["H1"] = "first age", lt.min_age
        ws["G2"], ws["H2"] = "last age (its rate applies at all older ages)", lt.max_age
        self._name(wb, "lt_min_age", ws, "H1")
        self._name(wb, "lt_max_age", ws, "H2")
        _put_text(ws["G4"], f"source: {str(lt.source).splitlines()[0] if lt.source else 'the model life table'}")
        for letter, width in zip("ABCDEFG", (8, 14, 14, 20, 20, 2, 44)):
            ws.column_dimensions[letter].width = width

    def _norms(self, ws, wb) -> None:
        un = self.utility_norms
        ws.append(["age (band lower bound)", "utility, men", "utility, women"])
        for c in ws[1]:
            c.font, c.fill = _BOLD, _HEAD_FILL
        for a, m, f in zip(un.ages, un.male, un.female):
            ws.append([float(a), float(m), float(f)])
            ws.cell(ws.max_row, 2).fill = ws.cell(ws.max_row, 3).fill = _INPUT_FILL
        last = ws.max_row
        for name, col in (("un_age", "A"), ("un_male", "B"), ("un_female", "C")):
            wb.defined_names[name] = DefinedName(name, attr_text=f"UtilityNorms!${col}$2:${col}${last}")
        _put_text(ws["E1"], f"source: {un.source or 'the model utility norms'}")
        ws["E2"] = "Each band's norm applies from its age to the next band (ages below the first take the first band)."
        for letter, width in zip("ABCDE", (22, 14, 14, 2, 90)):
            ws.column_dimensions[letter].width = width

    def _results(self, ws, wb) -> dict:
        """Totals and increments first (the headline), then the named derived quantities, then the
        lines the totals sum (SUMIFS by strategy and measure)."""
        ws["A1"] = "Results: discounted totals, increments, ICER and net monetary benefit (all formulas)"
        ws["A1"].font = Font(bold=True, size=12)
        wtp = [k for k in self.settings if k.startswith("wtp_")]
        totals_header = 3
        r = totals_header + len(self.strategies) + 2
        derived_row = r
        if self.derived:
            r += len(self.derived) + 2
        lines_header = r + 1
        first, last = lines_header + 1, lines_header + len(self.lines)
        span = lambda col: f"${col}${first}:${col}${max(last, first)}"  # noqa: E731
        refs = {}

        # totals
        ws.cell(totals_header - 1, 1, "Totals (discounted)").font = _BOLD
        heads = ["strategy", "label", "costs", "QALYs", "LYs", "incremental costs", "incremental QALYs",
                 "incremental LYs", "ICER (per QALY)"] + [f"NMB at {self.wtp_labels.get(k, k)}" for k in wtp]
        for i, h in enumerate(heads, start=1):
            c = _put_text(ws.cell(totals_header, i), h)
            c.font, c.fill = _BOLD, _HEAD_FILL
            c.alignment = Alignment(wrap_text=True, vertical="top")
        comparator_row = totals_header + 1
        for i, (strategy, label) in enumerate(self.strategies):
            rr = comparator_row + i
            _put_text(ws.cell(rr, 1), strategy)
            _put_text(ws.cell(rr, 2), label)
            for col, measure in (("C", "cost"), ("D", "qaly"), ("E", "ly")):
                ws[f"{col}{rr}"] = f'=SUMIFS({span("D")},{span("A")},$A{rr},{span("B")},"{measure}")'
                refs[(strategy, measure, "total")] = f"Results!${col}${rr}"
            if rr != comparator_row:
                ws[f"F{rr}"] = f"=C{rr}-C${comparator_row}"
                ws[f"G{rr}"] = f"=D{rr}-D${comparator_row}"
                ws[f"H{rr}"] = f"=E{rr}-E${comparator_row}"
                ws[f"I{rr}"] = f'=IF(G{rr}=0,"n/a",F{rr}/G{rr})'
                refs[(strategy, "icer", "")] = f"Results!$I${rr}"
            for j, key in enumerate(wtp):
                ws.cell(rr, 10 + j, f"=D{rr}*{excel_name(key)}-C{rr}").number_format = "#,##0"
            for col in "CFI":
                ws[f"{col}{rr}"].number_format = "#,##0"
            for col in "DEGH":
                ws[f"{col}{rr}"].number_format = "0.0000"
        if len(self.strategies) > 2:
            ws.cell(comparator_row + len(self.strategies), 1,
                    "Increments are against the first strategy; the results workbook has the full incremental "
                    "analysis with dominance.")
        ws.row_dimensions[totals_header].height = 45

        # derived quantities
        if self.derived:
            ws.cell(derived_row, 1, "Derived quantities (named cells)").font = _BOLD
            for i, (name, formula, description) in enumerate(self.derived, start=1):
                ws.cell(derived_row + i, 1, name)
                ws.cell(derived_row + i, 2, "=" + formula).number_format = "0.000000"
                _put_text(ws.cell(derived_row + i, 3), description)
                self._name(wb, name, ws, f"B{derived_row + i}")

        # lines
        ws.cell(lines_header - 1, 1, "Lines (each a formula of the pathway sheets' totals and the parameters)").font = _BOLD
        for i, h in enumerate(("strategy", "measure", "category", "discounted value"), start=1):
            c = ws.cell(lines_header, i, h)
            c.font, c.fill = _BOLD, _HEAD_FILL
        for i, ln in enumerate(self.lines):
            rr = first + i
            _put_text(ws.cell(rr, 1), ln.strategy)
            ws.cell(rr, 2, ln.measure)
            _put_text(ws.cell(rr, 3), ln.category)
            ws.cell(rr, 4, "=" + ln.formula).number_format = "#,##0.000000"
            refs[(ln.strategy, ln.measure, ln.category)] = f"Results!$D${rr}"
        for letter, width in zip("ABCDEFGHIJKL", (16, 30, 46, 18, 12, 16, 13, 13, 16, 18, 18, 18)):
            ws.column_dimensions[letter].width = width
        return refs

    def _check(self, ws, refs: dict, python_lines: dict) -> None:
        ws["A1"] = "Check: each Excel total against the Python result of the same inputs"
        ws["A1"].font = Font(bold=True, size=12)
        header = ("strategy", "measure", "category", "Excel", "Python", "difference", "relative difference")
        for i, h in enumerate(header, start=1):
            ws.cell(3, i, h).font = _BOLD
            ws.cell(3, i).fill = _HEAD_FILL
        r = 3
        keys = [k for k in refs if k[1] != "icer"]
        keys.sort(key=lambda k: (k[2] != "total", k[0], k[1], k[2]))
        missing = sorted(set(python_lines) - set(refs))
        if missing:
            raise HtaError("Excel model: Python result lines with no Excel line: "
                           + "; ".join(" / ".join(k) for k in missing[:5]))
        for key in keys + [k for k in refs if k[1] == "icer" and k in python_lines]:
            r += 1
            _put_text(ws.cell(r, 1), key[0])
            ws.cell(r, 2, key[1])
            _put_text(ws.cell(r, 3), key[2])
            ws.cell(r, 4, f"={refs[key]}")
            ws.cell(r, 5, float(python_lines.get(key, 0.0)))  # Python drops lines that are 0
            ws.cell(r, 6, f"=D{r}-E{r}")
            ws.cell(r, 7, f"=IF(E{r}=0,ABS(F{r}),ABS(F{r}/E{r}))").number_format = "0.0E+00"
            for col in (4, 5, 6):
                ws.cell(r, col).number_format = "#,##0.000000000"
        ws["I3"] = "largest relative difference"
        ws["I4"] = f"=MAX(G4:G{r})"
        ws["I4"].number_format = "0.0E+00"
        ws["I5"] = f'=IF(I4<={CHECK_TOLERANCE!r},"OK: Excel equals Python","DIFFERENT (inputs changed?)")'
        ws["I5"].font = _BOLD
        for letter, width in zip("ABCDEFGHI", (16, 8, 44, 22, 22, 14, 12, 2, 30)):
            ws.column_dimensions[letter].width = width
        ws.freeze_panes = "A4"


def python_lines(outcomes, strategies) -> dict:
    """``(strategy, measure, category) -> discounted value`` of sample 0 of :class:`hta.engine.outcomes.Outcomes`,
    plus totals and the ICER against the first strategy, for :meth:`ModelBook.save`."""
    out = {}
    ref = strategies[0]
    for s in strategies:
        res = outcomes[s]
        for measure in ("cost", "qaly", "ly"):
            for category, v in res.by(measure, "category").items():
                out[(s, measure, category)] = float(np.asarray(v).reshape(-1)[0])
        out[(s, "cost", "total")] = float(res.costs[0])
        out[(s, "qaly", "total")] = float(res.qalys[0])
        out[(s, "ly", "total")] = float(res.lys[0])
        if s != ref:
            dq = float(res.qalys[0] - outcomes[ref].qalys[0])
            dc = float(res.costs[0] - outcomes[ref].costs[0])
            if dq != 0:
                out[(s, "icer", "")] = dc / dq
    return out


def export(model, path, *, run_info: dict | None = None) -> Path:
    """Write ``model``'s base case as a formula-live workbook at ``path`` (atomically).

    The model provides ``excel_book()`` returning a :class:`ModelBook` (written with this
    module's toolkit) and ``evaluate(batch)``; the Check sheet compares the two on the base case.
    """
    if not capabilities(model).formula_workbook:
        raise HtaError(f"model '{model.name}': expected a method excel_book() "
                       "that writes the model with hta.excel.formula_model (see models/fucaso_excel.py); found none")
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise HtaError(f"Excel model {path}: expected a file name ending in .xlsx; found suffix {path.suffix or '(none)'!r}")
    book = model.excel_book()
    outcomes = model.evaluate(model.parameters.base())
    return book.save(path, python_lines=python_lines(outcomes, list(model.strategies)), run_info=run_info)
