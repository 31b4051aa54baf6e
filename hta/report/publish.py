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
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd

from hta.errors import HtaError
from hta.excel.finite import check_finite_outputs
from hta.excel.writer import Sheet, write_workbook
from hta.report.console import console_short, console_table
from hta.report.dashboard import dashboard
from hta.report.labels import Labeller, humanise
from hta.report.plausibility import warnings_of
from hta.report.provenance import about, run_info, utc_now
from hta.report.section import Section
from hta.report.sections import PRESENTERS, present
from hta.report.sections.base_case import base_case, closing_sheets
from hta.report.tasks import frozen_heap, run_tasks

#: The parts of a results workbook in reading order (after the Decision and Contents sheets).
PARTS = ("Deterministic results", "Uncertainty", "Budget impact", "Further analyses", "Evidence and assumptions",
         "Verification", "Data")
#: Known sheets: their part (sheets listed under "Data" are data sheets: not printed).
SHEET_PARTS = {
    "Summary": "Deterministic results", "Incremental": "Deterministic results", "NMB": "Deterministic results",
    "Tornado": "Deterministic results", "Tornado ICER": "Deterministic results",
    "Threshold price": "Deterministic results", "Threshold curve": "Deterministic results",
    "Scenarios": "Deterministic results", "Two-way": "Deterministic results",
    "PSA summary": "Uncertainty", "PSA incremental": "Uncertainty", "EVPI": "Uncertainty", "CEAC": "Data",
    "EVPPI": "Uncertainty", "Sobol": "Uncertainty",
    "BIA": "Budget impact", "BIA sensitivity": "Budget impact", "BIA scenarios": "Budget impact",
    "BIA population": "Budget impact", "BIA shares": "Budget impact", "BIA inputs": "Data",
    "Survival models": "Evidence and assumptions", "Survival selection": "Evidence and assumptions",
    "CHEERS 2022": "Evidence and assumptions", "Inputs": "Evidence and assumptions",
    "Verification": "Verification", "Run info": "Verification",
    "Disaggregated": "Data", "Survival": "Data", "Trace": "Data", "Tornado costs QALYs": "Data", "One-way": "Data",
    "CEAF": "Data", "EVPI curve": "Data", "PSA draws": "Data", "BIA by category": "Data", "BIA detail": "Data",
    "Verification roles": "Data", "Costs by payer and line": "Data", "PSA structural means": "Data",
    "PSA structural CEAC": "Data",
}
MODULE_PARTS = {"deterministic": "Deterministic results", "probabilistic": "Uncertainty", "budget": "Budget impact",
                "evidence": "Evidence and assumptions", "base_case": "Deterministic results"}
#: A sheet of an unknown presenter with more rows than this is a data sheet (not printed).
LONG_TABLE_ROWS = 60
#: Sheets that list identifiers on purpose (the input listing, provenance).
LISTINGS = ("Inputs", "Run info", "BIA inputs")


def labeller_of(results) -> Labeller:
    """The run's labeller, with the budget-impact items' descriptions when that analysis ran."""
    from hta.analysis import requests as R

    labeller = Labeller(results.model)
    for result in results.analyses.values():
        if isinstance(result, R.BudgetImpactResult) and len(result.frames.get("inputs", [])):
            frame = result.frames["inputs"]
            if {"item", "description"} <= set(frame.columns):
                labeller.learn(dict(zip(frame["item"], frame["description"])))
    return labeller


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


def _part(sheet: Sheet, section_part: str | None, module: str) -> str:
    if sheet.name in SHEET_PARTS:
        return SHEET_PARTS[sheet.name]
    if sheet.data or len(sheet.frame) > LONG_TABLE_ROWS:
        return "Data"
    return section_part or MODULE_PARTS.get(module.rsplit(".", 1)[-1], "Further analyses")


def workbook_sheets(results, rendered: dict, info, warnings: list[str], labeller: Labeller) -> list[Sheet]:
    """Every sheet of the results workbook in reading order: Decision, Contents, then the parts of
    :data:`PARTS` (data sheets last, not printed), labelled for a reader (:func:`humanise`)."""
    placed: list[tuple[str, Sheet]] = []
    for sheet in base_case(results).sheets:
        placed.append((_part(sheet, None, "base_case"), sheet))
    for key, section in rendered.items():
        presenter = PRESENTERS.get(type(results.analyses.get(key)))
        module = getattr(presenter, "__module__", "") or ""
        for sheet in section.sheets:
            placed.append((_part(sheet, section.part, module), sheet))
    for sheet in closing_sheets(results, info):
        placed.append((SHEET_PARTS[sheet.name], sheet))
    ordered = []
    for part in PARTS:
        for where, sheet in placed:
            if where == part:
                sheet = replace(sheet, data=sheet.data or part == "Data")
                sheet = replace(sheet, one_page=sheet.one_page or sheet.name == "Run info")
                ordered.append((part, humanise(sheet, labeller, listing=sheet.name in LISTINGS)))
    contents = pd.DataFrame({"Part": [p for p, _ in ordered], "Sheet": [s.name for _, s in ordered],
                             "What it shows": [(s.title or "") for _, s in ordered],
                             "Printed": ["no (data sheet)" if s.data else "yes" for _, s in ordered]})
    contents_sheet = Sheet("Contents", contents, links=["Sheet"], one_page=True, wrap=["What it shows"],
                           title="Contents: the sheets of this workbook in reading order (click a name to open it)",
                           notes=[("Data sheets (draws, traces, long tables) are not printed; their rows "
                                   "stay in this workbook.")])
    return [dashboard(results, warnings, labeller), contents_sheet] + [s for _, s in ordered]


