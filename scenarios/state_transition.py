"""Scenario: state-transition structure (NICE DSU TSD 19)

Semi-Markov structure: progression-free exits follow the PFS curve, deaths before progression at general-population rates, post-progression death at the LocoMMotion rate; OS follows from PFS (a PFS-to-OS link).

Run: ``hta run scenarios/state_transition.py``. Copy this file to make a new scenario.
"""

from pathlib import Path

from hta.excel.reader import read_inputs
from hta.analysis.plan import analyse
from hta.app.scripts import main
from models import fucaso_rrmm

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_structure("stm")


def run(context):
    model = build_model()
    results = analyse(model, name="state_transition", title="Eque-cel vs conventional care: state-transition structure (NICE DSU TSD 19)",
                      threshold={"parameter": "c_eqcel_price", "lower": 0, "upper": 20_000_000}, seed=context.seed)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    main(__file__)
