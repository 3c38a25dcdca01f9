"""Lightning 2.x Trainer surface: ``barebones=True``, ``weights_only`` on the run methods, and the per-loader batch
counts of test / predict / the sanity check."""

from __future__ import annotations

import logging

import pytest
import torch
from torch.utils.data import DataLoader

from flashtrain.core import Trainer
from flashtrain.core.callbacks import ModelCheckpoint
from tests.core.helpers import RegressionModule, regression_data


class Logs(RegressionModule):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("seen", 1.0)
        return loss


class SeveralLoaders(RegressionModule):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        return super().validation_step(batch, batch_idx)

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        return super().test_step(batch, batch_idx)


def test_barebones_turns_every_speed_costing_feature_off_and_still_trains(caplog):
    with caplog.at_level(logging.INFO, logger="flashtrain.core"):
        trainer = Trainer(barebones=True, max_epochs=1)
    assert "running in `Trainer(barebones=True)` mode" in caplog.text
    assert trainer.barebones and trainer.loggers == [] and trainer.callbacks == []
    assert trainer.log_every_n_steps == 0 and trainer.num_sanity_val_steps == 0
    model = Logs()
    with pytest.warns(UserWarning, match=r"`self.log\(\)` but `Trainer\(barebones=True\)` is configured"):
        trainer.fit(model, DataLoader(regression_data(16), batch_size=8))
    assert trainer.global_step == 2
    assert "seen" not in trainer.callback_metrics  # the logged value went nowhere, as the warning says


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ({"enable_checkpointing": True}, r"enable_checkpointing=True\)` was passed. Checkpointing can impact"),
        ({"logger": True}, r"logger=True\)` was passed. Logging can impact raw speed"),
        ({"enable_progress_bar": True}, r"enable_progress_bar=True\)` was passed. The progress bar"),
        ({"enable_model_summary": True}, r"enable_model_summary=True\)` was passed. Model summary"),
        ({"log_every_n_steps": 1}, r"log_every_n_steps=1\)` was passed"),
        ({"num_sanity_val_steps": 1}, r"num_sanity_val_steps=1\)` was passed. Sanity checking"),
        ({"fast_dev_run": 1}, r"fast_dev_run=1\)` was passed. Development run is not meant"),
        ({"detect_anomaly": True}, r"detect_anomaly=True\)` was passed. Anomaly detection"),
        ({"profiler": "simple"}, r"profiler='simple'\)` was passed. Profiling can impact"),
    ],
)
def test_barebones_refuses_the_features_it_turns_off(flag, message):
    with pytest.raises(ValueError, match=message):
        Trainer(barebones=True, **flag)


def test_barebones_accepts_the_off_values_of_its_flags():
    trainer = Trainer(barebones=True, logger=False, enable_checkpointing=False, num_sanity_val_steps=0)
    assert trainer.barebones and trainer.loggers == []


def test_weights_only_is_accepted_and_resume_loads_the_same_way(tmp_path):
    data = DataLoader(regression_data(16), batch_size=8)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    first = Trainer(max_epochs=1, logger=False, enable_progress_bar=False, callbacks=[checkpoint])
    first.fit(RegressionModule(), data, weights_only=True)
    for weights_only in (None, True, False):
        trainer = Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_checkpointing=False)
        trainer.fit(RegressionModule(), data, ckpt_path=str(tmp_path / "last.ckpt"), weights_only=weights_only)
        assert trainer.current_epoch == 2 and trainer.global_step == 4  # resumed from epoch 1, then one more
    with pytest.raises(TypeError, match="weights_only must be None, True or False, got 'yes'"):
        trainer.test(RegressionModule(), data, weights_only="yes")


def test_batch_counts_per_loader_of_test_predict_and_the_sanity_check():
    torch.manual_seed(0)
    short, long = DataLoader(regression_data(8), batch_size=4), DataLoader(regression_data(40), batch_size=4)
    trainer = Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, limit_test_batches=5
    )
    assert trainer.num_test_batches == [] and trainer.num_predict_batches == []
    trainer.fit(SeveralLoaders(), short, val_dataloaders=[short, long])
    assert trainer.num_val_batches == [2, 10] and trainer.num_sanity_val_batches == [2, 2]
    trainer.test(SeveralLoaders(), [short, long], verbose=False)
    assert trainer.num_test_batches == [2, 5]
    trainer.validate(SeveralLoaders(), [long, short, long], verbose=False)
    assert trainer.num_val_batches == [10, 2, 10]  # validate's own loaders, as Lightning while/after validate
    trainer.predict(RegressionModule(), [long, short])
    assert trainer.num_predict_batches == [10, 2]


def test_log_every_n_steps_zero_never_sends_training_steps_to_the_logger(tmp_path):
    from flashtrain.core.loggers import CSVLogger

    logger = CSVLogger(tmp_path)
    trainer = Trainer(max_epochs=1, logger=logger, log_every_n_steps=0, enable_checkpointing=False)
    trainer.fit(RegressionModule(), DataLoader(regression_data(16), batch_size=4))
    logged = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "train_loss_epoch" in logged and "train_loss_step" not in logged
