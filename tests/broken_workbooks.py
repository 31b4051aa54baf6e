"""Small input workbooks for tests: one valid minimal workbook and one broken variant per
kind of user error.

Each builder takes a directory and returns the path of the workbook it wrote there. The
:data:`BROKEN` registry says, for each broken variant, where the reader must point (sheet and
cell) and fragments of the expected/found text it must show; the reader tests and the command
line tests both iterate over it.

The numbers are a test fixture, not evidence: sources say "test fixture".
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import openpyxl

Rows = list[list]

SOURCE = "test fixture (not evidence)"

SETTINGS: Rows = [
    ["setting", "value", "unit", "description", "source"],
    ["model", "test_model", "", "", ""],
    ["horizon_years", 20, "years", "", SOURCE],
    ["cycle", "month", "", "", ""],
    ["discount_costs", 0.03, "per annum", "", SOURCE],
    ["discount_outcomes", 0.03, "per annum", "", SOURCE],
    ["discount_method", "discrete", "", "", ""],
    ["within_cycle", "half-cycle", "", "", ""],
    ["currency", "HKD", "", "", ""],
    ["start_age", 60, "years", "", SOURCE],
    ["male_share", 0.55, "proportion", "", SOURCE],
    ["life_table", "hk-2020-2025", "", "", ""],
    ["seed", 2024, "", "", ""],
    ["psa_draws", 1000, "", "", ""],
    ["wtp_1", 400000, "HK$ per QALY", "1x test threshold", SOURCE],
    ["wtp_2", 1200000, "HK$ per QALY", "3x test threshold", SOURCE],
]

PARAMETER_HEADER = ["name", "value", "unit", "distribution", "se", "param_a", "param_b", "low",
                    "high", "group", "description", "source"]
#: Row 2 onwards of the Parameters sheet (the row number in Excel is index + 2).
PARAMETERS: Rows = [
    PARAMETER_HEADER,
    ["p_response", 0.6, "probability", "beta", 0.05, None, None, None, None, "efficacy",
     "Response probability", SOURCE],                                                   # row 2
    ["u_pfs", 0.75, "annual utility", "Beta", 0.03, None, None, None, None, "utility",
     "Utility progression-free", SOURCE],                                               # row 3
    ["c_drug", 1200000, "HK$ per course", None, None, None, None, None, None, "cost",
     "Drug acquisition", SOURCE],                                                       # row 4
    ["c_admin", 5000, "HK$ per cycle", "gamma", 1000, None, None, None, None, "cost",
     "Administration", SOURCE],                                                         # row 5
    ["hr_os", 0.7, "hazard ratio", "lognormal", None, math.log(0.7), 0.1, None, None,
     "efficacy", "Hazard ratio OS", SOURCE],                                            # row 6
    ["rr_scale", 1.0, "", "normal", 0.1, None, None, 0.8, 1.2, "", "", SOURCE],          # row 7
    ["p_uniform", 0.5, "probability", "uniform", None, 0.2, 0.8, None, None, "", "",
     "assumption: plausible range from clinical opinion"],                              # row 8
    ["t_mode", 3, "months", "triangular", None, 1, 5, None, None, "", "", SOURCE],      # row 9
    ["c_monitor", 2000, "HK$ per cycle", "gamma", None, 4, 500, None, None, "cost", "",
     SOURCE],                                                                           # row 10
]

DIRICHLET: Rows = [
    ["block", "name", "count", "description", "source"],
    ["best_response", "p_cr", 10, "complete response", SOURCE],
    ["best_response", "p_pr", 20, "partial response", SOURCE],
    ["best_response", "p_sd", 5, "stable disease", SOURCE],
]

STRATEGIES: Rows = [
    ["strategy", "label", "description"],
    ["soc", "Standard of care", "Comparator"],
    ["cart", "CAR-T", "New treatment"],
]

SURVIVAL: Rows = [
    ["strategy", "endpoint", "input", "distribution", "time_unit", "data_sheet", "n_at_risk_0",
     "total_events", "description", "source"],
    ["soc", "PFS", "parametric", "weibull", "months", None, None, None, "", SOURCE],
    ["soc", "OS", "parametric", "exponential", "months", None, None, None, "", SOURCE],
    ["cart", "PFS", "km", "weibull", "months", "KM_cart_PFS", 100, None, "", SOURCE],
    ["cart", "OS", "ipd", None, "months", "IPD_cart_OS", None, None, "", SOURCE],
]

COEFFICIENTS: Rows = [
    ["strategy", "endpoint", "coefficient", "estimate", "cov_1", "cov_2", "cov_3", "source"],
    ["soc", "PFS", "log_shape", 0.1, 0.01, 0.002, None, SOURCE],
    ["soc", "PFS", "log_scale", 2.5, 0.002, 0.02, None, SOURCE],
    ["soc", "OS", "log_rate", -3.0, None, None, None, SOURCE],
]

#: Digitised KM curve (months, proportion) and the at-risk table (columns C and D).
KM: Rows = [
    ["time", "survival", "at_risk_time", "n_at_risk"],
    [0, 1.0, 0, 100],
    [1, 0.97, 6, 70],
    [2, 0.93, 12, 40],
    [3, 0.90, None, None],
    [4, 0.87, None, None],
    [5, 0.84, None, None],
    [6, 0.80, None, None],
    [8, 0.74, None, None],
    [10, 0.66, None, None],
    [12, 0.60, None, None],
]

IPD: Rows = [["time", "event"]] + [[t, e] for t, e in [
    (2.5, 1), (4.0, 0), (6.1, 1), (7.3, 1), (9.0, 0), (11.2, 1), (12.0, 0), (15.5, 1),
    (18.0, 0), (20.4, 1)]]


def valid_rows() -> dict[str, Rows]:
    """The sheets of the valid minimal workbook, as rows (header first); a fresh copy."""
    return copy.deepcopy({
        "Settings": SETTINGS,
        "Parameters": PARAMETERS,
        "Dirichlet": DIRICHLET,
        "Strategies": STRATEGIES,
        "Survival": SURVIVAL,
        "SurvivalCoefficients": COEFFICIENTS,
        "KM_cart_PFS": KM,
        "IPD_cart_OS": IPD,
    })


def write_workbook(path: Path, sheets: dict[str, Rows], merges=()) -> Path:
    """Write ``sheets`` (name -> rows) to ``path`` with openpyxl; return the path.

    ``merges``: ``(sheet, first row, first column, last row, last column)`` ranges to merge
    (ignored for sheets that are not there)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    for sheet, r1, c1, r2, c2 in merges:
        if sheet in wb.sheetnames:
            wb[sheet].merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def set_cell(rows: Rows, cell: str, value) -> None:
    """Set an Excel cell (e.g. "B3") in a list of rows, growing it as needed."""
    match = re.fullmatch(r"([A-Z]+)([0-9]+)", cell)
    col = openpyxl.utils.column_index_from_string(match.group(1)) - 1
    row = int(match.group(2)) - 1
    while len(rows) <= row:
        rows.append([])
    while len(rows[row]) <= col:
        rows[row].append(None)
    rows[row][col] = value


