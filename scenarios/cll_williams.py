"""CLL first line, FC vs RFC: NICE DSU TSD 19 comparison of partitioned survival, cohort
state-transition and individual-level multi-state models fitted to the same patient data.

Data: CLL8 (NICE TA174; Williams et al. MDM 2017), 810 patients, ``../shared/refdata/
TA174_CLL_Williams2017.csv``. The base case (Summary, Trace, Survival sheets) is the
partitioned-survival structure (``models.cll_williams.CllModel``); the sheet "TSD 19 comparison"
sets it beside the clock-forward (Markov) and clock-reset (semi-Markov) cohort models and their
individual-level simulations (100,000 patients per arm), with the fits per transition
("Multi-state fits") and the occupancy of every method against Aalen-Johansen ("Multi-state
occupancy", figure ``cll_williams_multistate_occupancy.png``). Costs, utilities and horizon are
assumptions (docs/multistate.md). Takes about a minute (the fits and the simulations).

Run: ``hta run scenarios/cll_williams.py``.
"""

from hta import analyse, run_file
from hta.analysis.review_requests import MultiStateComparison
from models import cll_williams

NAME = "cll_williams"
TITLE = "CLL first line, FC vs RFC (CLL8): partitioned survival vs multi-state models (NICE DSU TSD 19)"


def build_model():
    """The protocol model (the PSM structure) for ``hta check``: the PFS and OS fits only."""
    return cll_williams.protocol_model()


def run(context, n_patients: int = 100_000):
    built = cll_williams.build(n_patients=n_patients)
    model = cll_williams.protocol_model(built)
    results = analyse(
        model,
        MultiStateComparison(tuple(built["results"]), built["observed"], reference="FC", comparator="RFC",
                             fits=cll_williams.fit_table(built), currency="GBP"),
        name=NAME, title=TITLE, execution=context.execution,
    )
    context.publish(results, inputs=[cll_williams.DATA])
    return results


if __name__ == "__main__":
    run_file(__file__)
