"""What a presenter makes of one result: sheets, figures, console text and extra files.

A presenter (:mod:`hta.report.sections`) turns one typed result into a :class:`Section`; the
publisher (:mod:`hta.report.publish`) writes every section's sheets into the results workbook in
plan order, draws its figures and files, and prints its console text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Section:
    """``sheets``: :class:`hta.excel.writer.Sheet` in order; ``figures``: {stem: draw(path)};
    ``console``: text for the terminal; ``files``: {suffix: write(path, run_info)};
    ``console_rank``: where the console text goes (lower first; ties keep plan order)."""

    sheets: list = field(default_factory=list)
    figures: dict[str, Callable] = field(default_factory=dict)
    console: str = ""
    files: dict[str, Callable] = field(default_factory=dict)
    console_rank: int = 100
    #: the part of the workbook its sheets go to (``hta.report.publish.PARTS``); None: from the
    #: sheet name, else from the presenter's module
    part: str | None = None


def money(x, symbol: str = "HK$") -> str:
    """Money with thousands separators and the sign first (``-HK$536,889``), or ``n/a``;
    ``symbol`` is the currency's (``settings.currency_symbol``: HK$ for HA submissions)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"-{symbol}{-x:,.0f}" if round(x) < 0 else f"{symbol}{x:,.0f}"
