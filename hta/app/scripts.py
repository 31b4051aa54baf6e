"""Running scenario scripts.

A scenario script (``scenarios/*.py``) defines ``build_model()`` and ``run(context)``.
``hta run SCRIPT`` imports it and calls ``run`` with a :class:`RunContext` that carries the
output folder, the execution settings (seed, workers, scheduler, progress) and the verbosity,
and publishes results (console summary, workbook, figures). ``hta check`` and
``hta export-excel`` use ``build_model()``.
"""

from __future__ import annotations

import importlib.util
import linecache
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hta._version import __version__
from hta.analysis.plan import Execution
from hta.analysis.requests import verification
from hta.errors import HtaError
from hta.excel.writer import Sheet, write_workbook
from hta.protocol import check_model, model_label
from hta.report.provenance import git_commit, input_hashes, stamp, utc_now
from hta.report.publish import publish, staged
from hta.report.sections.evidence import verification as verification_section


@dataclass
class RunContext:
    """What ``hta run`` hands a scenario script."""

    script: Path
    out: Path
    seed: int | None = None
    quiet: bool = False
    scheduler: str | None = None
    workers: int | None = None
    verbose: bool = False
    started: object = field(default_factory=utc_now)
    t0: float = field(default_factory=time.perf_counter)
    written: list = field(default_factory=list)

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    @property
    def execution(self) -> Execution:
        """The execution settings of this run, for ``analyse(..., execution=context.execution)``."""
        return Execution(seed=self.seed, workers=self.workers, scheduler=self.scheduler, progress=self.progress,
                         on_step=None if self.quiet else self.steps)

    @property
    def steps(self):
        """The progress reporter of this run (one per context)."""
        if getattr(self, "_steps", None) is None:
            from hta.app.progress import StepProgress

            self._steps = StepProgress()
        return self._steps

    def say(self, *parts) -> None:
        if not self.quiet:
            print(*parts, flush=True)

    def publish(self, results, *, inputs=(), figures: bool = True) -> list[Path]:
        """Print the results summary and write the workbook, figures and companion files into ``out``
        (on two processes unless ``workers`` is 1: :func:`hta.report.publish.write`)."""
        seed = results.run_info.get("seed", self.seed)
        if not self.quiet:
            self.steps("start", "publish", 0, 0, 0.0)
        t0 = time.perf_counter()
        paths = publish(results, self.out, input_files=[Path(p) for p in inputs], seed=seed, started=self.started,
                        elapsed=time.perf_counter() - self.t0, figures=figures, quiet=self.quiet,
                        verbose=self.verbose, workers=self.workers)
        if not self.quiet:
            self.steps("done", "publish", 0, 0, time.perf_counter() - t0)
        self.written.extend(paths)
        return paths


