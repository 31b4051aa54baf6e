"""Structural uncertainty in the PSA by model averaging (hta.analysis.structural; issue 21)."""

from pathlib import Path

import numpy as np
import pytest

from hta.analysis import psa
from hta.analysis.structural import model_average
from hta.errors import HtaError

INPUTS = Path(__file__).resolve().parents[1] / "inputs" / "fucaso_hk.xlsx"


def _draws(seed, n=400, shift=0.0):
    rng = np.random.default_rng(seed)
    costs = np.column_stack([rng.normal(1000, 100, n), rng.normal(1500 + shift, 200, n)])
    effects = np.column_stack([rng.normal(1.0, 0.1, n), rng.normal(2.0, 0.3, n)])
    return costs, effects


def test_one_alternative_equals_the_ordinary_psa():
    c, e = _draws(1)
    wtp = [0.0, 300.0, 500.0, 1000.0]
    res = model_average({"a": (c, e)}, {"a": 1.0}, wtp, ["cc", "new"])
    np.testing.assert_allclose(res.table["p_ce_new"], psa.ceac(c, e, wtp, ["cc", "new"])["new"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.table["evpi"], psa.evpi_curve(c, e, wtp)["evpi"], rtol=1e-12, atol=1e-9)


def test_mixture_is_the_weighted_pooled_psa():
    # Weights 0.25 / 0.75 over equal-sized PSAs = the ordinary PSA of the pooled draws with
    # alternative B's draws repeated 3 times (probability weights w_k / n_k).
    a, b = _draws(2), _draws(3, shift=800.0)
    wtp = [200.0, 500.0, 900.0]
    res = model_average({"A": a, "B": b}, {"A": 1.0, "B": 3.0}, wtp, ["cc", "new"])
    pooled_c = np.vstack([a[0]] + [b[0]] * 3)
    pooled_e = np.vstack([a[1]] + [b[1]] * 3)
    np.testing.assert_allclose(res.table["p_ce_new"], psa.ceac(pooled_c, pooled_e, wtp)["strategy 2"], atol=1e-12)
    np.testing.assert_allclose(res.table["evpi"], psa.evpi_curve(pooled_c, pooled_e, wtp)["evpi"], rtol=1e-10)
    assert res.weights == {"A": 0.25, "B": 0.75}
    mix = res.means.iloc[-1]
    assert mix["cost_new"] == pytest.approx(0.25 * a[0][:, 1].mean() + 0.75 * b[0][:, 1].mean())


def test_structural_disagreement_adds_value_of_information():
    # Two structures, each certain on its own (no parameter uncertainty), disagreeing on the best
    # strategy: the EVPI is the value of learning which structure is right.
    n = 10
    a = (np.tile([0.0, 100.0], (n, 1)), np.tile([0.0, 1.0], (n, 1)))   # new: +1 QALY for +100
    b = (np.tile([0.0, 100.0], (n, 1)), np.tile([0.0, 0.1], (n, 1)))   # new: +0.1 QALY for +100
    res = model_average({"a": a, "b": b}, {"a": 0.5, "b": 0.5}, [500.0], ["cc", "new"])
    # NMB(new) = 400 under a, -50 under b: choose new (mean 175); EVPI = 0.5 x 50 = 25
    assert res.table["p_ce_new"].iloc[0] == pytest.approx(0.5)
    assert res.table["evpi"].iloc[0] == pytest.approx(25.0)
    for alt in (a, b):
        assert psa.evpi_curve(*alt, [500.0])["evpi"].iloc[0] == 0.0


def test_model_average_rejects_bad_weights():
    a = _draws(4)
    with pytest.raises(HtaError, match="weight"):
        model_average({"a": a}, {"b": 1.0}, [1.0])
    with pytest.raises(HtaError, match="non-negative"):
        model_average({"a": a, "b": a}, {"a": -1.0, "b": 2.0}, [1.0])


def test_flagship_structural_psa_with_and_without():
    from hta.excel.reader import read_inputs
    from models import fucaso_rrmm, fucaso_scenarios

    model = fucaso_rrmm.build(read_inputs(INPUTS))
    res = fucaso_scenarios.structural_psa(model, draws=300)
    summary = res["summary"]
    assert list(summary["analysis"].unique()) == ["without structural uncertainty", "with structural uncertainty"]
    assert len(summary) == 4 and (summary["evpi_per_patient"] >= 0).all()
    # the mixture's P(CE) is the weighted mean of the alternatives' own P(CE)
    alts = fucaso_scenarios.structural_alternatives(model)
    expected = 0.0
    wtp3 = model.settings.wtp_values[1]
    for name, alt in alts.items():
        out = alt.evaluate(alt.parameters.sample(300, model.settings.seed))
        expected += fucaso_scenarios.STRUCTURAL_WEIGHTS[name] * psa.ceac(out.costs, out.qalys, [wtp3]).iloc[0, 1]
    got = summary[(summary["analysis"] == "with structural uncertainty") & (summary["wtp"] == wtp3)]["p_ce_eqcel"]
    assert got.iloc[0] == pytest.approx(expected, abs=1e-12)
    assert sum(fucaso_scenarios.STRUCTURAL_WEIGHTS.values()) == pytest.approx(1.0)
    assert set(res["crossing"]["alternative"]) <= set(alts)
