"""Human labels for what a reader sees: parameter descriptions with units, strategy labels and
plain column headers in place of the model's identifiers (``c_eqcel_price``, ``inc_cost``, ``eqcel``).

:class:`Labeller` is built once per run from the model's parameter table (each row's
``description`` and ``unit``) and strategy labels; :func:`humanise` rewrites one
:class:`~hta.excel.writer.Sheet` (headers, text cells, titles, notes, chart titles and legends).
Identifiers stay only in the input listing (sheet Inputs) and the data sheets (``Sheet.data``).
:func:`raw_identifiers` finds identifiers left in a text (the workbook scan of the tests).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from hta.protocol import strategy_labels

#: Plain headers of the columns the analyses produce.
COLUMN_LABELS = {
    "structure": "Model structure", "label": "Strategy", "strategy": "Strategy", "comparator": "Compared with",
    "cost": "Costs (HK$)", "qalys": "QALYs", "lys": "Life-years (LYs)",
    "cost_undiscounted": "Costs, undiscounted (HK$)", "qalys_undiscounted": "QALYs, undiscounted",
    "lys_undiscounted": "Life-years, undiscounted", "inc_cost": "Incremental costs (HK$)",
    "inc_qalys": "Incremental QALYs", "inc_lys": "Incremental life-years", "icer": "ICER (HK$ per QALY gained)",
    "status": "Status", "note": "Note", "parameter": "Parameter", "factor": "Parameter",
    "base": "Base case", "at_low": "At the low value", "at_high": "At the high value", "swing": "Swing",
    "low_value": "Low value", "high_value": "High value", "low": "Low", "high": "High",
    "wtp": "WTP (HK$ per QALY)", "wtp_label": "Willingness to pay", "threshold": "Threshold price (HK$)",
    "found": "Found", "message": "Message", "roots": "Every price where ICER = WTP (HK$)",
    "evpi_per_patient": "EVPI per patient (HK$)", "evpi_population": "EVPI for the population (HK$)",
    "probability": "Probability cost-effective", "expected_nmb": "Expected NMB (HK$)",
    "calendar_year": "Calendar year", "year": "Year", "budget_without": "Budget without the new drug (HK$)",
    "budget_with": "Budget with the new drug (HK$)", "net_impact": "Net budget impact (HK$)",
    "cumulative_net_impact": "Cumulative net budget impact (HK$)",
    "patients_starting": "Patients starting treatment", "patients_on_new_drug": "Patients on the new drug",
    "time_years": "Years since start", "name": "Name", "evppi": "EVPPI per patient (HK$)",
    "share_of_evpi": "Share of EVPI", "S1": "First-order index (S1)", "S1_conf": "S1 95% half-width",
    "ST": "Total-order index (ST)", "ST_conf": "ST 95% half-width", "measure": "Measure", "category": "Category",
    "state": "State", "discounted": "Discounted", "undiscounted": "Undiscounted", "endpoint": "Endpoint",
    "family": "Distribution", "distribution": "Distribution", "median": "Median", "source": "Source",
    "time_unit": "Time unit", "coefficients": "Coefficients", "scenario": "Scenario",
    "description": "Description", "mean_years": "Mean years (restricted to the horizon)",
    "max_target_error": "Largest miss of the published targets", "aic": "AIC", "bic": "BIC",
    "base_case": "Base case", "evidence": "Evidence", "multiple": "Multiple of the WTP basis",
    "item": "Item", "topic": "Topic", "where": "Where reported", "value": "Value", "check": "Check",
    "section": "Section", "expected": "Expected", "observed": "Observed", "detail": "Detail", "model": "Model",
    "role": "Role", "quadrant": "Quadrant of the CE plane", "inc_effect": "Incremental QALYs",
    "inc_cost_lower": "Incremental costs, 2.5th percentile (HK$)",
    "inc_cost_upper": "Incremental costs, 97.5th percentile (HK$)",
    "inc_effect_lower": "Incremental QALYs, 2.5th percentile", "inc_effect_upper": "Incremental QALYs, 97.5th percentile",
    "group": "Group", "outcome": "Outcome", "unit": "Unit", "world": "World", "total": "Total", "draw": "Draw", "mean": "Mean", "sd": "SD",
    "lower": "2.5th percentile", "upper": "97.5th percentile", "inmb": "Incremental NMB (HK$)",
}

#: Single-word identifiers that appear as cell values (outcome codes, structure codes).
VALUE_LABELS = {"inmb": "Incremental NMB (HK$)", "icer": "ICER (HK$ per QALY)", "inc_cost": "Incremental costs (HK$)",
                "inc_qalys": "Incremental QALYs", "net_budget_impact": "Net budget impact (HK$)",
                "psm": "partitioned survival", "stm": "state-transition"}

_SNAKE = re.compile(r"(?<![\w$/.-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w-])")
_CUT = re.compile(r" \(|; | = |, drawn")


def _short(description: str, limit: int = 64) -> str:
    text = _CUT.split(description.strip(), maxsplit=1)[0].strip()
    text = re.sub(r"\s+", " ", _SNAKE.sub("", text)).strip(" :;,")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


def _identifier_pattern(params: dict):
    """A pattern of the names to replace inside running text: only those that look like
    identifiers (with an underscore or a digit), so that an item named like an English word
    ("population") is relabelled as a whole cell but never inside a sentence."""
    names = sorted((n for n in params if re.search(r"[_\d]", n)), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])") if names else None


def _words(identifier: str) -> str:
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


class Labeller:
    """Human labels of one run's parameters, strategies and columns.

    ``param(name)``: the parameter's description (to its first clause) and unit, e.g.
    ``"Eque-cel acquisition price (HK$ per patient)"``; survival coefficients
    (``surv_<strategy>_<endpoint>_<coefficient>``) read ``"Eque-cel (Fucaso) PFS: log scale"``.
    """

    def __init__(self, model):
        self.strategies = dict(strategy_labels(model))
        settings = getattr(model, "settings", None)
        #: the model's currency symbol and effect measure: labels are written for HK$ and QALYs
        #: (the HA's) and translated for any other model (e.g. GBP per life-year)
        self.symbol = getattr(settings, "currency_symbol", "HK$") or "HK$"
        self.effect = getattr(settings, "effect", "QALY") or "QALY"
        self.params: dict[str, str] = {}
        try:
            frame = model.parameters.to_frame()
        except AttributeError:  # a model without a parameter table (tests' stubs)
            frame = pd.DataFrame(columns=["name", "unit", "description"])
        short = {r["name"]: _short(str(r.get("description") or "")) for _, r in frame.iterrows()}
        counts = pd.Series(list(short.values())).value_counts() if short else pd.Series(dtype=int)
        for _, r in frame.iterrows():
            name, unit = str(r["name"]), str(r.get("unit") or "").strip()
            text = short[name]
            survival = re.fullmatch(r"surv_([a-z0-9]+)_(pfs|os|ttd|efs|dfs)_(.+)", name)
            if survival:
                s, e, coef = survival.groups()
                text = f"{self.strategies.get(s, s)} {e.upper()}: {coef.replace('_', ' ')}"
            elif not text:
                text = _words(name)
            elif counts.get(text, 0) > 1:
                text = f"{text} [{name.replace('_', ' ')}]"
            if unit and unit.lower() not in text.lower():
                text = f"{text} ({unit})"
            self.params[name] = text
        self._param_re = _identifier_pattern(self.params)
        # a code that is also a word of a label ("drug" in "New drug") is replaced only as a whole cell
        label_words = {w.lower() for label in self.strategies.values() for w in re.findall(r"[\w-]+", str(label))}
        codes = sorted((c for c in self.strategies if self.strategies[c] != c and c.lower() not in label_words),
                       key=len, reverse=True)
        self._code_re = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, codes)) + r")(?![\w-])") if codes \
            else None

    def param(self, name: str) -> str:
        return self.params.get(name, name)

    def text(self, value: str) -> str:
        """``value`` with every parameter name and strategy code replaced by its label, in the
        model's currency and effect measure."""
        return self.localise(self._text(value))

    def _text(self, value: str) -> str:
        if not isinstance(value, str) or not value:
            return value
        if value in self.params:
            return self.params[value]
        if value in self.strategies:
            return self.strategies[value]
        if value in self.strategies.values():
            return value
        if value in VALUE_LABELS:
            return VALUE_LABELS[value]
        out = self._param_re.sub(lambda m: self.params[m.group(1)], value) if self._param_re else value
        out = re.sub(r"(?<![\w-])(psm|stm)(?![\w-])", lambda m: VALUE_LABELS[m.group(1)], out)
        return self._code_re.sub(lambda m: self.strategies[m.group(1)], out) if self._code_re else out

    def learn(self, labels: dict) -> None:
        """Add labels of further identifiers (e.g. budget-impact items: {item: description})."""
        for key, text in labels.items():
            if key and text and key not in self.params:
                self.params[str(key)] = _short(str(text))
        self._param_re = _identifier_pattern(self.params)

    def localise(self, text: str) -> str:
        """``text`` in the model's currency and effect measure (HK$ and QALYs are the default)."""
        if not isinstance(text, str):
            return text
        if self.symbol != "HK$":
            text = text.replace("HK$", self.symbol)
        if self.effect != "QALY":
            text = re.sub(r"\bQALYs\b", f"{self.effect}s", text)
            text = re.sub(r"\bQALY\b", self.effect, text)
        return text

    def column(self, name: str) -> str:
        return self.localise(self._column(name))

    def _column(self, name: str) -> str:
        if name in COLUMN_LABELS:
            return COLUMN_LABELS[name]
        for pattern, make in _COLUMN_PATTERNS:
            m = pattern.fullmatch(name)
            if m:
                return make(m, self)
        text = self.text(name)
        if text != name:
            return text
        return _SNAKE.sub(lambda m: _words(m.group(0)), name) if _SNAKE.search(name) else name


