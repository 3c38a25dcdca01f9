"""Loggers: ``TensorBoardLogger`` (the default when tensorboard is installed), ``CSVLogger``, ``MLFlowLogger`` and
``WandbLogger``.

``mlflow`` and ``wandb`` are optional (``pip install 'flashtrain-core[mlflow]'`` / ``[wandb]``) and imported only
when their logger is created. The logger classes themselves are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.loggers.base import DummyLogger, Logger
    from flashtrain.core.loggers.csv_logs import CSVLogger
    from flashtrain.core.loggers.default import default_logger
    from flashtrain.core.loggers.mlflow import MLFlowLogger
    from flashtrain.core.loggers.tensorboard import TensorBoardLogger
    from flashtrain.core.loggers.wandb import WandbLogger

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CSVLogger": "flashtrain.core.loggers.csv_logs:CSVLogger",
        "DummyLogger": "flashtrain.core.loggers.base:DummyLogger",
        "Logger": "flashtrain.core.loggers.base:Logger",
        "MLFlowLogger": "flashtrain.core.loggers.mlflow:MLFlowLogger",
        "TensorBoardLogger": "flashtrain.core.loggers.tensorboard:TensorBoardLogger",
        "WandbLogger": "flashtrain.core.loggers.wandb:WandbLogger",
        "default_logger": "flashtrain.core.loggers.default:default_logger",
    },
)

__all__ = ["CSVLogger", "DummyLogger", "Logger", "MLFlowLogger", "TensorBoardLogger", "WandbLogger", "default_logger"]
