"""Model verification (hta.analysis.verify, `hta check`): each check fails on a planted defect, with a
message that names it, and passes on a correct model; checks a model cannot support are "not
applicable" with a reason; every check is one batched model call."""

from pathlib import Path

import numpy as np
import openpyxl
import pytest
from verify_models import DEFECTS, ToyModel

from hta.analysis.evaluate import FunctionModel
from hta.analysis.verify import FAIL, NA, PASS, parameter_roles, sweep_batch, verify
from hta.app.cli import main
from hta.errors import HtaError
from hta.excel.writer import read_back
from models import hiv_chancellor as hiv

CHECK = {
    "costs": "all costs zero gives zero costs",
    "utilities": "all utilities one gives QALYs equal to LYs",
    "discount": "discount rates zero give undiscounted totals",
    "efficacy": "identical efficacy gives identical LYs and QALYs",
    "one cycle": "a one-cycle horizon",
    "price": "doubling a price doubles its cost line and nothing else",
    "trace": "traces sum to 1 in every cycle",
    "negative": "no negative state occupancy",
    "dead": "dead state never decreases",
    "rises": "no survival curve rises (and every curve is in [0, 1])",
    "population": "survival never exceeds the general population's",
    "crossing": "partitioned-survival curves do not cross (or the crossing is reported)",
    "matrices": "transition matrices valid",
    "low/high": "every parameter at its low and high values gives finite results",
    "quantiles": "every parameter at its 0.1% and 99.9% PSA quantiles gives finite results",
    "ranges": "parameter values in their natural ranges",
    "psa": "PSA means equal deterministic results for parameters that enter linearly",
}


def by_name(report):
    return {c.check: c for c in report.checks}


def failed(report):
    return {c.check for c in report.failed}


def message(check):
    return " ".join([check.check, check.expected, check.observed, check.detail])


@pytest.mark.parametrize("structure", ["markov", "psm"])
def test_correct_toy_model_passes_every_applicable_check(structure):
    report = verify(ToyModel(structure))
    assert report.ok, report.console()
    assert [c.check for c in report.checks] == list(CHECK.values())
    na = {c.check: c.detail for c in report.checks if c.status == NA}
    not_applicable = CHECK["crossing"] if structure == "markov" else CHECK["matrices"]
    assert set(na) == {not_applicable}
    assert all(na.values())  # a reason, never a silent pass


# defect -> (structure, checks that must fail, words the failure message must contain)
PLANTED = {
    "row_sums_1.01": ("markov", {"matrices", "trace", "efficacy"}, {"matrices": ["strategy 'new'", "row 'sick'", "1.01"],
                                                                    "trace": ["strategy 'new'", "sums to"]}),
    "negative_utility_input": ("markov", {"ranges"}, {"ranges": ["utility 'u_sick'", "-0.2", "base case"]}),
    "negative_utility_code": ("markov", {"utilities"}, {"utilities": ["state 'sick'", "QALYs -", "strategy 'soc'"]}),
    "rising_survival": ("psm", {"rises", "dead", "efficacy"}, {"rises": ["curve 'new OS' rises", "6 years"],
                                                               "dead": ["strategy 'new'", "state 'dead'"]}),
    "cost_counted_twice": ("markov", {"price"}, {"price": ["c_drug_price", "2 cost lines", "'administration'",
                                                           "'drug acquisition'", "counted twice"]}),
    "cost_counted_twice_same_line": ("markov", {"price"}, {"price": ["c_drug_price", "'drug acquisition'",
                                                                     "more than the price per patient", "counted twice"]}),
    "hard_coded_cost": ("markov", {"costs"}, {"costs": ["'health care' in 'well'", "soc"]}),
    "median_as_mean": ("markov", {"psa"}, {"psa": ["c_sick", "distribution mean", "standard errors"]}),
    "above_population": ("psm", {"population", "efficacy"}, {"population": ["curve 'new OS'", "0.904837 vs 0.818731"]}),
    "hard_coded_discount": ("markov", {"discount"}, {"discount": ["qalys", "at 0% vs", "undiscounted"]}),
    "negative_probability": ("markov", {"negative", "dead", "rises", "population", "matrices"},
                             {"negative": ["strategy 'soc'", "state 'dead'", "the base case", "-0.02"],
                              "matrices": ["from 'well' to 'dead'", "probability -0.02"]}),
    "unreported_crossing": ("psm", {"crossing", "negative"}, {"crossing": ["PFS above OS", "base case: yes",
                                                                          "not capped or reported", "'new'"]}),
    "nan_at_extreme_quantile": ("markov", {"quantiles"}, {"quantiles": ["rate_sick at 99.9% quantile", "1 of 18"]}),
    "nan_at_high_value": ("markov", {"low/high", "quantiles"}, {"low/high": ["rate_sick at high", "1 of 18"]}),
    "ignores_horizon": ("markov", {"one cycle"}, {"one cycle": ["the grid has 20 cycles for a horizon of one cycle"]}),
}


