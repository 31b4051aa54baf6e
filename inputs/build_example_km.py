"""Build ``inputs/example_km_bonner2006.xlsx``: a worked example for ``hta fit``.

Survival inputs given as digitised Kaplan-Meier points with numbers at risk, the way they reach
an analyst from a paper: locoregional control in Bonner JA et al., N Engl J Med 2006;354:567-578
(radiotherapy vs radiotherapy + cetuximab): the raw digitised points as distributed with the R
package IPDfromKM (``tests/data/bonner2006/IPDfromKM_Radiationdata_raw_digitised.csv``: survival
in percent, a first point at -0.512 months, ties and small rises, exactly as a digitiser leaves
them) and the published numbers at risk. ``hta fit inputs/example_km_bonner2006.xlsx`` cleans
the points (and reports each change), reconstructs pseudo-IPD with the Guyot algorithm and fits
the seven standard distributions.

The settings and the single parameter are placeholders needed for a valid workbook, labelled as such.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hta.survival.reconstruct import read_guyot_files  # noqa: E402

DATA = ROOT / "tests" / "data" / "bonner2006"
OUT = ROOT / "inputs" / "example_km_bonner2006.xlsx"
SRC = ("Bonner JA et al. N Engl J Med 2006;354:567-578, Figure (locoregional control), raw digitised points "
       "(R package IPDfromKM, data Radiationdata); numbers at risk from the same figure")
RAW = DATA / "IPDfromKM_Radiationdata_raw_digitised.csv"
PLACEHOLDER = "assumption: placeholder (this workbook only demonstrates hta fit)"


def main(path: Path = OUT) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "README"
    ws.append(["Worked example for `hta fit`: digitised KM curves of Bonner et al. 2006 (time in months)."])
    ws.append(["Run: hta fit inputs/example_km_bonner2006.xlsx  -> results/example_km_bonner2006_fits.xlsx + figures"])
    settings = wb.create_sheet("Settings")
    settings.append(["setting", "value", "unit", "description", "source"])
    for row in [("horizon_years", 20, "years", "", PLACEHOLDER), ("cycle", "month", "", "", PLACEHOLDER),
                ("discount_costs", 0.03, "per year", "", PLACEHOLDER), ("discount_outcomes", 0.03, "per year", "", PLACEHOLDER),
                ("within_cycle", "half-cycle", "", "", PLACEHOLDER), ("start_age", 57, "years", "", PLACEHOLDER),
                ("male_share", 0.8, "proportion", "", PLACEHOLDER), ("wtp_1", 395437, "HK$/QALY", "1x HK GDP per capita", PLACEHOLDER)]:
        settings.append(list(row))
    params = wb.create_sheet("Parameters")
    params.append(["name", "value", "unit", "distribution", "se", "param_a", "param_b", "low", "high", "group",
                   "description", "source"])
    strategies = wb.create_sheet("Strategies")
    strategies.append(["strategy", "label", "description"])
    strategies.append(["rt", "Radiotherapy", "radiotherapy alone"])
    strategies.append(["rtcet", "Radiotherapy + cetuximab", "radiotherapy plus cetuximab"])
    survival = wb.create_sheet("Survival")
    survival.append(["strategy", "endpoint", "input", "distribution", "time_unit", "data_sheet", "n_at_risk_0",
                     "total_events", "description", "source"])
    raw = pd.read_csv(RAW)
    for arm, stem, raw_arm in (("rt", "RT", "RT"), ("rtcet", "RTcetux", "RT+cetuximab")):
        _, nrisk = read_guyot_files(DATA / f"guyot_bonner_{stem}_surv.txt", DATA / f"guyot_bonner_{stem}_nrisk.txt")
        km = raw[raw["arm"] == raw_arm].rename(columns={"surv_pct": "survival"}).reset_index(drop=True)
        sheet = wb.create_sheet(f"KM_{stem}")
        sheet.append(["time", "survival", "at_risk_time", "n_at_risk"])  # survival in percent, as digitised
        for i in range(max(len(km), len(nrisk))):
            sheet.append([float(km["time"].iloc[i]) if i < len(km) else None,
                          float(km["survival"].iloc[i]) if i < len(km) else None,
                          float(nrisk["time"].iloc[i]) if i < len(nrisk) else None,
                          int(nrisk["n_at_risk"].iloc[i]) if i < len(nrisk) else None])
        survival.append([arm, "LRC", "km", None, "months", f"KM_{stem}", None, None, "locoregional control", SRC])
    for s in wb.worksheets:
        s.freeze_panes = "A2"
    wb.save(path)
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
