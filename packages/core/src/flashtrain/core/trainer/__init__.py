"""The Trainer and its loops."""

from flashtrain.core.trainer.trainer import Trainer

__all__ = ["Trainer"]
