"""A learning rate that makes training diverge is said, not silently finished (Flash's tabular regression example
with learning_rate=0.1 ended with an RMSE several times the targets' spread and no word); a sound run says nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor
from flashtrain.tasks.divergence import DivergenceCheck, DivergenceWarning


def fit(model, datamodule, epochs=2):
    trainer = Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, datamodule=datamodule)
    return [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)], trainer


@pytest.fixture(scope="module")
def bikes():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"hour": rng.normal(size=256), "temperature": rng.normal(size=256)})
    frame["count"] = 500 * frame["hour"] + 1000 + rng.normal(size=256) * 10
    return TabularRegressionData.from_data_frame(
        numerical_fields=["hour", "temperature"],
        target_fields="count",
        train_data_frame=frame,
        val_split=0.25,
        batch_size=32,
    )


def test_a_regressor_worse_than_the_mean_is_reported(bikes):
    seed_everything(0)
    said, trainer = fit(TabularRegressor.from_data(bikes, learning_rate=0.1), bikes, epochs=1)
    assert len(said) == 1, said
    assert "Training diverged: after epoch 0 the validation loss" in said[0]
    assert "the loss of always predicting the training mean" in said[0] and "learning_rate=0.1 is likely" in said[0]
    check = next(cb for cb in trainer.callbacks if isinstance(cb, DivergenceCheck))
    assert check.diverged


def test_a_sound_run_says_nothing(bikes):
    seed_everything(0)
    said, trainer = fit(TabularRegressor.from_data(bikes, learning_rate=1e-3), bikes)
    assert said == [] and trainer.callback_metrics["val_rmse"] < 500  # the targets' spread is ~500


def test_a_classifier_worse_than_equal_probabilities_is_reported():
    seed_everything(0)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    frame["y"] = np.where(frame["x"] > 0, "yes", "no")
    data = TabularClassificationData.from_data_frame(
        numerical_fields=["x", "z"], target_fields="y", train_data_frame=frame, batch_size=20
    )  # no validation data: the training loss is checked
    said, _ = fit(TabularClassifier.from_data(data, learning_rate=1.0), data, epochs=1)
    assert len(said) == 1 and "the training loss" in said[0], said
    assert "always predicting equal probabilities for every class" in said[0]
