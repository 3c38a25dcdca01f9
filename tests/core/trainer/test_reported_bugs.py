"""Regressions for the five resume/callback bugs found by running Lightning's examples and tests (issue 11).

Each test failed before the fix it names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Module, seed_everything
from flashtrain.core.callbacks import EarlyStopping, ModelCheckpoint
from flashtrain.core.checkpoint import load_checkpoint
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class PlateauModule(RegressionModule):
    """val_loss drives a ReduceLROnPlateau scheduler, as in Lightning's examples."""

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}


def _monitored_callbacks(folder):
    # saved at validation end (not at the train epoch's end), the case bug 1 is about
    checkpoint = ModelCheckpoint(
        dirpath=str(folder), monitor="val_loss", save_last=True, save_top_k=1, save_on_train_epoch_end=False
    )
    return [checkpoint, EarlyStopping(monitor="val_loss", patience=10)]


def _plateau_run(folder, max_epochs, ckpt_path=None, model=None):
    model = model or PlateauModule(lr=0.05)
    trainer = quiet_trainer(max_epochs=max_epochs, enable_checkpointing=True, callbacks=_monitored_callbacks(folder))
    trainer.fit(model, loader(shuffle=True), loader(32), ckpt_path=ckpt_path)
    return trainer, model


def test_resume_from_a_checkpoint_written_at_validation_end_is_exact(tmp_path):
    """Bug 1: a monitored checkpoint is written in on_validation_end, before the epoch closes; resuming it used to
    fail with "ReduceLROnPlateau monitors 'val_loss', which was not logged"."""
    seed_everything(3)
    _, uninterrupted = _plateau_run(tmp_path / "a", max_epochs=4)

    seed_everything(3)
    first, _ = _plateau_run(tmp_path / "b", max_epochs=2)
    saved = {"last": tmp_path / "b" / "last.ckpt", "best": Path(first.checkpoint_callback.best_model_path)}
    assert load_checkpoint(str(saved["last"]))["loop"]["epoch_finished"] is False  # written after validation
    for name, path in saved.items():
        copy = tmp_path / name / path.name
        copy.parent.mkdir()
        shutil.copy(path, copy)
        seed_everything(3)
        resumed_trainer, resumed = _plateau_run(tmp_path / name, max_epochs=4, ckpt_path=str(copy))
        assert resumed_trainer.current_epoch == 4
        for key, value in uninterrupted.state_dict().items():
            assert torch.equal(value, resumed.state_dict()[key]), f"{key} differs after resuming {name}"


def test_early_stopping_state_in_the_checkpoint_is_current(tmp_path):
    """Bug 2: with callbacks=[ModelCheckpoint, EarlyStopping] the checkpoint held the state from one check before."""
    seed_everything(0)
    trainer, _ = _plateau_run(tmp_path, max_epochs=3)
    early_stopping = trainer.early_stopping_callback
    saved = load_checkpoint(str(tmp_path / "last.ckpt"))["callbacks"][early_stopping.state_key]
    assert saved["best_score"] == early_stopping.best_score
    assert saved["wait_count"] == early_stopping.wait_count
    assert saved["last_checked_step"] == trainer.global_step


class FrozenNormModule(RegressionModule):
    """A BatchNorm the user froze with .eval() (its running statistics must not move)."""

    def __init__(self):
        super().__init__(dropout=0.5)
        self.norm = torch.nn.BatchNorm1d(8)
        self.norm.eval()
        self.modes = []

    def forward(self, x):
        return self.net(self.norm(x))

    def training_step(self, batch, batch_idx):
        self.modes.append((self.training, self.net.training, self.norm.training))
        return super().training_step(batch, batch_idx)


