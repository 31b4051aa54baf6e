"""Error types for user-facing problems.

Every error a user can cause (a bad workbook, an invalid distribution, a transition matrix
whose rows do not sum to 1) is an :class:`HtaError`: one readable message naming the thing at
fault, what was expected and what was found. The command line turns it into exit status 2 with
no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class HtaError(ValueError):
    """A problem with the user's inputs or settings, reported without a traceback."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input workbook."""

    workbook: str
    sheet: str
    cell: str
    expected: str
    found: str

    def __str__(self) -> str:
        where = f"{self.workbook}, sheet '{self.sheet}'" if self.sheet else f"{self.workbook}"
        if self.cell:
            where += f", cell {self.cell}"
        return f"{where}: expected {self.expected}; found {self.found}"


class InputError(HtaError):
    """All problems found while reading an input workbook, reported at once."""

    def __init__(self, problems: list[Problem] | list[str]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the inputs:"
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]))
