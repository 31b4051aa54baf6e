"""Progress of a run on the terminal: a bar over the plan's steps on a terminal (tqdm), one line
per step otherwise, written to stderr so the results summary on stdout stays short.

:class:`StepProgress` is the ``on_step`` callback of :class:`hta.analysis.plan.Execution`.
"""

from __future__ import annotations

import functools
import sys

#: What each step is called on the terminal (others: the key with spaces).
STEP_LABELS = {"base case": "base case", "tornado": "one-way analysis", "threshold": "threshold price",
               "psa": "probabilistic analysis (PSA)", "scenarios": "scenario analysis", "sobol": "Sobol indices",
               "two_way": "two-way analysis", "bia": "budget impact", "survival_selection": "survival model selection",
               "excel_model": "formula-live Excel model", "verification": "model verification",
               "cheers": "CHEERS 2022 checklist", "publish": "writing the workbook and figures"}


class StepProgress:
    """``on_step(event, key, index, total, seconds)``: on a terminal a tqdm bar over the steps;
    otherwise the line ``hta: [i/n] <step> ...`` at each step's start."""

    def __init__(self, stream=None, tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.bar = None
        self.lines: list[str] = []
        #: wall-clock seconds of each step that has ended, by key, in order (the split by step of
        #: docs/performance.md; benchmarks/bench_base_case.py reads it)
        self.seconds: dict[str, float] = {}

    def __call__(self, event: str, key: str, index: int, total: int, seconds: float) -> None:
        label = STEP_LABELS.get(key, key.replace("_", " "))
        if event == "done":
            self.seconds[key] = float(seconds)
            if key in ("publish", "background"):   # after the plan's steps: no bar or line of their own
                return
        if self.tty:
            if self.bar is None:
                self.bar = _bar_class()(total=total + 1, file=self.stream, unit="step", leave=False,
                                bar_format="{desc}: {n}/{total} steps |{bar}| {elapsed}")
            if event == "start":
                self.bar.set_description_str(f"hta: {label}")
            else:
                self.bar.update(1)
                if self.bar.n >= self.bar.total:
                    self.bar.close()
                    self.bar = None
            return
        if event == "start":
            line = f"hta: [{index}/{total}] {label} ..." if key != "publish" else f"hta: {label} ..."
            self.lines.append(line)
            print(line, file=self.stream, flush=True)


@functools.cache
def _bar_class():
    """tqdm without its monitor thread (the step bar is updated at every step; a thread alive
    during the publish step would keep the publisher from forking its helper process)."""
    from tqdm import tqdm

    class StepBar(tqdm):
        monitor_interval = 0

    return StepBar
