"""Check results for non-finite numbers before they are written (issue 25).

The publisher calls :func:`check_finite_outputs` on the tables it is about to write; a NaN or an
infinity in a results table is reported as one :class:`hta.errors.HtaError` naming the table, the
column and the first row at fault (and how many cells are affected), and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hta.errors import HtaError


def check_finite_outputs(tables: Mapping[str, pd.DataFrame]) -> None:
    """Raise :class:`HtaError` if a numeric cell of any table is NaN or infinite.

    ``tables`` maps a table (sheet) name to its DataFrame; text and blank object cells are not
    checked, a numeric column's missing values (NaN) are.
    """
    for name, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            continue
        numeric = frame.select_dtypes(include=[np.number])
        if numeric.empty:
            continue
        values = numeric.to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            row = frame.index[i]
            column = numeric.columns[j]
            raise HtaError(
                f"results table '{name}': expected finite numbers in every result; found "
                f"{values[i, j]} in column '{column}', row {row!r}, and {int(bad.sum()) - 1} other "
                "non-finite cell(s): an input lets the model overflow (check the parameters' ranges)")
