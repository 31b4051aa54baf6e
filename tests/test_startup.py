"""What ``hta run`` imports before the first analysis (issue 24: the base case in seconds).

Starting the command line imports numpy, scipy's linear algebra, special functions and optimisers,
pandas and openpyxl: what reading a workbook and building a model need. The slower packages that
only some analyses or the report use are imported when first used: ``scipy.stats`` (0.2-0.3 s; the
Sobol design, SALib, Kaplan-Meier confidence intervals, Cox tests), SALib and matplotlib. Before
the plan only one core is busy, so an import there adds its whole time to the run's wall time;
imported later, it overlaps with the work beside the plan.
"""

import subprocess
import sys

DEFERRED = ("scipy.stats", "SALib", "matplotlib")


def test_the_command_line_imports_no_deferred_package():
    code = ("import sys, hta, hta.app.cli, hta.app.scripts; "
            f"print(','.join(m for m in {DEFERRED!r} if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert found == "", f"imported at start-up: {found}"


def test_kaplan_meier_and_cox_still_reach_scipy_stats():
    """The deferred import is in the functions that use it (the check above would also pass if
    they had lost it; these calls would then fail)."""
    import numpy as np

    from hta.survival.cox import coxph, logrank
    from hta.survival.km import kaplan_meier

    rng = np.random.default_rng(3)
    time = rng.exponential(2.0, 60)
    event = rng.random(60) < 0.8
    group = np.repeat([0, 1], 30)
    km = kaplan_meier(time, event)
    assert np.isfinite(km["lower"].iloc[1])
    assert 0 < coxph(time, event, group[:, None]).lr.p_value <= 1
    assert 0 < logrank(time, event, group).p_value <= 1
