"""Loggers: ``TensorBoardLogger`` (the default) and ``CSVLogger``."""

from flashtrain.core.loggers.base import Logger
from flashtrain.core.loggers.csv_logs import CSVLogger
from flashtrain.core.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "Logger", "TensorBoardLogger"]
