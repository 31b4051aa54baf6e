"""The flagship eque-cel model: invariants, structure, and the results workbook end to end."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.app.scripts import RunContext, load_script
from hta.excel.reader import read_inputs
from hta.excel.writer import read_back
from models import fucaso_rrmm

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs" / "fucaso_hk.xlsx"


@pytest.fixture(scope="module")
def model():
    return fucaso_rrmm.build(read_inputs(INPUTS))


def test_every_parameter_has_a_source_and_assumptions_are_labelled(model):
    frame = model.parameters.to_frame()
    assert (frame["source"].str.strip() != "").all()
    assumed = frame[frame["source"].str.lower().str.contains("assumption")]
    assert len(assumed) > 0  # e.g. the price and eque-cel OS are stated assumptions
    assert "assumption" in frame.set_index("name").loc["c_eqcel_price", "source"].lower()


def test_occupancy_sums_to_one_and_curves_never_rise(model):
    base = model.parameters.base()
    for structure in ("psm", "stm"):
        cohorts = model.with_structure(structure).cohorts(model.parameters.sample(50, 3))
        for c in cohorts.values():
            np.testing.assert_allclose(c.trace.sum(axis=-1), 1.0, atol=1e-12)
            assert (c.trace >= -1e-15).all()
    for curve in model.survival_curves(base).values():
        assert (np.diff(curve, axis=1) <= 1e-15).all()


def test_survival_never_above_general_population(model):
    base = model.parameters.base()
    bg = np.exp(-model.background_cumhaz())
    for curve in model.survival_curves(base).values():
        assert (curve[0] <= bg + 1e-12).all()


def test_utilities_of_one_give_qalys_equal_to_lys_without_ae_losses(model):
    batch = model.parameters.base().with_values(u_pf=1.0, du_pd=0.0, p_crs_g12_eqcel=0.0, p_crs_g3_eqcel=0.0,
                                                p_icans_eqcel=0.0, p_teae_g34_cc=0.0,
                                                p_infection_g34_eqcel=0.0, du_pre_infusion=0.0)  # issue 21 AE and pre-infusion utility
    out = model.without_age_adjustment().evaluate(batch)
    np.testing.assert_allclose(out.qalys, out.lys, rtol=1e-12)
    # With the age adjustment (base case) QALYs are the LYs weighted by the multiplier, below the LYs.
    aged = model.evaluate(batch)
    assert np.all(aged.qalys < out.qalys)


def test_price_enters_costs_one_for_one(model):
    base = model.parameters.base()
    # Infused population: the price enters one for one.
    inf = model.with_itt(False)
    a = inf.evaluate(base.with_values(c_eqcel_price=1e6)).costs
    b = inf.evaluate(base.with_values(c_eqcel_price=2e6)).costs
    np.testing.assert_allclose(b[:, 1] - a[:, 1], 1e6)
    np.testing.assert_allclose(b[:, 0], a[:, 0])
    # ITT (base case): paid for the infused share only, at infusion (discounted over the vein-to-vein time).
    a = model.evaluate(base.with_values(c_eqcel_price=1e6)).costs
    b = model.evaluate(base.with_values(c_eqcel_price=2e6)).costs
    share = 1.0 - base["p_not_infused"][0]
    df = (1.0 + model.settings.discount_costs) ** (-base["bridging_months"][0] / 12.0)
    np.testing.assert_allclose(b[:, 1] - a[:, 1], 1e6 * share * df, rtol=1e-12)
    np.testing.assert_allclose(b[:, 0], a[:, 0])


def test_zero_discount_gives_undiscounted_totals(model):
    m0 = model.with_settings(discount_costs=0.0, discount_outcomes=0.0)
    for st, r in m0.evaluate(m0.parameters.base()).results.items():
        np.testing.assert_allclose(r.costs, r.costs_undiscounted)
        np.testing.assert_allclose(r.qalys, r.qalys_undiscounted)


def test_conventional_care_curves_reproduce_locommotion_medians(model):
    from hta.survival.curves import make_curve
    for endpoint, median in (("PFS", 4.6), ("OS", 13.8)):
        spec = model.survival[("cc", endpoint)]
        assert make_curve(spec.distribution, spec.coef).quantile(0.5)[0] == pytest.approx(median, rel=1e-9)
    spec = model.survival[("eqcel", "PFS")]
    curve = make_curve(spec.distribution, spec.coef)
    assert curve.quantile(0.5)[0] == pytest.approx(30.5, rel=1e-9)       # IMS 2025 median PFS
    assert curve.survival(np.array([12.0]))[0, 0] == pytest.approx(0.788)  # JAMA Oncol 2024 12-month PFS


def test_state_transition_conventional_care_close_to_partitioned(model):
    # For conventional care both structures describe LocoMMotion: LYs should agree within 10%.
    psm = model.evaluate(model.parameters.base())["cc"].lys[0]
    stm = model.with_structure("stm").evaluate(model.parameters.base())["cc"].lys[0]
    assert stm == pytest.approx(psm, rel=0.1)


def test_weekly_cycles_close_to_monthly(model):
    base = model.parameters.base()
    monthly = model.evaluate(base)
    weekly = model.with_settings(cycle="week").evaluate(base)
    np.testing.assert_allclose(weekly.qalys, monthly.qalys, rtol=2e-3)
    np.testing.assert_allclose(weekly.costs, monthly.costs, rtol=2e-3)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    module = load_script(ROOT / "scenarios" / "base_case.py")
    context = RunContext(script=ROOT / "scenarios" / "base_case.py", out=out, quiet=True)
    results = module.run(context)
    return results, out / "base_case.xlsx"


def test_results_workbook_reads_back_equal_to_memory(published):
    results, path = published
    book = read_back(path)
    for sheet in ("Summary", "Incremental", "NMB", "Disaggregated", "Trace", "Survival", "Inputs", "Run info"):
        assert sheet in book, sheet
    # the Summary sheet shows results.summary under plain headers (issue 20), strategy codes as labels
    from hta.report.labels import Labeller

    lab = Labeller(results.model)
    expected = results.summary.drop(columns="strategy").reset_index(drop=True)
    expected.columns = [lab.column(c) for c in expected.columns]
    pd.testing.assert_frame_equal(book["Summary"].reset_index(drop=True), expected, check_dtype=False)
    np.testing.assert_array_equal(book["Trace"].to_numpy(float), results.trace.to_numpy(float))
    np.testing.assert_array_equal(book["Survival"].to_numpy(float), results.survival.to_numpy(float))
    inc = book["Incremental"]
    np.testing.assert_array_equal(inc["ICER (HK$ per QALY gained)"].to_numpy(float),
                                  results.incremental["icer"].to_numpy(float))
    for sheet in ("Tornado", "Threshold price", "PSA summary", "CEAC", "EVPI", "EVPPI", "Scenarios", "PSA draws"):
        assert sheet in book, sheet
    thr = results.analyses["threshold"].table
    np.testing.assert_array_equal(book["Threshold price"]["Threshold price (HK$)"].to_numpy(float),
                                  thr["threshold"].to_numpy(float))
    assert thr["found"].all()
    ceac = book["CEAC"].iloc[:, 1:].to_numpy(float)  # a data sheet: WTP, then one column per strategy
    np.testing.assert_allclose(ceac.sum(axis=1), 1.0)
    info = dict(zip(book["Run info"]["item"], book["Run info"]["value"]))
    assert info["hta version"] and info["seed"]
    assert any(k.startswith("SHA-256 of fucaso_hk.xlsx") for k in info)


def test_base_case_reports_the_five_year_net_budget_impact(published):
    from hta.report.console import console_table
    from hta.report.publish import sections

    results, path = published
    bia = results.analyses["bia"].frames
    sheet = read_back(path)["BIA"]
    assert list(sheet["Calendar year"]) == [2026, 2027, 2028, 2029, 2030]
    np.testing.assert_array_equal(sheet["Net budget impact (HK$)"].to_numpy(float),
                                  bia["yearly"]["net_impact"].to_numpy(float))
    assert sheet["Cumulative net budget impact (HK$)"].iloc[-1] == pytest.approx(bia["net_total"], rel=1e-12)
    assert bia["net_total"] > 0
    assert f"net budget impact over 5 years: HK${bia['net_total']:,.0f}" in console_table(results, sections(results))
    for name in ("bia", "bia_tornado"):
        png = path.parent / f"base_case_{name}.png"
        assert png.exists() and png.stat().st_size > 5000, name


def test_threshold_price_gives_icer_equal_to_wtp(published, model):
    results, _ = published
    for _, row in results.analyses["threshold"].table.iterrows():
        out = model.evaluate(model.parameters.base().with_values(c_eqcel_price=row["threshold"]))
        icer = (out.costs[0, 1] - out.costs[0, 0]) / (out.qalys[0, 1] - out.qalys[0, 0])
        assert icer == pytest.approx(row["wtp"], rel=1e-6)


def test_published_figures_exist(published):
    _, path = published
    for name in ("survival", "trace", "tornado", "ce_plane", "ceac", "evpi", "evppi"):
        png = path.parent / f"base_case_{name}.png"
        assert png.exists() and png.stat().st_size > 5000, name


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice on PATH; Debian: apt-get install libreoffice-calc-nogui)")
def test_libreoffice_opens_results_workbook(published, tmp_path):
    # LibreOffice loads the whole workbook (all sheets, the 5,000 PSA draws, every chart) and
    # saves it again, as a reviewer's spreadsheet would. Printing it to PDF as well checks
    # nothing more and takes minutes for the draws sheet, so the re-saved file is compared
    # with the original instead: same sheets, same charts, the same numbers.
    import zipfile

    _, path = published
    out_dir = tmp_path / "resaved"
    proc = subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                           "--calc", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out_dir), str(path)],
                          capture_output=True, text=True, timeout=300)
    resaved = out_dir / path.name
    assert proc.returncode == 0 and resaved.exists(), proc.stderr

    def charts(p):
        with zipfile.ZipFile(p) as z:
            return sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))

    assert len(charts(resaved)) == len(charts(path)) > 0
    original, reopened = read_back(path), read_back(resaved)
    assert list(reopened) == list(original)
    for sheet in ("Summary", "Incremental", "Threshold price", "EVPI", "PSA summary"):
        left, right = original[sheet], reopened[sheet]
        numeric = left.select_dtypes("number").columns
        np.testing.assert_allclose(right[numeric].to_numpy(float), left[numeric].to_numpy(float), rtol=1e-12,
                                   err_msg=sheet)


# ------------------------------------------------------------------------------- verification


@pytest.mark.parametrize("structure", ["psm", "stm"])
def test_flagship_passes_every_verification_check(model, structure):
    from hta.analysis.verify import NA, verify

    report = verify(model.with_structure(structure))
    assert report.ok, report.console()
    na = {c.check: c.detail for c in report.checks if c.status == NA}
    expected = ({"transition matrices valid"} if structure == "psm"
                else {"partitioned-survival curves do not cross (or the crossing is reported)"})
    assert set(na) == expected and all(na.values())
    checks = {c.check: c for c in report.checks}
    assert "model.with_identical_efficacy()" in checks["identical efficacy gives identical LYs and QALYs"].detail
    assert "'CAR-T acquisition'" in checks["doubling a price doubles its cost line and nothing else"].observed


def test_flagship_identical_efficacy_copies_the_comparator_curves(model):
    same = model.with_identical_efficacy()
    out = same.evaluate(same.parameters.base())
    assert out.lys[0, 0] == pytest.approx(out.lys[0, 1], rel=1e-12)
    assert model.survival[("eqcel", "OS")].distribution != same.survival[("eqcel", "OS")].distribution
    assert same.survival[("eqcel", "OS")].distribution == model.survival[("cc", "OS")].distribution


def test_flagship_transition_matrices_drive_the_state_transition_trace(model):
    stm = model.with_structure("stm")
    batch = stm.parameters.sample(3, 5)
    mats = stm.transition_matrices(batch)
    cohorts = stm.cohorts(batch)
    for s, P in mats.items():
        trace = cohorts[s].trace
        x = trace[:, 0]
        for j in range(P.shape[1]):
            x = np.einsum("nk,nkl->nl", x, P[:, j])
        np.testing.assert_allclose(x, trace[:, -1], atol=1e-12)
    assert model.transition_matrices(batch) == {}


def test_verification_report_is_in_the_results_workbook(published):
    results, path = published
    book = read_back(path)
    sheet = book["Verification"]
    assert set(sheet["Model"]) == {"partitioned survival", "state-transition (TSD 19)", "partitioned survival, infused only"}
    assert set(sheet["Status"]) <= {"pass", "not applicable"}
    assert (sheet["Status"] == "pass").sum() == 48 and (sheet["Status"] == "not applicable").sum() == 3
    assert "Verification roles" in book
    assert results.analyses["verification"].failed == 0


def test_threshold_price_curve_over_wtp_and_structures(published, model):
    results, path = published
    curve = results.analyses["threshold"].curve
    assert list(curve["multiple"]) == [0.5, 0.75, 1, 1.5, 2, 2.5, 3]
    assert list(curve.columns[2:]) == ["partitioned survival", "state-transition (TSD 19)",
                                       "partitioned survival, infused only"]
    table = results.analyses["threshold"].table.set_index("wtp")["threshold"]
    at = curve.set_index("wtp")["partitioned survival"]
    for k in table.index:  # 1x and 3x: the same thresholds as the threshold table
        assert at[k] == pytest.approx(table[k], rel=1e-9)
    for column in curve.columns[2:]:
        assert np.all(np.diff(curve[column]) > 0)  # a higher WTP affords a higher price
    stm = model.with_structure("stm")
    row = curve.iloc[4]  # 2x GDP per capita, state-transition structure
    out = stm.evaluate(stm.parameters.base().with_values(c_eqcel_price=row["state-transition (TSD 19)"]))
    icer = (out.costs[0, 1] - out.costs[0, 0]) / (out.qalys[0, 1] - out.qalys[0, 0])
    assert icer == pytest.approx(row["wtp"], rel=1e-6)
    book = read_back(path)
    assert "Threshold curve" in book
    np.testing.assert_allclose(book["Threshold curve"]["partitioned survival"].to_numpy(float),
                               curve["partitioned survival"].to_numpy(float), rtol=1e-12)
    assert (path.parent / "base_case_threshold_curve.png").stat().st_size > 5000


def test_cheers_checklist_is_in_the_results_workbook(published):
    _, path = published
    sheet = read_back(path)["CHEERS 2022"]
    assert list(sheet["Item"].astype(int)) == list(range(1, 29))
    status = dict(zip(sheet["Item"].astype(int), sheet["Status"]))
    assert status[20] == status[24] == "reported"  # tornado, PSA, EVPPI, scenarios, threshold curve...
    where = dict(zip(sheet["Item"].astype(int), sheet["Where reported"]))
    assert not any("docs/" in w for w in where.values())  # self-contained: the HA never receives docs/
    assert "EVPPI" in where[24] and "Threshold curve" in where[24]


def test_base_case_writes_its_formula_live_excel_model(published):
    # results/base_case_model.xlsx beside the results workbook, recording the same run
    from openpyxl import load_workbook

    results, path = published
    model_path = path.parent / "base_case_model.xlsx"
    assert model_path.exists()
    wb = load_workbook(model_path)
    check = {(r[0], r[1], r[2] or ""): r[4] for r in wb["Check"].iter_rows(min_row=4, values_only=True) if r[0]}
    base = results.summary[results.summary["structure"] == "partitioned survival"].set_index("strategy")
    assert check[("eqcel", "cost", "total")] == pytest.approx(base.loc["eqcel", "cost"], rel=1e-12)
    assert check[("cc", "qaly", "total")] == pytest.approx(base.loc["cc", "qalys"], rel=1e-12)
    about = " ".join(str(c.value) for row in wb["About"].iter_rows() for c in row if c.value)
    assert "SHA-256 of fucaso_hk.xlsx" in about and "git commit" in about


def test_population_evpi_uses_the_budget_impacts_treated_patients():
    # Issue 21: population EVPI on the patients the budget impact treats (entrants x uptake,
    # mean over its 5 years), not HA's CAR-T capacity for all indications (30 a year).
    from hta.analysis import bia

    inputs = read_inputs(INPUTS)
    treated = bia.entrants(inputs.budget) * bia.uptake(inputs.budget)
    assert len(treated) == 5
    assert inputs.settings.annual_population == pytest.approx(treated.mean(), abs=0.05)


def test_population_figures_are_the_csd_mid_year_estimates():
    # shared/data/hk_midyear_population.csv: provisional mid-2019 7,524,100 and mid-2024 7,531,800 (C&SD).
    inputs = read_inputs(INPUTS)
    budget = inputs.budget
    assert budget.population == 7_524_100
    assert budget.population_growth == pytest.approx((7_531_800 / 7_524_100) ** 0.2 - 1, rel=1e-12)


def test_base_case_workbook_has_the_crossing_report_and_the_structural_psa(published):
    # issue 21: the crossing report (every batch) and the PSA with structural uncertainty beside the
    # one without (docs/flagship.md: 0.67% / 92.1% and HK$576 / HK$13,687 with; 1.4% / 99.3% without)
    results, path = published
    book = read_back(path)
    crossing = book["PFS and OS crossing"]
    assert list(dict.fromkeys(crossing["Batch"])) == ["base case", "one-way", "PSA", "Sobol"]
    psa = crossing[(crossing["Batch"] == "PSA") & (crossing["Strategy"] == "Eque-cel (Fucaso)")].iloc[0]
    assert psa["Parameter sets"] == 5000 and psa["Share above threshold"] <= 0.01
    side = book["PSA structural"].set_index(["Analysis", "WTP"])
    p = "P(Eque-cel (Fucaso) cost-effective)"
    assert side.loc[("without structural uncertainty", "1x HK GDP per capita"), p] == pytest.approx(0.0142, abs=1e-4)
    assert side.loc[("with structural uncertainty", "3x HK GDP per capita"), p] == pytest.approx(0.92125, abs=1e-4)
    assert side.loc[("with structural uncertainty", "3x HK GDP per capita"), "EVPI per patient"] == pytest.approx(13_687, abs=1)
    # the "without" column is the plan's own PSA (its draws reused)
    assert results.analyses["structural_psa"].reused == "partitioned survival, OS cilta-cel"
