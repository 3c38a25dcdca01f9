"""The default logger: TensorBoard when the tensorboard package is installed, else CSV (it is an optional extra)."""

from __future__ import annotations

from flashtrain.core import Trainer
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger
from flashtrain.core.loggers import default as default_module


def test_tensorboard_when_installed_else_csv(tmp_path, monkeypatch):
    assert isinstance(Trainer(default_root_dir=str(tmp_path)).loggers[0], TensorBoardLogger)
    monkeypatch.setattr(default_module, "tensorboard_available", lambda: False)
    trainer = Trainer(default_root_dir=str(tmp_path))
    assert isinstance(trainer.loggers[0], CSVLogger)
    assert trainer.loggers[0].log_dir.startswith(str(tmp_path))
