"""Parameters: PSA distributions, the parameter table and the batches every model evaluates."""

from hta.params.batch import Batch
from hta.params.table import Parameter, ParameterTable

__all__ = ["Batch", "Parameter", "ParameterTable"]
