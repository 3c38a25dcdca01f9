"""Image classification: ``ImageClassifier`` and ``ImageClassificationData``."""

from __future__ import annotations

import os

from flashtrain.tasks.optional import require_extra

require_extra("image", "The image task")  # a clear ImportError naming the extra, before any import fails

from flashtrain.tasks.image.data import ImageClassificationData  # noqa: E402
from flashtrain.tasks.image.model import ImageClassifier  # noqa: E402

SAMPLE_DATA = os.path.join(os.path.dirname(__file__), "sample_data", "digits")


def sample_data_folders() -> tuple[str, str]:
    """(train, val) folders of the bundled sample data: scikit-learn's handwritten digits as 8x8 PNGs."""
    return os.path.join(SAMPLE_DATA, "train"), os.path.join(SAMPLE_DATA, "val")


__all__ = ["ImageClassificationData", "ImageClassifier", "sample_data_folders"]
