"""Scenario: 5% discounting

Costs and outcomes discounted at 5% a year.

Run: ``hta run scenarios/discount_5_percent.py``. Copy this file to make a new scenario.
"""

from pathlib import Path

from hta.excel.reader import read_inputs
from hta.analysis.plan import analyse
from hta.app.scripts import main
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_settings(discount_costs=0.05, discount_outcomes=0.05)


def run(context):
    model = build_model()
    results = analyse(model, name="discount_5_percent", title="Eque-cel vs conventional care: 5% discounting",
                      threshold={"parameter": "c_eqcel_price", "lower": 0, "upper": 20_000_000}, seed=context.seed)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    main(__file__)
