"""``PL_TRAINER_*`` environment variables fill in the Trainer arguments not passed in code."""

from __future__ import annotations

from flashtrain.core import Trainer


def test_environment_fills_in_arguments_not_passed(monkeypatch):
    monkeypatch.setenv("PL_TRAINER_LOGGER", "False")
    monkeypatch.setenv("PL_TRAINER_MAX_STEPS", "7")
    monkeypatch.setenv("PL_TRAINER_ACCELERATOR", "cpu")  # not a literal: stays a string
    trainer = Trainer(enable_progress_bar=False)
    assert trainer.logger is None and trainer.max_steps == 7 and trainer.accelerator.name == "cpu"


def test_code_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("PL_TRAINER_MAX_STEPS", "7")
    monkeypatch.setenv("PL_TRAINER_LOGGER", "")  # empty: unset
    trainer = Trainer(max_steps=42, enable_progress_bar=False)
    assert trainer.max_steps == 42 and trainer.logger is not None
