"""hta.multistate.data: patient rows -> illness-death transition rows, and bad data named by row.

Counts checked against the CLL8 data of R survHE's TA174 (Williams et al., MDM 2017): 248
progressions, 48 deaths without progression, 45 deaths after progression (R: with(TA174,
table(prog, death))).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.errors import HtaError
from hta.multistate.data import transition_data

CLL = Path("/work/shared/refdata/TA174_CLL_Williams2017.csv")


@pytest.fixture(scope="module")
def cll():
    return pd.read_csv(CLL)


def test_cll_transition_rows(cll):
    ms = transition_data(cll, arm="treat", id="patid")
    counts = ms.groupby("trans")["status"].agg(["size", "sum"])
    # R: table(TA174$prog, TA174$death): prog=1: 248 (45 of them died), prog=0 & death=1: 48
    assert counts.loc[1].tolist() == [810, 248]
    assert counts.loc[2].tolist() == [810, 48]
    assert counts.loc[3].tolist() == [248, 45]
    p = ms[ms.trans == 3]
    src = cll.set_index("patid").loc[p["id"]]
    np.testing.assert_array_equal(p["tstart"].to_numpy(), src["prog_ty"].to_numpy())
    np.testing.assert_array_equal(p["tstop"].to_numpy(), src["death_ty"].to_numpy())
    np.testing.assert_allclose(p["time"].to_numpy(), (src["death_ty"] - src["prog_ty"]).to_numpy())
    # rows of one patient: PF rows share the exit time; arm copied
    assert set(ms["arm"]) == {0, 1}
    assert (ms[ms.trans == 1]["tstop"].to_numpy() == ms[ms.trans == 2]["tstop"].to_numpy()).all()


def _frame(**changes):
    base = pd.DataFrame({"patid": [11, 12, 13], "prog": [1, 0, 0], "death": [1, 1, 0],
                         "prog_ty": [0.5, 1.2, 2.0], "death_ty": [0.9, 1.2, 2.0]})
    for col, (row, value) in changes.items():
        base[col] = base[col].astype(object)
        base.loc[row, col] = value
    return base


@pytest.mark.parametrize("change, words", [
    ({"prog_ty": (1, -0.3)}, ["row 1", "patid 12", "'prog_ty' > 0", "-0.3"]),
    ({"death": (2, np.nan)}, ["row 2", "patid 13", "'death'", "nan"]),
    ({"prog": (1, None)}, ["row 1", "'prog'", "None"]),
    ({"death": (0, 2)}, ["row 0", "patid 11", "'death' to be 0 or 1", "2"]),
    ({"prog_ty": (0, 0.9)}, ["row 0", "patid 11", "progression recorded at the time of death"]),
    ({"prog_ty": (0, 1.5)}, ["row 0", "at most", "1.5", "0.9"]),
    ({"prog_ty": (2, 1.0)}, ["row 2", "patid 13", "no progression", "to equal 'death_ty'"]),
    ({"death_ty": (1, "x")}, ["row 1", "'death_ty'", "'x'"]),
])
def test_bad_rows_named(change, words):
    with pytest.raises(HtaError) as err:
        transition_data(_frame(**change), id="patid")
    message = str(err.value)
    for w in words:
        assert w in message, (w, message)
    assert message.count("\n") == 0


def test_missing_column_and_weights():
    with pytest.raises(HtaError, match="expected a column 'prog_ty'"):
        transition_data(_frame().drop(columns="prog_ty"))
    with pytest.raises(HtaError, match="row 2: expected a finite weight >= 0"):
        transition_data(_frame(), weights=np.array([1.0, 1.0, -1.0]))
    ms = transition_data(_frame(), weights=np.array([0.5, 2.0, 1.0]))
    assert ms.groupby("row")["weight"].first().tolist() == [0.5, 2.0, 1.0]
    assert len(ms[ms.trans == 3]) == 1  # only patient 0 progressed


def test_patient_weights_reach_the_fits_and_the_occupancy(cll):
    """MAIC-style case weights on patients: integer weights give the fits and the Aalen-Johansen
    estimate of the data with those patients repeated."""
    from hta.multistate.aalen_johansen import aalen_johansen
    from hta.multistate.fit import fit_transitions
    w = np.where(cll["patid"] % 5 == 0, 2.0, 1.0)
    weighted = transition_data(cll, arm="treat", weights=w)
    repeated = transition_data(pd.concat([cll, cll[cll["patid"] % 5 == 0]], ignore_index=True), arm="treat")
    fw = fit_transitions(weighted, ["weibull"], clock="reset", covariate="arm")
    fr = fit_transitions(repeated, ["weibull"], clock="reset", covariate="arm")
    for k in (1, 2, 3):
        assert fw.fits[k]["weibull"].loglik == pytest.approx(fr.fits[k]["weibull"].loglik, abs=1e-7)
    times = [0.5, 1.5, 3.0]
    np.testing.assert_allclose(aalen_johansen(weighted, times).to_numpy(),
                               aalen_johansen(repeated, times).to_numpy(), atol=1e-13)
