"""The logger a Trainer uses when none is given: TensorBoard when it is installed, else CSV (as Lightning does),
so that TensorBoard can stay an optional dependency (``pip install "flashtrain[tensorboard]"``)."""

from __future__ import annotations

import importlib.util

from flashtrain.core.loggers.base import Logger


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def default_logger(save_dir: str, name: str | None = "lightning_logs") -> Logger:
    """``TensorBoardLogger`` if the tensorboard package is installed, else ``CSVLogger``; either writes under
    ``<save_dir>/<name>/version_<N>`` (``<save_dir>/lightning_logs/version_<N>`` by default, as Lightning's Trainer)."""
    if tensorboard_available():
        from flashtrain.core.loggers.tensorboard import TensorBoardLogger

        return TensorBoardLogger(save_dir=save_dir, name=name)
    from flashtrain.core.loggers.csv_logs import CSVLogger

    return CSVLogger(save_dir=save_dir, name=name)
