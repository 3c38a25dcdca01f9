"""GradientAccumulationScheduler changes how many batches make one optimizer step, epoch by epoch."""

from __future__ import annotations

import pytest

from flashtrain.core.callbacks import Callback, GradientAccumulationScheduler
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class StepsPerEpoch(Callback):
    def __init__(self):
        self.steps, self.start = [], 0

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = trainer.global_step

    def on_train_epoch_end(self, trainer, pl_module):
        self.steps.append(trainer.global_step - self.start)


def test_the_schedule_sets_the_factor_of_each_epoch_and_the_trainer_setting_comes_back():
    counter = StepsPerEpoch()
    schedule = GradientAccumulationScheduler({1: 2, 3: 4})
    trainer = quiet_trainer(max_epochs=4, limit_train_batches=8, callbacks=[schedule, counter])
    trainer.fit(RegressionModule(), loader(n=64))
    assert counter.steps == [8, 4, 4, 2]  # epoch 0 before the first key: no accumulation
    assert trainer.accumulate_grad_batches == 1
    assert schedule.get_accumulate_grad_batches(2) == 2 and schedule.get_accumulate_grad_batches(10) == 4


def test_the_schedule_refuses_bad_keys_factors_and_a_trainer_that_accumulates_already():
    with pytest.raises(TypeError, match="Empty dict"):
        GradientAccumulationScheduler({})
    with pytest.raises(MisconfigurationException, match="Epoch should be an int greater than or equal to 0"):
        GradientAccumulationScheduler({-1: 2})
    with pytest.raises(MisconfigurationException, match="Accumulation factor should be an int greater than 0"):
        GradientAccumulationScheduler({0: 0})
    trainer = quiet_trainer(max_epochs=1, accumulate_grad_batches=2, callbacks=[GradientAccumulationScheduler({0: 2})])
    with pytest.raises(ValueError, match="Either remove `accumulate_grad_batches` from the Trainer"):
        trainer.fit(RegressionModule(), loader(n=16))


def test_the_schedule_refuses_manual_optimization_and_warns_about_overridden_step_hooks():
    schedule = GradientAccumulationScheduler({1: 2})
    manual = RegressionModule()
    manual.automatic_optimization = False
    with pytest.raises(RuntimeError, match="not supported for manual optimization"):
        schedule.on_train_start(quiet_trainer(), manual)

    class OwnStep(RegressionModule):
        def optimizer_zero_grad(self, *args, **kwargs):
            super().optimizer_zero_grad(*args, **kwargs)

    with pytest.warns(UserWarning, match="the hooks will not be called on every batch"):
        schedule.on_train_start(quiet_trainer(), OwnStep())
