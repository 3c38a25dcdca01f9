"""ModelCheckpoint: monitoring "step"/"epoch" and the k-th best path, as Lightning's."""

from __future__ import annotations

import os

import pytest
import torch
import yaml

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader


def _fit(tmp_path, checkpoint, epochs=4):
    trainer = Trainer(
        max_epochs=epochs,
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(RegressionModule(), loader(16, batch_size=8), loader(8))
    return trainer


def test_monitor_step_keeps_the_latest_steps_in_max_mode(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="step", mode="max", save_top_k=2)
    _fit(tmp_path, checkpoint)
    assert sorted(checkpoint.best_k_models.values()) == [6.0, 8.0]  # 2 steps per epoch, epochs 3 and 4 kept
    assert checkpoint.best_model_score == 8.0 and checkpoint.best_model_path.endswith("step=8.ckpt")
    assert checkpoint.kth_best_model_path.endswith("step=6.ckpt") and checkpoint.kth_value == 6.0
    assert sorted(os.listdir(tmp_path / "ck")) == ["epoch=2-step=6.ckpt", "epoch=3-step=8.ckpt"]


def test_kth_best_is_the_worst_possible_score_before_any_save():
    assert ModelCheckpoint(monitor="val_loss").kth_value == float("inf")
    maximised = ModelCheckpoint(monitor="acc", mode="max")
    assert maximised.kth_best_model_path == "" and maximised.kth_value == float("-inf")


def _quiet_fit(tmp_path, checkpoint, module=None, train=16, val=8, **trainer_kwargs):
    trainer = Trainer(
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
        **{"max_epochs": 1, **trainer_kwargs},
    )
    trainer.fit(module or RegressionModule(), loader(train, batch_size=4), loader(val) if val else None)
    return trainer


def test_saves_after_every_mid_epoch_validation(tmp_path):
    # 4 batches, validation every 2: two validations per epoch, a save after each (not only at the epoch's end)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="step", mode="max", save_top_k=-1)
    _quiet_fit(tmp_path, checkpoint, val_check_interval=0.5, max_epochs=2)
    assert sorted(os.listdir(tmp_path / "ck")) == [
        "epoch=0-step=2.ckpt",
        "epoch=0-step=4.ckpt",
        "epoch=1-step=6.ckpt",
        "epoch=1-step=8.ckpt",
    ]


def test_save_on_train_epoch_end_false_without_validation_saves_nothing(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", save_on_train_epoch_end=False)
    _quiet_fit(tmp_path, checkpoint, val=0)
    assert not (tmp_path / "ck").exists() or os.listdir(tmp_path / "ck") == []


def test_a_rerun_into_the_same_folder_gets_a_version_suffix(tmp_path):
    for _ in range(2):
        _quiet_fit(tmp_path, ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True), val=0)
    assert sorted(os.listdir(tmp_path / "ck")) == [
        "epoch=0-step=4-v1.ckpt",
        "epoch=0-step=4.ckpt",
        "last-v1.ckpt",
        "last.ckpt",
    ]


def test_without_version_counter_a_rerun_overwrites(tmp_path):
    for _ in range(2):
        _quiet_fit(tmp_path, ModelCheckpoint(dirpath=tmp_path / "ck", enable_version_counter=False), val=0)
    assert os.listdir(tmp_path / "ck") == ["epoch=0-step=4.ckpt"]


def test_save_last_link_is_a_relative_symlink_to_the_newest_file(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", save_last="link", monitor="step", mode="max", save_top_k=-1)
    _quiet_fit(tmp_path, checkpoint, val=0, max_epochs=2)
    last = tmp_path / "ck" / "last.ckpt"
    assert last.is_symlink() and os.readlink(last) == "epoch=1-step=8.ckpt"
    assert checkpoint.last_model_path == str(last)


def test_save_last_link_refuses_a_remote_folder(tmp_path):
    with pytest.raises(ValueError, match="save_last='link'.* only supported for local file paths"):
        _quiet_fit(tmp_path, ModelCheckpoint(dirpath="memory://ck", save_last="link"), val=0)


class _NaNAfterFirstEpoch(RegressionModule):
    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(1.0 if self.current_epoch == 0 else float("nan")))


def test_nan_never_becomes_the_best_score(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=1)
    _quiet_fit(tmp_path, checkpoint, module=_NaNAfterFirstEpoch(), max_epochs=3)
    assert float(checkpoint.best_model_score) == 1.0
    assert checkpoint.best_model_path.endswith("epoch=0-step=4.ckpt")
    assert os.listdir(tmp_path / "ck") == ["epoch=0-step=4.ckpt"]


def test_current_score_to_yaml_and_scores_as_tensors(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="step", mode="max", save_top_k=2)
    _quiet_fit(tmp_path, checkpoint, val=0, max_epochs=3)
    assert isinstance(checkpoint.current_score, torch.Tensor) and int(checkpoint.current_score) == 12
    checkpoint.to_yaml()
    saved = yaml.safe_load((tmp_path / "ck" / "best_k_models.yaml").read_text())
    assert {os.path.basename(path): score for path, score in saved.items()} == {
        "epoch=1-step=8.ckpt": 8.0,
        "epoch=2-step=12.ckpt": 12.0,
    }


def test_save_on_exception_writes_a_checkpoint_before_the_error_propagates(tmp_path):
    class Fails(RegressionModule):
        def training_step(self, batch, batch_idx):
            if self.global_step == 3:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", save_on_exception=True)
    with pytest.raises(RuntimeError, match="boom"):
        _quiet_fit(tmp_path, checkpoint, module=Fails(), val=0)
    assert os.listdir(tmp_path / "ck") == ["epoch=0-step=3.ckpt"]


def test_every_n_train_steps_with_a_validation_metric_waits_for_validation(tmp_path):
    # val_loss does not exist yet at step 2: that save waits for the validation right after it, instead of
    # being skipped with a warning
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", every_n_train_steps=2, save_top_k=-1)
    _quiet_fit(tmp_path, checkpoint, val_check_interval=0.5)
    assert sorted(os.listdir(tmp_path / "ck")) == ["epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"]


def test_dirpath_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ModelCheckpoint(dirpath="~/ck").dirpath == os.path.realpath(tmp_path / "ck")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"save_top_k": 2}, r"save_top_k=2, monitor=None\) is not a valid configuration"),
        ({"every_n_train_steps": 2, "every_n_epochs": 1}, "should be mutually exclusive"),
        ({"mode": "median"}, "`mode` can be min, max but got median"),
        ({"save_top_k": -2}, r"Invalid value for save_top_k=-2"),
    ],
)
def test_bad_arguments_are_misconfigurations(kwargs, match):
    with pytest.raises(MisconfigurationException, match=match):
        ModelCheckpoint(**kwargs)


