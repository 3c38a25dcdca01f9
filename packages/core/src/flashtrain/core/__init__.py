"""flashtrain.core: a lean, Lightning-2-compatible trainer.

from flashtrain.core import Module, DataModule, Trainer, seed_everything
"""

from flashtrain.core import callbacks, loggers
from flashtrain.core.callbacks import Callback
from flashtrain.core.datamodule import DataModule
from flashtrain.core.module import Module
from flashtrain.core.seed import seed_everything
from flashtrain.core.trainer import Trainer
from flashtrain.core.version import __version__

# Lightning names, so ported code can keep them.
LightningModule = Module
LightningDataModule = DataModule

__all__ = [
    "Callback",
    "DataModule",
    "LightningDataModule",
    "LightningModule",
    "Module",
    "Trainer",
    "__version__",
    "callbacks",
    "loggers",
    "seed_everything",
]
