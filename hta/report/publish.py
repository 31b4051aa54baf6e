"""The one atomic publisher: results workbook, figures and companion files, or nothing.

Everything is computed before anything is written; every file is written into a staging folder
beside the output folder and moved into place only when all of them succeeded (the main file
last), so an error never leaves partial output. :func:`staged` is the same mechanism for any
command that writes files (``hta run``, ``hta check``, ``hta fit``, ``hta export-excel``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from hta.errors import HtaError
from hta.excel.writer import write_workbook
from hta.report.console import console_table
from hta.report.provenance import about, run_info, utc_now
from hta.report.section import Section
from hta.report.sections import present
from hta.report.sections.base_case import base_case, closing_sheets


class Staging:
    """A staging folder: ``path(name)`` is where to write a file; ``main`` names the file moved last."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.main: str | None = None

    def path(self, name: str, *, main: bool = False) -> Path:
        if main:
            self.main = name
        return self.folder / name


def check_output_folder(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HtaError(f"output folder '{out_dir}': expected a folder; found a file")
    if out_dir.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".csv", ".png", ".pdf"):
        raise HtaError(f"output folder '{out_dir}': expected a folder name; found a file name (the results "
                       "are written into the folder, named after the scenario)")
    return out_dir


@contextlib.contextmanager
def staged(out_dir, written: list):
    """Stage files for ``out_dir``; on success move them there and append their paths to ``written``."""
    out_dir = check_output_folder(out_dir)
    try:
        folder = Path(tempfile.mkdtemp(prefix=".hta-", dir=out_dir.parent if out_dir.parent.exists() else None))
    except OSError as err:
        raise HtaError(f"output folder '{out_dir}': expected a writable location; found {err.strerror}") from None
    staging = Staging(folder)
    try:
        yield staging
        out_dir.mkdir(parents=True, exist_ok=True)
        files = sorted(folder.iterdir())
        last = [f for f in files if f.name == staging.main]
        for f in [f for f in files if f.name != staging.main] + last:
            target = out_dir / f.name
            shutil.move(str(f), target)
            written.append(target)
    except OSError as err:
        raise HtaError(f"output folder '{out_dir}': could not write the results ({err})") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sections(results) -> dict[str, Section]:
    """{key: Section} of every analysis of ``results``, in plan order."""
    return {key: present(result, results) for key, result in results.analyses.items()}


def write(results, out_dir, *, input_files=(), seed=None, started=None, elapsed=0.0, figures=True,
          rendered: dict | None = None) -> list[Path]:
    """Write the workbook (and figures and companion files) of ``results`` into ``out_dir``."""
    started = started or utc_now()
    info = run_info(results, input_files, seed=seed, started=started, elapsed=elapsed)
    rendered = sections(results) if rendered is None else rendered
    base = base_case(results)
    sheets = list(base.sheets)
    for section in rendered.values():
        sheets.extend(section.sheets)
    sheets += closing_sheets(results, info)
    written: list[Path] = []
    with staged(out_dir, written) as stage:
        if figures:
            makers = dict(base.figures)
            for section in rendered.values():
                makers.update(section.figures)
            for fig_name, make in makers.items():
                make(stage.path(f"{results.name}_{fig_name}.png"))
        write_workbook(stage.path(f"{results.name}.xlsx", main=True), sheets)
        companion = about(info)
        for section in rendered.values():
            for file_name, make in section.files.items():
                make(stage.path(f"{results.name}_{file_name}"), companion)
    return written


def publish(results, out_dir, *, input_files=(), seed=None, started=None, elapsed=0.0, figures=True,
            quiet: bool = False) -> list[Path]:
    """Print the console summary and write every output of ``results`` into ``out_dir``."""
    rendered = sections(results)
    paths = write(results, out_dir, input_files=input_files, seed=seed, started=started, elapsed=elapsed,
                  figures=figures, rendered=rendered)
    print(console_table(results, rendered), end="", flush=True)
    if not quiet:
        print("wrote:")
        for p in paths:
            print(f"  {p}")
    return paths