def test_default_checkpoint_folder_is_save_dir_name_version_of_the_first_logger(tmp_path):
    from types import SimpleNamespace

    from flashtrain.core.callbacks.model_checkpoint import default_checkpoint_dir
    from flashtrain.core.loggers import TensorBoardLogger

    def trainer(logger):
        return SimpleNamespace(logger=logger, default_root_dir=str(tmp_path / "root"))

    # any object with Lightning's logger properties (a Mock too): nothing else is called on it
    custom = SimpleNamespace(save_dir=str(tmp_path / "runs"), name="exp", version="run-a")
    assert default_checkpoint_dir(trainer(custom)) == str(tmp_path / "runs" / "exp" / "run-a" / "checkpoints")
    no_folder = SimpleNamespace(save_dir=None, name="exp", version=3)
    assert default_checkpoint_dir(trainer(no_folder)) == str(tmp_path / "root" / "exp" / "version_3" / "checkpoints")
    tensorboard = TensorBoardLogger(str(tmp_path / "tb"), name="exp", version=1, sub_dir="images")
    assert default_checkpoint_dir(trainer(tensorboard)) == str(tmp_path / "tb" / "exp" / "version_1" / "checkpoints")
    assert default_checkpoint_dir(trainer(None)) == str(tmp_path / "root" / "checkpoints")
