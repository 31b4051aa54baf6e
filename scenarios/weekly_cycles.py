"""Scenario: weekly cycles

Weekly instead of monthly cycles (the engine's grid changes; every rate and cost is converted per cycle).

Run: ``hta run scenarios/weekly_cycles.py``. Copy this file to make a new scenario.
"""

from pathlib import Path

from hta.excel.reader import read_inputs
from hta.analysis.plan import analyse
from hta.app.scripts import main
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_settings(cycle="week")


def run(context):
    model = build_model()
    results = analyse(model, name="weekly_cycles", title="Eque-cel vs conventional care: weekly cycles",
                      threshold={"parameter": "c_eqcel_price", "lower": 0, "upper": 20_000_000}, seed=context.seed)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    main(__file__)
