"""The ``hta`` command line.

User errors (:class:`hta.errors.HtaError`) end with exit status 2 and one readable message on
stderr, no traceback, and no files written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hta import __version__
from hta.errors import HtaError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hta", description="Health-economic decision models with Excel on both ends.")
    p.add_argument("--version", action="version", version=f"hta {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario script and write the results workbook and figures")
    run.add_argument("scenario", type=Path, help="scenario script (scenarios/*.py)")
    run.add_argument("--out", type=Path, default=Path("results"), help="output directory (default: results/)")
    run.add_argument("--seed", type=int, default=None, help="PSA seed (default: the workbook's or scenario's)")
    run.add_argument("--quiet", action="store_true", help="print only the results table")
    run.add_argument("--scheduler", default=None, help="Dask scheduler address for PSA/Sobol chunks (e.g. tcp://host:8786)")
    run.add_argument("--workers", type=int, default=None, help="start a local Dask cluster with N workers")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from hta.scenario import run_script

            run_script(args.scenario, out=args.out, seed=args.seed, quiet=args.quiet,
                       scheduler=args.scheduler, workers=args.workers)
        return 0
    except HtaError as err:
        print(f"hta: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hta: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
