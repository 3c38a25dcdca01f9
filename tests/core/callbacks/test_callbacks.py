"""Built-in callbacks, including their state across a resume, and non-finite losses."""

from __future__ import annotations

import csv
import math
import os

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import (
    BackboneFinetuning,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    Timer,
)
from flashtrain.core.callbacks.early_stopping import EarlyStoppingReason
from flashtrain.core.checkpoint import load_checkpoint
from flashtrain.core.loggers import CSVLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer, silent_trainer

SCORES = [0.5, 0.2, 0.9, 0.1, 0.4, 0.3, 0.8]  # the "val_score" of epochs 0..6


class Scored(RegressionModule):
    """Logs a known validation score per epoch."""

    def validation_step(self, batch, batch_idx):
        self.log("val_score", SCORES[self.current_epoch])


def fit_scored(tmp_path, max_epochs, callbacks, ckpt_path=None, **kwargs):
    trainer = silent_trainer(tmp_path, max_epochs=max_epochs, callbacks=callbacks, num_sanity_val_steps=0, **kwargs)
    trainer.fit(Scored(), loader(n=32), loader(n=16), ckpt_path=ckpt_path)
    return trainer


def test_model_checkpoint_keeps_exactly_the_top_k_across_a_resume(tmp_path):
    def callback():
        return ModelCheckpoint(
            dirpath=str(tmp_path / "ckpts"),
            monitor="val_score",
            mode="min",
            save_top_k=2,
            filename="{epoch}-{val_score:.2f}",
            save_last=True,
        )

    fit_scored(tmp_path, 3, [callback()])  # epochs 0-2 score 0.5, 0.2, 0.9
    assert sorted(os.listdir(tmp_path / "ckpts")) == [
        "epoch=0-val_score=0.50.ckpt",
        "epoch=1-val_score=0.20.ckpt",
        "last.ckpt",
    ]
    resumed = callback()
    fit_scored(tmp_path, 7, [resumed], ckpt_path="last")  # epochs 3-6 score 0.1, 0.4, 0.3, 0.8
    assert sorted(os.listdir(tmp_path / "ckpts")) == [
        "epoch=1-val_score=0.20.ckpt",
        "epoch=3-val_score=0.10.ckpt",
        "last.ckpt",
    ]
    assert resumed.best_model_path.endswith("epoch=3-val_score=0.10.ckpt")
    assert resumed.best_model_score == pytest.approx(0.1)


def test_model_checkpoint_max_mode_and_no_monitor(tmp_path):
    best = ModelCheckpoint(dirpath=str(tmp_path / "best"), monitor="val_score", mode="max", save_top_k=1)
    # Lightning's way to keep the newest k: monitor the step (monitor=None allows only save_top_k -1, 0 or 1)
    latest = ModelCheckpoint(dirpath=str(tmp_path / "latest"), monitor="step", mode="max", save_top_k=2)
    fit_scored(tmp_path, 4, [best, latest])
    assert os.listdir(tmp_path / "best") == ["epoch=2-step=12.ckpt"]  # 0.9
    assert sorted(os.listdir(tmp_path / "latest")) == ["epoch=2-step=12.ckpt", "epoch=3-step=16.ckpt"]


def test_model_checkpoint_every_n_epochs_and_train_steps(tmp_path):
    epochs = ModelCheckpoint(dirpath=str(tmp_path / "e"), every_n_epochs=2, save_top_k=-1)
    steps = ModelCheckpoint(
        dirpath=str(tmp_path / "s"),
        every_n_train_steps=3,
        save_top_k=-1,
        filename="s{step}",
        auto_insert_metric_name=False,
    )
    fit_scored(tmp_path, 4, [epochs, steps])
    assert sorted(os.listdir(tmp_path / "e")) == ["epoch=1-step=8.ckpt", "epoch=3-step=16.ckpt"]
    assert sorted(os.listdir(tmp_path / "s")) == ["s12.ckpt", "s15.ckpt", "s3.ckpt", "s6.ckpt", "s9.ckpt"]


def test_early_stopping_patience(tmp_path):
    trainer = fit_scored(tmp_path, 7, [EarlyStopping(monitor="val_score", patience=2)])
    # best 0.1 at epoch 3; epochs 4 and 5 do not improve -> stop after epoch 5
    assert trainer.current_epoch == 6 and trainer.early_stopping_callback.stopped_epoch == 5


