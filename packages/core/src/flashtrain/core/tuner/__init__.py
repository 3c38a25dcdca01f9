"""Tuning before training: ``Tuner(trainer).lr_find(model, ...)`` and ``Tuner(trainer).scale_batch_size(model, ...)``.

Names and semantics follow Lightning 2.x's ``lightning.pytorch.tuner.Tuner``.
"""

from flashtrain.core.tuner.lr_finder import LRFinder
from flashtrain.core.tuner.tuning import Tuner

__all__ = ["LRFinder", "Tuner"]
