"""Where scenario scripts find their input workbooks: :func:`inputs_path`.

A script names its workbook (``inputs_path("fucaso_hk.xlsx")``) instead of building a path from
its own location, so a copied script still runs. The places searched, in order:

1. every folder in the environment variable ``HTA_INPUTS`` (several separated by ``os.pathsep``:
   ``:`` on Linux and macOS, ``;`` on Windows);
2. ``inputs/`` under the current directory (running from the repository root);
3. ``inputs/`` beside the calling script's folder (``scenarios/../inputs``: the repository's
   inputs, wherever the command is run from).

The first existing file wins. ``docs/scenarios.md`` documents this.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hta.errors import HtaError

__all__ = ["inputs_path", "input_folders"]

ENV = "HTA_INPUTS"


def input_folders(script: str | os.PathLike | None = None) -> list[Path]:
    """The folders :func:`inputs_path` searches, in order (see the module docstring)."""
    folders = [Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    folders.append(Path.cwd() / "inputs")
    if script:
        folders.append(Path(script).resolve().parent.parent / "inputs")
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def inputs_path(name: str | os.PathLike, script: str | os.PathLike | None = None) -> Path:
    """The path of the input file ``name`` (e.g. ``"fucaso_hk.xlsx"``).

    ``script`` is the calling script's ``__file__``; by default it is read from the caller's
    globals. An absolute ``name`` is returned as it is if the file exists. Raises
    :class:`HtaError` naming every folder searched when the file is in none of them.
    """
    name = Path(name)
    if name.is_absolute():
        if name.is_file():
            return name
        raise HtaError(f"input file '{name}': expected an existing file; found nothing there")
    if script is None:
        script = sys._getframe(1).f_globals.get("__file__")
    folders = input_folders(script)
    for folder in folders:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise HtaError(f"input file '{name}': expected it in ${ENV}, ./inputs or the repository's inputs/ folder; "
                   f"found it in none of {', '.join(str(f) for f in folders)}")
