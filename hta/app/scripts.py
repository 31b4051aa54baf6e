"""Running scenario scripts.

A scenario script (``scenarios/*.py``) defines ``run(context)``. ``hta run SCRIPT`` imports it
and calls ``run`` with a :class:`RunContext` that carries the output folder, the seed and the
verbosity, and publishes results (console table, workbook, figures). A script can also be run
directly (``python scenarios/base_case.py``) when it ends with ``main(__file__)``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hta.errors import HtaError


@dataclass
class RunContext:
    """What ``hta run`` hands a scenario script."""

    script: Path
    out: Path
    seed: int | None = None
    quiet: bool = False
    scheduler: str | None = None
    workers: int | None = None
    started: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    t0: float = field(default_factory=time.perf_counter)
    written: list = field(default_factory=list)

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def say(self, *parts) -> None:
        if not self.quiet:
            print(*parts, flush=True)

    def publish(self, results, *, inputs=(), figures: bool = True) -> list[Path]:
        """Print the results table and write the workbook and figures into ``out``."""
        from hta.report import publish as report

        seed = results.run_info.get("seed", self.seed)
        paths = report.write(results, self.out, input_files=[Path(p) for p in inputs], seed=seed,
                             started=self.started, elapsed=time.perf_counter() - self.t0, figures=figures)
        print(report.console_table(results), end="", flush=True)
        self.written.extend(paths)
        if not self.quiet:
            print("wrote:")
            for p in paths:
                print(f"  {p}")
        return paths


def load_script(path: Path):
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise HtaError(f"scenario script '{path}': expected an existing .py file; found "
                       f"{'nothing there' if not path.exists() else 'something else'}")
    root = path.resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(f"hta_scenario_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise HtaError(f"scenario script '{path}': expected valid Python; found a syntax error at line {err.lineno}: {err.msg}") from None
    if not callable(getattr(module, "run", None)):
        raise HtaError(f"scenario script '{path}': expected a function run(context); found none")
    return module


def run_script(path: Path, *, out: Path, seed: int | None = None, quiet: bool = False,
               scheduler: str | None = None, workers: int | None = None) -> RunContext:
    module = load_script(path)
    context = RunContext(script=Path(path), out=Path(out), seed=seed, quiet=quiet, scheduler=scheduler, workers=workers)
    module.run(context)
    return context


def load_model(path: Path):
    """The model of a scenario script: the result of its ``build_model()``."""
    module = load_script(path)
    build = getattr(module, "build_model", None)
    if not callable(build):
        raise HtaError(f"scenario script '{path}': expected a function build_model() returning the model "
                       "(hta check verifies that model); found none")
    return build()


def check_script(path: Path, *, out: Path, seed: int | None = None, psa_draws: int = 2000, quiet: bool = False,
                 workbook: bool = True) -> tuple:
    """``hta check SCRIPT``: verify the script's model; print the report and write its workbook.

    Writes ``out/<script stem>_verification.xlsx`` (sheets Verification, Verification roles,
    Inputs, Run info), atomically. Returns ``(report, paths written)``.
    """
    import datetime as dt

    from hta.report import publish as report_mod
    from hta.excel.writer import Sheet, write_workbook
    from hta.analysis.plan import verification

    path = Path(path)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    model = load_model(path)
    label = getattr(model, "structure", "") or getattr(model, "name", "model")
    result = verification({label: model}, {"psa_draws": psa_draws}, seed)
    rep = result["reports"][label]
    print(rep.console() if not quiet else rep.summary_line(), flush=True)
    written = []
    if workbook:
        rows = [("hta version", report_mod.__version__), ("git commit", report_mod.git_commit(Path(__file__).resolve().parent)),
                ("scenario script", str(path)), ("model", rep.model), ("started (UTC)", started.strftime("%Y-%m-%d %H:%M:%S")),
                ("elapsed (s)", round(time.perf_counter() - t0, 3)), ("verification", rep.summary_line())]
        inputs = getattr(model, "inputs_path", "")
        if inputs and Path(inputs).is_file():
            rows.append((f"SHA-256 of {Path(inputs).name}", report_mod.sha256(inputs)))
        import pandas as pd

        info = pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})
        sheets = result["sheets"] + [
            Sheet("Inputs", model.parameters.to_frame(), {}, title="Every parameter with its distribution and source"),
            Sheet("Run info", info, {}, title="Reproducibility: versions, input hashes, run time")]
        target = Path(out) / f"{path.stem}_verification.xlsx"
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise HtaError(f"output folder '{out}': expected a writable location; found {err.strerror}") from None
        written.append(write_workbook(target, sheets))
        if not quiet:
            print(f"wrote:\n  {target}")
    return rep, written


def export_script(path: Path, *, out: Path | None = None) -> Path:
    """``hta export-excel SCRIPT``: the script's base case as a formula-live workbook.

    Writes ``out`` (default ``results/<script stem>_model.xlsx``) atomically and returns its path;
    the workbook's About sheet records the version, commit, script and inputs hash.
    """
    import datetime as dt

    from hta.report import publish as report_mod
    from hta.excel.formula_model import export

    path = Path(path)
    target = Path(out) if out is not None else Path("results") / f"{path.stem}_model.xlsx"
    model = load_model(path)
    info = {"hta version": report_mod.__version__,
            "git commit": report_mod.git_commit(Path(__file__).resolve().parent),
            "scenario script": str(path),
            "written (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")}
    inputs = getattr(model, "inputs_path", "")
    if inputs and Path(inputs).is_file():
        info[f"SHA-256 of {Path(inputs).name}"] = report_mod.sha256(inputs)
    return export(model, target, run_info=info)


def main(script_file: str) -> None:
    """Run a scenario script as ``python scenarios/NAME.py`` (same options as ``hta run``)."""
    from hta.app.cli import main as cli_main

    sys.exit(cli_main(["run", script_file, *sys.argv[1:]]))
