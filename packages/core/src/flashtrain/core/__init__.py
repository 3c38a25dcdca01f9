"""flashtrain.core: a lean, Lightning-2-compatible trainer.

from flashtrain.core import Module, DataModule, Trainer, seed_everything
"""

from flashtrain.core import callbacks, loggers
from flashtrain.core.callbacks import Callback
from flashtrain.core.datamodule import DataModule
from flashtrain.core.exceptions import apply_warning_settings_from_environment
from flashtrain.core.module import Module
from flashtrain.core.seed import seed_everything
from flashtrain.core.trainer import Trainer
from flashtrain.core.version import __version__

apply_warning_settings_from_environment()

# Lightning names, so ported code can keep them.
LightningModule = Module
LightningDataModule = DataModule

# Submodules with optional dependencies, imported on first use: ``pl.metrics.Accuracy()`` in 1.x code ported with
# ``import flashtrain.core as pl`` (torchmetrics), ``pl.cli`` (jsonargparse), ``pl.serve`` (FastAPI).
_ON_FIRST_USE = ("cli", "metrics", "serve")


def __getattr__(name: str) -> object:
    if name in _ON_FIRST_USE:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
