"""Time single-parameter EVPPI for 10 parameters on 10,000 PSA draws (voi chemotherapy example).

Run on demand, never in CI:  python benchmarks/bench_evppi.py

Prints the wall time of hta.analysis.voi.evppi_table (GAM, GCV-chosen smoothing) for the first 10
parameters of refdata/voi_chemo_pars_nb_cea_10000.csv, the time of a naive binned estimate
(sort by the parameter, 50 equal blocks, EVPPI from block means: Strong & Oakley 2013) for the
ratio, and, if Rscript with mgcv is on the PATH, the time mgcv::gam takes for the same fits.
Requirement: <= 10 s for the 10 parameters on a 2-core machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hta.analysis import voi

DATA_NAME = "voi_chemo_pars_nb_cea_10000.csv"
DATA = Path(__file__).resolve().parents[2] / "shared" / "refdata" / DATA_NAME
if not DATA.exists():
    DATA = Path("/work/shared/refdata") / DATA_NAME
N_PARAMETERS = 10
REPEATS = 3


def binned_evppi(nb: np.ndarray, x: np.ndarray, n_blocks: int = 50) -> float:
    """Naive single-parameter EVPPI: block means of NB after sorting by the parameter."""
    order = np.argsort(x, kind="stable")
    blocks = np.array_split(nb[order], n_blocks)
    block_best = np.array([b.mean(axis=0).max() for b in blocks])
    sizes = np.array([b.shape[0] for b in blocks])
    return float((block_best * sizes).sum() / sizes.sum() - nb.mean(axis=0).max())


def time_mgcv(names: list[str]) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    script = f"""
suppressMessages(library(mgcv))
d <- read.csv("{DATA}")
inb <- d$nb_Novel - d$nb_SoC
pars <- c({", ".join(f'"{n}"' for n in names)})
t <- system.time(for (p in pars) {{
  g <- fitted(gam(as.formula(sprintf("inb ~ te(%s, bs='cr')", p)), data=d))
  mean(pmax(g, 0)) - max(0, mean(g))
}})
cat(t[["elapsed"]])
"""
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(["Rscript", f.name], capture_output=True, text=True, timeout=300)
        return float(out.stdout.strip().split()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None
    finally:
        Path(f.name).unlink(missing_ok=True)


def main() -> None:
    frame = pd.read_csv(DATA)
    nb = frame[["nb_SoC", "nb_Novel"]]
    names = list(frame.columns[:N_PARAMETERS])
    print(f"{len(frame)} draws, {len(names)} single parameters: {', '.join(names)}")

    voi.evppi(nb, frame, names[0])  # warm-up (imports, caches)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        table = voi.evppi_table(nb, frame, names)
        times.append(time.perf_counter() - start)
    gam_time = min(times)
    print(table[["name", "evppi", "share_of_evpi"]].to_string(index=False))
    print(f"hta.analysis.voi GAM, {len(names)} parameters: {gam_time:.3f} s (best of {REPEATS}); "
          f"requirement <= 10 s: {'PASS' if gam_time <= 10 else 'FAIL'}")

    values = nb.to_numpy()
    start = time.perf_counter()
    binned = [binned_evppi(values, frame[n].to_numpy()) for n in names]
    binned_time = time.perf_counter() - start
    print(f"naive binned estimate (50 blocks): {binned_time:.3f} s "
          f"(GAM / binned time ratio {gam_time / binned_time:.1f}); "
          f"p_side_effects_t2 binned = {binned[1]:.1f}")

    r_time = time_mgcv(names)
    if r_time is not None:
        print(f"R mgcv::gam for the same fits: {r_time:.3f} s "
              f"(mgcv / hta.analysis.voi ratio {r_time / gam_time:.1f})")

    start = time.perf_counter()
    group = voi.evppi(nb, frame, ["p_hospitalised_total", "p_died", "lambda_home", "lambda_hosp"])
    print(f"4-parameter tensor GAM group (trans_probs): {group:.2f} in "
          f"{time.perf_counter() - start:.3f} s")
    start = time.perf_counter()
    group = voi.evppi(nb, frame, names[:7], method="gp")
    print(f"7-parameter GP group: {group:.2f} in {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
