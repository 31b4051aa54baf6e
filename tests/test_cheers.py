"""The CHEERS 2022 checklist (hta.report.cheers) filled in from a run and the analyst's statements."""

from pathlib import Path

import pytest

from hta.analysis import Cheers, OneWay, analyse
from hta.errors import HtaError
from hta.excel.reader import read_inputs
from hta.report.cheers import ITEMS, NOT_REPORTED, PARTLY, REPORTED, checklist
from hta.report.sections import present
from models import fucaso_rrmm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results():
    model = fucaso_rrmm.build(read_inputs(ROOT / "inputs" / "fucaso_hk.xlsx"))
    return analyse(model, OneWay(), Cheers(fucaso_rrmm.CHEERS_STATEMENTS), name="cheers_test")


def test_the_28_items_in_order():
    assert [i for i, _, _ in ITEMS] == list(range(1, 29))
    assert ITEMS[19][2] == "Characterising uncertainty" and ITEMS[14][2].startswith("Currency")


def test_run_answers_its_own_items(results):
    table = checklist(results).set_index("item")
    assert table.loc[9, "status"] == REPORTED and "42 years" in table.loc[9, "where"]
    assert "3.0% costs, 3.0% outcomes" in table.loc[10, "where"]
    assert "Eque-cel (Fucaso)" in table.loc[7, "where"] and "Conventional care" in table.loc[7, "where"]
    assert table.loc[20, "where"].startswith("Tornado")  # only the analyses that ran
    assert "PSA" not in table.loc[20, "where"]
    assert table.loc[15, "status"] == PARTLY  # currency known, price year not stated
    # Without statements, items the run cannot answer are not reported, with the reason.
    assert table.loc[8, "status"] == NOT_REPORTED and table.loc[8, "where"] == "not assessed in this analysis"
    assert "written submission" in table.loc[27, "where"]


def test_statements_fill_and_qualify_items(results):
    section = present(results.analyses["cheers"], results)
    table = section.sheets[0].frame.set_index("item")
    assert len(table) == 28 and set(table["status"]) <= {REPORTED, PARTLY, NOT_REPORTED}
    assert table.loc[8, "status"] == REPORTED and "Hospital Authority" in table.loc[8, "where"]
    assert table.loc[13, "status"] == PARTLY and "proxy" in table.loc[13, "where"] and "TSD 12" in table.loc[13, "where"]
    assert table.loc[4, "status"] == NOT_REPORTED and table.loc[4, "where"].startswith("no health economic")
    assert "CHEERS 2022" in section.console
    assert [s.name for s in section.sheets] == ["CHEERS 2022"]


def test_unknown_item_is_an_error(results):
    with pytest.raises(HtaError, match=r"item numbers 1-28; found \[29\]"):
        checklist(results, {29: "somewhere"})