def with_cached_values(path: Path, cached: dict[str, str]) -> Path:
    """Give formulas written by openpyxl a cached result, as Excel would on saving.

    ``cached`` maps formula text (without '=') to the value to store. openpyxl writes
    ``<f>formula</f><v />``; this fills the ``<v>``.
    """
    tmp = path.with_suffix(".tmp.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                text = data.decode("utf-8")
                for formula, value in cached.items():
                    text = text.replace(f"<f>{formula}</f><v />", f"<f>{formula}</f><v>{value}</v>")
                    text = text.replace(f"<f>{formula}</f><v></v>",
                                        f"<f>{formula}</f><v>{value}</v>")
                data = text.encode("utf-8")
            dst.writestr(item, data)
    shutil.move(tmp, path)
    return path


def libreoffice_resave(path, out_dir: Path):
    """Open and save a workbook with LibreOffice headless (which calculates every formula);
    return the new path in ``out_dir``. Skips the calling test when LibreOffice is missing.

    ``path`` may be a list of workbooks (one LibreOffice start for all); a list of new paths is
    then returned.
    """
    import subprocess

    import pytest

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("needs LibreOffice (soffice on PATH; Debian: apt-get install libreoffice-calc-nogui)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # One LibreOffice profile per test process: creating one is slow, sharing one between
    # processes that run at the same time is unsafe.
    import os
    import tempfile

    profile_dir = Path(tempfile.gettempdir()) / f"hta-lo-profile-{os.getpid()}"
    if not profile_dir.exists():
        import atexit

        atexit.register(shutil.rmtree, profile_dir, ignore_errors=True)
    profile = profile_dir.as_uri()
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--calc",
                    "--convert-to", "xlsx", "--outdir", str(out_dir), *map(str, paths)],
                   check=True, capture_output=True, timeout=180 * len(paths))
    out = [out_dir / p.name for p in paths]
    return out if isinstance(path, (list, tuple)) else out[0]


