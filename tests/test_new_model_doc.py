"""docs/new_model.md's growth steps (docs/examples/grow_three_state.py), each checked against an
identity that must hold, not against its own output:

* a tunnel state whose first-year death risk equals the later one gives the plain model exactly;
* time-dependent mortality: Healthy -> Dead per cycle equals 1 - exp(-(H(t_j) - H(t_{j-1}))) of the
  Hong Kong life table (docs/methods.md, background mortality), and the cohort sums to 1;
* partitioned survival: progression-free occupancy equals the Weibull PFS curve
  S(t) = exp(-(t / scale)^shape) (flexsurv's parameterisation), and OS with the drug is S^HR;
* a workbook written by ``hta template`` and filled with the example's values gives the same
  base case as the model built in code.
"""

import sys
from pathlib import Path

import numpy as np
import openpyxl

from hta.app.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "examples"))
import grow_three_state as g  # noqa: E402


def test_tunnel_with_equal_risks_equals_the_plain_model():
    model = g.tunnel_model()
    base = model.parameters.base()
    same = base.with_values(p_sick_dead_first=base["p_sick_dead"])
    plain = g.ThreeState().evaluate(g.ThreeState().parameters.base())
    tunnel = model.evaluate(same)
    np.testing.assert_allclose(tunnel.costs, plain.costs, rtol=1e-13)
    np.testing.assert_allclose(tunnel.qalys, plain.qalys, rtol=1e-13)
    assert (model.evaluate(base).lys < plain.lys).all()  # a higher first-year risk shortens life


def test_time_dependent_mortality_follows_the_life_table():
    from hta.population.lifetables import LifeTable

    model = g.ageing_model()
    H = LifeTable.hong_kong().cohort_cumhaz(np.arange(41.0), 60, 0.5).reshape(-1)
    np.testing.assert_allclose(model.background_death()[0], 1 - np.exp(-np.diff(H)), rtol=1e-12)
    out = model.evaluate(model.parameters.base(), keep_cohort=True)
    trace = out["usual"].cohort.trace[0]
    np.testing.assert_allclose(trace.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.diff(trace[:, 2]) > 0)  # death risk in every cycle


def test_psm_occupancy_is_the_weibull_curves():
    model = g.psm_model()
    batch = model.parameters.base()
    t = model.grid.times
    shape, scale = np.exp(batch["pfs_log_shape"][0]), np.exp(batch["pfs_log_scale"][0])
    out = model.evaluate(batch, keep_cohort=True)
    np.testing.assert_allclose(out["usual"].cohort.trace[0, :, 0], np.exp(-(t / scale) ** shape), rtol=1e-12)
    os_shape, os_scale = np.exp(batch["os_log_shape"][0]), np.exp(batch["os_log_scale"][0])
    os_drug = np.exp(-(t / os_scale) ** os_shape) ** batch["rr_drug"][0]
    np.testing.assert_allclose(1 - out["drug"].cohort.trace[0, :, 2], os_drug, rtol=1e-12)


def test_the_template_workbook_filled_in_gives_the_same_model(tmp_path):
    path = tmp_path / "three_state.xlsx"
    assert main(["template", str(path)]) == 0
    book = openpyxl.load_workbook(path)
    settings = {"horizon_years": 40, "cycle": "year", "discount_costs": 0.035, "discount_outcomes": 0.035,
                "within_cycle": "half-cycle", "currency": "GBP", "start_age": 60, "male_share": 0.5,
                "wtp_1": 20_000}
    for row in book["Settings"].iter_rows(min_row=2):
        if row[0].value in settings:
            row[1].value = settings[row[0].value]
            row[4].value = "assumption (illustrative)"
    table = g.three_state.parameters().to_frame()
    sheet = book["Parameters"]
    for r, p in enumerate(table.itertuples(), start=2):
        sheet.cell(r, 1, p.name)
        sheet.cell(r, 2, p.base)
        sheet.cell(r, 4, "fixed")
        sheet.cell(r, 12, "assumption (illustrative)")
    for r, (s, label) in enumerate((("usual", "Usual care"), ("drug", "New drug")), start=2):
        book["Strategies"].cell(r, 1, s)
        book["Strategies"].cell(r, 2, label)
    book.save(path)
    model = g.workbook_model(path)
    assert model.settings.horizon_years == 40 and model.settings.start_age == 60
    code = g.ThreeState()
    np.testing.assert_allclose(model.evaluate(model.parameters.base()).costs,
                               code.evaluate(code.parameters.base()).costs, rtol=1e-13)


def test_psm_without_survival_specs_publishes_its_curves(tmp_path):
    """A partitioned-survival model with survival_curves but no parametric specs: the Survival
    sheet and figure appear, the Survival models sheet does not."""
    from hta import analyse, publish

    results = analyse(g.psm_model(), name="psm")
    publish(results, tmp_path, quiet=True)
    names = openpyxl.load_workbook(tmp_path / "psm.xlsx", read_only=True).sheetnames
    assert "Survival" in names and "Trace" in names and "Survival models" not in names
    assert (tmp_path / "psm_survival.png").is_file()
    assert results.structure_label == "partitioned survival"
