"""Hostile input workbooks in families, each with the outcome it must have (issue 25).

Test support for ``tests/test_hostile_workbooks.py`` (a derandomised CI subset) and
``tests/hostile_run.py`` (the whole set, run once; its counts are in docs/robustness.md).

Three bases: the flagship workbook ``inputs/fucaso_hk.xlsx`` as shipped (inline strings, as
openpyxl writes them), the same re-saved with shared strings (as Excel writes them), and the
blank template of ``hta template`` filled with the required settings and one strategy; the
Dirichlet and life-table families use the test fixture of ``broken_workbooks``. Each case edits
the XML of one base directly (so a NaN can be stored as a number, a part can be damaged, and one
case costs milliseconds), and says whether it must be refused (``error``: exit status 2, every
problem located, no traceback) or read (``valid``). Expectations follow from the documented
rules (docs/inputs.md, docs/robustness.md), never from running the reader.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
FLAGSHIP = ROOT / "inputs" / "fucaso_hk.xlsx"
ERROR, VALID = "error", "valid"


@dataclass(frozen=True)
class Raw:
    """A cell given as raw XML content (attributes after r=, and the inner XML)."""

    attrs: str
    inner: str


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    expect: str
    build: Callable[[Path], Path]


class Package:
    """The parts of an .xlsx archive, edited as text."""

    def __init__(self, parts: dict[str, bytes]):
        self.parts = dict(parts)

    @classmethod
    def read(cls, data: bytes) -> "Package":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return cls({n: z.read(n) for n in z.namelist()})

    def copy(self) -> "Package":
        return Package(self.parts)

    def sheet_part(self, sheet: str) -> str:
        wb = self.parts["xl/workbook.xml"].decode()
        rels = self.parts["xl/_rels/workbook.xml.rels"].decode()
        m = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % re.escape(escape(sheet, {'"': "&quot;"})), wb)
        rid = m.group(1)
        target = re.search(r'<Relationship [^>]*Id="%s"[^>]*Target="([^"]+)"' % rid, rels)
        if target is None:
            target = re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="%s"' % rid, rels)
        t = target.group(1)
        return t.lstrip("/") if t.startswith("/") else "xl/" + t

    def xml(self, part: str) -> str:
        return self.parts[part].decode("utf-8")

    def set_xml(self, part: str, text: str) -> None:
        self.parts[part] = text.encode("utf-8")

    def set(self, sheet: str, ref: str, value) -> "Package":
        """Set one cell (None removes it)."""
        part = self.sheet_part(sheet)
        text = self.xml(part)
        cell = _cell_xml(ref, value)
        pattern = re.compile(r'<c r="%s"(?:[^>]*/>|[^>]*>.*?</c>)' % ref, re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: cell, text, count=1)
        elif cell:
            row = int(re.sub(r"[A-Z]", "", ref))
            rm = re.search(r'(<row r="%d"[^>]*?)(/>|>)' % row, text)
            if rm and rm.group(2) == ">":
                end = text.index("</row>", rm.end())
                text = text[:end] + cell + text[end:]
            elif rm:
                text = text[:rm.start()] + f'<row r="{row}">{cell}</row>' + text[rm.end():]
            elif "<sheetData/>" in text:
                text = text.replace("<sheetData/>", f'<sheetData><row r="{row}">{cell}</row></sheetData>')
            else:
                text = text.replace("</sheetData>", f'<row r="{row}">{cell}</row></sheetData>')
        self.set_xml(part, text)
        return self

    def write(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in self.parts.items():
                z.writestr(name, data)
        return path


def _cell_xml(ref: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        return f'<c r="{ref}"{value.attrs}>{value.inner}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def with_shared_strings(pkg: Package) -> Package:
    """The same workbook with every inline string moved to xl/sharedStrings.xml, as Excel saves."""
    out = pkg.copy()
    strings: dict[str, int] = {}

    def repl(m):
        attrs, text = m.group(1), m.group(2)
        attrs = attrs.replace(' t="inlineStr"', "")
        i = strings.setdefault(text, len(strings))
        return f'<c{attrs} t="s"><v>{i}</v></c>'

    for name in list(out.parts):
        if name.startswith("xl/worksheets/sheet"):
            text = out.xml(name)
            text = re.sub(r'<c( [^>]*t="inlineStr"[^>]*)><is><t[^>]*>(.*?)</t></is></c>', repl, text, flags=re.S)
            out.set_xml(name, text)
    items = "".join(f'<si><t xml:space="preserve">{s}</t></si>' for s in strings)
    out.set_xml("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
                f'uniqueCount="{len(strings)}">{items}</sst>')
    rels = out.xml("xl/_rels/workbook.xml.rels")
    out.set_xml("xl/_rels/workbook.xml.rels", rels.replace(
        "</Relationships>", '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
    types = out.xml("[Content_Types].xml")
    out.set_xml("[Content_Types].xml", types.replace(
        "</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    return out


# -- bases ---------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def flagship() -> Package:
    return Package.read(FLAGSHIP.read_bytes())


@lru_cache(maxsize=None)
def flagship_shared() -> Package:
    return with_shared_strings(flagship())


@lru_cache(maxsize=None)
def template() -> Package:
    import tempfile

    from hta.excel.template import write_template

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.xlsx"
        write_template(path)
        pkg = Package.read(path.read_bytes())
    rows = _first_column(pkg, "Settings")
    values = {"horizon_years": 15, "cycle": "month", "discount_costs": 0.03, "discount_outcomes": 0.03,
              "within_cycle": "half-cycle", "start_age": 60, "male_share": 0.5, "wtp_1": 400000}
    for name, value in values.items():
        pkg.set("Settings", f"B{rows[name]}", value)
    pkg.set("Strategies", "A2", "soc")
    return pkg


@lru_cache(maxsize=None)
def fixture() -> Package:
    import tempfile

    import broken_workbooks as bw

    with tempfile.TemporaryDirectory() as tmp:
        return Package.read(bw.valid_workbook(Path(tmp)).read_bytes())


def _first_column(pkg: Package, sheet: str) -> dict[str, int]:
    """Row of each text in column A of a sheet (first occurrence)."""
    text = pkg.xml(pkg.sheet_part(sheet))
    shared = []
    if "xl/sharedStrings.xml" in pkg.parts:
        shared = re.findall(r"<si><t[^>]*>(.*?)</t></si>", pkg.xml("xl/sharedStrings.xml"), re.S)
    rows = {}
    for m in re.finditer(r'<c r="A(\d+)"([^>]*)>(.*?)</c>', text, re.S):
        row, attrs, inner = int(m.group(1)), m.group(2), m.group(3)
        if 't="s"' in attrs:
            value = shared[int(re.search(r"<v>(\d+)</v>", inner).group(1))]
        else:
            t = re.search(r"<t[^>]*>(.*?)</t>", inner, re.S)
            value = t.group(1) if t else None
        if value is not None:
            rows.setdefault(value, row)
    return rows


# The flagship's parameters: (row, kind, distribution) from the builder's own lists.
def flagship_parameters() -> dict[str, tuple[int, str, str]]:
    import sys

    sys.path.insert(0, str(ROOT / "inputs"))
    import build_fucaso_hk as b

    rows = _first_column(flagship(), "Parameters")
    return {p[0]: (rows[p[0]], b.KINDS[p[0]], p[3]) for p in b.P}


#: Values outside each kind's domain (docs/inputs.md), and the unit they are meant in.
OUTSIDE = {"probability": (-0.1, 1.5), "share": (-0.1, 1.5), "utility": (-3.0, 1.2),
           "utility decrement": (-0.1, 5.0), "cost": (-1.0, 1e11), "rate": (-0.07, 1e5),
           "relative effect": (0.0, -1.0), "duration": (-15.0, 1e6), "count": (-12.0, 1e7)}


def _case(family, name, expect, base: Callable[[], Package], *edits, raw: Callable | None = None) -> Case:
    def build(directory: Path) -> Path:
        pkg = base().copy()
        for sheet, ref, value in edits:
            pkg.set(sheet, ref, value)
        if raw is not None:
            raw(pkg)
        return pkg.write(directory / f"{family}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:60]}.xlsx")
    return Case(family, name, expect, build)


def cases() -> list[Case]:
    """Every hostile case, in a fixed order (family by family)."""
    out: list[Case] = []
    params = flagship_parameters()
    bases = (("shipped", flagship), ("shared", flagship_shared))
    settings_rows = _first_column(flagship(), "Settings")
    budget_rows = _first_column(flagship(), "Budget")
    P, SET, BUD = "Parameters", "Settings", "Budget"

    for tag, base in bases:
        # controls: the bases themselves, and harmless edits
        out.append(_case("controls", f"{tag}", VALID, base))
        out.append(_case("controls", f"{tag} note column", VALID, base, (P, "N1", "my notes"), (P, "N5", "checked")))
        out.append(_case("controls", f"{tag} blank formatted row", VALID, base, (P, "A60", Raw(' s="1"', ""))))
        for name, (row, kind, dist) in params.items():
            if kind == "free":  # no domain to break (a correlation, say): its cases are not hostile
                continue
            # types: text, a logical, an Excel error, a date-formatted or blank value
            for label, value in (("text", "zero point five"), ("logical", True), ("error", Raw(' t="e"', "<v>#N/A</v>")),
                                 ("blank", None), ("comma decimal", "0,5"), ("formula-like text", "=1+1")):
                out.append(_case("types", f"{tag} {name} {label}", ERROR, base, (P, f"B{row}", value)))
            # non-finite and huge numbers stored as numbers
            for label, v in (("NaN", "NaN"), ("inf", "INF"), ("-inf", "-INF"), ("1e308", "1e308"), ("1e300", "1e300")):
                out.append(_case("nonfinite", f"{tag} {name} {label}", ERROR, base, (P, f"B{row}", Raw("", f"<v>{v}</v>"))))
            # ranges: each kind's domain
            for v in OUTSIDE[kind]:
                out.append(_case("ranges", f"{tag} {name} {v:g}", ERROR, base, (P, f"B{row}", v)))
                if dist == "fixed":  # the same refusal when it is the kind that says so, not the unit
                    out.append(_case("ranges", f"{tag} {name} {v:g} as low", ERROR, base, (P, f"H{row}", v)))
            # distributions: a Normal on a bounded kind, a tiny or huge se
            out.append(_case("distributions", f"{tag} {name} normal", ERROR, base, (P, f"D{row}", "normal"),
                             (P, f"E{row}", 0.1), (P, f"F{row}", None), (P, f"G{row}", None)))
            if dist in ("gamma", "beta"):
                out.append(_case("distributions", f"{tag} {name} se 5e-324", ERROR, base, (P, f"E{row}", Raw("", "<v>5e-324</v>"))))
                out.append(_case("distributions", f"{tag} {name} se 1e300", ERROR, base, (P, f"E{row}", 1e300)))
            # in-domain values of fixed parameters are read
            if dist == "fixed":
                lo, hi = {"probability": (0.0, 1.0), "cost": (0.0, 2e6), "duration": (0.0, 30.0), "count": (0.0, 20.0)}[kind]
                out.append(_case("ranges", f"{tag} {name} in range", VALID, base, (P, f"B{row}", (lo + hi) / 2)))
            # kinds: an unknown kind; free (with a Normal) explicitly allowed
            out.append(_case("ranges", f"{tag} {name} kind unknown", ERROR, base, (P, f"M{row}", "percentage")))
        out.append(_case("distributions", f"{tag} free normal cost", VALID, base,
                         (P, f"M{params['c_ward_day'][0]}", "free"), (P, f"D{params['c_ward_day'][0]}", "normal"),
                         (P, f"E{params['c_ward_day'][0]}", 500)))
        out.append(_case("distributions", f"{tag} normal 10000 sd 10000 cost", ERROR, base,
                         (P, f"B{params['c_sopc'][0]}", 10000), (P, f"D{params['c_sopc'][0]}", "normal"),
                         (P, f"E{params['c_sopc'][0]}", 10000)))
        out.append(_case("distributions", f"{tag} uniform beyond 1 on a probability", ERROR, base,
                         (P, f"D{params['p_bridging'][0]}", "uniform"), (P, f"F{params['p_bridging'][0]}", 0.5),
                         (P, f"G{params['p_bridging'][0]}", 1.2)))
        out.append(_case("distributions", f"{tag} uniform within 0-1 on a probability", VALID, base,
                         (P, f"D{params['p_bridging'][0]}", "uniform"), (P, f"F{params['p_bridging'][0]}", 0.5),
                         (P, f"G{params['p_bridging'][0]}", 1.0)))

        # formulas
        r = params["c_ward_day"][0]
        out.append(_case("formulas", f"{tag} cached formula", VALID, base, (P, f"B{r}", Raw("", "<f>5000+100</f><v>5100</v>"))))
        out.append(_case("formulas", f"{tag} formula without cache", ERROR, base, (P, f"B{r}", Raw("", "<f>5000+100</f>"))))
        out.append(_case("formulas", f"{tag} formula cached #DIV/0!", ERROR, base, (P, f"B{r}", Raw(' t="e"', "<f>1/0</f><v>#DIV/0!</v>"))))
        out.append(_case("formulas", f"{tag} shared formula without cache", ERROR, base, (P, f"B{r}", Raw("", '<f t="shared" si="0"/>'))))
        out.append(_case("formulas", f"{tag} RAND() horizon 0.5", ERROR, base, (SET, f"B{settings_rows['horizon_years']}", Raw("", "<f>RAND()</f><v>0.5</v>"))))
        out.append(_case("formulas", f"{tag} cached text formula", ERROR, base, (P, f"B{r}", Raw(' t="str"', "<f>\"a\"</f><v>a</v>"))))
        out.append(_case("formulas", f"{tag} date-formatted beyond range", ERROR, base, (P, f"B{r}", Raw(' s="1"', "<v>1e10</v>")),
                         raw=_date_style))

        # settings
        h = f"B{settings_rows['horizon_years']}"
        for v, expect in ((0.5, ERROR), (0.99, ERROR), (1000, ERROR), (1e6, ERROR), (1e300, ERROR), (-1, ERROR), (0, ERROR),
                          ("forty", ERROR), (20, VALID), (1, VALID), (120, VALID), (121, ERROR)):
            out.append(_case("settings", f"{tag} horizon {v}", expect, base, (SET, h, v)))
        for setting, v, expect in (("cycle", "fortnight", ERROR), ("cycle", "week", VALID), ("cycle", "MONTH", VALID),
                                   ("discount_costs", 3, ERROR), ("discount_costs", 0.05, VALID), ("discount_outcomes", -0.01, ERROR),
                                   ("wtp_1", 1e300, ERROR), ("wtp_1", 0, ERROR), ("wtp_1", 2e9, ERROR), ("wtp_1", 1e6, VALID),
                                   ("male_share", 1.5, ERROR), ("male_share", 1.0, VALID), ("start_age", 130, ERROR),
                                   ("psa_draws", 1e9, ERROR), ("psa_draws", 2.5, ERROR), ("seed", -3, ERROR), ("seed", 1e30, ERROR),
                                   ("within_cycle", "middle", ERROR), ("life_table", "sheet", ERROR), ("model", "unknown_model", VALID),
                                   ("utility_norms", "uk-ara-brazier-2010", VALID), ("discount_method", "continuous", VALID)):
            if setting in settings_rows:
                out.append(_case("settings", f"{tag} {setting} {v}", expect, base, (SET, f"B{settings_rows[setting]}", v)))
        out.append(_case("settings", f"{tag} duplicate setting", ERROR, base, (SET, "A40", "cycle"), (SET, "B40", "week")))
        out.append(_case("settings", f"{tag} unknown setting", ERROR, base, (SET, "A40", "horizon"), (SET, "B40", 5)))
        out.append(_case("settings", f"{tag} yearly cycle with mid-year entry", ERROR, base, (SET, f"B{settings_rows['cycle']}", "year")))

        # structure
        out.append(_case("structure", f"{tag} no Parameters sheet", ERROR, base, raw=lambda p: _rename_sheet(p, "Parameters", "Params")))
        out.append(_case("structure", f"{tag} sheet name case", VALID, base, raw=lambda p: _rename_sheet(p, "Parameters", "parameters")))
        out.append(_case("structure", f"{tag} no Strategies sheet", ERROR, base, raw=lambda p: _rename_sheet(p, "Strategies", "Old strategies")))
        out.append(_case("structure", f"{tag} header renamed", ERROR, base, (P, "B1", "base value")))
        out.append(_case("structure", f"{tag} header duplicated", ERROR, base, (P, "N1", "value")))
        out.append(_case("structure", f"{tag} header case", VALID, base, (P, "B1", " VALUE ")))
        out.append(_case("structure", f"{tag} stray text at A1048576", ERROR, base, (P, "A1048576", "x")))
        out.append(_case("structure", f"{tag} stray formatted cell at A1048576", VALID, base, (P, "A1048576", Raw(' s="1"', ""))))
        out.append(_case("structure", f"{tag} stray number at XFD1048576", VALID, base, (P, "XFD1048576", 1)))
        out.append(_case("structure", f"{tag} a million rows", ERROR, base, raw=_million_rows))
        out.append(_case("structure", f"{tag} duplicate parameter", ERROR, base, (P, "A60", "c_sopc"), (P, "B60", 1), (P, "L60", "a source"),
                         (P, "M60", "cost")))
        out.append(_case("structure", f"{tag} parameter name case twin", ERROR, base, (P, "A60", "C_SOPC"), (P, "B60", 1), (P, "L60", "x"),
                         (P, "M60", "cost")))
        for name in ("p_bridging", "u_pf", "c_eqcel_price", "pps_rate_month"):
            row = params[name][0]
            out.append(_case("structure", f"{tag} {name} deleted", ERROR, base, *[(P, f"{c}{row}", None) for c in "ABCDEFGHIJKLM"]))
            out.append(_case("structure", f"{tag} {name} misspelt", ERROR, base, (P, f"A{row}", name + "x")))
            out.append(_case("structure", f"{tag} {name} case changed", ERROR, base, (P, f"A{row}", name.upper())))
        out.append(_case("structure", f"{tag} strategy case changed", ERROR, base, ("Strategies", "A3", "CC"),
                         ("Survival", "A4", "CC"), ("Survival", "A5", "CC")))
        out.append(_case("structure", f"{tag} duplicate strategy labels", ERROR, base, ("Strategies", "B2", "Same"), ("Strategies", "B3", "same")))
        out.append(_case("structure", f"{tag} duplicate strategy", ERROR, base, ("Strategies", "A4", "cc")))
        out.append(_case("structure", f"{tag} merged header", VALID, base, raw=lambda p: _merge(p, "Parameters", "N1:O1")))
        out.append(_case("structure", f"{tag} merged value cells", ERROR, base, raw=lambda p: _merge(p, "Parameters", "A3:B4")))

        # survival
        S_, C_ = "Survival", "SurvivalCoefficients"
        for label, edits, expect in (
                ("endpoint case", [(S_, "B3", "os")], ERROR), ("endpoint renamed", [(S_, "B5", "overall")], ERROR),
                ("strategy unknown", [(S_, "A2", "cart")], ERROR), ("input km without data", [(S_, "C2", "km")], ERROR),
                ("distribution unknown", [(S_, "D2", "weibul")], ERROR), ("time unit unknown", [(S_, "E2", "fortnights")], ERROR),
                ("log shape 700", [(C_, "D2", 700)], ERROR), ("log shape NaN", [(C_, "D2", Raw("", "<v>NaN</v>"))], ERROR),
                ("covariance not symmetric", [(C_, "F2", 0.5)], ERROR), ("covariance huge", [(C_, "E2", 1e300)], ERROR),
                ("coefficient missing", [(C_, f"{c}3", None) for c in "ABCDEFGH"], ERROR),
                ("coefficient order", [(C_, "C2", "log_scale"), (C_, "C3", "log_shape")], ERROR),
                ("time unit case", [(S_, "E2", "Months")], VALID), ("distribution case", [(S_, "D2", "Weibull")], VALID),
                ("row deleted", [(S_, f"{c}5", None) for c in "ABCDEFGHIJ"], ERROR)):
            out.append(_case("survival", f"{tag} {label}", expect, base, *edits))

        # budget
        def b(item):
            return f"B{budget_rows.get(item, 999)}"
        for label, edits, expect in (
                ("population 1e308", [(BUD, b("population"), 1e308)], ERROR),
                ("population NaN", [(BUD, b("population"), Raw("", "<v>NaN</v>"))], ERROR),
                ("population 8e6", [(BUD, b("population"), 8e6)], VALID),
                ("incidence negative", [(BUD, b("incidence_per_100000"), -1)], ERROR),
                ("new strategy unknown", [(BUD, b("new_strategy"), "cart")], ERROR),
                ("new strategy case", [(BUD, b("new_strategy"), "EQCEL")], ERROR),
                ("start year text", [(BUD, b("start_year"), "next year")], ERROR),
                ("horizon 50", [(BUD, b("horizon_years"), 50)], ERROR),
                ("uptake curve unknown", [(BUD, b("uptake_curve"), "exponential")], ERROR),
                ("shares not summing", [("BudgetShares", "C2", 0.5)], ERROR),
                ("share negative", [("BudgetShares", "C2", -1)], ERROR),
                ("price parameter unknown", [(BUD, b("price_parameter"), "c_price")], ERROR),
                ("growth 0.001", [(BUD, b("population_growth"), 0.001)], VALID),
                ("price range 1e300", [(BUD, "C" + b("price_parameter")[1:], 1e6), (BUD, "D" + b("price_parameter")[1:], 1e300)], ERROR),
                ("price range within", [(BUD, "C" + b("price_parameter")[1:], 1e6), (BUD, "D" + b("price_parameter")[1:], 2e6)], VALID)):
            if all(ref[1] != "B999" for ref in edits):
                out.append(_case("budget", f"{tag} {label}", expect, base, *edits))

        # XML inside the archive
        for label, fn in XML_DAMAGE.items():
            expect = VALID if label.startswith("ok:") else ERROR
            out.append(_case("xml", f"{tag} {label}", expect, base, raw=fn))

        # injection: text that looks like code where text belongs is text; where numbers belong, an error
        r = params["c_ward_day"][0]
        for label, value in (("formula text", "=cmd|' /C calc'!A0"), ("at sign", "@SUM(A1:A9)"), ("script", "<script>alert(1)</script>"),
                             ("rtl override", "\u202eevil"), ("emoji", "\U0001F642"), ("1 MB text", "x" * 1_000_000)):
            out.append(_case("injection", f"{tag} {label} in description", VALID, base, (P, f"K{r}", value)))
            out.append(_case("injection", f"{tag} {label} in value", ERROR, base, (P, f"B{r}", value)))
        out.append(_case("injection", f"{tag} 32767 characters in a name", ERROR, base, (P, f"A{r}", "a" * 32767)))
        out.append(_case("injection", f"{tag} unicode parameter name", ERROR, base, (P, f"A{r}", "c_wärd_day")))

    # template
    t = template
    t_rows = _first_column(template(), "Settings")
    for label, edits, expect in (("filled", [], VALID), ("no strategy", [("Strategies", "A2", None)], ERROR),
                                 ("parameter ok", [(P, "A2", "p_x"), (P, "B2", 0.3), (P, "L2", "assumption: test"), (P, "M2", "probability")], VALID),
                                 ("parameter kind inferred", [(P, "A2", "c_x"), (P, "B2", 30), (P, "L2", "assumption: test")], VALID),
                                 ("parameter free", [(P, "A2", "x"), (P, "B2", -3), (P, "L2", "assumption: test")], VALID),
                                 ("inferred cost negative", [(P, "A2", "c_x"), (P, "B2", -30), (P, "L2", "assumption: test")], ERROR),
                                 ("probability unit 2", [(P, "A2", "x"), (P, "B2", 2), (P, "C2", "probability"), (P, "L2", "assumption: t")], ERROR),
                                 ("probability normal", [(P, "A2", "x"), (P, "B2", 0.5), (P, "D2", "normal"), (P, "E2", 0.4),
                                                         (P, "L2", "assumption: t"), (P, "M2", "probability")], ERROR),
                                 ("free normal", [(P, "A2", "x"), (P, "B2", 0.5), (P, "D2", "normal"), (P, "E2", 0.4),
                                                  (P, "L2", "assumption: t"), (P, "M2", "free")], VALID),
                                 ("free 1e300", [(P, "A2", "x"), (P, "B2", 1e300), (P, "L2", "assumption: t")], ERROR),
                                 ("assumption without rationale", [(P, "A2", "x"), (P, "B2", 1), (P, "L2", "assumption")], ERROR),
                                 ("horizon 0.25", [("Settings", f"B{t_rows['horizon_years']}", 0.25)], ERROR),
                                 ("wtp missing", [("Settings", f"B{t_rows['wtp_1']}", None)], ERROR),
                                 ("cycle blank", [("Settings", f"B{t_rows['cycle']}", None)], ERROR)):
        out.append(_case("template", label, expect, t, *edits))

    # Dirichlet blocks and the life table (the test fixture)
    fx = fixture
    for label, edits, expect in (("fixture", [], VALID), ("count 0", [("Dirichlet", "C2", 0)], ERROR),
                                 ("count negative", [("Dirichlet", "C3", -5)], ERROR),
                                 ("count 1e300", [("Dirichlet", "C3", 1e300)], ERROR),
                                 ("count NaN", [("Dirichlet", "C3", Raw("", "<v>NaN</v>"))], ERROR),
                                 ("one category", [("Dirichlet", "A3", "other"), ("Dirichlet", "A4", "other2")], ERROR),
                                 ("name clash", [("Dirichlet", "B2", "c_drug")], ERROR),
                                 ("counts 1e6", [("Dirichlet", "C2", 1e6)], VALID),
                                 ("block name blank", [("Dirichlet", "A2", None)], ERROR),
                                 ("KM time 1e300", [("KM_cart_PFS", "A3", 1e300)], ERROR),
                                 ("KM time NaN", [("KM_cart_PFS", "A3", Raw("", "<v>NaN</v>"))], ERROR),
                                 ("IPD time 1e300", [("IPD_cart_OS", "A2", 1e300)], ERROR),
                                 ("IPD event 2", [("IPD_cart_OS", "B2", 2)], ERROR)):
        out.append(_case("blocks", label, expect, fx, *edits))
    out.append(Case("blocks", "life table one sex", ERROR, _lifetable(("male",))))
    out.append(Case("blocks", "life table both sexes", VALID, _lifetable(("male", "female"))))
    out.append(Case("blocks", "life table female only, male_share 0", VALID, _lifetable(("female",), male_share=0.0)))
    return out


def file_cases(big: bool = False) -> list[tuple[str, str, Callable[[Path], Path]]]:
    """File-level cases: (name, expect, build). ``big``: include the 3 GiB sparse non-zip file."""
    def write(name, data):
        def build(d: Path) -> Path:
            p = d / f"file-{name}.xlsx"
            p.write_bytes(data)
            return p
        return build

    def sparse(name, size, head=b""):
        def build(d: Path) -> Path:
            p = d / f"file-{name}.xlsx"
            with open(p, "wb") as f:
                f.write(head)
                f.truncate(size)
            return p
        return build

    def truncated(d: Path) -> Path:
        p = d / "file-truncated.xlsx"
        p.write_bytes(FLAGSHIP.read_bytes()[: FLAGSHIP.stat().st_size // 2])
        return p

    def encrypted(d: Path) -> Path:
        # An OLE2 compound file whose directory names the EncryptedPackage and EncryptionInfo
        # streams, as Excel writes a password-protected workbook.
        p = d / "file-encrypted.xlsx"
        p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1000 + "EncryptionInfo".encode("utf-16-le")
                      + b"\0" * 100 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 5000)
        return p

    def folder(d: Path) -> Path:
        p = d / "file-folder.xlsx"
        p.mkdir()
        return p

    def not_spreadsheet(d: Path) -> Path:
        p = d / "file-zip.xlsx"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("readme.txt", "hello")
        return p

    def bomb(d: Path) -> Path:
        pkg = flagship().copy()
        pkg.parts["xl/media/image1.bin"] = b"\0" * (120 * 2**20)
        return pkg.write(d / "file-bomb.xlsx")

    out = [("empty", ERROR, write("empty", b"")), ("csv", ERROR, write("csv", b"time,survival\n0,1\n")),
           ("legacy xls", ERROR, write("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)),
           ("binary", ERROR, write("binary", bytes(range(256)) * 4)), ("truncated", ERROR, truncated),
           ("encrypted", ERROR, encrypted), ("folder", ERROR, folder), ("zip not a spreadsheet", ERROR, not_spreadsheet),
           ("zip bomb", ERROR, bomb), ("100 MiB sparse non-zip", ERROR, sparse("sparse100", 100 * 2**20)),
           ("70 MiB sparse PK", ERROR, sparse("sparsepk", 70 * 2**20, b"PK\x03\x04"))]
    if big:
        out.append(("3 GiB sparse non-zip", ERROR, sparse("sparse3g", 3 * 2**30)))
    return out


# -- raw edits ----------------------------------------------------------------------------------


def _rename_sheet(pkg: Package, old: str, new: str) -> None:
    pkg.set_xml("xl/workbook.xml", pkg.xml("xl/workbook.xml").replace(f'name="{old}"', f'name="{new}"'))


def _merge(pkg: Package, sheet: str, ref: str) -> None:
    part = pkg.sheet_part(sheet)
    text = pkg.xml(part)
    if "<mergeCells" in text:
        text = text.replace("</mergeCells>", f'<mergeCell ref="{ref}"/></mergeCells>')
    else:
        text = text.replace("</sheetData>", f'</sheetData><mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>', 1)
    pkg.set_xml(part, text)


def _million_rows(pkg: Package) -> None:
    part = pkg.sheet_part("Parameters")
    text = pkg.xml(part)
    rows = "".join(f'<row r="{r}"><c r="B{r}"><v>1</v></c></row>' for r in range(100, 1_000_100))
    pkg.set_xml(part, text.replace("</sheetData>", rows + "</sheetData>"))


def _date_style(pkg: Package) -> None:
    """Make cell style 1 a date format (numFmtId 14)."""
    styles = pkg.xml("xl/styles.xml")
    m = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)
    xfs = re.findall(r"<xf\b[^>]*?(?:/>|>.*?</xf>)", m.group(1), re.S)
    if len(xfs) > 1:
        new = re.sub(r'numFmtId="\d+"', 'numFmtId="14"', xfs[1], count=1)
        if "numFmtId" not in new:
            new = new.replace("<xf ", '<xf numFmtId="14" ', 1)
        styles = styles.replace(xfs[1], new, 1)
        pkg.set_xml("xl/styles.xml", styles)


def _lifetable(sexes, male_share=None):
    """A builder: the test fixture with a LifeTable sheet of ``sexes`` and life_table = sheet."""
    def build(directory: Path) -> Path:
        import broken_workbooks as bw

        sheets = bw.valid_rows()
        sheets["LifeTable"] = [["age", "sex", "mx"]] + [[a, s, 0.001 * math.exp(0.08 * (a - 40))]
                                                         for s in sexes for a in range(0, 121)]
        for row in sheets["Settings"]:
            if row[0] == "life_table":
                row[1] = "sheet"
            if row[0] == "male_share" and male_share is not None:
                row[1] = male_share
        return bw.write_workbook(directory / f"blocks-lifetable-{'-'.join(sexes)}.xlsx", sheets)
    return build


def _damage(part_of: Callable[[Package], str], fn: Callable[[str], str]):
    def edit(pkg: Package) -> None:
        part = part_of(pkg)
        if part is None:
            return
        pkg.parts[part] = fn(pkg.parts[part].decode("utf-8", "replace")).encode("utf-8") if isinstance(fn(""), str) else fn(pkg.parts[part])
    return edit


def _params(pkg: Package) -> str:
    return pkg.sheet_part("Parameters")


def _sst(pkg: Package) -> str | None:
    return "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in pkg.parts else pkg.sheet_part("Parameters")


def _bytes_edit(part_of, fn):
    def edit(pkg: Package) -> None:
        part = part_of(pkg)
        pkg.parts[part] = fn(pkg.parts[part])
    return edit


def _drop(part_of):
    def edit(pkg: Package) -> None:
        del pkg.parts[part_of(pkg)]
    return edit


def _chart_parameters(pkg: Package) -> None:
    rels = pkg.xml("xl/_rels/workbook.xml.rels")
    part = pkg.sheet_part("Parameters")
    target = part[3:]
    rels = re.sub(r'(<Relationship [^>]*Type=")[^"]*worksheet("[^>]*Target="/?(?:xl/)?%s")' % re.escape(target),
                  r"\1http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet\2", rels)
    rels = re.sub(r'(<Relationship [^>]*Target="/?(?:xl/)?%s"[^>]*Type=")[^"]*worksheet(")' % re.escape(target),
                  r"\1http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet\2", rels)
    pkg.set_xml("xl/_rels/workbook.xml.rels", rels)


XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')

XML_DAMAGE: dict[str, Callable[[Package], None]] = {
    "sheet truncated": _bytes_edit(_params, lambda b: b[: len(b) // 2]),
    "sheet empty": _bytes_edit(_params, lambda b: b""),
    "workbook.xml truncated": _bytes_edit(lambda p: "xl/workbook.xml", lambda b: b[: len(b) // 2]),
    "workbook rels missing": _drop(lambda p: "xl/_rels/workbook.xml.rels"),
    "styles truncated": _bytes_edit(lambda p: "xl/styles.xml", lambda b: b[: len(b) // 2]),
    "shared strings or sheet truncated": _bytes_edit(_sst, lambda b: b[: len(b) // 2]),
    "control character": _bytes_edit(_sst, lambda b: b.replace(b"c_ward_day", b"c_ward\x01day", 1)),
    "undefined entity": _bytes_edit(_sst, lambda b: b.replace(b"c_ward_day", b"c_ward&nbsp;day", 1)),
    "invalid UTF-8": _bytes_edit(_sst, lambda b: b.replace(b"c_ward_day", b"c_ward\xff\xfeday", 1)),
    "XXE": _bytes_edit(_sst, lambda b: XXE.encode() + re.sub(rb"^<\?xml[^>]*\?>", b"", b).replace(b"c_ward_day", b"&xxe;", 1)),
    "entity expansion": _bytes_edit(_sst, lambda b: LAUGHS.encode() + re.sub(rb"^<\?xml[^>]*\?>", b"", b).replace(b"c_ward_day", b"&d;", 1)),
    "style index out of range": _bytes_edit(_params, lambda b: b.replace(b'<c r="B3"', b'<c r="B3" s="9999"', 1)),
    "shared string index out of range": _bytes_edit(_params, lambda b: b.replace(b'<c r="B3"><v>', b'<c r="B3" t="s"><v>99999', 1)
                                                    .replace(b'<c r="B3" t="n"><v>', b'<c r="B3" t="s"><v>99999', 1)),
    "number that is not one": _bytes_edit(_params, lambda b: re.sub(rb'(<c r="B3"[^>]*><v>)[^<]*', rb"\1twelve", b, count=1)),
    "cell reference not a cell": _bytes_edit(_params, lambda b: b.replace(b'<c r="B3"', b'<c r="3B"', 1)),
    "cell beyond the grid": _bytes_edit(_params, lambda b: b.replace(b'<c r="B3"', b'<c r="B9999999"', 1)),
    "sheet part missing": _drop(_params),
    "chart sheet named Parameters": _chart_parameters,
    "ok: comments damaged": _bytes_edit(lambda p: next(n for n in p.parts if n.startswith("xl/comments")), lambda b: b[:10]),
    "ok: document properties damaged": _bytes_edit(lambda p: "docProps/core.xml", lambda b: b"<<<"),
    "ok: theme damaged": _bytes_edit(lambda p: "xl/theme/theme1.xml", lambda b: b"\xff\xfe"),
    "ok: unknown part": lambda p: p.parts.__setitem__("xl/unknown.bin", b"\0" * 100),
}


# -- judging one case -----------------------------------------------------------------------------

#: The most characters of one problem line (docs/robustness.md: about 200, long text cut).
MAX_MESSAGE = 260
FILE_LEVEL = ("an Excel workbook (.xlsx) that can be opened", "an existing input workbook (.xlsx)",
              "an input workbook (.xlsx)", "a workbook of at most 1,000,000 distinct texts (docs/robustness.md)")


def judge(path: Path, expect: str, timeout: float = 10.0) -> tuple[str, str]:
    """('ok', '') if ``hta validate`` handles ``path`` as ``expect`` says, else (defect, detail).

    error: exit status 2, no traceback, no warning, every problem names the workbook and a sheet
    and cell (or, for the whole file, says what the file is), each line at most MAX_MESSAGE
    characters, no file written. valid: exit status 0 and no problem.
    """
    import contextlib
    import signal

    from hta.app.cli import main
    from hta.excel.reader import validate

    class _Timeout(Exception):
        pass

    def alarm(*_):
        raise _Timeout()

    before = set(path.parent.iterdir())
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path)])
            problems = validate(path)
    except _Timeout:
        return "hang", f"more than {timeout:g} s"
    except BaseException as exc:  # noqa: BLE001 - any escape is the defect we look for
        return "traceback", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    text = err.getvalue()
    if set(path.parent.iterdir()) != before:
        return "files written", str(sorted(set(path.parent.iterdir()) - before))
    if "Traceback" in text or "Warning" in text:
        return "traceback", text[:300]
    if expect == VALID:
        if code == 0 and not problems:
            return "ok", ""
        return "refused valid", text[:300]
    if code == 0 or not problems:
        return "silently accepted", out.getvalue()[:200]
    if code != 2:
        return "wrong exit status", f"{code}"
    for p in problems:
        line = f"  - {p}"
        if len(line) > MAX_MESSAGE:
            return "long message", f"{len(line)} characters: {line[:120]}"
        if p.workbook != path.name:
            return "no location", line
        if not p.sheet and not p.cell and p.expected not in FILE_LEVEL:
            return "no location", line
        if not p.expected.strip() or not p.found.strip():
            return "no location", line
    return "ok", ""