_MEASURES = {"cost": "Costs", "qalys": "QALYs", "lys": "Life-years"}
_COLUMN_PATTERNS = [
    (re.compile(r"(cost|qalys|lys)_(\w+)"),
     lambda m, lab: f"{_MEASURES[m.group(1)]}, {lab.strategies.get(m.group(2), _words(m.group(2)))}"
                    + (" (HK$)" if m.group(1) == "cost" else "")),
    (re.compile(r"p_ce_(\d+)"), lambda m, lab: f"P(cost-effective) at HK${int(m.group(1)):,}/QALY"),
    (re.compile(r"inmb \[(.+)\]"), lambda m, lab: f"Incremental NMB at {m.group(1)} (HK$)"),
    (re.compile(r"threshold \[(.+)\]"), lambda m, lab: f"Threshold price at {m.group(1)} (HK$)"),
    (re.compile(r"icer \[(.+)\]"), lambda m, lab: f"ICER at {m.group(1)} (HK$ per QALY)"),
    (re.compile(r"S_(\d+)y"), lambda m, lab: f"Survival at {m.group(1)} years"),
    (re.compile(r"gp_(\d+)y"), lambda m, lab: f"General-population survival at {m.group(1)} years"),
    (re.compile(r"relative_(\d+)y"), lambda m, lab: f"Relative survival at {m.group(1)} years"),
]


