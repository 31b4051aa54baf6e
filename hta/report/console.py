"""The console summary of a run: the base case per structure, then each analysis's text."""

from __future__ import annotations

import numpy as np

from hta.analysis.results import wtp_column
from hta.protocol import strategy_labels
from hta.report.section import money

#: Lines of the default console summary at most (the decision, warnings, where the files are).
SHORT_LINES = 40
MAX_WARNINGS = 10


def console_short(results, warnings, paths, out_dir, *, quiet: bool = False) -> str:
    """The console summary of a run: ``quiet``: the headline and the file paths; else the
    decision (headline, ICER per structure), the warnings and where the files are, in at most
    :data:`SHORT_LINES` lines."""
    from hta.report.dashboard import headline

    lines = headline(results)
    if quiet:
        return "\n".join(lines[:1] + [str(p) for p in paths]) + "\n"
    out = [results.title, ""] + lines
    settings = results.model.settings
    symbol, effect = getattr(settings, "currency_symbol", "HK$"), getattr(settings, "effect", "QALY")
    inc = results.incremental
    structures = list(dict.fromkeys(inc["structure"]))
    if len(structures) > 1:
        out.append("Other structures:")
        for structure in structures[1:]:
            for _, r in inc[(inc["structure"] == structure) & (inc["status"] == "frontier")].iterrows():
                if np.isfinite(r["icer"]):
                    out.append(f"  {structure}: ICER {money(r['icer'], symbol)} per {effect} gained "
                               f"({money(r['inc_cost'], symbol)}, {r['inc_qalys']:.3f} {effect}s)")
    out += [f"note: {n}" for n in results.notes]
    if warnings:
        out.append(f"Warnings ({len(warnings)}):")
        out += [f"  {w}" for w in warnings[:MAX_WARNINGS]]
        if len(warnings) > MAX_WARNINGS:
            out.append(f"  ... and {len(warnings) - MAX_WARNINGS} more (sheet Decision)")
    else:
        out.append("Warnings: none")
    books = [p for p in paths if str(p).endswith(".xlsx")]
    others = [p for p in paths if not str(p).endswith(".xlsx")]
    out.append(f"Results in {out_dir}/ (first sheet 'Decision'; --verbose prints every table):")
    out += [f"  {p.name if hasattr(p, 'name') else p}" for p in books]
    if others:
        out.append(f"  and {len(others)} figures and files ({', '.join(sorted({str(p).rsplit('.', 1)[-1] for p in others}))})")
    if len(out) > SHORT_LINES:
        out = out[:SHORT_LINES - 1] + ["  ..."]
    return "\n".join(out) + "\n"


def console_table(results, sections: dict) -> str:
    """The base-case table for the terminal, then the console text of ``sections`` ({key: Section})
    in their console order (threshold, PSA, one-way, scenarios, Sobol, budget impact, the rest)."""
    lines = [results.title, ""]
    s = results.summary
    inc = results.incremental
    wtp = results.model.settings.wtp
    labels = strategy_labels(results.model)
    settings = results.model.settings
    symbol, effect = getattr(settings, "currency_symbol", "HK$"), getattr(settings, "effect", "QALY")
    for structure, block in s.groupby("structure", sort=False):
        lines.append(f"{structure}")
        both = effect == "QALY"  # otherwise the effect is the life-year: one column
        lines.append(f"  {'strategy':<26}{f'cost ({symbol.strip()})':>14}{'QALYs' if both else '':>9}{'LYs':>9}")
        for _, r in block.iterrows():
            lines.append(f"  {r['label']:<26}{r['cost']:>14,.0f}{format(r['qalys'], '>9.3f') if both else '':>9}"
                         f"{r['lys']:>9.3f}")
        for _, r in inc[inc["structure"] == structure].iterrows():
            if r["status"] == "frontier" and not np.isnan(r["icer"]):
                lines.append(f"  {r['label']} vs {labels.get(r['comparator'], r['comparator'])}: "
                             f"incremental cost {money(r['inc_cost'], symbol)}, {effect}s {r['inc_qalys']:.3f}, "
                             f"ICER {money(r['icer'], symbol)} per {effect}")
            elif r["status"] != "frontier":
                lines.append(f"  {r['label']}: {r['status']} ({r['note']})")
        nmb = results.nmb[results.nmb["structure"] == structure]
        for label, value in wtp:
            col = "inc " + wtp_column(label, value, settings)
            last = nmb.iloc[-1]
            lines.append(f"  incremental NMB of {last['label']} at {col[len('inc NMB at '):]}: {money(last[col], symbol)}")
        lines.append("")
    ordered = sorted(sections.values(), key=lambda section: section.console_rank)  # stable: plan order on ties
    for section in ordered:
        if section.console:
            lines.append(section.console)
            lines.append("")
    for note in results.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines).rstrip() + "\n"
