"""Text classification: ``TextClassifier`` and ``TextClassificationData`` (transformers + datasets)."""

from __future__ import annotations

import os

from flashtrain.tasks.optional import require_extra

require_extra("text", "The text task")  # a clear ImportError naming the extra, before any import fails

from flashtrain.tasks.text.data import TextClassificationData  # noqa: E402
from flashtrain.tasks.text.model import TextClassifier  # noqa: E402

SAMPLE_DATA = os.path.join(os.path.dirname(__file__), "sample_data")
SAMPLE_TABLE = os.path.join(SAMPLE_DATA, "reviews.csv")
"""300 short movie-review sentences (``review``, ``sentiment``: positive/negative), written for flashtrain; CC0."""
SAMPLE_BACKBONE = os.path.join(SAMPLE_DATA, "tiny-bert")
"""A 2-layer BERT configuration with the sample's word vocabulary and no weights: train it with pretrained=False."""

__all__ = ["SAMPLE_BACKBONE", "SAMPLE_TABLE", "TextClassificationData", "TextClassifier"]
