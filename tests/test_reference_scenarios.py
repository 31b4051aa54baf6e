"""End to end: `hta run` of the minimal and the reference-model scenario scripts.

* scenarios/hiv_chancellor.py: Briggs A, Claxton K, Sculpher M. Decision Modelling for Health
  Economic Evaluation, OUP 2006, Exercise 2.5: ICER 6,275.96 GBP per life-year gained
  (monotherapy 44,663.45 and 7.9912 LYs; combination 50,601.65 and 8.9374 LYs).
* scenarios/three_state.py: the base case equals a hand-written numpy cohort (matrix products,
  trapezoid weights 1/2, 1, ..., 1, 1/2 and discount factors 1.035^-t at the time points,
  docs/methods.md sections 2-3), written independently of hta.engine.
* scenarios/thr_briggs.py: the workbook is complete and NP1 dominates on the illustrative values
  (models/thr_briggs.py); its base case equals thr_briggs.evaluate on the module's own table.
"""

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from hta.app.cli import main

pytestmark = pytest.mark.slow


def labels_of(script) -> dict:
    """{strategy code: label} of a scenario script's model."""
    from hta.app.scripts import load_model

    return dict(load_model(Path(f"scenarios/{script}.py")).strategy_labels)


def run(script, out):
    assert main(["run", f"scenarios/{script}.py", "--out", str(out), "--quiet"]) == 0
    path = out / f"{script}.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    return book, pd.read_excel(path, sheet_name=None, header=None)


def summary_table(sheets, labels: dict):
    """The Summary sheet's table (below the title and notes) as a frame indexed by strategy code,
    with the columns ``cost``, ``qalys``, ``lys``, ``icer`` and ``status`` (the sheet's headers are
    plain words in the model's currency and effect, issue 20)."""
    raw = sheets["Summary"]
    head = raw.index[raw.iloc[:, 0].eq("Model structure")][0]
    table = raw.iloc[head + 1:].dropna(how="all")
    table.columns = raw.iloc[head]
    names = {}
    for c in table.columns:
        c = str(c)
        for key, start in (("cost", "Costs ("), ("qalys", "QALYs"), ("lys", "Life-years ("), ("icer", "ICER"),
                           ("status", "Status")):
            if c.startswith(start) and key not in names.values() and "undiscounted" not in c:
                names[c] = key
    codes = {label: code for code, label in labels.items()}
    table = table.rename(columns=names)
    table.index = [codes[s] for s in table["Strategy"]]
    return table


def _decision_text(book) -> str:
    """Every text of the first sheet (the Decision dashboard)."""
    ws = book["Decision"]
    return " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str))


@pytest.fixture(scope="module")
def hiv(tmp_path_factory):
    return run("hiv_chancellor", tmp_path_factory.mktemp("hiv"))


def test_hiv_icer_is_briggs_6276_per_life_year(hiv):
    book, sheets = hiv
    assert book.sheetnames[0] == "Decision" and "ICER" in _decision_text(book)
    comb = summary_table(sheets, labels_of("hiv_chancellor")).loc["combination"]
    assert round(float(comb["icer"]), 2) == 6275.96  # Briggs et al. 2006 Ex 2.5
    assert round(float(comb["cost"]), 2) == 50601.65 and round(float(comb["lys"]), 4) == 8.9374
    notes = " ".join(str(v) for v in sheets["Summary"].iloc[:8, 0].dropna())
    assert "per LY" in notes and "currency GBP" in notes


def test_hiv_workbook_is_complete(hiv):
    book, _ = hiv
    for sheet in ("Summary", "Incremental", "NMB", "Disaggregated", "Trace", "One-way", "Threshold price",
                  "PSA summary", "CEAC", "EVPPI", "Inputs", "Run info"):
        assert sheet in book.sheetnames
    # a Markov model without survival curves: no survival sheets
    assert "Survival" not in book.sheetnames and "Survival models" not in book.sheetnames


def hand_written_three_state(p):
    """Healthy/Sick/Dead by matrix products, 40 annual cycles, trapezoid, 3.5% (independent of hta)."""
    out = {}
    for s in ("usual", "drug"):
        rr = p["rr_drug"] if s == "drug" else 1.0
        P = np.array([[1 - p["p_healthy_sick"] * rr - p["p_healthy_dead"], p["p_healthy_sick"] * rr, p["p_healthy_dead"]],
                      [0.0, 1 - p["p_sick_dead"], p["p_sick_dead"]], [0.0, 0.0, 1.0]])
        x = [np.array([1.0, 0.0, 0.0])]
        for _ in range(40):
            x.append(x[-1] @ P)
        x = np.array(x)
        w = np.ones(41)
        w[[0, -1]] = 0.5
        d = 1.035 ** -np.arange(41.0)
        c = np.array([p["c_healthy"] + (p["c_drug"] if s == "drug" else 0.0), p["c_sick"], 0.0])
        u = np.array([p["u_healthy"], p["u_sick"], 0.0])
        out[s] = (np.sum(w * d * (x @ c)), np.sum(w * d * (x @ u)))
    return out


def test_three_state_base_case_equals_hand_written_numpy(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("three_state", "scenarios/three_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    p = {name: float(v[0]) for name, v in module.parameters().base().items()}
    expected = hand_written_three_state(p)
    book, sheets = run("three_state", tmp_path)
    assert book.sheetnames[0] == "Decision" and "ICER" in _decision_text(book)
    table = summary_table(sheets, labels_of("three_state"))
    for s, (cost, qalys) in expected.items():
        assert float(table.loc[s, "cost"]) == pytest.approx(cost, rel=1e-12)
        assert float(table.loc[s, "qalys"]) == pytest.approx(qalys, rel=1e-12)
    icer = (expected["drug"][0] - expected["usual"][0]) / (expected["drug"][1] - expected["usual"][1])
    assert float(table.loc["drug", "icer"]) == pytest.approx(icer, rel=1e-10)
    for sheet in ("Trace", "One-way", "Threshold price", "PSA summary", "CEAC", "Inputs", "Run info"):
        assert sheet in book.sheetnames
    assert "Survival" not in book.sheetnames and "Budget" not in book.sheetnames


def test_thr_scenario_writes_a_complete_workbook(tmp_path):
    from models import thr_briggs

    book, sheets = run("thr_briggs", tmp_path)
    assert book.sheetnames[0] == "Decision" and "ICER" in _decision_text(book)
    table = summary_table(sheets, labels_of("thr_briggs"))
    ref = thr_briggs.evaluate(thr_briggs.parameter_table().base())
    np.testing.assert_allclose(table.loc[list(thr_briggs.STRATEGIES), "cost"].astype(float), ref.costs[0], rtol=1e-12)
    # NP1 is cheaper and more effective on the illustrative values: the standard prosthesis is dominated
    assert table.loc["standard", "status"] == "dominated" and table.loc["np1", "status"] == "frontier"
    for sheet in ("Incremental", "Trace", "One-way", "Threshold price", "PSA summary", "Inputs", "Run info"):
        assert sheet in book.sheetnames
