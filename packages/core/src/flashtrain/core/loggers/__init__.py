"""Loggers: ``TensorBoardLogger`` (the default when tensorboard is installed) and ``CSVLogger``."""

from flashtrain.core.loggers.base import Logger
from flashtrain.core.loggers.csv_logs import CSVLogger
from flashtrain.core.loggers.default import default_logger
from flashtrain.core.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "Logger", "TensorBoardLogger", "default_logger"]
