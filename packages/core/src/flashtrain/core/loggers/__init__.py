"""Loggers: ``TensorBoardLogger`` (the default when tensorboard is installed), ``CSVLogger``, ``MLFlowLogger`` and
``WandbLogger``.

``mlflow`` and ``wandb`` are optional (``pip install 'flashtrain-core[mlflow]'`` / ``[wandb]``) and imported only
when their logger is created.
"""

from flashtrain.core.loggers.base import DummyLogger, Logger
from flashtrain.core.loggers.csv_logs import CSVLogger
from flashtrain.core.loggers.default import default_logger
from flashtrain.core.loggers.mlflow import MLFlowLogger
from flashtrain.core.loggers.tensorboard import TensorBoardLogger
from flashtrain.core.loggers.wandb import WandbLogger

__all__ = ["CSVLogger", "DummyLogger", "Logger", "MLFlowLogger", "TensorBoardLogger", "WandbLogger", "default_logger"]
