"""The flagship's headline results do not depend on the processor's BLAS kernel.

OpenBLAS picks a kernel per CPU at start-up (``OPENBLAS_CORETYPE`` overrides it), and the
kernels round differently. The base case runs here once per kernel that this CPU can execute,
each in a fresh process, and the results workbooks are compared with the default kernel's.

Tolerances (stated in docs/methods.md, "Numerical robustness"):

* deterministic results (costs, QALYs, LYs, ICERs, NMB), the threshold prices, the PSA summary
  and EVPI: 1e-9 relative. They involve no factorisation that rounding could tip, only sums in
  a different order;
* EVPPI of each parameter and group: 1e-4 of EVPI (absolute). Its regression chooses smoothing
  parameters by minimising GCV, which is flat where a margin is almost linear, so the optimiser
  may stop at slightly different points; the EVPPI moves by far less than its own standard error.

CI runs the whole suite once more under each extra kernel (``.ci/run``); ``HTA_KERNEL_PASS`` is
set there, and this test, which starts its own processes per kernel, then skips.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hta.excel.writer import read_back

ROOT = Path(__file__).resolve().parents[1]

# The x86-64 OpenBLAS kernels named in the issue, with the CPU flags each needs.
KERNEL_FLAGS = {
    "SkylakeX": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "Sandybridge": {"avx"},
}
# OpenBLAS runs its Zen target on the Haswell kernels and may report it under that name.
REPORTED_AS = {"Zen": {"zen", "haswell"}}
EXACT_SHEETS = ("Summary", "Incremental", "NMB", "Threshold price", "PSA summary", "PSA incremental", "EVPI")
EXACT_RTOL = 1e-9
EVPPI_ATOL_SHARE_OF_EVPI = 1e-4


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _openblas_in_use() -> bool:
    from threadpoolctl import threadpool_info

    return any(i.get("internal_api") == "openblas" for i in threadpool_info())


def supported_kernels() -> list[str]:
    flags = _cpu_flags()
    return [k for k, need in KERNEL_FLAGS.items() if need <= flags]


_PROBE = ("import json, numpy, scipy.linalg; from threadpoolctl import threadpool_info; print(json.dumps(sorted("
          "{i['architecture'] for i in threadpool_info() if i.get('internal_api') == 'openblas'})))")


def _kernel_env(kernel: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if kernel is not None:
        env["OPENBLAS_CORETYPE"] = kernel
    elif "OPENBLAS_CORETYPE" in os.environ:  # the machine chose a kernel for this CPU: keep it
        env["OPENBLAS_CORETYPE"] = os.environ["OPENBLAS_CORETYPE"]
    return env


def reported_kernel(kernel: str | None) -> str | None:
    """The kernel(s) OpenBLAS runs when asked for ``kernel`` (None: the default), or None if a
    process with that setting does not start here."""
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=_kernel_env(kernel), capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"OpenBLAS kernel {kernel}: the probe process failed (exit {proc.returncode}): "
              f"{proc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return ",".join(json.loads(proc.stdout)).lower()


def other_kernels() -> list[str]:
    """Kernels this CPU runs, other than the default, each running distinct code."""
    seen = {reported_kernel(None)}
    out = []
    for candidate in supported_kernels():
        arch = reported_kernel(candidate)
        if arch is not None and arch not in seen:
            seen.add(arch)
            out.append(candidate)
    return out


def _run_base_case(out: Path, kernel: str | None) -> str:
    """Run the flagship base case in a fresh process; return the kernel(s) OpenBLAS reports."""
    env = _kernel_env(kernel)
    code = (
        "import json, sys; from threadpoolctl import threadpool_info; from hta.app.cli import main\n"
        f"rc = main(['run', 'scenarios/base_case.py', '--out', {str(out)!r}, '--quiet'])\n"
        "arch = [i.get('architecture') for i in threadpool_info() if i.get('internal_api') == 'openblas']\n"
        "print('KERNEL=' + json.dumps(arch)); sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"base case on kernel {kernel or 'default'} failed:\n{proc.stderr[-3000:]}"
    line = [x for x in proc.stdout.splitlines() if x.startswith("KERNEL=")][-1]
    return ",".join(sorted(set(json.loads(line[len("KERNEL="):]))))  # numpy's and scipy's OpenBLAS


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HTA_KERNEL_PASS") == "1", reason="CI pass under a fixed kernel")
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 OpenBLAS kernels only")
def test_flagship_headline_results_agree_across_blas_kernels(tmp_path):
    if not _openblas_in_use():
        pytest.skip("numpy is not linked to OpenBLAS")
    kernels = other_kernels()
    if not kernels:
        pytest.skip("this CPU runs no OpenBLAS kernel from the list other than the default")

    reference_dir = tmp_path / "default"
    reference_kernel = _run_base_case(reference_dir, None)
    reference = read_back(reference_dir / "base_case.xlsx")
    evpi = float(reference["EVPI"].select_dtypes("number").to_numpy().max())
    for kernel in kernels:
        out = tmp_path / kernel
        used = _run_base_case(out, kernel)
        assert used.lower() in REPORTED_AS.get(kernel, {kernel.lower()}), f"asked OpenBLAS for {kernel}; it used {used}"
        book = read_back(out / "base_case.xlsx")
        for sheet in EXACT_SHEETS:
            left, right = reference[sheet], book[sheet]
            numeric = left.select_dtypes("number").columns
            np.testing.assert_allclose(right[numeric].to_numpy(float), left[numeric].to_numpy(float),
                                       rtol=EXACT_RTOL, err_msg=f"{sheet} on {kernel} vs {reference_kernel}")
        left = reference["EVPPI"].set_index("Name")["EVPPI per patient (HK$)"]  # headers of issue 20
        right = book["EVPPI"].set_index("Name")["EVPPI per patient (HK$)"].reindex(left.index)
        np.testing.assert_allclose(right.to_numpy(float), left.to_numpy(float), rtol=0,
                                   atol=EVPPI_ATOL_SHARE_OF_EVPI * evpi, err_msg=f"EVPPI on {kernel}")
    print(f"kernels compared with the default ({reference_kernel}): {kernels}")
