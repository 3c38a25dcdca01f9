"""The tasks' weight_averaging option: the callback each value stands for, saved with the model, and refused
when not valid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flashtrain.core import Trainer, seed_everything
from flashtrain.core.callbacks import EMAWeightAveraging, ModelCheckpoint, StochasticWeightAveraging
from flashtrain.tasks import TabularClassificationData, TabularClassifier
from flashtrain.tasks.task import weight_averaging_callback


def tiny_table() -> TabularClassificationData:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=64)})
    frame["y"] = (frame["x"] > 0).astype(int)
    return TabularClassificationData.from_data_frame(
        numerical_fields="x", target_fields="y", train_data_frame=frame, val_split=0.25, batch_size=16
    )


def test_each_value_names_its_callback():
    ema = weight_averaging_callback("ema:0.95", learning_rate=1e-3)
    assert isinstance(ema, EMAWeightAveraging) and ema.decay == 0.95
    assert weight_averaging_callback("ema", 1e-3).decay == 0.999
    swa = weight_averaging_callback("swa", learning_rate=0.02)
    assert isinstance(swa, StochasticWeightAveraging) and swa._swa_lrs == pytest.approx(0.002)
    assert weight_averaging_callback("swa:0.01", 0.02)._swa_lrs == 0.01
    assert weight_averaging_callback(None, 1e-3) is None


def test_a_task_trains_with_the_average_and_its_checkpoint_rebuilds_the_option(tmp_path):
    seed_everything(0)
    data = tiny_table()
    model = TabularClassifier.from_data(data, weight_averaging="ema:0.9")
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    trainer = Trainer(
        max_epochs=2, logger=False, callbacks=[checkpoint], enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, datamodule=data)
    assert any(isinstance(cb, EMAWeightAveraging) for cb in trainer.callbacks)
    loaded = TabularClassifier.load_from_checkpoint(checkpoint.last_model_path)
    assert loaded.weight_averaging == "ema:0.9"


@pytest.mark.parametrize("value", ["sma", "ema:fast", 3])
def test_bad_values_are_refused_with_what_is_allowed(value):
    with pytest.raises(ValueError, match=rf"weight_averaging={value!r} is not valid; use None, 'ema' \(decay 0.999\)"):
        TabularClassifier.from_data(tiny_table(), weight_averaging=value)