def test_a_submodule_put_in_eval_mode_stays_there_across_epochs_and_validation():
    """Bug 3: the trainer switched the whole module back to train mode every epoch and after each validation."""
    model = FrozenNormModule()
    before = model.norm.running_mean.clone()
    quiet_trainer(max_epochs=3).fit(model, loader(shuffle=True), loader(32))
    assert set(model.modes) == {(True, True, False)}  # dropout trains, the frozen norm does not
    assert torch.equal(model.norm.running_mean, before)
    assert model.norm.training is False and model.net.training is True


class WarmupModule(RegressionModule):
    """Lightning's documented learning-rate warm-up: read global_step inside optimizer_step."""

    def __init__(self):
        super().__init__(lr=0.1, optimizer="sgd")
        self.seen_steps = []
        self.lrs = []

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
        optimizer.step(closure=optimizer_closure)
        self.seen_steps.append(self.trainer.global_step)
        scale = min(1.0, float(self.trainer.global_step + 1) / 4)
        for group in optimizer.param_groups:
            group["lr"] = scale * self.hparams.lr
        self.lrs.append(optimizer.param_groups[0]["lr"])


def test_global_step_inside_optimizer_step_counts_the_steps_before_this_one():
    """Bug 4: global_step read in an optimizer_step override was one ahead of Lightning ([1, 2, 3] vs [0, 1, 2])."""
    model = WarmupModule()
    trainer = quiet_trainer(max_steps=5)
    trainer.fit(model, loader())
    assert model.seen_steps == [0, 1, 2, 3, 4]
    assert model.lrs == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert trainer.global_step == 5


class WithBackbone(RegressionModule):
    def __init__(self):
        super().__init__()
        self.backbone = self.net.layers[0]


class Plain(Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_finetune_leaves_the_trainer_as_it_found_it():
    """Bug 5: trainer.finetune left its finetuning callback behind, so a later fit of another model failed."""
    trainer = quiet_trainer(max_epochs=1)
    callbacks_before = list(trainer.callbacks)
    trainer.finetune(WithBackbone(), loader(), strategy="freeze")
    assert trainer.callbacks == callbacks_before
    plain = Plain()
    before = plain.layer.weight.detach().clone()
    trainer.max_epochs = 2  # as in Lightning, a trainer continues from where it stopped: one more epoch
    trainer.fit(plain, loader())  # failed: the freeze callback looked for plain.backbone
    assert not torch.equal(plain.layer.weight, before)


class FrequencyTwoScheduler(RegressionModule):
    """A step-interval scheduler stepped every second optimizer step, and the step the loggers saw."""

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 2}}


def _logged_steps(folder):
    import csv

    with open(folder / "lightning_logs" / "version_0" / "metrics.csv") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle) if row.get("train_loss_step")]


def test_resuming_a_step_checkpoint_continues_the_logging_step_and_the_scheduler_count(tmp_path):
    """Found by the tracking work: a checkpoint written in on_train_batch_end held the logging step before that
    batch's, so the resumed run logged one step twice and stepped frequency-2 schedulers at the wrong batches."""
    from flashtrain.core.loggers import CSVLogger

    def run(folder, max_steps, ckpt_path=None):
        seed_everything(5)
        model = FrequencyTwoScheduler()
        checkpoint = ModelCheckpoint(dirpath=str(folder / "ckpts"), every_n_train_steps=3, save_top_k=-1)
        trainer = quiet_trainer(
            max_steps=max_steps,
            log_every_n_steps=1,
            logger=CSVLogger(save_dir=str(folder)),
            enable_checkpointing=True,
            callbacks=[checkpoint],
        )
        trainer.fit(model, loader(shuffle=True), ckpt_path=ckpt_path)
        return model, trainer

    uninterrupted, _ = run(tmp_path / "a", 10)
    run(tmp_path / "b", 3)
    resumed, trainer = run(tmp_path / "b", 10, str(tmp_path / "b" / "ckpts" / "epoch=0-step=3.ckpt"))
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 5  # stepped after steps 2, 4, 6, 8, 10
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), f"{key} differs"
    assert _logged_steps(tmp_path / "b") == list(range(10))
