"""Reference model: total hip replacement, new prosthesis (NP1) vs standard (Briggs et al. 2006 style).

Five states, 60 annual cycles from age 60, half-cycle correction, costs (GBP) discounted at 6%
and QALYs at 1.5%, Weibull revision hazard in time since the operation, Hong Kong background
mortality (``models/thr_briggs.py``; its parameter values are illustrative, not for decisions).
WTP GBP 20,000 and 30,000 per QALY (NICE). Analyses: one-way, the threshold price of the new
prosthesis, PSA of 1,000 draws.

Run: ``hta run scenarios/thr_briggs.py``.
"""

from hta import analyse, run_file
from hta.analysis import OneWay, Psa, Threshold
from models import thr_briggs

NAME = "thr_briggs"
TITLE = "Total hip replacement: new prosthesis NP1 vs standard (Briggs et al. 2006 style; illustrative)"


def build_model():
    return thr_briggs.model()


def run(context):
    results = analyse(build_model(), OneWay(), Threshold("c_prosthesis_np1", upper=50_000), Psa(draws=1000),
                      name=NAME, title=TITLE, execution=context.execution)
    context.publish(results)
    return results


if __name__ == "__main__":
    run_file(__file__)
