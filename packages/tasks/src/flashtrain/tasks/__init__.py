"""flashtrain.tasks: pre-wired task modules and their data classes.

    from flashtrain.tasks import ImageClassificationData

Names are imported lazily, so importing one task never imports another task's heavy libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ImageClassificationData": "flashtrain.tasks.image",
    "ImageClassifier": "flashtrain.tasks.image",
    "ImageEmbedder": "flashtrain.tasks.image.embedding",
    "TextEmbedder": "flashtrain.tasks.text.embedding",
    "ClassificationInterpretation": "flashtrain.tasks.image.interpretation",
    "available_backbones": "flashtrain.tasks.image.backbones",
    "TabularClassificationData": "flashtrain.tasks.tabular",
    "TabularClassifier": "flashtrain.tasks.tabular",
    "TabularRegressionData": "flashtrain.tasks.tabular",
    "TabularRegressor": "flashtrain.tasks.tabular",
    "TextClassificationData": "flashtrain.tasks.text",
    "TextClassifier": "flashtrain.tasks.text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flashtrain.tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
