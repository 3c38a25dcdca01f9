"""LearningRateMonitor: Lightning's names, momentum/weight decay, callback metrics, and its errors."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import EarlyStopping, LearningRateMonitor
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers import CSVLogger
from tests.core.helpers import RegressionModule, loader


def _fit(tmp_path, model, monitor, logger=True, epochs=2, **kwargs):
    trainer = Trainer(
        max_epochs=epochs,
        callbacks=[monitor, *kwargs.pop("callbacks", [])],
        logger=CSVLogger(tmp_path) if logger else False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )
    trainer.fit(model, loader(16, batch_size=8))
    return trainer


class TwoAdams(RegressionModule):
    def configure_optimizers(self):
        first = torch.optim.Adam(self.net.layers[0].parameters(), lr=0.1, betas=(0.8, 0.99), weight_decay=0.01)
        second = torch.optim.Adam(
            [{"params": self.net.layers[3].weight}, {"params": self.net.layers[3].bias, "lr": 0.5}], lr=0.2
        )
        return [first, second]

    def training_step(self, batch, batch_idx):
        for optimizer in self.optimizers():
            optimizer.zero_grad()
        loss = super().training_step(batch, batch_idx)
        self.manual_backward(loss)
        for optimizer in self.optimizers():
            optimizer.step()

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False


def test_names_momentum_and_weight_decay_follow_lightning(tmp_path):
    monitor = LearningRateMonitor(log_momentum=True, log_weight_decay=True)
    _fit(tmp_path, TwoAdams(), monitor)
    assert list(monitor.lrs) == ["lr-Adam", "lr-Adam-1/pg1", "lr-Adam-1/pg2"]
    assert monitor.lrs["lr-Adam-1/pg2"] == [0.5, 0.5]  # once per epoch
    assert monitor.last_momentum_values["lr-Adam-momentum"] == pytest.approx(0.8)
    assert monitor.last_weight_decay_values["lr-Adam-weight_decay"] == pytest.approx(0.01)


def test_scheduler_and_param_group_names(tmp_path):
    class Named(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD([{"params": self.parameters(), "name": "body"}], lr=0.1)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "name": "my_lr"}}

    monitor = LearningRateMonitor()
    _fit(tmp_path, Named(), monitor)
    assert list(monitor.lrs) == ["my_lr/body"]


def test_duplicate_param_group_names_are_refused(tmp_path):
    class Twice(RegressionModule):
        def configure_optimizers(self):
            layers = self.net.layers
            groups = [{"params": layers[0].parameters(), "name": "x"}, {"params": layers[3].parameters(), "name": "x"}]
            return torch.optim.SGD(groups, lr=0.1)

    with pytest.raises(MisconfigurationException, match="cannot have multiple parameter groups with identical"):
        _fit(tmp_path, Twice(), LearningRateMonitor())


def test_no_logger_is_a_misconfiguration_and_no_momentum_warns(tmp_path):
    with pytest.raises(MisconfigurationException, match="`Trainer` that has no logger"):
        _fit(tmp_path, RegressionModule(optimizer="sgd"), LearningRateMonitor(), logger=False)

    class Plain(RegressionModule):
        def configure_optimizers(self):
            return torch.optim.ASGD(self.parameters(), lr=0.1)

    monitor = LearningRateMonitor(log_momentum=True)
    with pytest.warns(RuntimeWarning, match="optimizers do not have momentum"):
        _fit(tmp_path, Plain(), monitor)
    assert monitor.last_momentum_values == {"lr-ASGD-momentum": 0.0}


def test_learning_rates_are_callback_metrics_early_stopping_can_monitor(tmp_path):
    class Halving(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]

    monitor = LearningRateMonitor()
    stopper = EarlyStopping(monitor="lr-SGD", stopping_threshold=0.02, check_on_train_epoch_end=True)
    trainer = _fit(tmp_path, Halving(), monitor, epochs=6, callbacks=[stopper])
    assert monitor.lrs["lr-SGD"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert stopper.stopped_epoch == 3 and trainer.current_epoch == 4


def test_an_optimizer_that_gains_parameter_groups_is_renamed_to_pg1_as_lightning(tmp_path):
    from flashtrain.core.callbacks import BaseFinetuning

    class AddHead(BaseFinetuning):
        def freeze_before_training(self, pl_module):
            self.freeze(pl_module.net.layers[3])

        def finetune_function(self, pl_module, epoch, optimizer):
            if epoch == 1:
                self.unfreeze_and_add_param_group(pl_module.net.layers[3], optimizer, lr=0.01)

    class Frozen(RegressionModule):
        def configure_optimizers(self):
            return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)

    monitor = LearningRateMonitor()
    trainer = Trainer(
        max_epochs=3,
        logger=CSVLogger(str(tmp_path)),
        callbacks=[AddHead(), monitor],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Frozen(), loader())
    assert list(monitor.lrs) == ["lr-SGD/pg1", "lr-SGD/pg2"]
    assert monitor.lrs["lr-SGD/pg1"] == [0.1, 0.1, 0.1]  # the history from before the rename is kept
    assert monitor.lrs["lr-SGD/pg2"] == [0.01, 0.01]
