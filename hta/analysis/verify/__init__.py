"""Model verification: the black-box checks a reviewer runs (TECH-VER), on any ``hta`` model.

``verify(model)`` runs a battery of checks on a model that follows the protocol of
``docs/architecture.md`` (``parameters``, ``strategies``, ``evaluate(batch)``) and returns a
:class:`VerificationReport`: one row per check with its status (``pass``, ``fail``, ``reported``,
``not applicable``), what was expected, what was observed, and where. The checks and the
conventions they rely on are documented in ``docs/verification.md``; in short:

* **Extreme values** (one model call each): every cost parameter at 0 gives zero costs; every
  utility at 1 and every utility decrement at 0 gives QALYs equal to LYs; discount rates of 0
  give the undiscounted totals; identical efficacy gives identical LYs and QALYs; a one-cycle
  horizon gives at most one cycle of life; doubling a price doubles its cost line and nothing
  else.
* **Structure** (on the sweep batch, traces on request): traces sum to 1, no negative
  occupancy, dead states never decrease, no survival curve rises or leaves [0, 1], survival never
  exceeds the general population's, PSM curves do not cross (or the capping is reported),
  transition matrices are valid.
* **Parameter sweeps**: every parameter at its low and high values and at its 0.1% and 99.9%
  PSA quantiles (one batch, one call) gives finite results; parameter values stay in their
  natural ranges; PSA means equal the deterministic results for parameters that enter linearly.

What a check needs from a model beyond the protocol, it asks for by name and reports the check
"not applicable" (with the reason) when the model does not offer it:

* parameter *roles* come from the parameter table (names, units, groups: :func:`parameter_roles`)
  or from ``model.parameter_roles`` (a dict ``name -> role``), which takes precedence;
* ``model.evaluate(batch, keep_cohort=True)`` for traces (``Outcomes.results[s].cohort``) and
  ``Outcomes.results[s].lines`` for disaggregated lines;
* ``model.with_settings(...)`` and ``model.grid`` for the discounting and horizon checks;
* ``model.with_identical_efficacy()``, or relative-effect parameters, for the efficacy check;
* ``model.without_age_adjustment()`` (optional) for the utilities-one check of a model whose
  utilities are age-adjusted;
* ``model.survival_curves(batch)``, ``model.general_population_survival()`` (or
  ``model.background_cumhaz()``) and ``model.transition_matrices(batch)`` for the curve and
  matrix checks.

No loop runs over samples: each check builds one batch and evaluates it in one call. Units:
costs in the model's currency, LYs and QALYs in years, as the model reports them.
"""

from __future__ import annotations

import time

from hta.analysis.verify.access import ModelUnderTest, totals
from hta.analysis.verify.extreme import (
    check_costs_zero,
    check_discount_zero,
    check_identical_efficacy,
    check_one_cycle,
    check_price_doubling,
    check_utilities_one,
)
from hta.analysis.verify.report import (
    EXTREME,
    EXTREME_QUANTILES,
    FAIL,
    NA,
    PASS,
    PTOL,
    RTOL,
    STRUCTURE,
    SWEEP,
    Check,
    VerificationReport,
)
from hta.analysis.verify.roles import ROLES, parameter_roles
from hta.analysis.verify.structure import structure_checks
from hta.analysis.verify.sweeps import check_finite, check_psa_linear, check_ranges, linear_parameters, sweep_batch

__all__ = ["PASS", "FAIL", "NA", "EXTREME", "STRUCTURE", "SWEEP", "RTOL", "PTOL", "EXTREME_QUANTILES", "ROLES",
           "Check", "VerificationReport", "parameter_roles", "sweep_batch", "verify"]




def verify(model, *, psa_draws: int = 2000, seed=None, utility_min: float = 0.0,
           workers: int | None = None) -> VerificationReport:
    """Run every verification check on ``model`` and return the report.

    Parameters
    ----------
    model : a model following the protocol of ``docs/architecture.md``
    psa_draws : int
        Draws of the linear-parameter PSA check.
    seed : int, optional
        Seed of that PSA (default: ``model.settings.seed``, else 1).
    utility_min : float
        Lowest acceptable utility (0 by default; set it below 0 for models with states worse
        than dead).
    workers : int, optional
        Threads evaluating the chunks of the PSA check (default every core; the report is the
        same whatever the number, except that the model calls counted include one per chunk).

    Raises :class:`HtaError` when the base case itself cannot be evaluated (a user error, as in
    ``hta run``); every other failure is a failed check in the report.
    """
    t0 = time.perf_counter()
    m = ModelUnderTest(model)
    roles = parameter_roles(m.table, model.parameter_roles if m.capabilities.parameter_roles else None)
    if seed is None:
        seed = getattr(model.settings, "seed", None)
        seed = 1 if seed is None else seed
    base = m.table.base()
    base_out = m.evaluate(base)
    base_t = totals(base_out, 1)
    checks = [
        check_costs_zero(m, base, roles),
        check_utilities_one(m, base, roles),
        check_discount_zero(m, base, base_out),
        check_identical_efficacy(m, base, roles),
        check_one_cycle(m),
        check_price_doubling(m, base, roles),
    ]
    batch, frame = sweep_batch(m.table)
    out, err = m.try_evaluate(batch, cohort=True)
    if err:  # structural checks then run on the base case alone
        sb, sf = base, frame.iloc[:1]
        s_out, s_err = m.try_evaluate(base, cohort=True)
        checks += structure_checks(m, sb, sf, s_out if not s_err else None)
    else:
        checks += structure_checks(m, batch, frame, out)
    ow = (frame["setting"].isin(["low", "high"])).to_numpy()
    ext = frame["setting"].str.endswith("quantile").to_numpy()
    name_ow = "every parameter at its low and high values gives finite results"
    name_ext = (f"every parameter at its {EXTREME_QUANTILES[0]:.1%} and {EXTREME_QUANTILES[1]:.1%} "
                "PSA quantiles gives finite results")
    expected = "finite costs, QALYs and LYs for every strategy"
    if err:
        checks += [Check(SWEEP, name_ow, FAIL, expected, err, f"{batch.n} parameter sets in one batch"),
                   Check(SWEEP, name_ext, FAIL, expected, err, f"{batch.n} parameter sets in one batch")]
        linear = []
    else:
        t = totals(out, batch.n)
        checks.append(check_finite(name_ow, t, frame, ow, expected, f"{int(ow.sum()) // 2} parameters with low != high")
                      if ow.any() else Check(SWEEP, name_ow, NA, expected, "", "no parameter has low != high"))
        checks.append(check_finite(name_ext, t, frame, ext, expected, f"{int(ext.sum()) // 2} stochastic dimensions")
                      if ext.any() else Check(SWEEP, name_ext, NA, expected, "", "no stochastic parameters"))
        linear = linear_parameters(m, t, frame)
    checks.append(check_ranges(m, batch, frame, roles, utility_min))
    checks.append(check_psa_linear(m, base_t, linear, int(psa_draws), seed, workers) if not err else
                  Check(SWEEP, "PSA means equal deterministic results for parameters that enter linearly", NA,
                        "", "", "the sweep batch failed, so linearity could not be established"))
    return VerificationReport(model=m.name, checks=checks, elapsed=time.perf_counter() - t0, calls=m.calls, rows=m.rows,
                              roles=roles)
