"""The Trainer's callbacks are in run order from the start (Lightning 2's rule): tuning callbacks first, the
others in the order given, checkpoint writers last."""

from __future__ import annotations

from unittest.mock import Mock

from flashtrain.core import Callback, Trainer
from flashtrain.core.callbacks import (
    EarlyStopping,
    LearningRateFinder,
    LearningRateMonitor,
    ModelCheckpoint,
    ModelSummary,
    ProgressBar,
)
from tests.core.helpers import RegressionModule, loader


def test_checkpoint_writers_come_last_as_soon_as_the_trainer_is_built(tmp_path):
    checkpoint, stopping = ModelCheckpoint(dirpath=tmp_path), EarlyStopping(monitor="val_loss")
    monitor = LearningRateMonitor()
    trainer = Trainer(callbacks=[checkpoint, monitor, stopping], logger=False, enable_progress_bar=False)
    assert trainer.callbacks[-1] is checkpoint is trainer.checkpoint_callback
    # the others keep their order (the user's, then the default summary), as Lightning
    assert [type(cb) for cb in trainer.callbacks] == [LearningRateMonitor, EarlyStopping, ModelSummary, ModelCheckpoint]
    assert trainer.callbacks[0] is monitor and trainer.callbacks[1] is stopping


def test_tuning_callbacks_run_first(tmp_path):
    finder = LearningRateFinder()
    trainer = Trainer(callbacks=[LearningRateMonitor(), finder], logger=False, enable_progress_bar=False)
    assert trainer.callbacks[0] is finder


def test_module_callbacks_are_appended_once_and_a_mock_callback_receives_every_hook(tmp_path):
    """configure_callbacks' callbacks go after the trainer's (before the checkpoint writers), are not added twice
    over repeated runs, and a ``Mock(spec=Callback)`` is called like any callback (Lightning calls every hook):
    the same calls whether it came from the Trainer or from the module."""
    from_module, from_trainer = Mock(spec=Callback), Mock(spec=Callback)

    class WithCallbacks(RegressionModule):
        def configure_callbacks(self):
            return from_module

    trainer = Trainer(default_root_dir=tmp_path, fast_dev_run=True, logger=False, callbacks=[from_trainer])
    before = list(trainer.callbacks)
    assert before[0] is from_trainer and isinstance(before[1], ProgressBar)
    trainer.fit(WithCallbacks(), loader(16), loader(16))
    assert trainer.callbacks == [*before, from_module]
    called = [call[0] for call in from_module.method_calls]
    assert {"setup", "on_fit_start", "on_train_batch_end", "on_validation_start", "teardown"} <= set(called)
    assert from_module.method_calls == from_trainer.method_calls
    trainer.validate(WithCallbacks(), loader(16))
    assert trainer.callbacks == [*before, from_module]
