"""hta: batch-vectorised health-economic decision models.

A model is a function of a batch of parameter sets (numpy arrays with a leading sample axis).
The base case, one-way analyses, PSA and Sobol analyses are all the same call with different
batches. This namespace holds the small public API (``docs/api.md``); everything else is reached
through its subpackage: :mod:`hta.engine` (cohorts and outcome accounting), :mod:`hta.params`,
:mod:`hta.survival`, :mod:`hta.population`, :mod:`hta.inputs`, :mod:`hta.analysis` (the analyses
and the run plan), :mod:`hta.excel`, :mod:`hta.report` and :mod:`hta.app`.
"""

from hta._version import __version__
from hta.analysis.evaluate import FunctionModel
from hta.analysis.plan import Execution, analyse
from hta.analysis.results import Results
from hta.app.cli import run_file
from hta.app.paths import inputs_path
from hta.engine.outcomes import Outcomes
from hta.engine.timegrid import CycleGrid
from hta.errors import HtaError, InputError
from hta.excel.reader import read_inputs
from hta.inputs import ModelInputs, Settings
from hta.params import Batch, ParameterTable
from hta.protocol import Model
from hta.report.publish import publish

__all__ = [
    "__version__", "Batch", "CycleGrid", "Execution", "FunctionModel", "HtaError", "InputError", "Model",
    "ModelInputs", "Outcomes", "ParameterTable", "Results", "Settings", "analyse", "inputs_path", "publish", "read_inputs",
    "run_file",
]
