"""Multi-state models from patient-level data and individual-level simulation (NICE DSU TSD 19).

Modules: ``data`` (patient rows -> transition rows), ``fit`` (parametric fits per transition,
left truncation where the time scale needs it), ``aalen_johansen`` (nonparametric state
occupancy), ``model`` (a fitted or assumed multi-state model, PSA draws of its coefficients),
``hazards`` (elementwise cumulative hazards and their inverses), ``cohort`` (Markov and
semi-Markov cohort models), ``simulate`` (individual-level continuous-time simulation, vectorised
over patients and PSA draws) and ``compare`` (the TSD 19 comparison of PSM, cohort and
individual-level results). See docs/multistate.md.
"""