def load_script(path: Path):
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise HtaError(f"scenario script '{path}': expected an existing .py file; found "
                       f"{'nothing there' if not path.exists() else 'something else'}")
    # `from models import ...` resolves to the repository's models/ folder: the script's
    # repository (scenarios/..) first, then the current directory (a copied script run from the
    # repository root). Installed, the same package is `hta_models` (docs/scenarios.md).
    root = path.resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cwd = str(Path.cwd())
    if cwd not in sys.path and str(Path(cwd).resolve()) not in sys.path:
        sys.path.append(cwd)
    spec = importlib.util.spec_from_file_location(f"hta_scenario_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise HtaError(f"scenario script '{path}': expected valid Python; found a syntax error at line {err.lineno}: {err.msg}") from None
    except (HtaError, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - any error of the script's code: one message naming its line
        raise script_error(path, err) from None
    if not callable(getattr(module, "run", None)):
        raise HtaError(f"scenario script '{path}': expected a function run(context); found none")
    return module


def script_error(path: Path, err: BaseException) -> HtaError:
    """One message for an exception raised while a scenario script's code ran: the script, the
    line (the traceback's last frame inside the script) and the cause."""
    target = Path(path).resolve()
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve() == target]
    cause = type(err).__name__ + (f": {err}" if str(err) else "")
    if isinstance(err, StopIteration):
        cause += " (a search found nothing: check the names used on that line)"
    elif isinstance(err, ModuleNotFoundError) and err.name in ("distributed", "dask"):
        cause += ' (an optional extra is missing: pip install "hta[distributed]")'
    if not frames:
        return HtaError(f"scenario script '{path}': {cause}")
    last = frames[-1]
    code = (last.line or linecache.getline(last.filename, last.lineno)).strip()
    return HtaError(f"scenario script '{path}', line {last.lineno}" + (f" ({code})" if code else "") + f": {cause}")


def run_script(path: Path, *, out: Path, seed: int | None = None, quiet: bool = False,
               scheduler: str | None = None, workers: int | None = None, verbose: bool = False) -> RunContext:
    from hta.report.publish import check_output_folder

    check_output_folder(out)
    module = load_script(path)
    context = RunContext(script=Path(path), out=Path(out), seed=seed, quiet=quiet, scheduler=scheduler, workers=workers,
                         verbose=verbose)
    try:
        module.run(context)
    except (HtaError, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - any error of the script's code: one message naming its line
        raise script_error(path, err) from None
    return context


def load_model(path: Path):
    """The model of a scenario script: the result of its ``build_model()``."""
    module = load_script(path)
    build = getattr(module, "build_model", None)
    if not callable(build):
        raise HtaError(f"scenario script '{path}': expected a function build_model() returning the model "
                       "(hta check verifies that model); found none")
    model = build()
    check_model(model)
    return model


def check_script(path: Path, *, out: Path, seed: int | None = None, psa_draws: int = 2000, quiet: bool = False,
                 workbook: bool = True) -> tuple:
    """``hta check SCRIPT``: verify the script's model; print the report and write its workbook.

    Writes ``out/<script stem>_verification.xlsx`` (sheets Verification, Verification roles,
    Inputs, Run info), atomically. Returns ``(report, paths written)``.
    """
    path = Path(path)
    started = utc_now()
    t0 = time.perf_counter()
    model = load_model(path)
    label = model_label(model)
    result = verification({label: model}, psa_draws=psa_draws, seed=seed)
    rep = result.reports[label]
    print(rep.console() if not quiet else rep.summary_line(), flush=True)
    written: list[Path] = []
    if workbook:
        rows = [("hta version", __version__), ("git commit", git_commit()),
                ("scenario script", str(path)), ("model", rep.model), ("started (UTC)", stamp(started)),
                ("elapsed (s)", round(time.perf_counter() - t0, 3)), ("verification", rep.summary_line())]
        rows += input_hashes([getattr(model, "inputs_path", "")])
        info = pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})
        sheets = verification_section(result, None).sheets + [
            Sheet("Inputs", model.parameters.to_frame(), {}, title="Every parameter with its distribution and source"),
            Sheet("Run info", info, {}, title="Reproducibility: versions, input hashes, run time")]
        with staged(out, written) as stage:
            write_workbook(stage.path(f"{path.stem}_verification.xlsx", main=True), sheets)
        if not quiet:
            print("wrote:\n  " + "\n  ".join(str(p) for p in written))
    return rep, written


def export_script(path: Path, *, out: Path | None = None) -> Path:
    """``hta export-excel SCRIPT``: the script's base case as a formula-live workbook.

    Writes ``out`` (default ``results/<script stem>_model.xlsx``) atomically and returns its path;
    the workbook's About sheet records the version, commit, script and inputs hash.
    """
    from hta.excel.formula_model import export

    path = Path(path)
    target = Path(out) if out is not None else Path("results") / f"{path.stem}_model.xlsx"
    model = load_model(path)
    info = {"hta version": __version__, "git commit": git_commit(), "scenario script": str(path),
            "written (UTC)": stamp(utc_now())}
    info.update(dict(input_hashes([getattr(model, "inputs_path", "")])))
    return export(model, target, run_info=info)
