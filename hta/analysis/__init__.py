"""Analyses: batch evaluation, incremental analysis, sensitivity analyses, value of information, budget impact, verification, the run plan."""
