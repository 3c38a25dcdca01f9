"""Text classification: ``TextClassifier`` and ``TextClassificationData`` (transformers + datasets)."""

from __future__ import annotations

from flashtrain.tasks.optional import require_extra

require_extra("text", "The text task")  # a clear ImportError naming the extra, before any import fails

from flashtrain.tasks.text.data import TextClassificationData  # noqa: E402
from flashtrain.tasks.text.model import TextClassifier  # noqa: E402

__all__ = ["TextClassificationData", "TextClassifier"]
