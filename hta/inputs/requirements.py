"""What a model needs from its input workbook, declared by the model so the reader can check it.

A model module exposes ``REQUIREMENTS = Requirements(...)``. When a workbook's ``model`` setting
names a module ``models/<model>.py`` (beside the workbook's folder or in the working directory),
the reader (``hta validate``, ``read_inputs``) loads that declaration and refuses, at the cell, a
workbook that the model would refuse later: a parameter it reads that is missing, a strategy or
an endpoint it expects that is missing, a survival input of a kind it cannot use. Names are
matched exactly, as the model looks them up (``batch["p_bridging"]``); a name that differs only
in case is reported as such.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Requirements:
    """The inputs a model reads.

    ``parameters``: names of the Parameters sheet the model reads (exact spelling).
    ``strategies``: strategy names of the Strategies sheet, exact, in any order.
    ``endpoints``: survival endpoints each required strategy must have in the Survival sheet.
    ``survival_inputs``: the Survival ``input`` values the model can use.
    """

    parameters: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    survival_inputs: tuple[str, ...] = ("parametric", "km", "ipd")


def model_requirements(model: str | None, workbook: Path) -> tuple[Requirements | None, str]:
    """The :class:`Requirements` of the model a workbook names, and where they came from.

    Looks for ``models/<model>.py`` beside the workbook's folder, then in the working directory;
    returns (None, reason) when there is no such file or it declares nothing.
    """
    if not model or not model.replace("_", "").isalnum():
        return None, "no model setting"
    candidates = [Path(workbook).resolve().parent.parent / "models" / f"{model}.py",
                  Path.cwd() / "models" / f"{model}.py"]
    for path in candidates:
        if path.is_file():
            root = str(path.parent.parent)  # the model is a module of the package models/ (relative imports)
            added = root not in sys.path
            if added:
                sys.path.insert(0, root)
            try:
                module = importlib.import_module(f"{path.parent.name}.{model}")
            except Exception:  # noqa: BLE001 - a broken model module is the model's problem, not the workbook's
                return None, f"{path} could not be imported"
            finally:
                if added:
                    sys.path.remove(root)
            found = getattr(module, "REQUIREMENTS", None)
            if isinstance(found, Requirements) or type(found).__name__ == "Requirements":
                return found, str(path)
            return None, f"{path} declares no REQUIREMENTS"
    return None, f"no models/{model}.py"
