"""Per-transition fits of the CLL illness-death model against R.

R numbers from tests/data/multistate_cll_reference.R (R 4.2.2, survival 3.5-3), run as
``Rscript tests/data/multistate_cll_reference.R /work/shared/refdata/TA174_CLL_Williams2017.csv``:
* ``survreg(Surv(time, status) ~ treat, dist = ...)$loglik[2]`` for PF->P, PF->D and P->D on the
  clock-reset scale (time since progression);
* the left-truncated (clock-forward) P->D likelihood ``sum e log h(t1) - H(t1) + H(t0)`` with
  ``~ treat`` maximised by ``optim`` (flexsurv has no Debian package here).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hta.errors import HtaError
from hta.multistate.data import transition_data
from hta.multistate.fit import fit_transitions, fit_truncated
from hta.survival.fit import fit

CLL = Path("/work/shared/refdata/TA174_CLL_Williams2017.csv")

# survreg,<transition>,<family>: loglik  (R output lines "survreg,1,reset,weibull,-677.0834695307")
R_SURVREG = {
    (1, "exponential"): -700.2949999310, (1, "weibull"): -677.0834695307,
    (1, "lognormal"): -693.1379577596, (1, "loglogistic"): -680.6294982834,
    (2, "exponential"): -214.7526155544, (2, "weibull"): -214.7361581207,
    (2, "lognormal"): -213.9360364324, (2, "loglogistic"): -214.6504145408,
    (3, "exponential"): -110.1651157425, (3, "weibull"): -109.4565075399,
    (3, "lognormal"): -109.3718154811, (3, "loglogistic"): -108.7355022793,
}
# optim,3,forward,<family>: left-truncated P->D on time since randomisation
R_TRUNCATED = {"exponential": -110.1651157425, "gompertz": -98.6539363388}


@pytest.fixture(scope="module")
def ms():
    return transition_data(pd.read_csv(CLL), arm="treat", id="patid")


def test_clock_reset_fits_equal_survreg(ms):
    fits = fit_transitions(ms, ["exponential", "weibull", "lognormal", "loglogistic"], clock="reset",
                           covariate="arm")
    for (trans, family), ll in R_SURVREG.items():
        got = fits.fits[trans][family].loglik
        assert abs(got - ll) < 1e-4, (trans, family, got, ll)
    table = fits.table
    assert set(table["trans"]) == {1, 2, 3}
    row = table[(table.trans == 1) & (table.distribution == "weibull")].iloc[0]
    assert row["aic"] == pytest.approx(-2 * R_SURVREG[(1, "weibull")] + 2 * 3, abs=2e-4)
    assert row["bic"] == pytest.approx(-2 * R_SURVREG[(1, "weibull")] + np.log(810) * 3, abs=2e-4)


def test_clock_forward_truncated_fits_equal_r_optim(ms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = fit_transitions(ms, ["exponential", "gompertz"], clock="forward", covariate="arm")
    for family, ll in R_TRUNCATED.items():
        m = fits.fits[3][family]
        assert m.converged
        assert abs(m.loglik - ll) < 1e-4, (family, m.loglik, ll)
    # transitions out of the starting state are the same on both clocks
    reset = fit_transitions(ms, ["exponential"], clock="reset", covariate="arm")
    assert fits.fits[1]["exponential"].loglik == reset.fits[1]["exponential"].loglik


def test_truncated_exponential_closed_form_and_memorylessness(ms):
    """Exponential MLE with delayed entry: rate = events / sum(t - t0), loglik = d log rate - d;
    and memorylessness: the same fit as on the time since entry."""
    p = ms[ms.trans == 3]
    t0, t1, e = p["tstart"].to_numpy(), p["tstop"].to_numpy(), p["status"].to_numpy()
    m = fit_truncated(t1, e, t0, "exponential")["exponential"]
    rate = e.sum() / (t1 - t0).sum()
    assert np.exp(m.coef["log_rate"]) == pytest.approx(rate, rel=1e-9)
    assert m.loglik == pytest.approx(e.sum() * np.log(rate) - e.sum(), rel=1e-10)
    assert m.cov.iloc[0, 0] == pytest.approx(1 / e.sum(), rel=1e-5)  # var(log rate) = 1/d


def test_truncated_weights_equal_duplicated_rows(ms):
    """Case weights of 2 equal duplicated rows (log-likelihood, coefficients, covariance)."""
    p = ms[ms.trans == 3]
    t0, t1, e, a = (p[c].to_numpy() for c in ("tstart", "tstop", "status", "arm"))
    w = np.where(np.arange(len(p)) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(np.arange(len(p)), w.astype(int))
    fw = fit_truncated(t1, e, t0, "gompertz", weights=w, arm=a)["gompertz"]
    fd = fit_truncated(t1[rep], e[rep], t0[rep], "gompertz", arm=a[rep])["gompertz"]
    assert fw.loglik == pytest.approx(fd.loglik, abs=1e-8)
    np.testing.assert_allclose(fw.coef, fd.coef, atol=1e-6)
    np.testing.assert_allclose(fw.cov, fd.cov, rtol=1e-4)


def test_no_truncation_is_the_survival_fit(ms):
    p = ms[ms.trans == 1]
    a = fit_truncated(p["tstop"], p["status"], np.zeros(len(p)), ["weibull"])["weibull"]
    b = fit(p["tstop"], p["status"], ["weibull"])["weibull"]
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)


def test_truncation_errors(ms):
    with pytest.raises(HtaError, match="entry: expected each entry time below its exit time"):
        fit_truncated([1.0, 2.0], [1, 0], [1.0, 0.5], "exponential")
    with pytest.raises(HtaError, match="clock: expected 'forward' or 'reset'"):
        fit_transitions(ms, "exponential", clock="sideways")


def test_psa_draws_paired_between_arms_with_the_fit_covariance(ms):
    """from_fits: the same seed gives both arms the same deviates (arm 1 = arm 0 + the drawn arm
    coefficient on the location), and the draws have the fit's covariance."""
    from hta.multistate.model import from_fits
    fits = fit_transitions(ms, ["exponential"], clock="reset", covariate="arm")
    m0 = from_fits(fits, "exponential", arm=0, n_draws=20_000, seed=8)
    m1 = from_fits(fits, "exponential", arm=1, n_draws=20_000, seed=8)
    for k, (t0, t1) in enumerate(zip(m0.transitions, m1.transitions), start=1):
        fitted = fits.fits[k]["exponential"]
        arm_effect = t1.coefs[:, 0] - t0.coefs[:, 0]
        cov = np.cov(np.column_stack([t0.coefs[:, 0], arm_effect]).T)
        np.testing.assert_allclose(cov, fitted.cov.to_numpy(), rtol=0.05)  # 20,000 draws: ~1% error
        np.testing.assert_allclose(t0.coefs[:, 0].mean(), fitted.coef["log_rate"], atol=4 * np.sqrt(cov[0, 0] / 20_000))
