"""Text classification: ``TextClassifier`` and ``TextClassificationData`` (transformers + datasets)."""

from __future__ import annotations

from flashtrain.tasks.text.data import TextClassificationData
from flashtrain.tasks.text.model import TextClassifier

__all__ = ["TextClassificationData", "TextClassifier"]
