"""Presenters of evidence and assurance: survival model selection, the formula-live workbook,
model verification and the CHEERS 2022 checklist."""

from __future__ import annotations

from hta.excel.writer import STATUS_FILLS, Sheet, verification_sheet
from hta.protocol import strategy_labels
from hta.report import figures as plots
from hta.report.cheers import NOT_REPORTED, PARTLY, REPORTED, checklist
from hta.report.section import Section, money


def survival_selection(r, results) -> Section:
    frame = r.table
    labels = strategy_labels(results.model)
    fmt = {c: "prob" for c in frame.columns if c.startswith(("S_", "gp_", "relative_"))}
    fmt |= {"icer": "money", "mean_years": "float", "max_target_error": "float", "aic": "float", "bic": "float"}
    last = [c for c in frame.columns if c.startswith("relative_")][0]
    sheet = Sheet("Survival selection", frame, fmt, wrap=["evidence"],
                  title="Survival model selection (NICE DSU TSD 14): every family per endpoint",
                  notes=["Fit: AIC/BIC for fits to patient-level or reconstructed data (blank for curves calibrated "
                         "to published statistics, whose largest miss of the targets is shown instead).",
                         "Extrapolation: survival at y years after the general-population floor; the general-population "
                         "survival of the same cohort; relative survival = survival / general-population survival; "
                         "mean years restricted to the horizon; the ICER (last strategy vs first) with that curve."])
    lines = ["Survival model selection (ICER with each family; mean years; " + last.replace("_", " at ") + "):"]
    for (st, e), group in frame.groupby(["strategy", "endpoint"], sort=False):
        cells = [f"{row['family']}{'*' if row['base_case'] else ''} {money(row['icer'])} ({row['mean_years']:.1f} y; "
                 f"{row[last]:.3f})" for _, row in group.iterrows()]
        lines.append(f"  {labels.get(st, st)} {e}: " + ", ".join(cells))
    lines.append("  (* base case)")
    figures = {}
    for (st, e), data in r.plot_data.items():
        if len(data["curves"]) < 2:
            continue
        figures[f"survival_selection_{st}_{e.lower()}"] = (
            lambda p, d=data, st=st, e=e: plots.selection_plot(d, p, title=f"{labels.get(st, st)} {e}: candidate "
                                                                         "families (after the population floor)"))
    return Section(sheets=[sheet], figures=figures, console="\n".join(lines))


def formula_workbook(r, results) -> Section:
    from hta.excel.formula_model import export

    model = r.model
    return Section(files={"model.xlsx": lambda path, info: export(model, path, run_info=info)},
                   console=f"Formula-live Excel model of the base case: {r.name}_model.xlsx (Check sheet compares it "
                           "with these results; docs/excel_model.md)")


def verification(r, results) -> Section:
    reports = r.reports
    notes = [f"{label}: {rep.summary_line()}" for label, rep in reports.items()]
    notes.append("Expected and observed values of each check; conventions and what each check compares in "
                 "docs/verification.md. A check a model cannot support is 'not applicable', with the reason.")
    sheets = [verification_sheet(r.table(), title="Model verification: black-box checks after TECH-VER "
                                                  "(Büyükkaramikli et al., PharmacoEconomics 2019)", notes=notes),
              Sheet("Verification roles", r.roles(), {}, title="Parameter roles used by the verification checks "
                                                               "(from names, units and groups; see docs/verification.md)")]
    lines = ["Model verification (hta check; Verification sheet):"]
    for label, rep in reports.items():
        lines.append(f"  {label}: {rep.summary_line()}")
        for c in rep.failed:
            lines.append(f"    FAIL {c.check}: expected {c.expected}; observed {c.observed}; {c.detail}")
    return Section(sheets=sheets, console="\n".join(lines))


def cheers(r, results) -> Section:
    table = checklist(results, r.statements)
    counts = table["status"].value_counts()
    fills = {REPORTED: STATUS_FILLS["pass"], PARTLY: "FFEB9C", NOT_REPORTED: STATUS_FILLS["fail"]}
    sheet = Sheet("CHEERS 2022", table, {}, wrap=["topic", "where"], fills={"status": fills},
                  title="CHEERS 2022 checklist (Husereau et al., Value Health 2022;25:3-9): where each item is "
                        "reported, in this workbook or the submission's documents")
    console = (f"CHEERS 2022 (sheet 'CHEERS 2022'): {counts.get(REPORTED, 0)} items reported, "
               f"{counts.get(PARTLY, 0)} partly, {counts.get(NOT_REPORTED, 0)} not reported")
    return Section(sheets=[sheet], console=console)
