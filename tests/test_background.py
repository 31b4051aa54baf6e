"""Work beside the plan in a forked helper (issue 24): the PSA's EVPPI table is computed while the
next analyses run, with the same table as in this process, the same error, and nothing left
running after an error or Ctrl-C (hta.analysis.background, hta.analysis.plan).

The model is the HIV Markov model (Chancellor et al. 1997; Briggs et al. 2006 exercise 2.5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from hta.analysis import Execution, OneWay, Psa, analyse
from hta.analysis import background as B
from hta.analysis import plan as P
from hta.errors import HtaError
from models import hiv_chancellor as hiv

two_cores = pytest.mark.skipif(not B.can_fork(2), reason="needs Linux, 2 usable cores and no other thread")


def _fail(message: str):
    raise HtaError(message)


def test_one_worker_computes_here_at_once():
    job = B.start(os.getpid, workers=1, label="pid")
    assert not job.in_helper and job.result() == os.getpid()
    with pytest.raises(HtaError, match="now"):  # run here: the error comes at once, as a direct call's
        B.start(lambda: _fail("now"), workers=1, label="failing")


@two_cores
def test_a_helper_computes_the_value_in_another_process():
    job = B.start(os.getpid, workers=2, label="pid")
    assert job.in_helper
    assert job.result() != os.getpid()
    assert job.result() == job.result()  # kept once received


@two_cores
def test_the_helpers_error_comes_back_when_the_result_is_asked_for():
    job = B.start(lambda: _fail("in the helper"), workers=2, label="failing")
    with pytest.raises(HtaError, match="in the helper"):
        job.result()


@two_cores
def test_a_value_that_cannot_be_pickled_is_an_error_naming_why():
    job = B.start(lambda: (lambda: 1), workers=2, label="lambda")
    with pytest.raises(Exception, match="pickle|lambda"):
        job.result()


@two_cores
def test_a_helper_that_dies_is_an_error_with_its_exit_code():
    job = B.start(lambda: os._exit(3), workers=2, label="Dying work")
    with pytest.raises(HtaError, match="Dying work: the helper process ended with exit code 3"):
        job.result()


@two_cores
def test_cancel_ends_the_helper():
    import time

    job = B.start(lambda: time.sleep(60), workers=2, label="sleeper")
    process = job._process
    job.cancel()
    assert not process.is_alive()
    with pytest.raises(HtaError, match="sleeper: cancelled"):
        job.result()


# -- in the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Later:
    """A request after the PSA: records whether the EVPPI was still pending when it ran; may fail."""

    fail: str = ""
    key = "later"

    def run(self, state):
        psa = state.earlier("psa")
        if self.fail:
            raise HtaError(self.fail)
        return {"evppi pending": isinstance(psa.evppi, B.Pending)}


@dataclass(frozen=True)
class _BackgroundFails:
    key = "background_fails"

    def run(self, state):
        return _Holder(state.in_background(lambda workers: _fail("the background work failed"), "work"))


@dataclass
class _Holder:
    value: object


@pytest.fixture(scope="module")
def one_worker():
    return analyse(hiv.model(), OneWay(), Psa(draws=300, evppi=True), _Later(), name="hiv",
                   execution=Execution(workers=1))


def test_one_worker_computes_the_evppi_in_the_psa_step(one_worker):
    assert isinstance(one_worker.analyses["psa"].evppi, pd.DataFrame)
    assert one_worker.analyses["later"] == {"evppi pending": False}


@two_cores
def test_the_evppi_runs_beside_the_later_analyses_with_the_same_table(one_worker):
    two = analyse(hiv.model(), OneWay(), Psa(draws=300, evppi=True), _Later(), name="hiv", execution=Execution(workers=2))
    assert two.analyses["later"] == {"evppi pending": True}  # a helper computed it while "later" ran
    a, b = one_worker.analyses["psa"].evppi, two.analyses["psa"].evppi
    assert isinstance(b, pd.DataFrame) and len(a) > 3
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert np.array_equal(one_worker.analyses["psa"].result.costs, two.analyses["psa"].result.costs)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_background_work_is_raised_before_a_later_analysis_error(workers):
    # in this process the background work fails first, so the run stops there; with a helper the
    # later analysis fails first, and the earlier work's error is still the one raised
    with pytest.raises(HtaError, match="the background work failed"):
        analyse(hiv.model(), _BackgroundFails(), Psa(draws=50), _Later(fail="later failed"), name="hiv",
                execution=Execution(workers=workers))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_background_work_stops_the_run(workers):
    with pytest.raises(HtaError, match="the background work failed"):
        analyse(hiv.model(), _BackgroundFails(), Psa(draws=50), name="hiv", execution=Execution(workers=workers))


@two_cores
def test_a_later_error_is_raised_when_the_background_work_succeeds():
    with pytest.raises(HtaError, match="later failed"):
        analyse(hiv.model(), Psa(draws=300, evppi=True), _Later(fail="later failed"), name="hiv",
                execution=Execution(workers=2))


@two_cores
def test_ctrl_c_in_a_later_analysis_ends_the_helper(monkeypatch):
    started = []
    real_start = B.start
    monkeypatch.setattr(B, "start", lambda *a, **k: started.append(real_start(*a, **k)) or started[-1])

    @dataclass(frozen=True)
    class Interrupted:
        key = "interrupted"

        def run(self, state):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyse(hiv.model(), Psa(draws=300, evppi=True), Interrupted(), name="hiv", execution=Execution(workers=2))
    assert started and started[0].in_helper and not started[0]._process.is_alive()


def test_a_dask_scheduler_keeps_the_work_here():
    class Scheduler:  # never used: the work is computed before any chunk would be submitted
        pass

    state = P.RunState(model=None, alternatives={}, wtp=[], seed=1, execution=Execution(workers=2, scheduler=Scheduler()),
                       results=None)
    assert state.in_background(lambda workers: ("here", workers, os.getpid()), "work") == ("here", 2, os.getpid())
    assert state.pending == []