def write(results, out_dir, *, input_files=(), seed=None, started=None, elapsed=0.0, figures=True,
          rendered: dict | None = None, warnings: list[str] | None = None, workers: int | None = None) -> list[Path]:
    """Write the workbook (and figures and companion files) of ``results`` into ``out_dir``.

    ``workers``: 1 writes the files one after another in this process; None (every core) or
    more shares them with a forked helper process where that is possible
    (:func:`hta.report.tasks.run_tasks`): the same files either way.

    The base-case totals are checked finite first (:func:`hta.excel.finite.check_finite_outputs`):
    a NaN or infinite cost, QALY or LY is one error naming the table, column and row, and nothing
    is written."""
    with frozen_heap():
        return _write(results, out_dir, input_files=input_files, seed=seed, started=started, elapsed=elapsed,
                      figures=figures, rendered=rendered, warnings=warnings, workers=workers)[0]


def _write(results, out_dir, *, input_files, seed, started, elapsed, figures, rendered, warnings,
           workers) -> tuple[list[Path], list[str]]:
    """:func:`write`, also returning the plausibility warnings (computed while the helper process
    draws the first figures, when ``warnings`` is None)."""
    totals = [c for c in results.summary.columns
              if c in ("cost", "qalys", "lys") or c.endswith("_undiscounted")]
    check_finite_outputs({"Summary": results.summary[totals],
                          "Disaggregated": results.disaggregated.select_dtypes("number")})
    started = started or utc_now()
    info = run_info(results, input_files, seed=seed, started=started, elapsed=elapsed)
    rendered = sections(results) if rendered is None else rendered
    base = base_case(results)
    labeller = labeller_of(results)
    prepared: dict = {}

    def prepare() -> dict:
        """The warnings and the workbook's sheets (in whichever process needs them first)."""
        if not prepared:
            found = warnings_of(results, labeller) if warnings is None else warnings
            prepared["sheets"] = workbook_sheets(results, rendered, info, found, labeller)
            prepared["warnings"] = found
        return prepared

    makers = {}
    if figures:
        makers = dict(base.figures)
        for section in rendered.values():
            makers.update(section.figures)
    companion = about(info)
    written: list[Path] = []
    with staged(out_dir, written) as stage:
        # in this order when one after another (the sheets first); on two cores this process
        # starts with the sheets and the workbooks, a forked helper with the figures (hta.report.tasks)
        tasks = [partial(make, stage.path(f"{results.name}_{fig_name}.png")) for fig_name, make in makers.items()]
        first = [len(tasks)]
        main = stage.path(f"{results.name}.xlsx", main=True)
        tasks.append(lambda: write_workbook(main, prepare()["sheets"]))
        for section in rendered.values():
            for file_name, make in section.files.items():
                first.append(len(tasks))
                tasks.append(partial(make, stage.path(f"{results.name}_{file_name}"), companion))
        if makers:
            from hta.report.figures import load_pyplot

            load_pyplot()  # imported once, before a helper process is forked
        run_tasks(tasks, first=first, workers=workers, before=prepare)
    return written, prepared["warnings"]


def publish(results, out_dir, *, input_files=(), seed=None, started=None, elapsed=0.0, figures=True,
            quiet: bool = False, verbose: bool = False, workers: int | None = None) -> list[Path]:
    """Write every output of ``results`` into ``out_dir`` and print the console summary: by
    default the decision, the warnings and where the files are (at most 40 lines); ``quiet``
    the headline and the file paths; ``verbose`` every table and analysis text; ``workers`` as
    for :func:`write`."""
    with frozen_heap():  # the results and modules are not walked by every full collection
        rendered = sections(results)
        paths, warnings = _write(results, out_dir, input_files=input_files, seed=seed, started=started,
                                 elapsed=elapsed, figures=figures, rendered=rendered, warnings=None, workers=workers)
    if verbose:
        text = console_table(results, rendered) + "".join(f"warning: {w}\n" for w in warnings)
        text += "wrote:\n" + "".join(f"  {p}\n" for p in paths)
    else:
        text = console_short(results, warnings, paths, out_dir, quiet=quiet)
    print(text, end="", flush=True)
    return paths
