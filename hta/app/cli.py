"""The ``hta`` command line.

``hta template PATH``, ``hta validate WORKBOOK``, ``hta run SCENARIO.py``, ``hta check SCENARIO.py``,
``hta fit WORKBOOK``, ``hta export-excel SCENARIO.py``. ``hta check`` exits with status 1 when a verification check fails. User errors (:class:`hta.errors.HtaError`) end with exit status 2 and one readable message on
stderr, no traceback, and no files written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hta._version import __version__
from hta.errors import HtaError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: status 2, one line, no traceback
        self.print_usage(sys.stderr)
        print(f"hta: error: {message}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hta", description="Health-economic decision models with Excel on both ends.")
    p.add_argument("--version", action="version", version=f"hta {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("template", help="write a blank, documented input workbook")
    t.add_argument("path", type=Path, help="workbook to create (.xlsx)")
    t.add_argument("--force", action="store_true", help="overwrite an existing file")

    v = sub.add_parser("validate", help="check an input workbook and report every problem")
    v.add_argument("workbook", type=Path)

    run = sub.add_parser("run", help="run a scenario script and write the results workbook and figures")
    run.add_argument("scenario", type=Path, help="scenario script (scenarios/*.py)")
    run.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results/); "
                     "the workbook inside is named after the scenario")
    run.add_argument("--seed", type=int, default=None, help="PSA seed (default: the workbook's seed setting)")
    run.add_argument("--quiet", action="store_true", help="print only the headline and the file paths")
    run.add_argument("--verbose", action="store_true", help="print every results table and analysis text")
    run.add_argument("--scheduler", default=None, help="Dask scheduler address for PSA/Sobol chunks (e.g. tcp://host:8786)")
    run.add_argument("--workers", type=int, default=None,
                     help="threads evaluating PSA/Sobol/one-way chunks (default: every core; 1 = one chunk at a time)")

    c = sub.add_parser("check", help="verify a scenario's model (TECH-VER checks); exit status 1 if a check fails")
    c.add_argument("scenario", type=Path, help="scenario script (scenarios/*.py) with build_model()")
    c.add_argument("--out", type=Path, default=Path("results"), help="output directory (default: results/)")
    c.add_argument("--seed", type=int, default=None, help="seed of the PSA check (default: the workbook's seed setting)")
    c.add_argument("--draws", type=int, default=2000, help="draws of the PSA check (default 2000)")
    c.add_argument("--quiet", action="store_true", help="print only the summary line")
    c.add_argument("--no-workbook", action="store_true", help="print the report only; write no workbook")

    x = sub.add_parser("export-excel", help="write the scenario's base case as a formula-live Excel model")
    x.add_argument("scenario", type=Path, help="scenario script (scenarios/*.py) with build_model()")
    x.add_argument("--out", type=Path, default=None,
                   help="workbook to write (default: results/<script stem>_model.xlsx)")

    f = sub.add_parser("fit", help="reconstruct and fit the KM/IPD survival inputs of a workbook")
    f.add_argument("workbook", type=Path)
    f.add_argument("--out", type=Path, default=Path("results"), help="output directory (default: results/)")
    return p


def _template(args) -> None:
    from hta.excel.template import write_template

    if args.path.exists() and not args.force:
        raise HtaError(f"{args.path}: expected a new file name; found an existing file (use --force to overwrite)")
    write_template(args.path)
    print(f"wrote {args.path}")


def _validate(args) -> None:
    from hta.excel.reader import read_inputs

    inputs = read_inputs(args.workbook)
    s = inputs.settings
    print(f"{args.workbook}: OK")
    print(f"  {len(inputs.parameters.names)} parameters, {len(inputs.strategies)} strategies, "
          f"{len(inputs.survival)} survival inputs; horizon {s.horizon_years:g} years, cycle {s.cycle}, "
          f"discounting {s.discount_costs:.1%} costs / {s.discount_outcomes:.1%} outcomes")
    notes = getattr(inputs, "kind_notes", {})
    if notes:
        print(f"  {len(notes)} parameter kinds not declared (column 'kind'):")
        for name, note in notes.items():
            print(f"    {name}: {note}")
    unsourced = [n for n in inputs.parameters.names if not str(inputs.parameters[n].source).strip()]
    if unsourced:
        print(f"  parameters without a source: {', '.join(unsourced)}")


def _fit(args) -> None:
    import time

    from hta.excel.reader import read_inputs
    from hta.excel.writer import Sheet, write_workbook
    from hta.report.publish import staged
    from hta.survival.workflow import fit_workbook

    t0 = time.perf_counter()
    inputs = read_inputs(args.workbook)
    fits = fit_workbook(inputs)
    table = fits.table()
    sheets = [Sheet("Fits", table, {"loglik": "float", "aic": "float", "bic": "float"},
                    title=f"Parametric fits of the survival inputs of {args.workbook.name} (full likelihood; AIC/BIC)"),
              Sheet("Coefficients", fits.coefficients(), {"estimate": "float"},
                    title="Coefficients on the unconstrained scale (flexsurv order) with covariance rows: "
                          "copy the chosen distribution's rows into the SurvivalCoefficients sheet")]
    rec = fits.reconstruction()
    if len(rec):
        sheets.append(Sheet("Reconstruction", rec, {}, title="Guyot reconstruction reports"))
    figures = _fit_figures(fits)
    written: list = []
    with staged(args.out, written) as stage:
        for name, make in figures.items():
            make(stage.path(name))
        write_workbook(stage.path(f"{args.workbook.stem}_fits.xlsx", main=True), sheets)
    for c in fits.curves:
        best = c.fits.table["aic"].idxmin()
        print(f"{c.strategy} {c.endpoint}: {len(c.ipd)} patients, {int(c.ipd['event'].sum())} events; lowest AIC: {best}")
        for action in (c.reconstruction.cleaning if c.reconstruction is not None else []):
            print(f"  cleaned: {action}")
    print(table[["strategy", "endpoint", "distribution", "loglik", "aic", "bic", "converged"]].to_string(index=False))
    print(f"wrote {len(written)} files to {args.out} in {time.perf_counter() - t0:.1f} s")


def _fit_figures(fits) -> dict:
    from hta.survival import diagnostics

    figures = {}
    for c in fits.curves:
        stem = f"fit_{c.strategy}_{c.endpoint}".replace(" ", "_")
        models = {d: m for d, m in c.fits.items() if m.converged}
        t, e = c.ipd["time"].to_numpy(float), c.ipd["event"].to_numpy(int)
        horizon = float(t.max()) * 3
        label = f"time ({c.time_unit})"
        title = f"{c.strategy} {c.endpoint}: Kaplan-Meier and fitted curves"
        figures[f"{stem}_curves.png"] = lambda p, t=t, e=e, m=models, h=horizon, lb=label, ti=title: \
            diagnostics.plot_fits((t, e), m, h, p, time_label=lb, title=ti)
        figures[f"{stem}_hazards.png"] = lambda p, t=t, e=e, m=models, lb=label: \
            diagnostics.plot_hazards(t, e, m, p, time_label=lb)
        figures[f"{stem}_logcumhaz.png"] = lambda p, t=t, e=e, m=models, lb=label: \
            diagnostics.plot_log_cumhaz(t, e, m, p, time_label=lb)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "template":
            _template(args)
        elif args.command == "validate":
            _validate(args)
        elif args.command == "fit":
            _fit(args)
        elif args.command == "check":
            from hta.app.scripts import check_script

            if args.draws < 2:
                raise HtaError(f"--draws: expected a whole number >= 2; found {args.draws}")
            report, _ = check_script(args.scenario, out=args.out, seed=args.seed, psa_draws=args.draws,
                                     quiet=args.quiet, workbook=not args.no_workbook)
            return 1 if report.failed else 0
        elif args.command == "export-excel":
            from hta.app.scripts import export_script

            path = export_script(args.scenario, out=args.out)
            print(f"wrote:\n  {path}")
        elif args.command == "run":
            from hta.app.scripts import run_script

            if args.quiet and args.verbose:
                raise HtaError("--quiet and --verbose: expected at most one of them; found both")
            run_script(args.scenario, out=args.out, seed=args.seed, quiet=args.quiet,
                       scheduler=args.scheduler, workers=args.workers, verbose=args.verbose)
        return 0
    except HtaError as err:
        print(f"hta: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hta: interrupted", file=sys.stderr)
        return 130


def run_file(script_file: str) -> None:
    """Run a scenario script as ``python scenarios/NAME.py`` (same options as ``hta run``)."""
    sys.exit(main(["run", script_file, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