def test_every_check_fails_on_some_planted_defect():
    failing = {k for _, must_fail, _ in PLANTED.values() for k in must_fail}
    assert failing == set(CHECK)


def test_every_defect_is_planted():
    assert set(PLANTED) == set(DEFECTS)


@pytest.mark.parametrize("defect", sorted(PLANTED))
def test_planted_defect_fails_the_matching_check_with_a_message_naming_it(defect):
    structure, must_fail, words = PLANTED[defect]
    report = verify(ToyModel(structure, defect))
    assert failed(report) == {CHECK[k] for k in must_fail}, report.console()
    checks = by_name(report)
    for key, expected_words in words.items():
        text = message(checks[CHECK[key]])
        for w in expected_words:
            assert w in text, (defect, key, w, text)
    assert not report.ok
    console = report.console()
    assert "[FAIL]" in console and "expected:" in console and "observed:" in console


def test_row_defect_is_found_in_the_base_case_cycle_1():
    report = verify(ToyModel("markov", "row_sums_1.01"))
    text = by_name(report)[CHECK["matrices"]].detail
    assert "cycle 1, the base case: row sums to 1.01" in text


def test_each_check_is_one_batched_call():
    sizes = []

    class Counting(ToyModel):
        def evaluate(self, batch, **kw):
            sizes.append(batch.n)
            return super().evaluate(batch, **kw)

    model = Counting()
    report = verify(model, psa_draws=500)
    table = model.parameters
    n_sweep = 1 + 2 * sum(p.low != p.high for p in table.parameters) + 2 * len(table.unit_columns)
    # the 500-draw PSA check is one batch evaluated in chunks (hta.analysis.evaluate: a memory probe on its
    # first 96 rows, then one chunk per worker thread), never a loop over draws
    from hta.analysis.evaluate import default_workers

    assert report.calls == len(sizes) <= 10 + 2 + default_workers()
    assert n_sweep in sizes and sizes[-2 - default_workers():][:2] == [32, 64]
    assert sum(sizes[-2 - default_workers():]) == 500
    assert sum(sizes) == report.rows
    batch, frame = sweep_batch(table)
    assert batch.n == n_sweep == len(frame)


def test_sweep_batch_extreme_rows_are_marginal_quantiles():
    table = ToyModel().parameters
    batch, frame = sweep_batch(table)
    row = frame.index[(frame["parameter"] == "u_well") & (frame["setting"] == "99.9% quantile")][0]
    assert batch["u_well"][row] == pytest.approx(float(table["u_well"].dist.interval(0.998)[1, 0]))
    others = [n for n in table.names if n != "u_well"]
    assert all(batch[n][row] == table[n].base for n in others)


def test_sweep_batch_keeps_dirichlet_blocks_summing_to_one():
    table = hiv.parameter_table()
    batch, frame = sweep_batch(table)
    block = ["tp_A_A", "tp_A_B", "tp_A_C", "tp_A_D"]
    np.testing.assert_allclose(sum(batch[n] for n in block), 1.0)
    assert (frame["setting"] == "0.1% quantile").sum() == len(table.unit_columns)


