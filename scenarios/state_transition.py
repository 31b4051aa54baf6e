"""Scenario: state-transition structure (NICE DSU TSD 19)

Semi-Markov structure: progression-free exits follow the PFS curve, deaths before progression at general-population rates, post-progression death at the LocoMMotion rate; OS follows from PFS (a PFS-to-OS link).

Run: ``hta run scenarios/state_transition.py``. Copy this file to make a new scenario.
"""

from hta import analyse, inputs_path, read_inputs, run_file
from hta.analysis import Threshold
from models import fucaso_rrmm

INPUTS = inputs_path("fucaso_hk.xlsx")  # $HTA_INPUTS, ./inputs, or the repository's inputs/ (docs/scenarios.md)


def build_model():
    model = fucaso_rrmm.build(read_inputs(INPUTS))
    return model.with_structure("stm")


def run(context):
    model = build_model()
    results = analyse(model, Threshold("c_eqcel_price", upper=20_000_000), name="state_transition", title="Eque-cel vs conventional care: state-transition structure (NICE DSU TSD 19)",
                      execution=context.execution)
    context.publish(results, inputs=[INPUTS])
    return results


if __name__ == "__main__":
    run_file(__file__)
