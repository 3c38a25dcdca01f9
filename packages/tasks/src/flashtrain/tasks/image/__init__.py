"""Image classification: ``ImageClassificationData`` (and, next, ``ImageClassifier``)."""

from __future__ import annotations

import os

from flashtrain.tasks.image.data import ImageClassificationData

SAMPLE_DATA = os.path.join(os.path.dirname(__file__), "sample_data", "digits")


def sample_data_folders() -> tuple[str, str]:
    """(train, val) folders of the bundled sample data: scikit-learn's handwritten digits as 8x8 PNGs."""
    return os.path.join(SAMPLE_DATA, "train"), os.path.join(SAMPLE_DATA, "val")


__all__ = ["ImageClassificationData", "sample_data_folders"]
