"""Approximate displayed widths of cell values under a number format (column widths of
:mod:`hta.excel.writer`)."""

from __future__ import annotations

import datetime as dt


def _content_width(values: list, fmt: str | None, key: str | None,
                   currency_symbol: str) -> float:
    """Approximate displayed width (characters) of a column's values under its format."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    texts = [v for v in values if isinstance(v, str)]
    width = 0.0
    if texts:
        width = max(max(len(line) for line in t.split("\n")) for t in texts)
    if any(isinstance(v, bool) for v in values):
        width = max(width, 5)
    if any(isinstance(v, (dt.datetime, dt.timedelta)) for v in values):
        width = max(width, len(fmt) if fmt else 19)
    if numbers:
        extremes = (min(numbers), max(numbers))
        width = max(width, *(len(_approx_display(x, key, fmt, currency_symbol))
                             for x in extremes))
    return width


def _approx_display(x: float, key: str | None, fmt: str | None, currency_symbol: str) -> str:
    if key in ("money", "money2"):
        digits = 0 if key == "money" else 2
        return ("-" if x < 0 else "") + currency_symbol + f"{abs(x):,.{digits}f}"
    if key in ("qaly", "ly", "prob"):
        return f"{x:.3f}"
    if key == "pct":
        return f"{100 * x:.1f}%"
    if key == "int":
        return f"{x:,.0f}"
    if key == "float":
        return f"{x:.4f}"
    if fmt:  # raw format: about as wide as the number plus the format's decorations
        return f"{x:,.2f}" + " " * max(0, len(fmt) - 6)
    return f"{x:.10g}"[:11]  # Excel's "General" shows at most about 11 characters
