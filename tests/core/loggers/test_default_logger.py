"""The default logger: TensorBoard when the tensorboard package is installed, else CSV (it is an optional extra)."""

from __future__ import annotations

import pytest

from flashtrain.core import Trainer
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger
from flashtrain.core.loggers import default as default_module


def test_tensorboard_when_installed_else_csv(tmp_path, monkeypatch):
    assert isinstance(Trainer(default_root_dir=str(tmp_path)).loggers[0], TensorBoardLogger)
    monkeypatch.setattr(default_module, "tensorboard_available", lambda: False)
    trainer = Trainer(default_root_dir=str(tmp_path))
    assert isinstance(trainer.loggers[0], CSVLogger)
    assert trainer.loggers[0].log_dir.startswith(str(tmp_path))


def test_a_string_logger_is_refused_not_split_into_characters(tmp_path):
    from flashtrain.core.exceptions import MisconfigurationException

    for logger in ("tensorboard", ["csv"]):
        with pytest.raises(MisconfigurationException, match=r"logger must be a Logger.*got '(tensorboard|csv)'"):
            Trainer(default_root_dir=str(tmp_path), logger=logger)
    csv = CSVLogger(str(tmp_path))
    assert Trainer(default_root_dir=str(tmp_path), logger=[csv]).loggers == [csv]
