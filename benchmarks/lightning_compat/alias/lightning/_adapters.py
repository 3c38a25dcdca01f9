"""The few alias-side objects: environment facts and signature adapters, no training behaviour.

Everything that changes how a run behaves lives in flashtrain itself; what is here only answers questions
about the environment (is rich installed?) or adapts a call signature to the flashtrain function that does
the work.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

LIGHTNING_VERSION = "2.6.5"  # the Lightning release whose tests and examples the harness runs
TRUE = True
IS_WINDOWS = sys.platform == "win32"
RICH_AVAILABLE = importlib.util.find_spec("rich") is not None
TORCHVISION_AVAILABLE = importlib.util.find_spec("torchvision") is not None
STEP_OUTPUT = Any


def cli_lightning_logo() -> None:
    """Lightning prints its logo in examples; nothing to print here."""


def is_overridden(method_name: str, instance: Any = None, parent: type | None = None) -> bool:
    """Lightning's ``is_overridden(name, instance, parent)``: flashtrain's, with Lightning's parent guess."""
    from flashtrain.core import Callback, DataModule, Module
    from flashtrain.core.utilities.model_helpers import is_overridden as flashtrain_is_overridden

    if instance is None:
        return False
    if parent is None:
        for base in (Module, DataModule, Callback):
            if isinstance(instance, base):
                parent = base
                break
        else:
            raise ValueError(f"Expected a parent for {type(instance).__name__}")
    return flashtrain_is_overridden(method_name, instance, parent)


def get_torchvision_model(model_name: str, **kwargs: Any) -> Any:
    """``torchvision.models.get_model``: Lightning's helper is a thin wrapper around it."""
    import torchvision

    return torchvision.models.get_model(model_name, **kwargs)
