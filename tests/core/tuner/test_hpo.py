"""Hyper-parameter search on Optuna: real studies over a tiny regression, read back from the study."""

from __future__ import annotations

import pytest

from flashtrain.core import seed_everything
from flashtrain.core.callbacks import EarlyStopping
from flashtrain.core.tuner import tune_hyperparameters
from tests.core.helpers import RegressionModule, loader

optuna = pytest.importorskip("optuna")

TRAINER = {
    "max_epochs": 3,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


class WithData(RegressionModule):
    def train_dataloader(self):
        return loader(32)

    def val_dataloader(self):
        return loader(16)


def build(trial):
    return WithData(lr=trial.suggest_float("lr", 1e-3, 0.1, log=True), dropout=0.0), None


def test_each_trial_is_a_fit_scored_by_its_last_validation_and_the_best_is_the_lowest():
    seed_everything(0)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0), pruner=optuna.pruners.NopPruner())
    returned = tune_hyperparameters(build, n_trials=3, trainer_kwargs=TRAINER, study=study)
    assert returned is study and len(study.trials) == 3
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert sorted(trial.intermediate_values) == [0, 1, 2]  # val_loss reported after each epoch's validation
        assert trial.value == trial.intermediate_values[2]  # the score is val_loss at the end of the fit
        assert 1e-3 <= trial.params["lr"] <= 0.1
    assert study.best_value == min(trial.value for trial in study.trials)


def test_the_pruner_stops_a_trial_after_the_validation_it_rejects():
    # ThresholdPruner(upper=0) rejects any positive loss: every trial ends after its first validation.
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    callbacks = [EarlyStopping(monitor="val_loss", patience=5)]  # the user's callbacks run too, copied per trial
    tune_hyperparameters(build, n_trials=2, trainer_kwargs={**TRAINER, "callbacks": callbacks}, study=study)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert [sorted(trial.intermediate_values) for trial in study.trials] == [[0], [0]]


def test_maximizing_needs_a_study_that_maximizes_and_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"mode='max'\) needs a study that will maximize 'val_loss'"):
        tune_hyperparameters(build, n_trials=1, mode="max", study=optuna.create_study(direction="minimize"))
    with pytest.raises(ValueError, match=r"mode must be one of \['min', 'max'\], got 'lowest'"):
        tune_hyperparameters(build, n_trials=1, mode="lowest")
    with pytest.raises(ValueError, match="n_trials must be an int >= 1, got 0"):
        tune_hyperparameters(build, n_trials=0)


def test_a_monitor_that_was_never_logged_fails_the_search_with_the_logged_names():
    with pytest.raises(ValueError, match=r"'val_acc' was not logged; logged metrics: \['train_loss.*'val_loss'\]"):
        tune_hyperparameters(build, n_trials=1, monitor="val_acc", trainer_kwargs=TRAINER)
