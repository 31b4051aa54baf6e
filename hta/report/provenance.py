"""Provenance of a run: versions, git commit, input hashes, seed, settings and timings.

Every results workbook carries these rows (the Run info sheet); the formula-live workbook and
the verification workbook carry the subset :func:`about` returns.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from hta._version import __version__

_HERE = Path(__file__).resolve().parent


def sha256(path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(start: Path = _HERE) -> str:
    """The commit of the checkout ``start`` lies in (marked when it has uncommitted changes)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=start,
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "not available"


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def stamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def input_hashes(paths) -> list[tuple[str, str]]:
    """``[("SHA-256 of NAME", hex), ...]`` for each existing file of ``paths``."""
    return [(f"SHA-256 of {Path(p).name}", sha256(p)) for p in paths if p and Path(p).is_file()]


def run_info(results, input_files, *, seed, started: _dt.datetime, elapsed: float) -> pd.DataFrame:
    """The Run info sheet: versions, input hashes, seed, settings, timestamp, elapsed time."""
    rows = [("hta version", __version__),
            ("git commit", git_commit()),
            ("Python", platform.python_version()),
            ("numpy", np.__version__),
            ("pandas", pd.__version__),
            ("platform", platform.platform()),
            ("scenario", results.name),
            ("model", getattr(results.model, "name", "")),
            ("structure", getattr(results.model, "structure", "")),
            ("seed", seed),
            ("started (UTC)", stamp(started)),
            ("elapsed (s)", round(elapsed, 3))]
    rows += [(k, v) for k, v in input_hashes(input_files)]
    settings = results.model.settings
    for f in dataclasses.fields(settings):
        if f.name == "sources":
            continue
        value = getattr(settings, f.name)
        if f.name == "wtp":
            for label, v in value:
                rows.append((f"setting: WTP {label}", v))
        else:
            rows.append((f"setting: {f.name}", value))
    for key, value in results.run_info.items():
        rows.append((key, value))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def about(info: pd.DataFrame) -> dict:
    """The rows of a Run info frame that a companion file records (version, commit, scenario, time, hashes)."""
    return {k: v for k, v in zip(info["item"], info["value"])
            if k in ("hta version", "git commit", "scenario", "started (UTC)") or k.startswith("SHA-256")}
