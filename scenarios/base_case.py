"""Base case (temporary): the HIV reference model of Briggs et al. (2006), Exercise 2.5."""

from hta.cea import incremental
from models import hiv_chancellor as hiv


def run(context):
    out = hiv.evaluate(hiv.base_values())
    table = out.summary()[["strategy", "cost", "lys"]].rename(columns={"lys": "effect"})
    print(incremental(table).to_string(index=False))
    return out
