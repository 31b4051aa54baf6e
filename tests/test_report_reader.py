"""The results as an HA reviewer reads them (issue 20): the decision dashboard, human labels,
number formats, a printable workbook, a short console with progress, and the errors and
plausibility warnings users need.

References: the HIV model is Chancellor et al. (1997) as in Briggs, Claxton & Sculpher (2006),
exercise 2.5 (a Markov model with no survival curves); the flagship is scenarios/base_case.py
(base-case ICER HK$644,808 per QALY, docs/flagship.md). Page and size limits are the issue's
(at most 40 A4 pages and 10 MB printed by LibreOffice).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest

from hta.analysis import OneWay, Psa, analyse
from hta.analysis.evaluate import FunctionModel
from hta.analysis.plan import Execution
from hta.app.cli import main
from hta.app.progress import StepProgress
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError
from hta.inputs import Settings
from hta.report import plausibility
from hta.report.labels import Labeller, raw_identifiers
from hta.report.publish import check_output_folder, publish
from hta.report.section import money
from models import hiv_chancellor as hiv

ROOT = Path(__file__).resolve().parents[1]
EXEMPT = {"Inputs", "Run info", "BIA inputs"}  # the input listings: identifiers on purpose


def _settings(wtp=(("WTP", 20000.0),)):
    return Settings(horizon_years=20, cycle="year", discount_costs=0.035, discount_outcomes=0.035,
                    within_cycle="none", start_age=40, male_share=0.5, wtp=tuple(wtp), sources={})


@dataclass(frozen=True)
class SmallMarkov(FunctionModel):
    """The HIV Markov model (20 annual cycles) as a FunctionModel with its time grid."""

    grid: object = field(default_factory=lambda: CycleGrid(1.0, 20))


def _hiv(wtp=(("WTP", 20000.0),)):
    return SmallMarkov("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate,
                       settings=_settings(wtp))


def _data_sheet(ws) -> bool:
    """A data sheet: its print area is a single empty cell (not printed)."""
    area = ws.print_area
    area = area[0] if isinstance(area, list) else area
    return bool(area) and ":" not in str(area).split("!")[-1]


def _cells(path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    yield ws, c


def _chart_texts(path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return [t for n in z.namelist() if n.startswith("xl/charts/chart")
                for t in re.findall(r"<a:t>([^<]*)</a:t>", z.read(n).decode())]


# ------------------------------------------------------------------ a small Markov model publishes


def test_markov_model_without_survival_budget_or_psa_publishes_a_dashboard(tmp_path, capsys):
    results = analyse(_hiv(), OneWay(), name="hiv", title="HIV: combination vs monotherapy")
    paths = publish(results, tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "hiv.xlsx")
    assert wb.sheetnames[:2] == ["Decision", "Contents"]
    text = " ".join(str(c.value) for c in wb["Decision"]["A"] if c.value is not None)
    inc = results.incremental.dropna(subset=["icer"]).iloc[0]
    assert money(inc["icer"]) in text  # the ICER with its value
    assert "Main drivers" in text and "Threshold price" not in text and "Budget impact" not in text
    assert "Uncertainty" not in text
    assert len(wb["Decision"]._charts) == 1  # the tornado (no PSA: no CEAC)
    out = capsys.readouterr().out
    assert money(inc["icer"]) in out and len(out.splitlines()) <= 40
    assert any(p.name == "hiv.xlsx" for p in paths)


def test_console_lengths_quiet_default_verbose(tmp_path, capsys):
    results = analyse(_hiv(), OneWay(), Psa(draws=400), name="hiv", title="HIV")
    lines = {}
    for mode in ("quiet", "default", "verbose"):
        paths = publish(results, tmp_path / mode, quiet=mode == "quiet", verbose=mode == "verbose")
        lines[mode] = capsys.readouterr().out.splitlines()
    assert len(lines["quiet"]) == 1 + len(paths)  # the headline and the file paths
    assert lines["quiet"][0].startswith("Base case") and "ICER" in lines["quiet"][0]
    assert len(lines["quiet"]) < len(lines["default"]) <= 40 < len(lines["verbose"]) or \
        len(lines["default"]) < len(lines["verbose"])
    assert any(line.startswith("Results in") for line in lines["default"])
    assert not any("HK$-" in line for mode in lines for line in lines[mode])  # money one way: -HK$x


def test_money_sign_comes_first():
    assert money(-536889.4) == "-HK$536,889"
    assert money(1671118.6) == "HK$1,671,119"
    assert money(float("nan")) == "n/a"


def test_step_progress_prints_a_line_per_step_off_a_terminal(capsys):
    stream = SimpleNamespace(isatty=lambda: False, write=sys.stdout.write, flush=sys.stdout.flush)
    steps = StepProgress(stream=stream)
    seen = []
    execution = Execution(on_step=lambda *a: (seen.append(a[:3]), steps(*a)))
    r1 = analyse(_hiv(), OneWay(), name="hiv", execution=execution)
    r0 = analyse(_hiv(), OneWay(), name="hiv")
    assert [s for s in seen if s[0] == "start"] == [("start", "base case", 0), ("start", "tornado", 1)]
    assert steps.lines == ["hta: [0/1] base case ...", "hta: [1/1] one-way analysis ..."]
    pd.testing.assert_frame_equal(r1.summary, r0.summary)  # progress never changes a result


# ------------------------------------------------------------------ labels


def test_parameter_labels_are_descriptions_with_units():
    from hta import read_inputs
    from models import fucaso_rrmm

    lab = Labeller(fucaso_rrmm.build(read_inputs(ROOT / "inputs" / "fucaso_hk.xlsx")))
    assert lab.param("c_eqcel_price") == "Eque-cel acquisition price (HK$ per patient)"
    assert lab.param("surv_eqcel_pfs_log_scale") == "Eque-cel (Fucaso) PFS: log scale"
    assert lab.column("inc_cost") == "Incremental costs (HK$)"
    assert lab.column("p_ce_395437") == "P(cost-effective) at HK$395,437/QALY"
    assert lab.text("Threshold c_eqcel_price (HK$)") == "Threshold Eque-cel acquisition price (HK$ per patient) (HK$)"
    assert not any(raw_identifiers(v, lab) for v in lab.params.values())
    assert raw_identifiers("inc_cost", lab) == ["inc_cost"] and raw_identifiers("eqcel", lab) == ["eqcel"]


# ------------------------------------------------------------------ errors and warnings of point 7


def _script(tmp_path, body: str) -> Path:
    path = tmp_path / "scenario_x.py"
    path.write_text("from hta import analyse\n\n\ndef run(context):\n" + body)
    return path


def test_script_error_names_script_line_and_cause(tmp_path, capsys):
    path = _script(tmp_path, "    names = ['base case']\n    pick = next(n for n in names if n == 'bsae case')\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}', line 6" in err and "StopIteration" in err and "next(n for n" in err


def test_misspelt_analyse_keyword_names_the_line(tmp_path, capsys):
    path = _script(tmp_path, "    return analyse(None, nme='x')\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "line 5" in err and "TypeError" in err and "nme" in err and "Traceback" not in err


def test_out_must_be_a_folder(tmp_path, capsys):
    path = _script(tmp_path, "    pass\n")
    assert main(["run", str(path), "--out", str(tmp_path / "my_results.xlsx")]) == 2
    assert "expected a folder name" in capsys.readouterr().err
    assert not (tmp_path / "my_results.xlsx").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(HtaError, match="expected a folder; found a file"):
        check_output_folder(tmp_path / "file")


def test_missing_distributed_extra_names_the_extra(monkeypatch):
    from hta.analysis import evaluate

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(HtaError, match=re.escape('pip install "hta[distributed]"')), evaluate._dask_client(None, 2):
        pass


def test_override_far_from_base_or_outside_its_range_warns():
    table = hiv.parameter_table()
    name = next(n for n in table.names if table[n].low < table[n].high)
    p = table[name]
    far = plausibility.override_warnings(table, {name: 10 * p.base}, "scenario 'x'")
    assert len(far) == 1 and "10 times its base case" in far[0]
    outside = plausibility.override_warnings(table, {name: p.high + 0.5 * (p.high - p.low)}, "scenario 'y'")
    if p.high * 1.0 <= 5 * abs(p.base):
        assert len(outside) == 1 and "outside its documented range" in outside[0]
    assert plausibility.override_warnings(table, {name: p.base}, "scenario 'z'") == []


def test_icer_beyond_ten_times_the_highest_wtp_warns_and_shows_on_the_dashboard(tmp_path, capsys):
    results = analyse(_hiv(wtp=(("low WTP", 100.0),)), name="hiv", title="HIV")
    icer = results.incremental["icer"].dropna().iloc[0]
    assert icer > 10 * 100.0
    warnings = plausibility.warnings_of(results)
    assert any("more than 10 times the highest WTP" in w for w in warnings)
    publish(results, tmp_path)
    assert "more than 10 times the highest WTP" in capsys.readouterr().out
    wb = openpyxl.load_workbook(tmp_path / "hiv.xlsx")
    assert any("more than 10 times the highest WTP" in str(c.value) for c in wb["Decision"]["A"])


def test_running_mean_settles_for_iid_draws_not_for_a_drift():
    rng = np.random.default_rng(1)
    assert plausibility.running_mean_unsettled(rng.normal(10, 1, 20000)) < plausibility.SETTLE_TOLERANCE
    drift = rng.normal(10, 1, 20000) + np.linspace(0, 20, 20000)  # the mean keeps moving
    assert plausibility.running_mean_unsettled(drift) > plausibility.SETTLE_TOLERANCE


def test_pfs_above_os_in_many_draws_warns(monkeypatch):
    crossing = pd.DataFrame([{"strategy": "eqcel", "earlier": "PFS", "later": "OS", "draws": 1000,
                              "share_over": 0.2, "n_over": 200}])
    outcomes = SimpleNamespace(crossing=lambda threshold: crossing)
    model = SimpleNamespace(parameters=SimpleNamespace(sample=lambda n, seed: n), evaluate=lambda batch: outcomes)
    psa = SimpleNamespace(n=5000, seed=1)
    assert plausibility.psa_crossing(model, psa) is crossing
    markov = SimpleNamespace(parameters=SimpleNamespace(sample=lambda n, seed: n),
                             evaluate=lambda batch: SimpleNamespace())
    assert plausibility.psa_crossing(markov, psa) is None
    results = analyse(_hiv(), Psa(draws=300), name="hiv")
    monkeypatch.setattr(plausibility, "psa_crossing", lambda model, psa: crossing)
    assert any("PFS above OS" in w and "20.0% of 1,000 draws" in w for w in plausibility.warnings_of(results))


# ------------------------------------------------------------------ the flagship workbook


@pytest.fixture(scope="module")
def flagship(tmp_path_factory):
    from hta.app.scripts import RunContext, load_script

    out = tmp_path_factory.mktemp("flagship")
    module = load_script(ROOT / "scenarios" / "base_case.py")
    results = module.run(RunContext(script=ROOT / "scenarios" / "base_case.py", out=out, quiet=True))
    return results, out / "base_case.xlsx"


@pytest.mark.slow
def test_first_sheet_states_icer_threshold_price_and_budget_impact(flagship):
    results, path = flagship
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "Decision"
    text = " ".join(str(c.value) for row in wb["Decision"].iter_rows() for c in row if c.value is not None)
    assert "ICER HK$644,808 per QALY gained" in text  # docs/flagship.md base case
    thr = results.analyses["threshold"].table
    assert "Threshold price" in text and money(thr["threshold"].iloc[0]) in text
    assert f"Net budget impact over 5 years (2026-2030, undiscounted): {money(results.analyses['bia'].net_total)}" in text
    assert "Warnings" in text


@pytest.mark.slow
def test_no_raw_identifier_in_tables_or_charts(flagship):
    from hta import read_inputs
    from models import fucaso_rrmm

    _, path = flagship
    lab = Labeller(fucaso_rrmm.build(read_inputs(ROOT / "inputs" / "fucaso_hk.xlsx")))
    found = [(ws.title, c.coordinate, c.value) for ws, c in _cells(path)
             if isinstance(c.value, str) and ws.title not in EXEMPT and not _data_sheet(ws)
             and raw_identifiers(c.value, lab)]
    assert found == []
    assert [t for t in _chart_texts(path) if raw_identifiers(t, lab)] == []


@pytest.mark.slow
def test_at_most_two_percent_of_non_integers_unformatted(flagship):
    _, path = flagship
    numbers = [(c.number_format == "General") for _, c in _cells(path)
               if isinstance(c.value, float) and not float(c.value).is_integer()]
    assert len(numbers) > 5000 and sum(numbers) / len(numbers) <= 0.02


@pytest.mark.slow
def test_flagship_summary_numbers_unchanged(flagship):
    # the numbers of docs/flagship.md (HK$644,808 per QALY), unchanged by the presentation
    results, path = flagship
    icer = results.incremental.dropna(subset=["icer"])["icer"].iloc[0]
    assert round(icer) == 644808
    wb = openpyxl.load_workbook(path)
    values = [c.value for row in wb["Summary"].iter_rows() for c in row]
    assert icer in values  # written at full precision


def _soffice_pdf(path: Path, tmp_path: Path) -> Path:
    proc = subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                          capture_output=True, text=True, timeout=600, check=False)
    pdf = tmp_path / (path.stem + ".pdf")
    assert proc.returncode == 0 and pdf.exists(), proc.stderr
    return pdf


def _pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_prints_at_most_40_pages_and_10_mb(flagship, tmp_path):
    _, path = flagship
    pdf = _soffice_pdf(path, tmp_path)
    assert 10 <= _pages(pdf) <= 40
    assert pdf.stat().st_size <= 10 * 1024 * 1024


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice (soffice) or pdftoppm not installed")
def test_dashboard_renders_on_one_page(tmp_path):
    # the dashboard sheet alone (small Markov model with one-way and PSA), printed by LibreOffice
    results = analyse(_hiv(), OneWay(), Psa(draws=300), name="hiv", title="HIV: combination vs monotherapy")
    publish(results, tmp_path / "out", figures=False)
    wb = openpyxl.load_workbook(tmp_path / "out" / "hiv.xlsx")
    assert wb.sheetnames[0] == "Decision"
    ws = wb["Decision"]
    assert ws.page_setup.fitToHeight == 1 and ws.page_setup.orientation == "landscape"
    pdf = _soffice_pdf(tmp_path / "out" / "hiv.xlsx", tmp_path)
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "60", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=120)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 10_000
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                          check=False).stdout \
        if shutil.which("pdftotext") else "Decision summary"
    assert "Decision summary" in text