# ---------------------------------------------------------------------------------------------
# Builders


def valid_workbook(directory: Path, name: str = "valid.xlsx") -> Path:
    return write_workbook(Path(directory) / name, valid_rows())


def _variant(name: str, change: Callable[[dict[str, Rows]], None]) -> Callable[[Path], Path]:
    def build(directory: Path) -> Path:
        sheets = valid_rows()
        change(sheets)
        return write_workbook(Path(directory) / f"{name}.xlsx", sheets)

    build.__name__ = name
    build.__doc__ = f"Write the '{name}' broken workbook into a directory; return its path."
    return build


def _drop_column(rows: Rows, header: str) -> None:
    j = rows[0].index(header)
    for row in rows:
        if len(row) > j:
            del row[j]


missing_sheet = _variant("missing_sheet", lambda s: s.pop("Strategies"))
missing_column = _variant("missing_column", lambda s: _drop_column(s["Parameters"], "source"))
text_in_numeric_cell = _variant("text_in_numeric_cell",
                                lambda s: set_cell(s["Parameters"], "B3", "zero point seven"))
empty_required_cell = _variant("empty_required_cell",
                               lambda s: set_cell(s["Parameters"], "L5", None))
unknown_distribution = _variant("unknown_distribution",
                                lambda s: set_cell(s["Parameters"], "D3", "betta"))
beta_mean_above_1 = _variant("beta_mean_above_1",
                             lambda s: set_cell(s["Parameters"], "B2", 1.2))
negative_cost = _variant("negative_cost", lambda s: set_cell(s["Parameters"], "B4", -1200))
duplicate_parameter_names = _variant("duplicate_parameter_names",
                                     lambda s: set_cell(s["Parameters"], "A7", "u_pfs"))
rising_km = _variant("rising_km", lambda s: set_cell(s["KM_cart_PFS"], "B8", 0.9))
at_risk_beyond_curve = _variant("at_risk_beyond_curve",
                                lambda s: set_cell(s["KM_cart_PFS"], "C4", 24))
at_risk_above_curve = _variant("at_risk_above_curve",
                               lambda s: set_cell(s["KM_cart_PFS"], "D3", 95))
at_risk_rising = _variant("at_risk_rising", lambda s: set_cell(s["KM_cart_PFS"], "D4", 75))
formula_without_cached_value = _variant(
    "formula_without_cached_value", lambda s: set_cell(s["Parameters"], "B5", "=1000*5"))
discount_as_percent = _variant("discount_as_percent",
                               lambda s: set_cell(s["Settings"], "B5", 3))
unknown_setting = _variant("unknown_setting",
                           lambda s: s["Settings"].append(["horizon", 10, "", "", ""]))
non_psd_covariance = _variant("non_psd_covariance", lambda s: (
    set_cell(s["SurvivalCoefficients"], "F2", 0.5), set_cell(s["SurvivalCoefficients"], "E3", 0.5)))
