"""Issue 22 wired into the flagship: the Payers/Agreements/Capacity sheets, results by payer, the
price negotiation, the capacity-limited budget impact and the EVSI of further OS follow-up.

Expected values are computed here by hand from the workbook's inputs and the model's own outputs
(sums over cost lines, closed-form threshold discounts, discounted patient counts), never copied
from the code under test.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta import analyse, read_inputs
from hta.analysis import BudgetImpact, Psa
from hta.analysis.negotiation_requests import CapacityBudget, Evsi, PayerResults, PriceNegotiation
from hta.errors import HtaError, InputError
from hta.inputs.negotiation import CapacityTerms
from hta.report.sections import present
from models import fucaso_rrmm

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs" / "fucaso_hk.xlsx"
DRAWS = 600


@pytest.fixture(scope="module")
def inputs():
    return read_inputs(INPUTS)


@pytest.fixture(scope="module")
def model(inputs):
    return fucaso_rrmm.build(inputs)


@pytest.fixture(scope="module")
def run(inputs, model):
    neg = inputs.negotiation
    return analyse(model, Psa(draws=DRAWS), BudgetImpact(inputs.budget), PayerResults(neg),
                   CapacityBudget(inputs.budget, neg, shares=neg),
                   PriceNegotiation(neg, schemes=("discount", "outcome-based", "refund", "price-volume"), draws=DRAWS),
                   Evsi(months=(12, 36), seeds=(1, 2)), name="negotiation_test")


# -- the workbook's sheets ----------------------------------------------------------------------


def test_workbook_payer_shares_and_terms_are_read_with_sources(inputs):
    neg = inputs.negotiation
    # SF/CCF share of a self-financed drug = 0.5 (assumption: half pass the means test) x 0.935 (CCF covers
    # 92-95% of the drug cost, SCMP 28 Jul 2011); HA services 90% subsidised (2026 fees reform target)
    assert neg.payer_shares["subsequent therapy"] == pytest.approx({"HA": 0.0, "SF/CCF": 0.4675, "patient": 0.5325})
    assert neg.payer_shares["infusion admission"] == pytest.approx({"HA": 0.9, "SF/CCF": 0.0, "patient": 0.1})
    assert neg.payer_shares["CAR-T acquisition"]["HA"] == 1.0
    assert all(src.strip() for src in neg.payer_sources.values())
    a = neg.agreements
    assert a.upfront + sum(s for _, s, _ in a.instalments) == pytest.approx(1.0)
    assert [m for m, _, _ in a.instalments] == [6.0, 12.0]
    c = neg.capacity
    # death while waiting: 1 - exp(-ln 2 / 13.8) (LocoMMotion median OS 13.8 months)
    assert c.p_death_month == pytest.approx(1 - np.exp(-np.log(2) / 13.8), abs=5e-5)
    for src in list(a.sources.values()) + list(c.sources.values()):
        assert src.strip()


def _broken(tmp_path, sheet, cell, value):
    import openpyxl

    wb = openpyxl.load_workbook(INPUTS)
    ws = wb[sheet]
    ws[cell] = value
    path = tmp_path / "broken.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as err:
        read_inputs(path)
    return err.value


def _row_of(sheet, first_column_value):
    import openpyxl

    ws = openpyxl.load_workbook(INPUTS)[sheet]
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == first_column_value)


def test_a_payer_share_above_one_is_one_error_naming_the_sheet_and_cell(tmp_path):
    r = _row_of("Payers", "subsequent therapy")
    err = _broken(tmp_path, "Payers", f"D{r}", 1.2)
    assert len(err.problems) == 1
    p = err.problems[0]
    assert (p.sheet, p.cell) == ("Payers", f"D{r}")
    assert "from 0 to 1" in p.expected and "1.2" in p.found
    assert f"sheet 'Payers', cell D{r}" in str(err)


def test_payer_shares_not_summing_to_one_name_the_row(tmp_path):
    r = _row_of("Payers", "terminal care")
    err = _broken(tmp_path, "Payers", f"B{r}", 0.5)  # 0.5 + 0 + 0.1
    assert len(err.problems) == 1 and err.problems[0].cell == f"B{r}:D{r}"
    assert "summing to 1" in err.problems[0].expected


def test_an_instalment_after_the_horizon_is_one_error_naming_the_cell(tmp_path, inputs):
    r = _row_of("Agreements", "instalment_2_months")
    err = _broken(tmp_path, "Agreements", f"B{r}", 12 * inputs.settings.horizon_years + 1)
    assert len(err.problems) == 1
    p = err.problems[0]
    assert (p.sheet, p.cell) == ("Agreements", f"B{r}")
    assert "horizon (504 months)" in p.expected


def test_a_cap_below_zero_is_one_error_naming_the_cell(tmp_path):
    r = _row_of("Agreements", "cap_patients_per_year")
    err = _broken(tmp_path, "Agreements", f"B{r}", -5)
    assert len(err.problems) == 1
    assert (err.problems[0].sheet, err.problems[0].cell) == ("Agreements", f"B{r}")
    assert "-5" in err.problems[0].found


def test_negative_slots_are_one_error_naming_the_capacity_cell(tmp_path):
    r = _row_of("Capacity", "slots_per_year")
    err = _broken(tmp_path, "Capacity", f"B{r}", -1)
    assert len(err.problems) == 1 and (err.problems[0].sheet, err.problems[0].cell) == ("Capacity", f"B{r}")


# -- results by payer ---------------------------------------------------------------------------


def test_ha_share_of_the_increment_is_the_share_weighted_sum_of_the_cost_lines(run, inputs):
    r = run.analyses["payers"]
    d = run.disaggregated[run.disaggregated["measure"] == "cost"]
    by = d.groupby(["strategy", "category"])["discounted"].sum().unstack(fill_value=0.0)
    inc = by.loc["eqcel"] - by.loc["cc"]
    shares = inputs.negotiation.payer_shares
    ha = sum(v * shares[c.split(": ", 1)[-1]]["HA"] for c, v in inc.items())
    assert r.inc_cost_total == pytest.approx(inc.sum(), rel=1e-12)
    assert r.inc_cost_ha == pytest.approx(ha, rel=1e-12)
    assert r.ha_share == pytest.approx(ha / inc.sum(), rel=1e-12)
    # every payer together is the model's own ICER (HK$644,808/QALY, merge f520a3e)
    assert r.icer_total == pytest.approx(644_808, abs=1)
    assert 0 < r.ha_share < 1 and r.icer_ha < r.icer_total  # SF/CCF and patients pay part of the increment


def test_all_costs_to_the_ha_give_the_base_case_icer(model, run):
    cats = run.disaggregated["category"].unique()
    st = _state(model, run)
    r = PayerResults({c.split(": ", 1)[-1]: {"HA": 1.0} for c in cats}).run(st)
    assert r.ha_share == pytest.approx(1.0) and r.icer_ha == pytest.approx(r.icer_total)


def test_a_cost_line_without_payer_shares_is_an_error_naming_it(model, run):
    with pytest.raises(HtaError, match="'conventional-care regimen' in sheet Payers"):
        PayerResults({"subsequent therapy": {"HA": 1.0}}).run(_state(model, run))


def _state(model, run):
    from hta.analysis.plan import Execution, RunState

    return RunState(model=model, alternatives={}, wtp=list(model.settings.wtp), seed=run.run_info["seed"],
                    execution=Execution(), results=run, planned=())


# -- capacity -----------------------------------------------------------------------------------


def test_capacity_flow_conserves_patients_and_never_exceeds_the_slots(run, inputs):
    r = run.analyses["capacity"]
    y = r.yearly
    slots = inputs.negotiation.capacity.slots_per_year
    assert (y["treated"] <= slots + 1e-9).all()
    total_in = y["demand"].sum() + inputs.negotiation.capacity.initial_waiting
    total_out = y["treated"].sum() + y["died waiting"].sum() + y["progressed waiting"].sum() + y["waiting at year end"].iloc[-1]
    assert total_in == pytest.approx(total_out, rel=1e-12)
    # without the limit the net impact is the budget impact analysis's own (docs/bia.md)
    assert r.net_without == pytest.approx(run.analyses["bia"].net_total, rel=1e-9)
    # demand is the BIA's patients on eque-cel: 9.1, 14.2, 19.5, 25.3, 26.1 (inputs/build_fucaso_hk.py)
    assert np.round(r.demand_year, 1).tolist() == [9.1, 14.2, 19.5, 25.3, 26.1]
    assert r.treated_year[-1] == pytest.approx(slots)  # the limit binds in 2030
    assert y["waiting at year end"].iloc[-1] > 0


def test_unlimited_capacity_and_no_fixed_costs_give_the_unconstrained_budget(model, run, inputs):
    terms = CapacityTerms(slots_per_year=np.inf)
    r = CapacityBudget(inputs.budget, terms).run(_state(model, run))
    assert r.net_with == pytest.approx(r.net_without, rel=1e-12)
    # fixed costs alone add H x the yearly cost
    r2 = CapacityBudget(inputs.budget, CapacityTerms(slots_per_year=np.inf, fixed_cost_per_year=1e6)).run(_state(model, run))
    assert r2.net_with - r2.net_without == pytest.approx(5e6, rel=1e-12)


# -- price negotiation --------------------------------------------------------------------------


def test_threshold_discount_makes_the_mean_icer_equal_each_wtp(run):
    r = run.analyses["negotiation"]
    g = r.grid
    for scheme in g["scheme"].unique():
        at0 = g[(g["scheme"] == scheme) & (g["discount"] == 0.0)].iloc[0]
        for _, k in r.wtp:
            d = r.threshold(scheme, k)
            # costs fall by d x the expected payment at list price: inc_cost(d) = inc_cost(0) - d * payment(0)
            inc_cost = at0["inc_cost"] - d * at0["payment"]
            assert inc_cost / at0["inc_qaly"] == pytest.approx(k, rel=1e-9)


def test_scheme_payment_factors_follow_the_terms_and_the_models_curves(model, run, inputs):
    r = run.analyses["negotiation"]
    batch = model.parameters.sample(DRAWS, run.run_info["seed"])
    pf = model.survival_curves(batch)[("eqcel", "PFS")]
    t = model.grid.times
    disc = model.settings.discount_costs
    f = dict(zip(r.schemes["short"], r.schemes["mean payment factor"]))
    # 50% at infusion, 25% at 6 and at 12 months if progression-free (AIFA-style tranches)
    pf6 = np.array([np.interp(0.5, t, row) for row in pf])
    pf12 = np.array([np.interp(1.0, t, row) for row in pf])
    expected = np.mean(0.5 + 0.25 * pf6 * (1 + disc) ** -0.5 + 0.25 * pf12 * (1 + disc) ** -1.0)
    assert f["Outcome-based"] == pytest.approx(expected, rel=1e-9)
    # full refund for the not infused: 1 - mean(p_not_infused)
    assert f["Refund if not infused"] == pytest.approx(1 - np.mean(batch["p_not_infused"]), rel=1e-12)
    # a cap of 15 a year over the patients treated within capacity: sum(min(N, 15)) / sum(N)
    n = run.analyses["capacity"].treated_year
    assert f["Price-volume cap"] == pytest.approx(np.minimum(n, 15).sum() / n.sum(), rel=1e-12)
    assert f["Discount only"] == 1.0


def test_price_negotiation_without_a_psa_is_an_error(model, inputs):
    with pytest.raises(HtaError, match="expected a Psa"):
        analyse(model, PriceNegotiation(inputs.negotiation), name="no_psa")


def test_p_ce_rises_with_the_discount(run):
    g = run.analyses["negotiation"].grid
    k = run.analyses["negotiation"].wtp[0][1]
    for _, block in g[np.isclose(g["wtp"], k)].groupby("scheme"):
        assert np.all(np.diff(block.sort_values("discount")["p_ce"].to_numpy()) >= 0)


# -- EVSI ---------------------------------------------------------------------------------------


def test_evsi_is_bounded_by_evppi_and_evpi_and_scaled_by_the_treated_patients(run):
    r = run.analyses["evsi"]
    t = r.table
    assert (t["evppi_os"] <= t["evpi"] + 1e-6).all()
    # EVSI <= EVPPI of the OS parameters up to the regression's Monte Carlo error (Strong et al. 2015)
    assert (t["evsi"] <= t["evppi_os"] + 3 * t["evsi_sd"].fillna(0) + 0.02 * t["evpi"] + 1).all()
    treated = run.analyses["capacity"].treated_year
    disc = sum(n * 1.03 ** -y for y, n in enumerate(treated))  # year 1 undiscounted, discount_outcomes 3%
    assert r.discounted_patients == pytest.approx(disc, rel=1e-12)
    assert np.allclose(t["population_evsi"], t["evsi"] * disc)
    # 107 FUMANBA-1 patients x base-case OS at 36 months
    assert r.at_risk == round(107 * r.survival_now)
    uncertain = t[t["price"] != "model price"]
    assert len(uncertain) and (uncertain[uncertain["wtp"] == uncertain["wtp"].min()]["evsi"] > 0).all()


def test_evsi_is_the_same_with_1_and_3_workers(run, model):
    from hta.analysis.plan import Execution, RunState

    tables = []
    for workers in (1, 3):
        state = RunState(model=model, alternatives={}, wtp=list(model.settings.wtp), seed=run.run_info["seed"],
                         execution=Execution(workers=workers), results=run, planned=tuple(run.analyses))
        tables.append(Evsi(months=(12, 36), seeds=(1, 2)).run(state).table)
    for table in tables:  # the run's own table came from the default workers (every core)
        pd.testing.assert_frame_equal(table, run.analyses["evsi"].table, check_exact=True)


# -- presenters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key,sheets", [("payers", ["Results by payer", "Costs by payer and line"]),
                                        ("negotiation", ["Price negotiation", "Threshold discounts"]),
                                        ("capacity", ["Budget impact with capacity"]), ("evsi", ["EVSI"])])
def test_sheets_format_every_numeric_column_and_print_to_the_console(run, key, sheets):
    section = present(run.analyses[key], run)
    assert [s.name for s in section.sheets] == sheets
    for sheet in section.sheets:
        numeric = [c for c in sheet.frame.columns if pd.api.types.is_numeric_dtype(sheet.frame[c])]
        assert numeric and all(c in sheet.formats for c in numeric), sheet.name
        assert all(c[:1].isupper() for c in sheet.frame.columns), sheet.name
    assert section.console
    if key == "negotiation":
        assert section.sheets[0].charts and "threshold discount" in section.console
