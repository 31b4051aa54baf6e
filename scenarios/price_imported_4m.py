"""Scenario: eque-cel priced at HK$4 M, the charge reported for imported CAR-T in Hong Kong.

Source: South China Morning Post 2023: "US companies charge HK hospitals HK$4 million per patient"
(evidence tier N). A parameter override: the model is unchanged.

Run: ``hta run scenarios/price_imported_4m.py``. Copy this file to test another price.
"""

from hta import analyse, inputs_path, read_inputs, run_file
from hta.analysis import Threshold
from models import fucaso_rrmm

INPUTS = inputs_path("fucaso_hk.xlsx")  # $HTA_INPUTS, ./inputs, or the repository's inputs/ (docs/scenarios.md)
PRICE = 4_000_000


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_parameter("c_eqcel_price", PRICE, source="SCMP 2023: HK$4 M charged for imported CAR-T (N)")


def run(context):
    model = build_model()
    results = analyse(model, Threshold("c_eqcel_price", upper=20_000_000), name="price_imported_4m", title=f"Eque-cel vs conventional care: price HK${PRICE:,.0f}",
                      execution=context.execution)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    run_file(__file__)
