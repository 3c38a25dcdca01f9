"""Image classification: ``ImageClassifier`` and ``ImageClassificationData``."""

from __future__ import annotations

import os

from flashtrain.tasks.image.data import ImageClassificationData
from flashtrain.tasks.image.model import ImageClassifier

SAMPLE_DATA = os.path.join(os.path.dirname(__file__), "sample_data", "digits")


def sample_data_folders() -> tuple[str, str]:
    """(train, val) folders of the bundled sample data: scikit-learn's handwritten digits as 8x8 PNGs."""
    return os.path.join(SAMPLE_DATA, "train"), os.path.join(SAMPLE_DATA, "val")


__all__ = ["ImageClassificationData", "ImageClassifier", "sample_data_folders"]
