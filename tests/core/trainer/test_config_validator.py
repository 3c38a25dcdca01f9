"""A module is checked against the entry point before any hook runs: what each stage needs, with Lightning's
exception type and words, and a warning for a validation that is only half set up."""

from __future__ import annotations

import warnings

import pytest
import torch

from flashtrain.core import Module
from flashtrain.core.exceptions import MisconfigurationException, PossibleUserWarning
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class Hooked(Module):
    """Counts setup calls: a refused configuration must fail before any hook runs."""

    setups = 0

    def setup(self, stage):
        type(self).setups += 1


def test_fit_needs_a_training_step_before_any_hook_runs():
    Hooked.setups = 0
    with pytest.raises(MisconfigurationException, match=r"No `training_step\(\)` method defined.*add training_step"):
        quiet_trainer().fit(Hooked(), loader())
    assert Hooked.setups == 0


def test_fit_needs_configure_optimizers():
    class NoOptimizer(Module):
        def training_step(self, batch, batch_idx):
            return torch.tensor(0.0, requires_grad=True)

    with pytest.raises(MisconfigurationException, match=r"No `configure_optimizers\(\)` method.*NoOptimizer"):
        quiet_trainer(max_steps=1).fit(NoOptimizer(), loader())


def test_a_step_set_to_none_counts_as_missing():
    model = RegressionModule()
    model.test_step = None
    with pytest.raises(MisconfigurationException, match=r"No `test_step\(\)` method defined to run `Trainer.test`"):
        quiet_trainer().test(model, loader())


def test_validate_needs_a_validation_step():
    with pytest.raises(MisconfigurationException, match=r"No `validation_step\(\)`.*`Trainer.validate`"):
        quiet_trainer().validate(Hooked(), loader())


def test_predict_needs_forward_or_predict_step():
    with pytest.raises(MisconfigurationException, match=r"`Trainer.predict` requires `forward` method to run"):
        quiet_trainer().predict(Hooked(), loader())
    model = RegressionModule()
    model.predict_step = None
    with pytest.raises(MisconfigurationException, match=r"`predict_step` cannot be None"):
        quiet_trainer().predict(model, loader())


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"gradient_clip_val": 1.0}, r"Automatic gradient clipping is not supported.*gradient_clip_val=1.0"),
        ({"accumulate_grad_batches": 2}, r"Automatic gradient accumulation.*accumulate_grad_batches=2"),
    ],
)
def test_manual_optimization_refuses_automatic_only_flags(flags, match):
    model = RegressionModule()
    model.automatic_optimization = False
    with pytest.raises(MisconfigurationException, match=match):
        quiet_trainer(max_steps=1, **flags).fit(model, loader())


def test_half_configured_validation_warns_and_skips_it():
    model = RegressionModule()
    with pytest.warns(PossibleUserWarning, match="You defined a `validation_step` but have no `val_dataloader`"):
        quiet_trainer(max_steps=1).fit(model, loader())
    model.validation_step = None
    with pytest.warns(UserWarning, match="You passed in a `val_dataloader` but have no `validation_step`"):
        quiet_trainer(max_steps=1).fit(model, loader(), loader())


def test_a_complete_configuration_is_quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*(val_dataloader|validation_step).*")
        quiet_trainer(max_steps=1).fit(RegressionModule(), loader(), loader())


def test_an_epoch_shorter_than_the_logging_interval_is_warned_about(tmp_path):
    from flashtrain.core.loggers import CSVLogger

    trainer = quiet_trainer(max_epochs=1, log_every_n_steps=5, logger=CSVLogger(str(tmp_path)))
    with pytest.warns(PossibleUserWarning, match=r"The number of training batches \(2\) is smaller than the logging"):
        trainer.fit(RegressionModule(), loader(n=16), loader(n=16))
    with warnings.catch_warnings():  # no logger: nothing would be logged anyway
        warnings.filterwarnings("error", message=".*logging interval")
        quiet_trainer(max_epochs=1, log_every_n_steps=5).fit(RegressionModule(), loader(n=16), loader(n=16))