wrong_coefficients = _variant("wrong_coefficients",
                              lambda s: set_cell(s["SurvivalCoefficients"], "C3", "log_rate"))
unknown_strategy = _variant("unknown_strategy", lambda s: set_cell(s["Survival"], "A3", "bsc"))
both_se_and_native = _variant("both_se_and_native",
                              lambda s: set_cell(s["Parameters"], "E6", 0.05))


def several_problems(directory: Path) -> Path:
    """Four unrelated problems in four places, all of which must be reported at once."""
    sheets = valid_rows()
    set_cell(sheets["Parameters"], "B3", "abc")
    set_cell(sheets["Parameters"], "B4", -5)
    set_cell(sheets["Settings"], "B3", -20)
    set_cell(sheets["KM_cart_PFS"], "B8", 0.95)
    return write_workbook(Path(directory) / "several_problems.xlsx", sheets)


def not_a_workbook(directory: Path) -> Path:
    path = Path(directory) / "not_a_workbook.xlsx"
    path.write_text("time,survival\n0,1\n")
    return path


def missing_file(directory: Path) -> Path:
    return Path(directory) / "no_such_workbook.xlsx"


@dataclass(frozen=True)
class Broken:
    """Where the reader must point for one broken workbook."""

    build: Callable[[Path], Path]
    sheet: str
    cell: str
    expected: str
    found: str


BROKEN: dict[str, Broken] = {b.build.__name__: b for b in [
    Broken(missing_sheet, "Strategies", "", "a sheet named 'Strategies'", "no such sheet"),
    Broken(missing_column, "Parameters", "A1:K1", "a column headed 'source'", "no such column"),
    Broken(text_in_numeric_cell, "Parameters", "B3", "a number", "text 'zero point seven'"),
    Broken(empty_required_cell, "Parameters", "L5", "a source", "an empty cell"),
    Broken(unknown_distribution, "Parameters", "D3", "one of fixed, normal, lognormal, beta",
           "text 'betta'"),
    Broken(beta_mean_above_1, "Parameters", "B2", "a probability <= 1", "1.2"),
    Broken(negative_cost, "Parameters", "B4", "a cost >= 0", "-1200"),
    Broken(duplicate_parameter_names, "Parameters", "A3, A7", "unique parameter names",
           "'u_pfs' twice"),
    Broken(rising_km, "KM_cart_PFS", "B8", "does not rise by more than 0.05", "0.9"),
    Broken(at_risk_beyond_curve, "KM_cart_PFS", "C4", "within the curve's time range [0, 12]",
           "24"),
    Broken(at_risk_above_curve, "KM_cart_PFS", "D3", "the curve shows", "95"),
    Broken(at_risk_rising, "KM_cart_PFS", "D4", "never rise", "75 after 70"),
    Broken(formula_without_cached_value, "Parameters", "B5", "a calculated value",
           "formula (=1000*5) with no cached result"),
    Broken(discount_as_percent, "Settings", "B5", "from 0 to 0.2", "did you mean 0.03"),
    Broken(unknown_setting, "Settings", "A17", "a known setting (model, horizon_years",
           "text 'horizon'"),
    Broken(non_psd_covariance, "SurvivalCoefficients", "E2:F3",
           "positive semi-definite covariance", "eigenvalue"),
    Broken(wrong_coefficients, "SurvivalCoefficients", "C2:C3",
           "in this order: log_shape, log_scale", "log_shape, log_rate"),
    Broken(unknown_strategy, "Survival", "A3", "a strategy listed in the Strategies sheet",
           "text 'bsc'"),
    Broken(both_se_and_native, "Parameters", "F6", "not both", "se and param_a both filled"),
    Broken(not_a_workbook, "", "", "an Excel workbook (.xlsx) that can be opened",
           "a text file (it starts 'time,survival')"),
    Broken(missing_file, "", "", "an existing input workbook", "no file at"),
]}
