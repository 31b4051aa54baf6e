"""The adjusted-HR scenario of the flagship (models/fucaso_scenarios.with_adjusted_hr)."""

from pathlib import Path

import numpy as np
import pytest

from hta.excel.reader import read_inputs
from models import fucaso_rrmm
from models import fucaso_scenarios as fs

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


@pytest.fixture(scope="module")
def model():
    return fucaso_rrmm.build(read_inputs(INPUTS))


def test_curves_are_the_comparator_times_the_hazard_ratio(model):
    adjusted = fs.with_adjusted_hr(model)
    t = np.linspace(0, 120, 61)
    for endpoint, hr in (("PFS", fs.HR_ADJ_PFS), ("OS", fs.HR_ADJ_OS)):
        from hta.survival.curves import make_curve

        cc = make_curve("exponential", model.survival[("cc", endpoint)].coef[None])
        eq = make_curve("exponential", adjusted.survival[("eqcel", endpoint)].coef[None])
        np.testing.assert_allclose(eq.cumhaz(t), hr * cc.cumhaz(t), rtol=1e-12)
        # PSA variance: the comparator's plus the log-HR's (95% CI on the log scale)
        lo, hi = fs.HR_ADJ_PFS_CI if endpoint == "PFS" else fs.HR_ADJ_OS_CI
        se = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
        assert adjusted.survival[("eqcel", endpoint)].cov[0, 0] == pytest.approx(
            model.survival[("cc", endpoint)].cov[0, 0] + se ** 2)
    # the comparator arm is untouched
    assert adjusted.survival[("cc", "OS")] is model.survival[("cc", "OS")]


def test_scenario_is_in_the_base_case_table_and_moves_results(model):
    definition = next(d for d in fs.definitions() if d["name"].startswith("eque-cel from adjusted HRs"))
    scenario = fs.build(model, definition)
    base = model.evaluate(model.parameters.base())
    out = scenario.evaluate(scenario.parameters.base())
    assert np.array_equal(out.costs[:, 0], base.costs[:, 0])          # comparator unchanged
    assert out.qalys[0, 1] != base.qalys[0, 1]
    icer = (out.costs[0, 1] - out.costs[0, 0]) / (out.qalys[0, 1] - out.qalys[0, 0])
    assert 1e5 < icer < 2e6


def test_scenario_refuses_a_non_exponential_comparator(model):
    other = model.with_survival("cc", "OS", "weibull", [0.0, 2.6], source="test")
    from hta.errors import HtaError

    with pytest.raises(HtaError, match="exponential comparator OS"):
        fs.with_adjusted_hr(other)
