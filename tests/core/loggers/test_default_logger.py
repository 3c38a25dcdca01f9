"""The default logger: TensorBoard when the tensorboard package is installed, else CSV (it is an optional extra)."""

from __future__ import annotations

import os

import pytest

from flashtrain.core import Trainer
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger, default_logger
from flashtrain.core.loggers import default as default_module
from tests.core.helpers import RegressionModule, loader, silent_trainer


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


@pytest.mark.parametrize("tensorboard", [True, False])
def test_a_trainer_with_default_root_dir_writes_under_lightning_logs_as_lightning(tmp_path, monkeypatch, tensorboard):
    # Lightning users' scripts read <default_root_dir>/lightning_logs/version_0/...; the flash-train CLI keeps its own
    # <output_dir>/logs/version_N (tests/cli/test_training.py, test_cli.py) by passing name="logs" to default_logger.
    monkeypatch.setattr(default_module, "tensorboard_available", lambda: tensorboard)
    trainer = silent_trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1, log_every_n_steps=1)
    trainer.fit(RegressionModule(), loader(), loader(n=8))
    run = tmp_path / "lightning_logs" / "version_0"
    assert trainer.log_dir == str(run)
    assert (run / "checkpoints" / "epoch=0-step=2.ckpt").is_file()
    written = os.listdir(run)
    assert any(f.startswith("events.out.tfevents") for f in written) if tensorboard else "metrics.csv" in written
    assert not (tmp_path / "logs").exists()


def test_default_logger_takes_the_folder_name_the_cli_uses(tmp_path):
    logger = default_logger(str(tmp_path), name="logs")
    assert logger.log_dir == os.path.join(str(tmp_path), "logs", "version_0")
    assert CSVLogger(str(tmp_path)).name == TensorBoardLogger(str(tmp_path)).name == "lightning_logs"