def test_early_stopping_patience_counter_survives_a_resume(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), save_last=True)
    fit_scored(tmp_path, 5, [EarlyStopping(monitor="val_score", patience=2), checkpoint])  # epoch 4: wait 1
    state = load_checkpoint(str(tmp_path / "ckpts" / "last.ckpt"))["callbacks"]
    assert state["EarlyStopping{'monitor': 'val_score', 'mode': 'min'}"]["wait_count"] == 1
    stopper = EarlyStopping(monitor="val_score", patience=2)
    trainer = fit_scored(tmp_path, 7, [stopper, ModelCheckpoint(dirpath=str(tmp_path / "ckpts"))], ckpt_path="last")
    assert stopper.stopped_epoch == 5 and trainer.current_epoch == 6  # as without the interruption


@pytest.mark.parametrize(
    ("kwargs", "stopped_epoch", "reason"),
    [
        (dict(stopping_threshold=0.15), 3, "Stopping threshold reached"),
        (dict(divergence_threshold=0.85), 2, "Divergence threshold reached"),
    ],
)
def test_early_stopping_thresholds(tmp_path, kwargs, stopped_epoch, reason):
    stopper = EarlyStopping(monitor="val_score", patience=10, **kwargs)
    fit_scored(tmp_path, 7, [stopper])
    assert stopper.stopped_epoch == stopped_epoch and reason in stopper.stopping_reason_message


def test_early_stopping_on_a_non_finite_metric(tmp_path):
    class NaNScore(Scored):
        def validation_step(self, batch, batch_idx):
            self.log("val_score", math.nan if self.current_epoch == 1 else 1.0)

    stopper = EarlyStopping(monitor="val_score", patience=10)
    trainer = Trainer(
        max_epochs=5,
        callbacks=[stopper],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(NaNScore(), loader(n=32), loader(n=16))
    assert stopper.stopped_epoch == 1 and "not finite" in stopper.stopping_reason_message
    assert stopper.stopping_reason == EarlyStoppingReason.NON_FINITE_METRIC


class NaNAtStep(RegressionModule):
    def __init__(self, bad_step=5):
        super().__init__()
        self.bad_step = bad_step

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss * math.nan if self.global_step == self.bad_step else loss


def test_nan_loss_stops_with_the_step_and_the_last_good_checkpoint(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), every_n_train_steps=2, save_top_k=-1)
    trainer = silent_trainer(tmp_path, max_epochs=2, callbacks=[checkpoint])
    with pytest.raises(
        FloatingPointError,
        match=r"Loss is nan at step 5 \(epoch 0, batch 5\).*Last good checkpoint: "
        r".*epoch=0-step=4.ckpt",
    ):
        trainer.fit(NaNAtStep(5), loader())
    good = load_checkpoint(str(tmp_path / "ckpts" / "epoch=0-step=4.ckpt"))
    assert good["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in good["state_dict"].values())
    # the logs written so far are still readable
    assert os.listdir(os.path.join(str(tmp_path), "lightning_logs", "version_0"))


def test_nan_loss_skip_step_leaves_weights_untouched():
    seen = {}

    class Probe(NaNAtStep):
        def on_train_batch_start(self, batch, batch_idx):
            if self.global_step == 5:
                seen["before"] = self.net.layers[0].weight.clone()

        def on_train_batch_end(self, outputs, batch, batch_idx):
            if "before" in seen and "after" not in seen:
                seen["after"] = self.net.layers[0].weight.clone()

    trainer = quiet_trainer(max_epochs=1, on_nan="skip_step")
    with pytest.warns(UserWarning, match="Non-finite loss .* at step 5 .* skipping the optimizer step"):
        trainer.fit(Probe(5), loader())
    assert torch.equal(seen["before"], seen["after"])
    assert all(torch.isfinite(p).all() for p in trainer.module.parameters())


def test_an_exception_in_user_code_leaves_logs_flushed_and_checkpoints_valid(tmp_path):
    class Boom(RegressionModule):
        def training_step(self, batch, batch_idx):
            if self.global_step == 10:
                raise RuntimeError("user bug")
            return super().training_step(batch, batch_idx)

    logger = CSVLogger(save_dir=str(tmp_path))
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"))
    trainer = Trainer(
        max_epochs=3,
        logger=logger,
        callbacks=[checkpoint],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(RuntimeError, match="user bug"):
        trainer.fit(Boom(), loader())
    with open(logger.metrics_file) as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert max(steps) == 9  # every step before the failure reached the file
    assert load_checkpoint(checkpoint.best_model_path)["global_step"] == 8
    assert trainer.state.status == "failed"


def test_learning_rate_monitor_logs_each_step(tmp_path):
    class Decaying(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    monitor = LearningRateMonitor()
    logger = CSVLogger(save_dir=str(tmp_path))
    quiet_trainer(max_steps=3, logger=logger, callbacks=[monitor], log_every_n_steps=1).fit(Decaying(), loader())
    assert monitor.lrs["lr-SGD"] == pytest.approx([0.1, 0.05, 0.025])
    with open(logger.metrics_file) as handle:
        logged = [float(row["lr-SGD"]) for row in csv.DictReader(handle) if row.get("lr-SGD")]
    assert logged == pytest.approx([0.1, 0.05, 0.025])


def test_timer_stops_and_counts_time_across_a_resume(tmp_path):
    timer = Timer(duration={"seconds": 0}, verbose=False)
    trainer = quiet_trainer(max_epochs=5, callbacks=[timer])
    trainer.fit(RegressionModule(), loader())
    assert trainer.global_step == 0 and timer.time_elapsed("fit") > 0  # a zero duration stops before any step
    resumed = Timer()
    resumed.load_state_dict(timer.state_dict())
    assert resumed.time_elapsed("fit") == pytest.approx(timer.time_elapsed("fit"))


class WithBackbone(RegressionModule):
    def __init__(self):
        super().__init__()
        self.backbone = self.net.layers[0]
        self.head = self.net.layers[3]

    def configure_optimizers(self):
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)


def test_backbone_finetuning_freezes_then_unfreezes_with_a_lower_lr(tmp_path):
    states = []

    class Probe(WithBackbone):
        def on_train_epoch_end(self):
            groups = self.trainer.optimizers[0].param_groups
            states.append((self.backbone.weight.requires_grad, [g["lr"] for g in groups]))

    model = Probe()
    frozen_weight = model.backbone.weight.clone()
    trainer = quiet_trainer(max_epochs=3, callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=2)])
    trainer.fit(model, loader())
    assert states == [(False, [0.1]), (False, [0.1]), (True, [0.1, pytest.approx(0.01)])]
    assert not torch.equal(frozen_weight, model.backbone.weight)  # trained after unfreezing