def number(x) -> str:
    """A value for a label: thousands separators from 1,000 up (``28,580``), else 4 significant digits."""
    x = float(x)
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def span(low, high) -> str:
    """``"(low to high)"`` for tornado bars and one-way labels."""
    return f"({number(low)} to {number(high)})"


def infer_format(column: str) -> str:
    """A number format key for a column by its name (money, QALYs/LYs, probability, patients)."""
    c = column.lower()
    if any(k in c for k in ("patients", "cases", "population")):
        return "0.0"
    if any(k in c for k in ("hk$", "cost", "price", "nmb", "icer", "budget", "evpi", "evppi", "threshold",
                            "inmb", "impact", "expected_nmb")):
        return "money"
    if any(k in c for k in ("qaly", "lys", "life-years", "years")):
        return "qaly"
    if c.startswith(("p_", "prob", "share", "s_", "gp_", "relative")) or "probability" in c or "p(" in c:
        return "pct"
    return "#,##0.000"


def _text_cells(series: pd.Series, labeller: Labeller) -> pd.Series:
    # text columns are object dtype in pandas 2 and a string dtype in pandas 3
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        return series
    return series.map(lambda v: labeller.text(v) if isinstance(v, str) else v)


def humanise(sheet, labeller: Labeller, *, listing: bool = False):
    """``sheet`` as a reader sees it: plain headers, labelled cells, human titles and charts.

    Data sheets (``sheet.data``) and a ``listing`` (sheet Inputs) keep their identifiers in the
    cells; their titles and charts are still labelled. Every non-integer float column without a
    format gets one from :func:`infer_format` of its name.
    """
    from hta.excel.writer import Chart  # noqa: F401  (the charts are dataclasses: replaced below)

    frame = sheet.frame if not sheet.index else sheet.frame.reset_index()
    formats = dict(sheet.formats)
    for column in frame.columns:
        if str(column) in formats:
            continue
        values = frame[column]
        if pd.api.types.is_float_dtype(values.dtype):
            finite = values.to_numpy(dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size and not np.all(finite == np.round(finite)):
                formats[str(column)] = infer_format(str(column))
    if sheet.data or listing:
        rename = {}
    else:
        frame = frame.copy()
        for shown, raw in (("label", "strategy"), ("factor", "parameter")):  # the label shown; the code dropped
            if shown in frame.columns and raw in frame.columns:
                frame = frame.drop(columns=raw)
                formats.pop(raw, None)
        for column in frame.columns:
            frame[column] = _text_cells(frame[column], labeller)
        rename = {}
        used = set()
        for column in frame.columns:
            new = labeller.column(str(column))
            if new in used:
                new = f"{new} [{column}]" if new != str(column) else new
            used.add(new)
            rename[str(column)] = new
        frame = frame.rename(columns=lambda c: rename.get(str(c), c))
    col = lambda c: rename.get(str(c), str(c))
    charts = [replace(ch, title=labeller.text(ch.title), x=col(ch.x), y=[col(y) for y in
                                                                          ([ch.y] if isinstance(ch.y, str) else ch.y)],
                      x_title=labeller.text(ch.x_title) if ch.x_title else labeller.column(ch.x),
                      y_title=labeller.text(ch.y_title), lines=[(col(a), col(b)) for a, b in ch.lines])
              for ch in sheet.charts]
    return replace(sheet, frame=frame, index=False,
                   formats={col(c): f for c, f in formats.items() if col(c) in map(str, frame.columns)},
                   charts=charts, title=labeller.text(sheet.title) if sheet.title else sheet.title,
                   notes=[labeller.text(n) for n in sheet.notes], wrap=[col(c) for c in sheet.wrap],
                   fills={col(c): v for c, v in sheet.fills.items()}, links=[col(c) for c in sheet.links],
                   default_format=sheet.default_format or "#,##0.000")


def raw_identifiers(text, labeller: Labeller | None = None) -> list[str]:
    """Identifiers in ``text``: snake_case tokens, and (with a labeller) parameter names and
    strategy codes standing alone."""
    if not isinstance(text, str):
        return []
    found = [m.group(0) for m in _SNAKE.finditer(text)]
    found += [w for w in re.findall(r"[a-z]+", text) if w in VALUE_LABELS and re.search(rf"(?<![\w-]){w}(?![\w-])", text)]
    if labeller is not None:
        if text.strip() in labeller.strategies and labeller.strategies[text.strip()] != text.strip():
            found.append(text.strip())
        found += [p for p in labeller.params if re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])", text)]
    return sorted(set(found))
