"""The `hta` command line: exit status 2 with one readable message and no files for user errors;
template, validate, fit and run on real inputs."""

import subprocess
import sys
from pathlib import Path

import broken_workbooks as bw
import openpyxl
import pandas as pd
import pytest

from hta.app.cli import main
from hta.survival.reconstruct import read_guyot_files

ROOT = Path(__file__).resolve().parents[1]
BONNER = Path(__file__).parent / "data" / "bonner2006"


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def files_in(directory: Path) -> list:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


@pytest.mark.parametrize("case", sorted(bw.BROKEN))
def test_validate_broken_workbook_exit_2_clear_message_no_traceback(case, tmp_path, capsys):
    broken = bw.BROKEN[case]
    path = broken.build(tmp_path)
    before = files_in(tmp_path)
    code, out, err = run_cli(["validate", path], capsys)
    assert code == 2
    assert "Traceback" not in err and err.startswith("hta: error:")
    assert path.name in err
    if broken.sheet:
        assert f"sheet '{broken.sheet}'" in err
    if broken.cell:
        assert f"cell {broken.cell}" in err
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("case", ["missing_sheet", "beta_mean_above_1", "formula_without_cached_value", "rising_km", "at_risk_rising"])
def test_run_with_broken_workbook_writes_nothing(case, tmp_path, capsys):
    path = bw.BROKEN[case].build(tmp_path)
    script = tmp_path / "scenario.py"
    script.write_text(
        "from hta.excel.reader import read_inputs\n"
        f"def run(context):\n    read_inputs(r'{path}')\n    raise AssertionError('should not get here')\n")
    out_dir = tmp_path / "results"
    code, out, err = run_cli(["run", script, "--out", out_dir], capsys)
    assert code == 2 and "Traceback" not in err
    assert not out_dir.exists()


def test_template_then_validate(tmp_path, capsys):
    path = tmp_path / "new.xlsx"
    assert run_cli(["template", path], capsys)[0] == 0
    wb = openpyxl.load_workbook(path)
    assert "README" in wb.sheetnames and "Parameters" in wb.sheetnames
    code, _, err = run_cli(["template", path], capsys)
    assert code == 2 and "existing file" in err
    code, _, err = run_cli(["validate", path], capsys)  # blank template: required settings missing
    assert code == 2 and "horizon_years" in err


def test_validate_flagship_inputs(capsys):
    code, out, _ = run_cli(["validate", ROOT / "inputs" / "fucaso_hk.xlsx"], capsys)
    assert code == 0 and "OK" in out


def test_missing_scenario_script(tmp_path, capsys):
    code, _, err = run_cli(["run", tmp_path / "nope.py"], capsys)
    assert code == 2 and "nope.py" in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def _bonner_workbook(directory: Path) -> Path:
    rows = bw.valid_rows()
    rows["Strategies"] = [["strategy", "label", "description"], ["rt", "RT", "radiotherapy"], ["rtcet", "RT+cetuximab", ""]]
    rows["Survival"] = [["strategy", "endpoint", "input", "distribution", "time_unit", "data_sheet", "n_at_risk_0",
                         "total_events", "description", "source"]]
    rows.pop("SurvivalCoefficients", None)
    for arm, stem in (("rt", "RT"), ("rtcet", "RTcetux")):
        km, nrisk = read_guyot_files(BONNER / f"guyot_bonner_{stem}_surv.txt", BONNER / f"guyot_bonner_{stem}_nrisk.txt")
        sheet = [["time", "survival", "at_risk_time", "n_at_risk"]]
        for i in range(max(len(km), len(nrisk))):
            sheet.append([km["time"].iloc[i] if i < len(km) else None, km["survival"].iloc[i] if i < len(km) else None,
                          nrisk["time"].iloc[i] if i < len(nrisk) else None,
                          int(nrisk["n_at_risk"].iloc[i]) if i < len(nrisk) else None])
        rows[f"KM_{stem}"] = sheet
        rows["Survival"].append([arm, "LRC", "km", None, "months", f"KM_{stem}", None, None, "locoregional control",
                                 "Bonner et al. NEJM 2006 (digitised, IPDfromKM)"])
    return bw.write_workbook(directory / "bonner.xlsx", rows)


def test_fit_reconstructs_and_fits_km_inputs(tmp_path, capsys):
    path = _bonner_workbook(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(["fit", path, "--out", out_dir], capsys)
    assert code == 0, err
    assert "rt LRC" in out and "lowest AIC" in out
    book = pd.read_excel(out_dir / "bonner_fits.xlsx", sheet_name=None, header=None)
    assert {"Fits", "Coefficients"} <= set(book)
    text = book["Fits"].astype(str).to_string()
    for dist in ("exponential", "weibull", "gompertz", "lognormal", "loglogistic", "gamma", "gengamma"):
        assert dist in text
    for arm in ("rt", "rtcet"):
        for kind in ("curves", "hazards", "logcumhaz"):
            assert (out_dir / f"fit_{arm}_LRC_{kind}.png").stat().st_size > 5000


def test_bundled_km_example_validates_and_fits(tmp_path, capsys):
    example = ROOT / "inputs" / "example_km_bonner2006.xlsx"
    assert run_cli(["validate", example], capsys)[0] == 0
    code, out, _ = run_cli(["fit", example, "--out", tmp_path], capsys)
    assert code == 0 and "rtcet LRC" in out
    # The raw digitisation's first point, at -0.512 months, is cleaned and the change reported,
    # on the console and in the Reconstruction sheet.
    assert "cleaned: set 1 negative time(s) to 0 (smallest -0.512" in out
    from hta.excel.writer import read_back

    rec = read_back(tmp_path / "example_km_bonner2006_fits.xlsx")["Reconstruction"].set_index("strategy")
    assert "negative time" in rec.loc["rt", "cleaning"] and "negative time" not in rec.loc["rtcet", "cleaning"]
    assert rec.loc["rt", "patients"] == 213 and rec.loc["rt", "max_abs_diff"] < 0.03


def test_fit_without_km_inputs_is_a_user_error(tmp_path, capsys):
    code, _, err = run_cli(["fit", ROOT / "inputs" / "fucaso_hk.xlsx", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "km or ipd" in err
    assert not (tmp_path / "o").exists()


def test_console_script_entry_point_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hta", "validate", str(tmp_path / "missing.xlsx")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "missing.xlsx" in proc.stderr
