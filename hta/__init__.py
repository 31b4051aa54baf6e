"""hta: batch-vectorised health-economic decision models.

A model is a function of a batch of parameter sets (numpy arrays with a leading
sample axis). The base case, one-way analyses, PSA and Sobol analyses are all the
same call with different batches.
"""

__version__ = "0.1.0"
