"""Base case: eque-cel (Fucaso) vs conventional care, Hong Kong Hospital Authority perspective.

Partitioned survival (base case) with the state-transition structure beside it (NICE DSU TSD 19),
lifetime horizon, monthly cycles, 3% discounting, WTP at 1x and 3x Hong Kong GDP per capita;
one-way analysis, the threshold price of eque-cel, a 5,000-draw PSA with EVPI and EVPPI, the
PSA with structural uncertainty beside it (model averaging over the OS source and PSM/STM), the
scenario table, Sobol indices (N = 1,024), PFS above OS counted in every batch, the model verification checks (``hta.analysis.verify``, the
Verification sheet) on both structures and the 5-year budget impact (sheets Budget and
BudgetShares of the workbook; docs/bia.md); results by payer, the budget impact with the capacity
limit, the price negotiation over managed-entry schemes and the EVSI of further OS follow-up
(sheets Payers, Agreements, Capacity; docs/agreements.md).

Run: ``hta run scenarios/base_case.py`` (or ``python scenarios/base_case.py``).
Copy this file to make a new scenario: change the model (``model.with_settings(...)``,
``model.with_structure(...)``, ``model.with_survival(...)``) or the list of analyses, and the name.
"""

from hta import analyse, inputs_path, read_inputs, run_file
from hta.analysis import (
    BudgetImpact,
    CapacityBudget,
    Cheers,
    CrossingReport,
    Evsi,
    FormulaWorkbook,
    OneWay,
    PayerResults,
    PriceNegotiation,
    Psa,
    Scenario,
    Scenarios,
    Sobol,
    StructuralPsa,
    SurvivalSelection,
    Threshold,
    TwoWay,
    Verification,
)
from models import fucaso_rrmm, fucaso_scenarios

INPUTS = inputs_path("fucaso_hk.xlsx")  # $HTA_INPUTS, ./inputs, or the repository's inputs/ (docs/scenarios.md)
NAME = "base_case"
TITLE = "Eque-cel (Fucaso) vs conventional care in triple-class-exposed RRMM: HA perspective, base case"


#: Budget impact scenarios on population, uptake and price (one-way ranges are in the workbook).
BIA_SCENARIOS = (
    {"name": "price HK$4 M (imported CAR-T charge)", "parameters": {"c_eqcel_price": 4_000_000},
     "description": "SCMP 2023: US companies charge HK hospitals HK$4 M per CAR-T patient"},
    {"name": "S-shaped uptake to 50% (midpoint year 2.5)",
     "budget": {"uptake_curve": "s-shaped", "uptake_midpoint": 2.5, "uptake_steepness": 1.5}},
    {"name": "prevalent pool of 50 patients in 2026", "budget": {"prevalent_patients": 50}},
    {"name": "all eligibility steps high, peak uptake 70%",
     "budget": {"eligible_tce_4l": 0.35, "eligible_fit_cart": 0.7, "eligible_ha": 1.0, "uptake_peak": 0.7}},
    {"name": "patients start on 1 January", "budget": {"entry": "start"}},
)


def build_model():
    return fucaso_rrmm.build(read_inputs(INPUTS))


def run(context):
    inputs = read_inputs(INPUTS)
    model = fucaso_rrmm.build(inputs)
    scenarios = tuple(Scenario(d["name"], d["description"], model=d.get("model"), overrides=d.get("overrides", {}),
                               settings=d.get("settings", {})) for d in fucaso_scenarios.definitions())
    results = analyse(
        model,
        OneWay(),
        Psa(draws=5000, evppi=True),
        # the same 5,000 draws for every structure; the base structure's come from the PSA above
        StructuralPsa(fucaso_scenarios.structural_alternatives(model), fucaso_scenarios.STRUCTURAL_WEIGHTS,
                      base="partitioned survival, OS cilta-cel"),
        Threshold("c_eqcel_price", upper=20_000_000, curve_multiples=(0.5, 0.75, 1, 1.5, 2, 2.5, 3)),
        Scenarios(scenarios),
        Sobol(n_base=1024),
        CrossingReport(),  # PFS above OS in the base case, one-way, PSA and Sobol batches above
        TwoWay("c_eqcel_price", tuple(500_000 * i for i in range(1, 11)),
               "c_cc_regimen_month", tuple(10_000 * i for i in range(1, 11))),
        BudgetImpact(inputs.budget, BIA_SCENARIOS),
        # issue 22 (docs/agreements.md): who pays, the capacity-limited budget, managed-entry schemes, EVSI;
        # workbook sheets Payers, Agreements, Capacity
        PayerResults(inputs.negotiation),
        CapacityBudget(inputs.budget, inputs.negotiation, shares=inputs.negotiation),
        PriceNegotiation(inputs.negotiation, schemes=("discount", "outcome-based", "refund", "price-volume")),
        # FUMANBA-1: 107 patients, median follow-up 36.0 months at the latest cut (IMS 2025; evidence.md 1.3)
        Evsi(months=(12, 24, 36), enrolled=107, current_followup=36.0),
        SurvivalSelection(tuple(fucaso_scenarios.survival_candidates(model))),
        FormulaWorkbook(),  # results/base_case_model.xlsx: the base case as Excel formulas
        Verification(),
        Cheers(fucaso_rrmm.CHEERS_STATEMENTS),
        name=NAME, title=TITLE,
        # Base case: intention-to-treat from leukapheresis (as NICE's CAR-T appraisals preferred);
        # the infused-only analysis is shown beside it.
        alternatives={"state-transition (TSD 19)": model.with_structure("stm"),
                      "partitioned survival, infused only": model.with_itt(False)},
        execution=context.execution,
    )
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    run_file(__file__)
