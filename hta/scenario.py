"""Running scenario scripts.

A scenario script (``scenarios/*.py``) defines ``run(context)``; ``hta run SCRIPT`` imports it and
calls ``run`` with a :class:`RunContext` holding the output directory, seed and verbosity.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from hta.errors import HtaError


@dataclass
class RunContext:
    script: Path
    out: Path
    seed: int | None = None
    quiet: bool = False

    def say(self, *parts) -> None:
        if not self.quiet:
            print(*parts)


def load_script(path: Path):
    path = Path(path)
    if not path.is_file():
        raise HtaError(f"scenario script '{path}': expected an existing .py file; found nothing there")
    root = path.resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(f"hta_scenario_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "run"):
        raise HtaError(f"scenario script '{path}': expected a function run(context); found none")
    return module


def run_script(path: Path, *, out: Path, seed: int | None = None, quiet: bool = False):
    module = load_script(path)
    return module.run(RunContext(script=Path(path), out=Path(out), seed=seed, quiet=quiet))
