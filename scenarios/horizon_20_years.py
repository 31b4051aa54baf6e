"""Scenario: 20-year horizon

A 20-year time horizon instead of lifetime (to age 100).

Run: ``hta run scenarios/horizon_20_years.py``. Copy this file to make a new scenario.
"""

from hta import analyse, inputs_path, read_inputs, run_file
from hta.analysis import Threshold
from models import fucaso_rrmm

INPUTS = inputs_path("fucaso_hk.xlsx")  # $HTA_INPUTS, ./inputs, or the repository's inputs/ (docs/scenarios.md)


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_settings(horizon_years=20)


def run(context):
    model = build_model()
    results = analyse(model, Threshold("c_eqcel_price", upper=20_000_000), name="horizon_20_years", title="Eque-cel vs conventional care: 20-year horizon",
                      execution=context.execution)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    run_file(__file__)
