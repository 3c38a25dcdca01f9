"""Moved to :mod:`flashtrain.tasks.image.interpretation` (this path keeps working)."""

from __future__ import annotations

from flashtrain.tasks.image.interpretation import ClassificationInterpretation

__all__ = ["ClassificationInterpretation"]
