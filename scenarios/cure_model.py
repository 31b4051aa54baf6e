"""Scenario: eque-cel mixture cure.

The definition, its rationale and sources are in ``models/fucaso_scenarios.py`` (name
"eque-cel mixture cure"); this script runs it as a full analysis with its own results workbook.

Run: ``hta run scenarios/cure_model.py``. Copy this file to make a new scenario.
"""

from hta import analyse, inputs_path, read_inputs, run_file
from hta.analysis import Threshold
from models import fucaso_rrmm, fucaso_scenarios

INPUTS = inputs_path("fucaso_hk.xlsx")  # $HTA_INPUTS, ./inputs, or the repository's inputs/ (docs/scenarios.md)
SCENARIO = "eque-cel mixture cure"


def build_model():
    definition = next(d for d in fucaso_scenarios.definitions() if d["name"] == SCENARIO)
    return fucaso_scenarios.build(fucaso_rrmm.build(read_inputs(INPUTS)), definition)


def run(context):
    model = build_model()
    results = analyse(model, Threshold("c_eqcel_price", upper=20_000_000), name="cure_model", title=f"Eque-cel vs conventional care: {SCENARIO}",
                      execution=context.execution)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    run_file(__file__)
