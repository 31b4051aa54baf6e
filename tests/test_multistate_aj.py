"""Aalen-Johansen state occupancy against R survival::survfit multi-state.

R (4.2.2, survival 3.5-3), from tests/data/multistate_cll_reference.R: the CLL8 data as
``Surv(tstart, tstop, event)`` rows (event a factor censor/prog/death), then
``summary(survfit(Surv(tstart, tstop, event) ~ 1, data = ms, id = id), times = ...)$pstate``,
for all 810 patients and for RFC (treat == 1) only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.multistate.aalen_johansen import aalen_johansen
from hta.multistate.data import transition_data

CLL = Path("/work/shared/refdata/TA174_CLL_Williams2017.csv")
TIMES = [0.25, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 3.9]
R_ALL = [
    (0.974009900990099, 0.013923267326733, 0.012066831683168),
    (0.942912905613713, 0.031903371049250, 0.025183723337038),
    (0.869523556957743, 0.079019107142011, 0.051457335900247),
    (0.795882353241034, 0.118234694460605, 0.085882952298362),
    (0.707094193844426, 0.182309453172678, 0.110596352982897),
    (0.620881025406194, 0.247437759388341, 0.131681215205466),
    (0.533047047124484, 0.323711650511778, 0.143241302363739),
    (0.448856590985837, 0.370646546701059, 0.180496862313105),
    (0.341491202709904, 0.478011934976992, 0.180496862313105),
]
R_RFC = [
    (0.980099502487563, 0.007462686567164, 0.012437810945274),
    (0.962641868408640, 0.017449151343411, 0.019908980247950),
    (0.889531618185468, 0.067923610067722, 0.042544771746810),
    (0.851476203677810, 0.078226630157522, 0.070297166164668),
    (0.774674621315984, 0.137318760790858, 0.088006617893158),
    (0.703061404380776, 0.188089943294908, 0.108848652324316),
    (0.627406412873847, 0.247357407018610, 0.125236180107544),
    (0.514170782360226, 0.360593037532232, 0.125236180107544),
    (0.445138593987788, 0.429625225904669, 0.125236180107544),
]


@pytest.fixture(scope="module")
def ms():
    return transition_data(pd.read_csv(CLL), arm="treat", id="patid")


@pytest.mark.parametrize("subset, expected", [("all", R_ALL), ("rfc", R_RFC)])
def test_equals_r_survfit(ms, subset, expected):
    data = ms if subset == "all" else ms[ms["arm"] == 1]
    got = aalen_johansen(data, TIMES).to_numpy()
    np.testing.assert_allclose(got, np.array(expected), atol=1e-8, rtol=0)


def test_weights_equal_duplicated_patients(ms):
    """Integer case weights give the estimate of the data with those patients repeated."""
    rows = ms["row"].to_numpy()
    w = np.where(rows % 4 == 0, 3.0, 1.0)
    weighted = ms.assign(weight=w)
    reps = []
    for k in range(3):
        extra = ms[(rows % 4 == 0) | (k == 0)].copy()
        extra["row"] = extra["row"] + k * 10_000
        reps.append(extra)
    duplicated = pd.concat(reps, ignore_index=True)
    np.testing.assert_allclose(aalen_johansen(weighted, TIMES).to_numpy(),
                               aalen_johansen(duplicated, TIMES).to_numpy(), atol=1e-13)


def test_without_progression_reduces_to_kaplan_meier(ms):
    """With P->D left out, the PF occupancy is the Kaplan-Meier PFS (progression or death)."""
    from hta.survival.km import kaplan_meier
    pf = aalen_johansen(ms, TIMES)["progression-free"].to_numpy()
    first = ms[ms.trans == 1]
    pfs_event = ms[ms.trans <= 2].groupby("row")["status"].max().to_numpy()
    km = kaplan_meier(first["tstop"].to_numpy(), pfs_event)
    steps = km.set_index("time")["survival"]
    expected = [steps[steps.index <= t].iloc[-1] if (steps.index <= t).any() else 1.0 for t in TIMES]
    np.testing.assert_allclose(pf, expected, atol=1e-12)