def test_model_without_hooks_gets_not_applicable_with_reasons():
    model = FunctionModel("hiv_chancellor", hiv.STRATEGIES, hiv.parameter_table(), hiv.evaluate)
    report = verify(model)
    assert report.ok, report.console()
    checks = by_name(report)
    assert checks[CHECK["efficacy"]].status == PASS  # rr set to 1 through the parameter table
    assert "rr" in checks[CHECK["efficacy"]].detail
    for key, reason in [("utilities", "no utility parameters"), ("discount", "with_settings"),
                        ("one cycle", "with_settings"), ("price", "no price parameters"),
                        ("rises", "survival_curves"), ("matrices", "transition_matrices")]:
        assert checks[CHECK[key]].status == NA and reason in checks[CHECK[key]].detail, key


def test_model_without_traces_reports_structure_not_applicable():
    def totals_only(batch):
        return hiv.evaluate(batch)  # no keep_cohort argument: traces cannot be asked for

    model = FunctionModel("hiv", hiv.STRATEGIES, hiv.parameter_table(), totals_only)
    checks = by_name(verify(model))
    for key in ("trace", "negative", "dead"):
        assert checks[CHECK[key]].status == NA and "cohort traces" in checks[CHECK[key]].detail


def test_a_model_error_in_one_check_is_a_failed_check_not_a_crash():
    class BrokenOneCycle(ToyModel):
        def evaluate(self, batch, **kw):
            if self.grid.n_cycles == 1:
                raise ZeroDivisionError("division by zero in cycle 1")
            return super().evaluate(batch, **kw)

    report = verify(BrokenOneCycle())
    check = by_name(report)[CHECK["one cycle"]]
    assert check.status == FAIL and "ZeroDivisionError" in check.observed
    assert failed(report) == {CHECK["one cycle"]}


def test_base_case_error_is_a_user_error():
    class Broken(ToyModel):
        def evaluate(self, batch, **kw):
            raise HtaError("strategy 'new': no curve")

    with pytest.raises(HtaError, match="no curve"):
        verify(Broken())


def test_parameter_roles_convention_and_override():
    table = ToyModel().parameters
    roles = dict(zip(*parameter_roles(table)[["name", "role"]].T.values))
    assert roles["c_drug_price"] == "price" and roles["c_well"] == "cost"
    assert roles["u_well"] == "utility" and roles["du_ae"] == "disutility"
    assert roles["p_ae"] == "probability" and roles["hr_new"] == "effect" and roles["rate_sick"] == "other"
    over = parameter_roles(table, {"rate_sick": "probability"})
    assert over.set_index("name").loc["rate_sick", "role"] == "probability"
    with pytest.raises(HtaError, match="no parameter named 'nope'"):
        parameter_roles(table, {"nope": "cost"})
    with pytest.raises(HtaError, match="role must be one of"):
        parameter_roles(table, {"rate_sick": "speed"})


def test_utility_min_allows_states_worse_than_dead():
    model = ToyModel("markov", "negative_utility_input")
    assert CHECK["ranges"] in failed(verify(model))
    assert CHECK["ranges"] not in failed(verify(model, utility_min=-0.6))


# ------------------------------------------------------------------------------- command line


def _script(tmp_path, body: str):
    path = tmp_path / "toy_scenario.py"
    path.write_text("import sys\n"
                    f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                    "from verify_models import ToyModel\n" + body)
    return path


