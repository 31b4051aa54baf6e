"""Tests of the results workbook writer (hta.excel.writer).

Facts about the file format checked here come from ECMA-376 (Office Open XML) part 1:
a formula is stored in a <c:f>/<f> element (18.3.1.40), a string typed cell has t="inlineStr"
or t="s" (18.18.11), the "quote prefix" of an xf (18.8.45) marks text entered with a leading
apostrophe, and chart XML uses c:scatterChart / c:barChart with c:barDir, c:overlap, c:delete.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from hta.errors import HtaError
from hta.excel import writer
from hta.excel.writer import Chart, Sheet, excel_sheet_name, read_back, write_workbook

# Floats whose shortest repr needs 17 significant digits: "%.16g" (openpyxl's default) would
# change them, so they prove that the writer stores the exact double.
AWKWARD_FLOATS = [0.1 + 0.2, 1 / 3, 2 / 3 * 1e-7, 123456.78901234567, -9.87654321012345e17,
                  5e-324, 1.0, 0.0, -0.5]
INJECTIONS = ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@SUM(A1)",
              "\tTAB", "\rCR", "=1+1", "#N/A"]


def _results_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "Strategy": ["Standard care", "CAR-T", "Bortezomib", "n/a", "None"],
        "Cost": [120_000.0, 1_234_567.891, np.nan, 250_000.5, 1e9],
        "QALYs": [1.2345678901234567, 2.5, 0.1 + 0.2, np.nan, 0.0],
        "Cycles": np.array([10, 20, 30, 40, 50], dtype=np.int64),
        "Dominated": [False, False, True, False, True],
        "Start": pd.to_datetime(["2024-01-01", "2024-02-29", "2024-03-31", "2025-12-31",
                                 "2026-06-30"]),
        "Prob": [0.0, 0.25, 0.5, 0.75, 1.0],
    })


def _sheet_xml(path: Path, index: int) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{index}.xml").decode()


NS = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
      "a": "http://schemas.openxmlformats.org/drawingml/2006/main"}


def _val(node, path: str, attr: str | None = None):
    found = node.find(path, NS)
    if found is None:
        return None
    return found.get(attr) if attr else found.text


def _attr(node, path: str):
    return _val(node, path, "val")


def _titles(axis) -> str:
    return "".join(t.text for t in axis.iter(f"{{{NS['a']}}}t"))


def _chart_xmls(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode() for n in z.namelist()
                if re.fullmatch(r"xl/charts/chart\d+\.xml", n)}


# ----------------------------------------------------------------------------- round trip


def test_round_trip_mixed_types_with_read_back_and_pandas(tmp_path):
    results = _results_frame()
    floats = pd.DataFrame({"x": AWKWARD_FLOATS, "label": [f"v{i}" for i in range(9)]})
    by_strategy = results.set_index("Strategy")[["Cost", "QALYs"]]
    path = write_workbook(tmp_path / "out.xlsx", [
        Sheet("Results", results, formats={"Cost": "money", "QALYs": "qaly", "Prob": "pct"},
              title="Base case", notes=["Discounted at 3% a year", "Prices in HK$ (2024)"]),
        Sheet("Floats", floats, formats={"x": "float"}),
        Sheet("Indexed", by_strategy, index=True),
    ])
    assert path == tmp_path / "out.xlsx" and path.is_file()

    back = read_back(path)
    assert list(back) == ["Results", "Floats", "Indexed"]
    pd.testing.assert_frame_equal(back["Results"], results, check_exact=True)
    # bit-exact doubles, including those that need 17 significant digits
    assert back["Floats"]["x"].to_numpy().tobytes() == np.array(AWKWARD_FLOATS).tobytes()
    pd.testing.assert_frame_equal(back["Indexed"], by_strategy.reset_index(), check_exact=True)

    # pandas alone, skipping the title, two notes and the blank row on 'Results'
    plain = pd.read_excel(path, sheet_name=None, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(plain["Floats"], floats, check_exact=True)
    titled = pd.read_excel(path, sheet_name="Results", header=4, keep_default_na=False,
                           na_values=[""])
    pd.testing.assert_frame_equal(titled, results, check_exact=True)


def test_nan_and_infinity_are_written_as_empty_cells(tmp_path):
    frame = pd.DataFrame({"ICER": [np.inf, -np.inf, np.nan, 42.0],
                          "text": ["a", None, np.nan, "d"],
                          "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
                          "when": pd.to_datetime(["2024-01-01", None, "2024-01-03",
                                                  "2024-01-04"])})
    path = write_workbook(tmp_path / "nan.xlsx", [Sheet("S", frame)])
    ws = openpyxl.load_workbook(path)["S"]
    assert [ws.cell(r, 1).value for r in range(2, 6)] == [None, None, None, 42.0]
    assert [ws.cell(r, 2).value for r in range(2, 6)] == ["a", None, None, "d"]
    assert [ws.cell(r, 3).value for r in range(2, 6)] == [1, None, 3, 4]
    assert ws.cell(3, 4).value is None and ws.cell(2, 4).value == dt.datetime(2024, 1, 1)
    back = read_back(path)["S"]
    assert back["ICER"].isna().tolist() == [True, True, True, False]


def test_empty_table_and_zero_row_chart(tmp_path):
    empty = pd.DataFrame({"t": pd.Series([], dtype=float), "S": pd.Series([], dtype=float)})
    path = write_workbook(tmp_path / "e.xlsx", [
        Sheet("Empty", empty, charts=[Chart("line", "nothing yet", "t", ["S"])]),
        Sheet("About", pd.DataFrame(), title="About this workbook", notes=["hta results"]),
    ])
    back = read_back(path)
    assert list(back["Empty"].columns) == ["t", "S"] and len(back["Empty"]) == 0
    assert back["About"].empty
    assert _chart_xmls(path) == {}  # no chart over an empty range
    assert openpyxl.load_workbook(path)["About"]["A1"].value == "About this workbook"


# ----------------------------------------------------------------------------- formats


def test_number_formats_header_style_filter_and_frozen_panes(tmp_path):
    results = _results_frame()
    wide = pd.DataFrame(np.arange(30.0).reshape(3, 10), columns=[f"c{i}" for i in range(10)])
    path = write_workbook(tmp_path / "f.xlsx", [
        Sheet("Results", results,
              formats={"Cost": "money", "QALYs": "qaly", "Prob": "pct", "Cycles": "int"},
              title="Base case", notes=["note 1", "note 2"]),
        Sheet("Plain", results[["Strategy", "Cost"]], formats={"Cost": "money2"}),
        Sheet("Wide", wide, formats={"c0": '0.00" yrs"'}),
        Sheet("Indexed", results.set_index("Strategy")[["Cost"]], index=True),
    ], currency_symbol="US$")
    wb = openpyxl.load_workbook(path)

    ws = wb["Results"]
    # title row 1, notes rows 2-3, blank row 4, header row 5, data from row 6
    assert ws["A1"].value == "Base case" and ws["A1"].font.b
    assert ws["A2"].value == "note 1" and ws["A2"].font.i
    assert [c.value for c in ws[5]] == list(results.columns)
    assert all(c.font.b and c.fill.fgColor.rgb.endswith("DDEBF7") for c in ws[5])
    assert ws.freeze_panes == "A6"
    assert ws.auto_filter.ref == "A5:G10"
    assert ws["B6"].number_format == '"US$"#,##0'
    assert ws["C6"].number_format == "0.000"
    assert ws["D6"].number_format == "#,##0"
    assert ws["F6"].number_format == "yyyy-mm-dd"
    assert ws["G6"].number_format == "0.0%"
    assert ws.print_title_rows == "$5:$5"

    assert wb["Plain"].freeze_panes == "A2" and wb["Plain"]["B2"].number_format == \
        '"US$"#,##0.00'
    assert wb["Wide"].freeze_panes == "B2"  # more than 8 columns: first column frozen too
    assert wb["Wide"]["A2"].number_format == '0.00" yrs"'
    assert wb["Wide"]["B2"].number_format == "General"
    assert wb["Indexed"].freeze_panes == "B2"  # the index column stays in view


def test_column_widths_follow_content_and_are_capped(tmp_path):
    frame = pd.DataFrame({"id": [1, 2], "Description": ["x" * 200, "short"],
                          "Total cost": [1_234_567_890.0, 5.0], "p": [0.5, 0.25]})
    path = write_workbook(tmp_path / "w.xlsx", [
        Sheet("W", frame, formats={"Total cost": "money", "p": "prob"})])
    dims = openpyxl.load_workbook(path)["W"].column_dimensions
    assert dims["A"].width == writer.MIN_COLUMN_WIDTH
    assert dims["B"].width == writer.MAX_COLUMN_WIDTH
    assert dims["C"].width >= len("HK$1,234,567,890")
    assert writer.MIN_COLUMN_WIDTH <= dims["D"].width < 12


def test_default_money_format_uses_hong_kong_dollars(tmp_path):
    path = write_workbook(tmp_path / "m.xlsx",
                          [Sheet("M", pd.DataFrame({"c": [1.5]}), formats={"c": "money"})])
    assert openpyxl.load_workbook(path)["M"]["A2"].number_format == '"HK$"#,##0'


# ----------------------------------------------------------------------------- charts


def test_native_charts_reference_the_sheet_ranges(tmp_path):
    rng = np.random.default_rng(20240601)
    n = 10_000
    plane = pd.DataFrame({"dQALY": rng.normal(0.4, 0.2, n), "dCost": rng.normal(3e5, 1e5, n)})
    t = np.linspace(0, 10, 121)
    curves = pd.DataFrame({"Years": t, "PFS": np.exp(-0.4 * t), "OS": np.exp(-0.2 * t)})
    tornado = pd.DataFrame({"Parameter": ["Price", "HR OS"], "Low": [2e5, 3e5],
                            "High": [6e5, 5e5]})
    path = write_workbook(tmp_path / "c.xlsx", [
        Sheet("CE plane", plane, formats={"dCost": "money"},
              charts=[Chart("scatter", "CE plane", "dQALY", ["dCost"],
                            x_title="Incremental QALYs", y_title="Incremental cost")]),
        Sheet("Survival", curves, charts=[
            Chart("line", "Survival", "Years", ["PFS", "OS"], y_title="Proportion",
                  y_number_format="pct", y_min=0, y_max=1),
            Chart("line", "OS only", "Years", ["OS"], anchor="H30")]),
        Sheet("Tornado", tornado, charts=[
            Chart("bar", "Tornado", "Parameter", ["Low", "High"], base_value=4e5)]),
    ])
    charts = [ET.fromstring(x) for x in _chart_xmls(path).values()]
    assert len(charts) == 4
    by_title = {"".join(t.text for t in c.find("c:chart/c:title", NS).iter(f"{{{NS['a']}}}t")): c
                for c in charts}

    plane_xml = by_title["CE plane"]
    (plot,) = plane_xml.find("c:chart/c:plotArea", NS).findall("c:scatterChart", NS)
    (series,) = plot.findall("c:ser", NS)
    assert _val(series, "c:xVal/c:numRef/c:f") == "'CE plane'!$A$2:$A$10001"  # all points
    assert _val(series, "c:yVal/c:numRef/c:f") == "'CE plane'!$B$2:$B$10001"
    assert _val(series, "c:tx/c:strRef/c:f").replace("$", "") == "'CE plane'!B1"
    assert _attr(series, "c:marker/c:symbol") == "circle"
    assert series.find("c:spPr/a:ln/a:noFill", NS) is not None  # markers only, no line
    axes = plane_xml.findall("c:chart/c:plotArea/c:valAx", NS)
    assert [_val(a, "c:numFmt", "formatCode") for a in axes] == [None, '"HK$"#,##0']
    assert [_titles(a) for a in axes] == ["Incremental QALYs", "Incremental cost"]

    survival_xml = by_title["Survival"]
    (plot,) = survival_xml.find("c:chart/c:plotArea", NS).findall("c:scatterChart", NS)
    series = plot.findall("c:ser", NS)
    assert [_val(s, "c:yVal/c:numRef/c:f") for s in series] == [
        "'Survival'!$B$2:$B$122", "'Survival'!$C$2:$C$122"]
    assert {_val(s, "c:xVal/c:numRef/c:f") for s in series} == {"'Survival'!$A$2:$A$122"}
    assert [_attr(s, "c:marker/c:symbol") for s in series] == ["none", "none"]  # lines only
    assert [_attr(s, "c:smooth") for s in series] == ["0", "0"]
    y_axis = survival_xml.findall("c:chart/c:plotArea/c:valAx", NS)[1]
    assert (_attr(y_axis, "c:scaling/c:min"), _attr(y_axis, "c:scaling/c:max")) == ("0", "1")
    assert _val(y_axis, "c:numFmt", "formatCode") == "0.0%"

    bar_xml = by_title["Tornado"]
    plot = bar_xml.find("c:chart/c:plotArea/c:barChart", NS)
    assert (_attr(plot, "c:barDir"), _attr(plot, "c:overlap")) == ("bar", "100")
    assert [_val(s, "c:cat/c:numRef/c:f") or _val(s, "c:cat/c:strRef/c:f")
            for s in plot.findall("c:ser", NS)] == ["'Tornado'!$A$2:$A$3"] * 2
    cat_axis = bar_xml.find("c:chart/c:plotArea/c:catAx", NS)
    assert float(_attr(cat_axis, "c:crossesAt")) == 4e5  # bars start at the base value
    assert _attr(cat_axis, "c:scaling/c:orientation") == "maxMin"  # first row on top

    for chart in charts:
        area = chart.find("c:chart/c:plotArea", NS)
        axes = [a for a in area if a.tag.endswith(("valAx", "catAx"))]
        assert len(axes) == 2 and all(_attr(a, "c:delete") == "0" for a in axes)
        assert _attr(chart, "c:chart/c:legend/c:legendPos") == "b"

    # anchors: default right of the table below the header, or the given cell
    ws = openpyxl.load_workbook(path)["Survival"]
    starts = sorted((c.anchor._from.col, c.anchor._from.row) for c in ws._charts)
    assert starts == [(4, 1), (7, 29)]  # E2 (zero-based col 4, row 1) and H30


def test_chart_errors_name_the_chart(tmp_path):
    frame = pd.DataFrame({"t": [0.0, 1.0], "S": [1.0, 0.5], "label": ["a", "b"]})
    bad = [Chart("pie", "P", "t", ["S"]), Chart("line", "Missing", "t", ["OS"]),
           Chart("line", "Text y", "t", ["label"]), Chart("line", "Base", "t", ["S"],
                                                          base_value=1.0),
           Chart("line", "Limits", "t", ["S"], y_min=1, y_max=0),
           Chart("line", "Anchor", "t", ["S"], anchor="not a cell")]
    for chart in bad:
        with pytest.raises(HtaError, match=re.escape(repr(chart.title))):
            write_workbook(tmp_path / "x.xlsx", [Sheet("S", frame, charts=[chart])])
    assert not (tmp_path / "x.xlsx").exists()


# ----------------------------------------------------------------------------- injection


def test_formula_like_text_is_stored_as_quoted_text(tmp_path):
    frame = pd.DataFrame({"Label": INJECTIONS, "=Header": range(len(INJECTIONS))})
    path = write_workbook(tmp_path / "inj.xlsx", [Sheet("Inj", frame, title="=TITLE()",
                                                        notes=["-note"])])
    xml = _sheet_xml(path, 1)
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere
    assert 't="e"' not in xml  # "#N/A" is text, not an error value
    wb = openpyxl.load_workbook(path)
    ws = wb["Inj"]
    header_row = 4
    labels = [ws.cell(r, 1) for r in range(header_row + 1, header_row + 1 + len(INJECTIONS))]
    # a carriage return is stored as a line feed (XML end-of-line handling)
    as_stored = [s.replace("\r", "\n") for s in INJECTIONS]
    assert [c.value for c in labels] == as_stored
    assert all(c.data_type == "s" for c in labels)
    assert [c.quotePrefix for c in labels] == [s[0] in "=+-@\t\r" for s in INJECTIONS]
    assert ws.cell(header_row, 2).value == "=Header" and ws.cell(header_row, 2).quotePrefix
    assert ws["A1"].value == "=TITLE()" and ws["A1"].quotePrefix and ws["A2"].quotePrefix
    assert read_back(path)["Inj"]["Label"].tolist() == as_stored
    via_pandas = pd.read_excel(path, header=header_row - 1, keep_default_na=False)
    assert via_pandas["Label"].tolist() == as_stored


def test_text_excel_cannot_store_is_an_error(tmp_path):
    for text, what in [("bell\x07", "control character"), ("x" * 32768, "32767")]:
        with pytest.raises(HtaError, match=what):
            write_workbook(tmp_path / "t.xlsx", [Sheet("T", pd.DataFrame({"a": [text]}))])
    assert not (tmp_path / "t.xlsx").exists()


# ----------------------------------------------------------------------------- atomic write


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_failing_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "results.xlsx"
    good = [Sheet("A", pd.DataFrame({"x": [1.0]}))]

    def broken_save(self, filename):
        Path(filename).write_bytes(b"PK half a workbook")
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(openpyxl.Workbook, "save", broken_save)
        with pytest.raises(RuntimeError, match="disk full"):
            write_workbook(target, good)
    assert _leftovers(tmp_path, set()) == []

    write_workbook(target, good)
    before = target.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(openpyxl.Workbook, "save", broken_save)
        with pytest.raises(RuntimeError):
            write_workbook(target, [Sheet("B", pd.DataFrame({"y": [2.0]}))])
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"results.xlsx"}) == []


def test_unwritable_value_is_reported_and_nothing_is_written(tmp_path):
    target = tmp_path / "results.xlsx"
    write_workbook(target, [Sheet("A", pd.DataFrame({"x": [1.0]}))])
    before = target.read_bytes()
    frame = pd.DataFrame({"ok": [1, 2], "bad": [3, object()]})
    with pytest.raises(HtaError, match=r"sheet 'B', column 'bad', row 2"):
        write_workbook(target, [Sheet("B", frame)])
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"results.xlsx"}) == []


def test_new_file_gets_ordinary_permissions(tmp_path):
    path = write_workbook(tmp_path / "p.xlsx", [Sheet("A", pd.DataFrame({"x": [1]}))])
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0o600


# ----------------------------------------------------------------------------- names, errors


def test_sheet_names_are_sanitised_and_must_be_unique(tmp_path):
    assert excel_sheet_name("PSA: CE plane [10k]?") == "PSA- CE plane -10k--"
    assert excel_sheet_name("'quoted'") == "quoted"
    assert len(excel_sheet_name("x" * 40)) == 31
    for bad in ["", "///"[:0], "  ", "History"]:
        with pytest.raises(HtaError, match="sheet name"):
            excel_sheet_name(bad)
    frame = pd.DataFrame({"x": [1]})
    path = write_workbook(tmp_path / "n.xlsx", [Sheet("a/b", frame)])
    assert list(read_back(path)) == ["a-b"]
    with pytest.raises(HtaError, match="unique"):
        write_workbook(tmp_path / "d.xlsx", [Sheet("Results", frame), Sheet("results", frame)])
    with pytest.raises(HtaError, match="unique"):
        write_workbook(tmp_path / "d.xlsx", [Sheet("a:b", frame), Sheet("a/b", frame)])
    assert not (tmp_path / "d.xlsx").exists()


@pytest.mark.parametrize("sheets, match", [
    ([Sheet("S", pd.DataFrame({"x": [1.0]}), formats={"x": "mony"})], "mony"),
    ([Sheet("S", pd.DataFrame({"x": [1.0]}), formats={"y": "money"})], r"\['y'\]"),
    ([Sheet("S", pd.DataFrame([[1, 2]], columns=["a", "a"]))], "duplicates"),
    ([Sheet("S", pd.DataFrame({"t": pd.to_datetime(["2024-01-01"]).tz_localize("UTC")}))],
     "time zones"),
    ([Sheet("S", [1, 2])], "DataFrame"),
    ([], "at least one sheet"),
])
def test_bad_sheets_raise_readable_errors(tmp_path, sheets, match):
    with pytest.raises(HtaError, match=match):
        write_workbook(tmp_path / "e.xlsx", sheets)
    assert not (tmp_path / "e.xlsx").exists()


def test_destination_must_be_xlsx(tmp_path):
    with pytest.raises(HtaError, match=r"\.xlsx"):
        write_workbook(tmp_path / "e.xls", [Sheet("S", pd.DataFrame({"x": [1]}))])


# ----------------------------------------------------------------------------- LibreOffice


def _soffice(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / f"lo_profile_{uuid.uuid4().hex}"
    return subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", *args],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice on PATH; Debian: apt-get install libreoffice-calc-nogui)")
def test_libreoffice_opens_the_workbook_and_prints_the_charts(tmp_path):
    t = np.linspace(0, 10, 41)
    rng = np.random.default_rng(7)
    path = write_workbook(tmp_path / "lo.xlsx", [
        Sheet("Injection", pd.DataFrame({"Label": INJECTIONS[:4], "Value": [1.0, 2, 3, 4]})),
        Sheet("Survival", pd.DataFrame({"Years": t, "PFS": np.exp(-0.4 * t),
                                        "OS": np.exp(-0.2 * t)}),
              formats={"PFS": "prob", "OS": "prob"}, title="Survival",
              charts=[Chart("line", "PFS and OS", "Years", ["PFS", "OS"], y_min=0, y_max=1)]),
        Sheet("CE plane", pd.DataFrame({"dQALY": rng.normal(0.4, 0.2, 300),
                                        "dCost": rng.normal(3e5, 1e5, 300)}),
              formats={"dCost": "money"},
              charts=[Chart("scatter", "CE plane", "dQALY", ["dCost"])]),
        Sheet("Tornado", pd.DataFrame({"Parameter": ["Price", "HR"], "Low": [2e5, 3e5],
                                       "High": [6e5, 5e5]}), formats={"Low": "money"},
              charts=[Chart("bar", "Tornado", "Parameter", ["Low", "High"], base_value=4e5)]),
    ])
    out = tmp_path / "pdf"
    done = _soffice(["--convert-to", "pdf", "--outdir", str(out), str(path)], tmp_path)
    pdf = out / "lo.pdf"
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stdout.lower()
    assert pdf.is_file() and pdf.stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF")

    # LibreOffice's CSV export of the first sheet shows the injected text literally:
    # a formula would have been evaluated (HYPERLINK -> "click", +1 -> 1, @SUM -> error)
    done = _soffice(["--convert-to", "csv", "--outdir", str(tmp_path / "csv"), str(path)],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "csv" / "lo.csv").read_text().splitlines()
    assert lines[1].startswith('"=HYPERLINK(""http://evil.example"",""click"")"')
    assert [line.split(",")[0] for line in lines[2:5]] == ["+1", "-2", "@SUM(A1)"]


def test_wrapped_columns_and_status_fills(tmp_path):
    frame = pd.DataFrame({"check": ["a", "b"], "status": ["pass", "fail"],
                          "detail": ["short", "a long explanation " * 20]})
    path = write_workbook(tmp_path / "v.xlsx", [writer.verification_sheet(frame, title="Verification")])
    ws = openpyxl.load_workbook(path)["Verification"]
    header = 3  # title, blank row, header
    assert ws.cell(header + 2, 3).alignment.wrap_text and ws.cell(header + 2, 3).alignment.vertical == "top"
    assert ws.cell(header + 1, 2).alignment.vertical == "top" and not ws.cell(header + 1, 2).alignment.wrap_text
    assert ws.row_dimensions[header + 2].height > 15 and ws.row_dimensions[header + 1].height is None
    assert ws.cell(header + 1, 2).fill.fgColor.rgb.endswith("C6EFCE")
    assert ws.cell(header + 2, 2).fill.fgColor.rgb.endswith("FFC7CE")
    pd.testing.assert_frame_equal(read_back(path)["Verification"], frame)


@pytest.mark.parametrize("sheet, match", [
    (Sheet("S", pd.DataFrame({"a": [1]}), wrap=["b"]), "wrap given for columns"),
    (Sheet("S", pd.DataFrame({"a": [1]}), fills={"b": {"x": "FF0000"}}), "fills given for columns"),
    (Sheet("S", pd.DataFrame({"a": ["x"]}), fills={"a": {"x": "red"}}), "6-digit RGB hex colour"),
])
def test_bad_wrap_and_fills_name_the_sheet(tmp_path, sheet, match):
    with pytest.raises(HtaError, match=match):
        write_workbook(tmp_path / "x.xlsx", [sheet])
    assert not (tmp_path / "x.xlsx").exists()
