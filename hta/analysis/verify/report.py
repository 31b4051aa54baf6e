"""Verification results: the statuses, one :class:`Check`, and the :class:`VerificationReport`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PASS, FAIL, NA = "pass", "fail", "not applicable"

EXTREME, STRUCTURE, SWEEP = "extreme values", "structure", "parameter sweeps"

#: Relative tolerance of equalities between model results (floating-point noise only).
RTOL = 1e-9
#: Absolute tolerance on proportions (trace sums, occupancy, survival).
PTOL = 1e-9
#: PSA quantiles of the extreme sweep.
EXTREME_QUANTILES = (0.001, 0.999)


@dataclass
class Check:
    """One verification check: status, what was expected, what was observed, and where."""

    section: str
    check: str
    status: str
    expected: str
    observed: str
    detail: str = ""


@dataclass
class VerificationReport:
    """The checks of one model, with the number of model calls and rows and the run time (s)."""

    model: str
    checks: list
    elapsed: float = 0.0
    calls: int = 0
    rows: int = 0
    roles: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["name", "role", "from"]))

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(c) for c in self.checks],
                            columns=["section", "check", "status", "expected", "observed", "detail"])

    @property
    def failed(self) -> list:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict:
        out = {s: 0 for s in (PASS, FAIL, NA)}
        for c in self.checks:
            out[c.status] += 1
        return out

    def summary_line(self) -> str:
        k = self.counts()
        return (f"{len(self.checks)} checks: {k[PASS]} passed, {k[FAIL]} failed, "
                f"{k[NA]} not applicable ({self.calls} model calls, {self.rows:,} parameter sets, "
                f"{self.elapsed:.1f} s)")

    def console(self) -> str:
        """A console summary: one line per check, failures with expected and observed values."""
        mark = {PASS: "ok  ", FAIL: "FAIL", NA: "n/a "}
        lines = [f"Verification of model '{self.model}' (TECH-VER black-box checks)"]
        section = None
        for c in self.checks:
            if c.section != section:
                section = c.section
                lines.append(f"  {section}")
            lines.append(f"    [{mark[c.status]}] {c.check}")
            if c.status == FAIL:
                lines.append(f"           expected: {c.expected}")
                lines.append(f"           observed: {c.observed}")
                lines.append(f"           {c.detail}")
            elif c.status == NA:
                lines.append(f"           {c.detail}")
            elif c.observed:
                lines.append(f"           {clip(c.observed)}")
        lines.append("  " + self.summary_line())
        return "\n".join(lines)


def fmt(x) -> str:
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.6g}"
    return f"{x:,.6g}"


def clip(text: str, width: int = 150) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
