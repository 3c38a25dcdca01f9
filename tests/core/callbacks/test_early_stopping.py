"""EarlyStopping: where it checks (check_on_train_epoch_end) and why it stopped (EarlyStoppingReason)."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import EarlyStopping
from flashtrain.core.callbacks.early_stopping import EarlyStoppingReason
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader


class Scores(RegressionModule):
    """Logs a fixed score per epoch from validation, and another from the training epoch end."""

    def __init__(self, val_scores, train_scores=None):
        super().__init__()
        self.val_scores, self.train_scores = val_scores, train_scores or val_scores

    def validation_step(self, batch, batch_idx):
        self.log("score", float(self.val_scores[self.current_epoch]))

    def on_train_epoch_end(self):
        self.log("train_score", float(self.train_scores[self.current_epoch]))


def _fit(model, stopper, epochs=6, **kwargs):
    trainer = Trainer(
        max_epochs=epochs,
        callbacks=[stopper],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )
    trainer.fit(model, loader(16), loader(8))
    return trainer


def test_patience_exhausted_sets_reason_and_message():
    stopper = EarlyStopping(monitor="score", patience=2)
    _fit(Scores([1.0, 0.5, 0.6, 0.7, 0.8, 0.9]), stopper)
    assert stopper.stopped_epoch == 3
    assert stopper.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED
    assert "did not improve" in stopper.stopping_reason_message and "best 0.5" in stopper.stopping_reason_message


def test_no_stop_leaves_reason_not_stopped_and_no_message():
    stopper = EarlyStopping(monitor="score", patience=3)
    _fit(Scores([3.0, 2.0, 1.0]), stopper, epochs=3)
    assert stopper.stopping_reason == EarlyStoppingReason.NOT_STOPPED and stopper.stopping_reason_message is None


def test_check_on_train_epoch_end_true_checks_the_training_epoch_metric():
    # Validation would stop at epoch 2; the training-epoch metric keeps improving, and only it is checked.
    stopper = EarlyStopping(monitor="train_score", patience=1, check_on_train_epoch_end=True)
    trainer = _fit(Scores([1.0, 2.0, 3.0, 4.0], train_scores=[4.0, 3.0, 2.0, 1.0]), stopper, epochs=4)
    assert trainer.current_epoch == 4 and stopper.stopping_reason == EarlyStoppingReason.NOT_STOPPED


def test_check_on_train_epoch_end_false_checks_only_after_validation():
    # train_score is logged at each training epoch end, after that epoch's validation: checked after validation,
    # the check sees the previous epoch's value, so the stop comes one epoch later than checking at epoch end.
    scores = dict(val_scores=[1.0] * 4, train_scores=[1.0, 2.0, 3.0, 4.0])
    after_validation = EarlyStopping(monitor="train_score", patience=1, check_on_train_epoch_end=False, strict=False)
    _fit(Scores(**scores), after_validation, epochs=4)
    at_epoch_end = EarlyStopping(monitor="train_score", patience=1)
    _fit(Scores(**scores), at_epoch_end, epochs=4)
    assert (at_epoch_end.stopped_epoch, after_validation.stopped_epoch) == (1, 2)


def test_reason_survives_state_dict_and_old_state_dicts_load():
    stopper = EarlyStopping(monitor="score")
    stopper.stopping_reason, stopper.stopping_reason_message = EarlyStoppingReason.DIVERGENCE_THRESHOLD, "went up"
    restored = EarlyStopping(monitor="score")
    restored.load_state_dict(stopper.state_dict())
    assert restored.stopping_reason == EarlyStoppingReason.DIVERGENCE_THRESHOLD
    assert restored.stopping_reason_message == "went up"
    old = EarlyStopping(monitor="score")
    old.load_state_dict({"wait_count": 2, "stopped_epoch": 5, "best_score": torch.tensor(0.5), "patience": 3})
    assert old.stopping_reason == EarlyStoppingReason.NOT_STOPPED and old.wait_count == 2


def test_bad_arguments_are_misconfigurations():
    with pytest.raises(MisconfigurationException, match="`mode` can be 'min' or 'max', got up"):
        EarlyStopping(monitor="x", mode="up")
    with pytest.raises(ValueError, match="check_on_train_epoch_end must be None, True or False, got 'yes'"):
        EarlyStopping(monitor="x", check_on_train_epoch_end="yes")


def test_early_stopping_is_off_in_a_fast_dev_run():
    from flashtrain.core.callbacks import EarlyStopping
    from tests.core.helpers import RegressionModule, loader, quiet_trainer

    # the monitored metric is never logged: a normal run refuses (strict), a smoke run does not check at all
    trainer = quiet_trainer(fast_dev_run=2, callbacks=[EarlyStopping("never_logged")])
    trainer.fit(RegressionModule(), loader(n=32), loader(n=16))
    assert trainer.global_step == 2 and not trainer.should_stop
