"""The few alias-side objects: environment facts and signature adapters, no training behaviour.

Everything that changes how a run behaves lives in flashtrain itself; what is here only answers questions
about the environment (is rich installed?) or adapts a call signature to the flashtrain function that does
the work.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
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


def get_filesystem(path: Any, **kwargs: Any) -> Any:
    """Lightning's ``get_filesystem(path)``: the fsspec filesystem of ``path``, from flashtrain's path facade."""
    from flashtrain.core.utilities import fs

    return fs.filesystem(str(path))[0]


def get_torchvision_model(model_name: str, **kwargs: Any) -> Any:
    """``torchvision.models.get_model``: Lightning's helper is a thin wrapper around it."""
    import torchvision

    return torchvision.models.get_model(model_name, **kwargs)


# Lightning's import-availability and version flags (``_RICH_AVAILABLE``, ``_TORCH_GREATER_EQUAL_2_6``, ...):
# facts about this environment, answered here from what is installed.
ENVIRONMENT_FLAG = re.compile(r"^_(?:[A-Z0-9]+_)*(?:AVAILABLE|GREATER_EQUAL_[0-9_]+|EQUAL_[0-9_]+)$|^_IS_WINDOWS$")
_MODULE_OF = {"TENSORBOARD": "tensorboard", "TORCH_TRT": "torch_tensorrt", "KINETO": None, "PYTHON": None}


def environment_flag(name: str) -> bool:
    """The value of one of Lightning's environment flags, for this machine."""
    if name == "_IS_WINDOWS":
        return IS_WINDOWS
    if name.endswith("_AVAILABLE"):
        what = name[1 : -len("_AVAILABLE")]
        if what == "KINETO":
            import torch.autograd

            return bool(torch.autograd.kineto_available())
        module = _MODULE_OF.get(what, what.lower())
        if module is None:
            return False
        try:
            return importlib.util.find_spec(module) is not None
        except ValueError:  # a test put a stand-in module without __spec__ in sys.modules: it is "installed"
            return module in sys.modules
    match = re.match(r"^_([A-Z0-9_]+?)_(GREATER_EQUAL|EQUAL)_([0-9_]+)$", name)
    if match is None:
        raise ValueError(f"not an environment flag: {name}")
    package, relation, version = match.group(1), match.group(2), match.group(3).replace("_", ".")
    if package == "PYTHON":
        installed = ".".join(str(part) for part in sys.version_info[:3])
    else:
        try:
            installed = importlib.metadata.version(package.lower())
        except importlib.metadata.PackageNotFoundError:
            return False
    from packaging.version import Version

    base = Version(Version(installed).base_version)
    if relation == "GREATER_EQUAL":
        return base >= Version(version)
    wanted = Version(version).release
    return base.release[: len(wanted)] == wanted