def test_cli_check_failing_model_exit_1_and_report_in_workbook(tmp_path, capsys):
    script = _script(tmp_path, "def build_model():\n    return ToyModel('markov', 'cost_counted_twice')\n"
                               "def run(context):\n    pass\n")
    code = main(["check", str(script), "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert code == 1
    assert "[FAIL] doubling a price doubles its cost line and nothing else" in out.out
    assert "counted twice" in out.out and "1 failed" in out.out
    path = tmp_path / "out" / "toy_scenario_verification.xlsx"
    book = read_back(path)
    sheet = book["Verification"]
    assert list(sheet.columns) == ["model", "section", "check", "status", "expected", "observed", "detail"]
    row = sheet[sheet["check"] == CHECK["price"]].iloc[0]
    assert row["status"] == "fail" and "counted twice" in row["detail"]
    assert {"Verification roles", "Inputs", "Run info"} <= set(book)
    ws = openpyxl.load_workbook(path)["Verification"]
    fills = {ws.cell(r, 4).value: ws.cell(r, 4).fill.fgColor.rgb for r in range(5, ws.max_row + 1)}
    assert fills["fail"].endswith("FFC7CE") and fills["pass"].endswith("C6EFCE")


def test_cli_check_correct_model_exit_0(tmp_path, capsys):
    script = _script(tmp_path, "def build_model():\n    return ToyModel('psm')\ndef run(context):\n    pass\n")
    code = main(["check", str(script), "--out", str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr()
    assert code == 0 and "0 failed" in out.out


@pytest.mark.parametrize("body, words", [
    ("def run(context):\n    pass\n", "expected a function build_model()"),
    ("from hta.errors import HtaError\ndef build_model():\n    raise HtaError('workbook x.xlsx, sheet Parameters: bad')\n"
     "def run(context):\n    pass\n", "sheet Parameters"),
])
def test_cli_check_user_error_exit_2_no_traceback_no_files(tmp_path, capsys, body, words):
    script = _script(tmp_path, body)
    code = main(["check", str(script), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("hta: error:") and words in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_check_rejects_too_few_draws(tmp_path, capsys):
    script = _script(tmp_path, "def build_model():\n    return ToyModel()\ndef run(context):\n    pass\n")
    assert main(["check", str(script), "--draws", "1"]) == 2
    assert "--draws" in capsys.readouterr().err


def _totals_model(price_in_qalys: bool):
    """A model that returns totals only (no lines, no traces): costs = price + 1000 x u."""
    from types import SimpleNamespace

    from hta.params import ParameterTable
    from hta.params.distributions import Beta

    table = ParameterTable()
    table.add("c_price", 100.0, group="drug price")
    table.add("u_state", 0.8, Beta.from_mean_se(0.8, 0.05))

    def evaluate(batch):
        price, u = batch["c_price"], batch["u_state"]
        qalys = 5 * u - (1e-4 * price if price_in_qalys else 0.0)
        return SimpleNamespace(costs=np.stack([0 * price, price + 1000 * u], 1),
                               qalys=np.stack([5 * u, qalys], 1), lys=np.stack([np.full_like(u, 5.0)] * 2, 1))

    return FunctionModel("totals", ("a", "b"), table, evaluate)


def test_totals_only_model_price_check_compares_totals():
    good = by_name(verify(_totals_model(False)))
    assert good[CHECK["price"]].status == PASS and "cost change" in good[CHECK["price"]].observed
    assert good[CHECK["trace"]].status == NA
    # with LYs = 5 and utility 1, QALYs = LYs: the utilities check works on totals too
    assert good[CHECK["utilities"]].status == PASS
    bad = by_name(verify(_totals_model(True)))
    assert bad[CHECK["price"]].status == FAIL and "changed qalys" in bad[CHECK["price"]].detail


def test_checks_with_nothing_to_check_are_not_applicable_not_passed():
    from types import SimpleNamespace

    from hta.params import ParameterTable

    table = ParameterTable()
    table.add("x", 1.0)

    def evaluate(batch):
        x = batch["x"]
        return SimpleNamespace(costs=np.stack([x, x], 1), qalys=np.stack([x, x], 1), lys=np.stack([x, x], 1))

    report = verify(FunctionModel("bare", ("a", "b"), table, evaluate))
    assert report.ok
    assert {c.check for c in report.checks if c.status == PASS} == set()
    assert all(c.detail for c in report.checks)