def test_backbone_finetuning_resumes_after_the_unfreeze(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), save_last=True)
    common = dict(logger=False, enable_progress_bar=False, enable_model_summary=False)
    Trainer(max_epochs=3, callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=1), checkpoint], **common).fit(
        WithBackbone(), loader()
    )
    finetuning = BackboneFinetuning(unfreeze_backbone_at_epoch=1)
    trainer = Trainer(max_epochs=4, callbacks=[finetuning, ModelCheckpoint(dirpath=str(tmp_path / "ckpts"))], **common)
    model = WithBackbone()
    trainer.fit(model, loader(), ckpt_path="last")
    assert len(trainer.optimizers[0].param_groups) == 2 and model.backbone.weight.requires_grad
    assert trainer.current_epoch == 4


def test_backbone_finetuning_needs_a_backbone():
    with pytest.raises(ValueError, match="needs the module to have a `backbone` attribute"):
        quiet_trainer(max_epochs=1, callbacks=[BackboneFinetuning()]).fit(RegressionModule(), loader())


def test_backbone_finetuning_is_a_base_finetuning_whose_hooks_a_subclass_overrides():
    from flashtrain.core.callbacks import BaseFinetuning

    calls = []

    class OnlyFirstLayer(BackboneFinetuning):
        def freeze_before_training(self, pl_module):
            calls.append("freeze")
            self.freeze(pl_module.backbone)

        def finetune_function(self, pl_module, epoch, optimizer):
            calls.append(epoch)
            super().finetune_function(pl_module, epoch, optimizer)

    finetuning = OnlyFirstLayer(unfreeze_backbone_at_epoch=1, lambda_func=lambda epoch: 2.0)
    assert isinstance(finetuning, BaseFinetuning)
    trainer = quiet_trainer(max_epochs=3, callbacks=[finetuning])
    trainer.fit(WithBackbone(), loader())
    assert calls == ["freeze", 0, 1, 2]
    lrs = [group["lr"] for group in trainer.optimizers[0].param_groups]
    assert lrs == [0.1, pytest.approx(0.02)]  # 0.1 x 0.1 at epoch 1, then doubled (below the head's 0.1)
    assert finetuning.state_dict()["previous_backbone_lr"] == pytest.approx(0.02)
