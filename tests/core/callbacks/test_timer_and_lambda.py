"""Timer (Lightning's stages, checks and messages) and LambdaCallback."""

from __future__ import annotations

import logging

import pytest

from flashtrain.core.callbacks import LambdaCallback, Timer
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_timer_zero_duration_trains_nothing_and_says_why(caplog):
    timer = Timer(duration={"seconds": 0})
    trainer = quiet_trainer(max_epochs=3, callbacks=[timer])
    with caplog.at_level(logging.INFO):
        trainer.fit(RegressionModule(), loader(16))
    assert trainer.global_step == 0
    assert "Time limit reached." in caplog.text


def test_timer_min_epochs_outlasts_the_time_limit():
    trainer = quiet_trainer(max_epochs=5, min_epochs=2, callbacks=[Timer(duration="00:00:00:00", verbose=False)])
    trainer.fit(RegressionModule(), loader(16))
    assert trainer.current_epoch == 2  # two whole epochs, then the waiting stop request ends the run


def test_timer_tracks_each_stage_separately():
    timer = Timer()
    trainer = quiet_trainer(max_steps=2, callbacks=[timer])
    trainer.fit(RegressionModule(), loader(16), loader(8))
    assert timer.time_elapsed() == timer.time_elapsed("train") > 0
    assert timer.time_elapsed("validate") > 0
    assert timer.time_elapsed("test") == 0
    trainer.test(RegressionModule(), loader(8))
    assert timer.time_elapsed("test") > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"duration": "6:00:00"}, "Expected a string in the format DD:HH:MM:SS"),
        ({"interval": "batch"}, r"Unsupported parameter value `Timer\(interval=batch\)`"),
    ],
)
def test_timer_bad_arguments(kwargs, match):
    with pytest.raises(MisconfigurationException, match=match):
        Timer(**kwargs)


def test_lambda_callback_calls_the_given_functions_with_the_hook_arguments():
    calls = []
    callback = LambdaCallback(
        on_train_start=lambda trainer, module: calls.append("train_start"),
        on_train_batch_end=lambda trainer, module, outputs, batch, batch_idx: calls.append(batch_idx),
        on_validation_end=lambda trainer, module: calls.append("validation_end"),
    )
    quiet_trainer(max_epochs=1, callbacks=[callback]).fit(RegressionModule(), loader(16), loader(8))
    assert calls == ["train_start", 0, 1, "validation_end"]


def test_lambda_callback_rejects_an_unknown_hook():
    with pytest.raises(TypeError, match=r"unknown hook\(s\) \['on_trian_start'\]"):
        LambdaCallback(on_trian_start=print)
