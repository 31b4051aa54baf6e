"""Print the OpenBLAS kernels, other than the default, that this CPU runs (one per line).

.ci/run repeats the test suite under each. The candidates, the CPU flags they need and the
probe (a fresh process per kernel, deduplicated by the kernel OpenBLAS then reports) are those
of tests/test_kernels.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_kernels import other_kernels  # noqa: E402

print("\n".join(other_kernels()))
