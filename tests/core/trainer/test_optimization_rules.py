"""configure_optimizers in automatic optimization: what Lightning 2 refuses, and ReduceLROnPlateau's strict flag."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core.trainer.optimizers import LRSchedulerConfig
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_training_step_with_optimizer_idx_is_lightning_1x_and_refused():
    class OneX(RegressionModule):
        def training_step(self, batch, batch_idx, optimizer_idx):
            return super().training_step(batch, batch_idx)

    with pytest.raises(RuntimeError, match="Remove the `optimizer_idx` argument from `training_step`"):
        quiet_trainer(max_epochs=1).fit(OneX(), loader())


def test_two_optimizers_need_manual_optimization():
    class TwoOptimizers(RegressionModule):
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.Adam(self.parameters())

    with pytest.raises(RuntimeError, match="multiple optimizers is only supported with manual optimization"):
        quiet_trainer(max_epochs=1).fit(TwoOptimizers(), loader())
    with pytest.raises(ValueError, match="self.automatic_optimization = False"):  # still a ValueError, as before
        quiet_trainer(max_epochs=1).fit(TwoOptimizers(), loader())


def test_plateau_on_a_missing_metric_warns_and_skips_when_not_strict():
    class NotStrict(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "nope", "strict": False},
            }

    trainer = quiet_trainer(max_epochs=1)
    with pytest.warns(RuntimeWarning, match="conditioned on metric nope which is not available but strict is set"):
        trainer.fit(NotStrict(), loader())
    config = trainer.lr_scheduler_configs[0]
    assert config.reduce_on_plateau and config.scheduler.last_epoch == 0  # never stepped
    assert config == LRSchedulerConfig(config.scheduler, monitor="nope", strict=False, reduce_on_plateau=True)


def test_a_custom_scheduler_can_be_marked_reduce_on_plateau():
    class Custom:
        def step(self, metric=None): ...

    assert LRSchedulerConfig(Custom(), reduce_on_plateau=True).reduce_on_plateau
    assert not LRSchedulerConfig(Custom()).reduce_on_plateau


def test_a_step_plateau_scheduler_sees_the_validation_run_after_its_step():
    stepped_with = []

    class OnValidation(RegressionModule):
        def validation_step(self, batch, batch_idx):
            self.log("val_x", 0.5)

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
            return [optimizer], [{"scheduler": scheduler, "interval": "step", "monitor": "val_x", "strict": False}]

        def lr_scheduler_step(self, scheduler, metric):
            stepped_with.append((self.global_step, metric))
            scheduler.step(metric)

    # Validation runs after the 2nd step only: the plateau scheduler of that step already sees val_x (Lightning).
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, val_check_interval=2, limit_val_batches=1)
    with pytest.warns(RuntimeWarning, match="metric val_x which is not available"):  # step 1: no validation yet
        trainer.fit(OnValidation(), loader(), loader())
    assert stepped_with == [(2, 0.5)]


def test_configure_optimizers_returning_none_warns_and_trains_without_updating_a_weight():
    steps = []

    class NoOptimizer(RegressionModule):
        def configure_optimizers(self):
            return None

        def training_step(self, batch, batch_idx):
            steps.append(batch_idx)
            return super().training_step(batch, batch_idx)

    module = NoOptimizer()
    before = {name: value.clone() for name, value in module.state_dict().items()}
    trainer = quiet_trainer(max_epochs=1)
    with pytest.warns(UserWarning, match=r"configure_optimizers` returned `None`, this fit will run with no optimizer"):
        trainer.fit(module, loader(32, batch_size=8))
    assert steps == [0, 1, 2, 3] and trainer.global_step == 4  # every batch ran its hooks and counted a step
    assert all(torch.equal(before[name], value) for name, value in module.state_dict().items())
    assert repr(trainer.optimizers[0]) == "No Optimizer"
