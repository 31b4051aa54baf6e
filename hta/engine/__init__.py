"""Cohort engines: the cycle grid, Markov and partitioned-survival cohorts, outcome accounting."""
