"""Reference model: the Chancellor et al. (1997) HIV model as in Briggs, Claxton & Sculpher (2006).

Zidovudine monotherapy vs zidovudine + lamivudine; four states, 20 annual cycles, end-of-cycle
counting, costs (GBP 1995) discounted at 6%, life-years undiscounted (``models/hiv_chancellor.py``).
The effect is the life-year (the model's utilities are all 1): the headline ICER is per LY and
equals the book's 6,276 per LY gained (Exercise 2.5; tests/test_reference_scenarios.py). The
WTPs (GBP 10,000 and 20,000 per LY) are assumptions. Analyses: one-way, the threshold price
of lamivudine, PSA of 1,000 draws (Exercise 4.7's distributions) with EVPPI.

Run: ``hta run scenarios/hiv_chancellor.py``.
"""

from hta import analyse, run_file
from hta.analysis import OneWay, Psa, Threshold
from models import hiv_chancellor

NAME = "hiv_chancellor"
TITLE = "HIV: zidovudine + lamivudine vs zidovudine (Chancellor et al. 1997; Briggs et al. 2006 Ex 2.5/4.7)"


def build_model():
    return hiv_chancellor.model()


def run(context):
    results = analyse(build_model(), OneWay(), Threshold("c_lamivudine", upper=20_000), Psa(draws=1000, evppi=True),
                      name=NAME, title=TITLE, execution=context.execution)
    context.publish(results)
    return results


if __name__ == "__main__":
    run_file(__file__)
