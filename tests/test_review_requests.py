"""The crossing report and the PSA with structural uncertainty as plan requests (issue 21).

References: the crossing counts are checked against a direct count on the model's own uncapped
curves (PFS minus OS, numpy) and against the closed-form maximum of exp(-a t) - exp(-b t) (at
t* = ln(b/a)/(b-a)); the structural PSA against ``models.fucaso_scenarios.structural_psa`` (one
model call per structure) and against the model-averaging formulas of Bojke et al. (Value Health
2009;12:739): P(CE) = sum_k w_k P_k, recomputed here from the per-draw NMB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta import analyse, read_inputs
from hta.analysis import Psa
from hta.analysis.crossing import batch_crossing
from hta.analysis.evaluate import FunctionModel
from hta.analysis.review_requests import CrossingReport, StructuralPsa
from hta.engine import outcomes as oc
from hta.engine import psm
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError
from hta.excel.writer import read_back
from hta.params import ParameterTable
from hta.params.distributions import Uniform
from hta.report.publish import write
from hta.report.sections import present
from models import fucaso_rrmm, fucaso_scenarios

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"
BASE = "partitioned survival, OS cilta-cel"


@pytest.fixture(scope="module")
def model():
    return fucaso_rrmm.build(read_inputs(INPUTS))


@pytest.fixture(scope="module")
def run(model):
    return analyse(model, Psa(draws=2000), CrossingReport(sobol_n_base=16),
                   StructuralPsa(fucaso_scenarios.structural_alternatives(model), fucaso_scenarios.STRUCTURAL_WEIGHTS,
                                 base=BASE), name="review")


def test_eqcel_pfs_above_os_in_at_most_1_percent_of_2000_psa_draws(model, run):
    table = run.analyses["crossing"].table
    row = table[(table["batch"] == "PSA") & (table["strategy"] == "eqcel")].iloc[0]
    assert row["draws"] == 2000
    # issue 21, must show: at most 1% of 2,000 draws with PFS above OS by > 0.01
    assert row["share_over"] <= 0.01
    # direct count on the model's own curves for the same draws (seed and size of the run's PSA)
    batch = model.parameters.sample(2000, run.run_info["seed"])
    curves = model.survival_curves(batch)
    gap = (curves[("eqcel", "PFS")] - curves[("eqcel", "OS")]).max(axis=1)
    assert row["n_over"] == int(np.count_nonzero(gap > 0.01)) == 13
    assert row["largest_gap"] == pytest.approx(gap.max(), abs=1e-15)
    assert set(table["batch"]) == {"base case", "one-way", "PSA", "Sobol"}
    # the Sobol batch is the Saltelli design: n_base x (groups + 2) rows
    sobol = table[table["batch"] == "Sobol"]["draws"].iloc[0]
    assert sobol % 16 == 0 and sobol > 16 * 2


def test_crossing_chunks_give_the_same_table(model):
    batch = model.parameters.sample(700, 3)
    whole = batch_crossing(model, batch, chunk_size=5000)
    chunked = batch_crossing(model, batch, chunk_size=128)
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), chunked.reset_index(drop=True), check_dtype=False)


def _psm_model():
    """Exponential PFS (rate a) and OS (rate b) per sample, on the engine's PSM and accounting: no
    crossing capability, so the crossing comes from the reports the outcomes carry."""
    grid = CycleGrid(1 / 12, 120)

    def evaluate(batch):
        t = grid.times
        a, b = np.asarray(batch["a"], float).reshape(-1, 1), np.asarray(batch["b"], float).reshape(-1, 1)
        c = psm.cohort([np.exp(-a * t), np.exp(-b * t)], strategy="x")
        return oc.Outcomes.from_list([oc.account(c, grid, utilities=np.array([1.0, 0.5, 0.0]))])

    table = ParameterTable().add("a", dist=Uniform(0.1, 1.0)).add("b", dist=Uniform(0.1, 1.0))
    return FunctionModel(name="toy", strategies=("x",), parameters=table, evaluate=evaluate)


def test_crossing_from_the_outcomes_reports_matches_closed_form():
    m = _psm_model()
    batch = m.parameters.sample(400, 11)
    frame = batch_crossing(m, batch, threshold=0.05)
    a, b = np.asarray(batch["a"]), np.asarray(batch["b"])
    # PFS above OS when a < b; the largest gap of exp(-a t) - exp(-b t) is at t* = ln(b/a) / (b - a)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.where(a < b, np.log(b / a) / (b - a), 0.0)
    peak = np.where(a < b, np.exp(-a * t_star) - np.exp(-b * t_star), 0.0)
    grid_t = np.arange(121) / 12
    on_grid = (np.exp(-a[:, None] * grid_t) - np.exp(-b[:, None] * grid_t)).max(axis=1)
    assert np.all(on_grid <= peak + 1e-12) and np.all(peak - on_grid < 5e-3)  # monthly grid, t* > 0.3 years
    row = frame.iloc[0]
    assert row["n_over"] == int(np.count_nonzero(on_grid > 0.05))
    assert abs(row["n_over"] - np.count_nonzero(peak > 0.05)) <= 3
    assert row["largest_gap"] == pytest.approx(on_grid.max(), abs=1e-12)


def test_crossing_report_rejects_bad_options():
    with pytest.raises(HtaError, match="threshold"):
        CrossingReport(threshold=-0.1)
    with pytest.raises(HtaError, match="batches"):
        CrossingReport(batches=("PSA", "bootstrap"))


def test_state_transition_structure_has_no_crossing_rows(model):
    frame = batch_crossing(model.with_structure("stm"), model.parameters.sample(50, 1))
    assert frame.empty


def test_structural_psa_reuses_the_psa_draws_and_equals_the_flagship_function(model, run):
    r = run.analyses["structural_psa"]
    assert r.reused == BASE and r.elapsed[BASE] == 0.0 and r.draws == 2000
    ref = fucaso_scenarios.structural_psa(model, draws=2000, seed=run.run_info["seed"])["summary"]
    got = r.summary
    assert list(got["analysis"]) == list(ref["analysis"])
    np.testing.assert_allclose(got["P(CE) Eque-cel (Fucaso)"], ref["p_ce_eqcel"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["evpi_per_patient"], ref["evpi_per_patient"], rtol=1e-9)
    # without structural uncertainty = the plan's own PSA
    psa = run.analyses["psa"]
    dc, dq = psa.incremental_draws()
    for (label, k), p in zip(run.model.settings.wtp, got[got["analysis"].str.startswith("without")]["P(CE) Eque-cel (Fucaso)"]):
        assert p == pytest.approx(np.mean(k * dq - dc > 0), abs=1e-12)


def test_structural_psa_is_the_weighted_mixture(model, run):
    r = run.analyses["structural_psa"]
    with_ = r.summary[r.summary["analysis"].str.startswith("with ")]
    k = float(with_["wtp"].iloc[0])
    seed = run.run_info["seed"]
    p = 0.0
    for name, alt in fucaso_scenarios.structural_alternatives(model).items():
        out = alt.evaluate(alt.parameters.sample(2000, seed))
        nb = k * out.qalys - out.costs
        p += r.weights[name] * np.mean(nb[:, 1] > nb[:, 0])
    assert with_["P(CE) Eque-cel (Fucaso)"].iloc[0] == pytest.approx(p, abs=1e-12)
    assert sum(r.weights.values()) == pytest.approx(1.0)


def test_structural_psa_rejects_missing_weights(model):
    alts = fucaso_scenarios.structural_alternatives(model)
    with pytest.raises(HtaError, match="one weight per alternative"):
        StructuralPsa(alts, {BASE: 1.0})
    with pytest.raises(HtaError, match="base"):
        StructuralPsa(alts, fucaso_scenarios.STRUCTURAL_WEIGHTS, base="nope")


def test_workbook_and_console_show_both(run, tmp_path, capsys):
    crossing = present(run.analyses["crossing"], run)
    assert "PSA, Eque-cel (Fucaso): PFS above OS by > 0.01 in 13 of 2,000 parameter sets (0.65%)" in crossing.console
    assert "Conventional care: PFS never above OS in any batch" in crossing.console
    structural = present(run.analyses["structural_psa"], run)
    assert "with structural uncertainty" in structural.console
    write(run, tmp_path, figures=False)
    book = read_back(tmp_path / "review.xlsx")
    sheet = book["PFS and OS crossing"]
    psa_row = sheet[(sheet["Batch"] == "PSA") & (sheet["Strategy"] == "Eque-cel (Fucaso)")].iloc[0]
    assert psa_row["Sets above threshold"] == 13 and psa_row["Parameter sets"] == 2000
    side = book["PSA structural"]
    assert set(side["Analysis"]) == {"without structural uncertainty", "with structural uncertainty"}
    assert len(side) == 4 and {"P(Eque-cel (Fucaso) cost-effective)", "EVPI per patient"} <= set(side.columns)
    assert "PSA structural CEAC" in book


def test_verification_crossing_check_reads_the_engine_records(model):
    # hta/analysis/verify/structure.py: with Cohort.report["crossing"] present the check counts every
    # uncapped crossing of the sweep (not only the capped points) and names the largest gap
    import re

    from hta.analysis.verify import verify

    table = verify(model, psa_draws=200, seed=1).table
    row = table[table["check"].str.startswith("partitioned-survival curves do not cross")].iloc[0]
    assert row["status"] == "pass"
    found = re.search(r"strategy 'eqcel': PFS above OS in (\d+) of (\d+) parameter sets \(largest gap ([0-9.]+) at "
                      r"([0-9.]+) years\); recorded by the engine and capped", row["observed"])
    assert found, row["observed"]
    assert 0 < int(found.group(1)) < int(found.group(2))
    assert "'cc'" not in row["observed"]  # conventional care never crosses


def test_crossing_report_counts_the_psa_and_sobol_evaluations_it_follows(model):
    # After Psa and Sobol the report reads the crossing records their evaluations kept (no second
    # evaluation); alone it evaluates the same draws and design itself (model.crossing). Same table.
    from hta.analysis import Sobol

    shared = analyse(model, Psa(draws=600), Sobol(n_base=16), CrossingReport(), name="shared")
    alone = analyse(model, CrossingReport(psa_draws=600, sobol_n_base=16), name="alone")
    ours, theirs = shared.analyses["crossing"].table, alone.analyses["crossing"].table
    assert shared.analyses["psa"].result.crossing is not None and shared.analyses["sobol"].crossing is not None
    assert list(ours["batch"].unique()) == ["base case", "one-way", "PSA", "Sobol"]
    assert int(ours.loc[ours["batch"] == "Sobol", "draws"].iloc[0]) == shared.analyses["sobol"].table.attrs["n_evaluations"]
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
