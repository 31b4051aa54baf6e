"""The console summary of a run: the base case per structure, then each analysis's text."""

from __future__ import annotations

import numpy as np

from hta.analysis.results import wtp_column
from hta.protocol import strategy_labels


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
                             f"incremental cost {symbol}{r['inc_cost']:,.0f}, {effect}s {r['inc_qalys']:.3f}, "
                             f"ICER {symbol}{r['icer']:,.0f} per {effect}")
            elif r["status"] != "frontier":
                lines.append(f"  {r['label']}: {r['status']} ({r['note']})")
        nmb = results.nmb[results.nmb["structure"] == structure]
        for label, value in wtp:
            col = "inc " + wtp_column(label, value, settings)
            last = nmb.iloc[-1]
            lines.append(f"  incremental NMB of {last['label']} at {col[len('inc NMB at '):]}: {symbol}{last[col]:,.0f}")
        lines.append("")
    ordered = sorted(sections.values(), key=lambda section: section.console_rank)  # stable: plan order on ties
    for section in ordered:
        if section.console:
            lines.append(section.console)
            lines.append("")
    for note in results.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines).rstrip() + "\n"
