"""``hta run scenarios/cll_williams.py`` end to end: the TSD 19 comparison sheet (issue 23).

References: the five methods and their figures are those of docs/multistate.md's table (the
comparison of ``models.cll_williams.comparison_table()``, Williams et al. MDM 2017 layout: PSM,
clock-forward Markov and clock-reset semi-Markov cohorts, and both individual-level
simulations); the base case of the protocol model (the engine's PSM with half-cycle correction
and discrete discounting) is checked against the multi-state package's PSM row (trapezoid
occupancy with the exact discount integral over each cycle): two integrations of the same
curves that agree to 0.1%.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hta.app.cli import main
from hta.excel.writer import read_back
from hta.protocol import capabilities

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["PSM", "Markov cohort (clock-forward)", "Semi-Markov cohort (clock-reset)", "Individual (clock-forward)",
           "Individual (clock-reset)"]


@pytest.mark.slow
def test_hta_run_cll_williams_writes_the_tsd19_comparison(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "scenarios" / "cll_williams.py"), "--out", str(out), "--verbose"]) == 0
    console = capsys.readouterr().out
    assert "TSD 19 comparison" in console
    book = read_back(out / "cll_williams.xlsx")
    sheet = book["TSD 19 comparison"]
    sheet["Strategy"] = sheet["Strategy"].str.split(" ").str[0]  # labels ("RFC (rituximab + FC)") to codes
    assert list(dict.fromkeys(sheet["Method"])) == METHODS
    assert len(sheet) == 10 and set(sheet["Strategy"]) == {"FC", "RFC"}
    rfc = sheet[sheet["Strategy"] == "RFC"].set_index("Method")
    icer = rfc["ICER (GBP per QALY)"]
    # docs/multistate.md: PSM 21,515; Markov 23,352; semi-Markov 25,094 GBP per QALY (cohorts are deterministic)
    assert icer["PSM"] == pytest.approx(21_515, abs=1)
    assert icer["Markov cohort (clock-forward)"] == pytest.approx(23_352, abs=1)
    assert icer["Semi-Markov cohort (clock-reset)"] == pytest.approx(25_094, abs=1)
    # individual-level = its cohort within Monte Carlo error (4 SE of the QALYs; 100,000 patients per arm)
    for ind, coh in (("Individual (clock-forward)", "Markov cohort (clock-forward)"),
                     ("Individual (clock-reset)", "Semi-Markov cohort (clock-reset)")):
        for s in ("FC", "RFC"):
            a = sheet[(sheet["Method"] == ind) & (sheet["Strategy"] == s)].iloc[0]
            b = sheet[(sheet["Method"] == coh) & (sheet["Strategy"] == s)].iloc[0]
            assert abs(a["QALYs (discounted)"] - b["QALYs (discounted)"]) < 4 * a["Monte Carlo SE, QALYs"]
    # the fits and the occupancy against Aalen-Johansen
    assert {"Multi-state fits", "Multi-state occupancy"} <= set(book)
    assert "Aalen-Johansen" in set(book["Multi-state occupancy"]["Method"])
    assert (out / "cll_williams_multistate_occupancy.png").stat().st_size > 10_000
    # the base case (Summary) is the PSM structure on the engine
    summary = book["Summary"]
    summary.index = summary["Strategy"].str.split(" ").str[0]  # labels to codes
    cost = next(c for c in summary.columns if c.startswith("Costs (") and "undiscounted" not in c)
    psm = sheet[sheet["Method"] == "PSM"].set_index("Strategy")
    for s in ("FC", "RFC"):
        assert summary.loc[s, cost] == pytest.approx(psm.loc[s, "Costs (GBP, discounted)"], rel=1e-3)
        assert summary.loc[s, "QALYs"] == pytest.approx(psm.loc[s, "QALYs (discounted)"], rel=1e-3)


def test_cll_protocol_model():
    from models import cll_williams

    m = cll_williams.protocol_model()
    caps = capabilities(m)
    assert caps.keeps_cohort and caps.survival_curves and caps.structure
    out = m.evaluate(m.parameters.base(), keep_cohort=True)
    trace = out["FC"].cohort.trace[0]
    np.testing.assert_allclose(trace.sum(axis=1), 1.0, atol=1e-12)
    # docs/multistate.md, PSM row: FC 77,150 GBP, RFC 91,190 GBP; life-years 9.805 and 10.960 (undiscounted)
    s = out.summary().set_index("strategy")
    assert s.loc["FC", "cost"] == pytest.approx(77_150, rel=1e-3)
    assert s.loc["RFC", "cost"] == pytest.approx(91_190, rel=1e-3)
    assert s.loc["FC", "lys_undiscounted"] == pytest.approx(9.805, abs=0.01)
    assert s.loc["RFC", "lys_undiscounted"] == pytest.approx(10.960, abs=0.01)
