"""ModelCheckpoint: monitoring "step"/"epoch" and the k-th best path, as Lightning's."""

from __future__ import annotations

import os

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
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
