"""Optional dependencies: each task's heavy libraries come with an extra (``pip install "flashtrain[image]"``), and
using a task without its extra fails with an ImportError that names the extra to install."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# Import name -> the distribution pip installs it from (where the two differ).
_DISTRIBUTIONS = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "pytorch_tabnet.tab_network": "pytorch-tabnet",
}


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """``import module``, or an ImportError saying which extra of flashtrain brings it in."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        distribution = _DISTRIBUTIONS.get(module, module)
        raise ImportError(
            f"{purpose} needs {distribution}, which is not installed. Install it with "
            f'`pip install "flashtrain[{extra}]"` (or `pip install "flashtrain-tasks[{extra}]"`).'
        ) from error


EXTRAS = {
    "image": ("torchvision", "PIL", "timm"),
    "text": ("transformers", "datasets", "pandas"),
    "tabular": ("pandas", "rtdl_num_embeddings"),
    "export": ("onnx", "onnxscript", "onnxruntime"),
    "serve": ("fastapi", "uvicorn"),
    "check": ("sklearn", "datasketch"),
}


def require_extra(extra: str, purpose: str) -> None:
    """Fail now, naming the extra, when any library of ``extra`` is missing; nothing is imported (cheap)."""
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        names = ", ".join(_DISTRIBUTIONS.get(name, name) for name in missing)
        raise ImportError(
            f"{purpose} needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed. Install with "
            f'`pip install "flashtrain[{extra}]"` (or `pip install "flashtrain-tasks[{extra}]"`).'
        )
