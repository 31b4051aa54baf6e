"""Scenario: eque-cel priced at HK$4 M, the charge reported for imported CAR-T in Hong Kong.

Source: South China Morning Post 2023: "US companies charge HK hospitals HK$4 million per patient"
(evidence tier N). A parameter override: the model is unchanged.

Run: ``hta run scenarios/price_imported_4m.py``. Copy this file to test another price.
"""

from pathlib import Path

from hta.excel.reader import read_inputs
from hta.analysis.plan import analyse
from hta.app.scripts import main
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"
PRICE = 4_000_000


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_parameter("c_eqcel_price", PRICE, source="SCMP 2023: HK$4 M charged for imported CAR-T (N)")


def run(context):
    model = build_model()
    results = analyse(model, name="price_imported_4m", title=f"Eque-cel vs conventional care: price HK${PRICE:,.0f}",
                      threshold={"parameter": "c_eqcel_price", "lower": 0, "upper": 20_000_000}, seed=context.seed)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    main(__file__)
