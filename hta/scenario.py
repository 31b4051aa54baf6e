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
        from hta import report

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


def main(script_file: str) -> None:
    """Run a scenario script as ``python scenarios/NAME.py`` (same options as ``hta run``)."""
    from hta.cli import main as cli_main

    sys.exit(cli_main(["run", script_file, *sys.argv[1:]]))
