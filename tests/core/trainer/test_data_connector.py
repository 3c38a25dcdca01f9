"""Where each stage's data comes from: passed loaders, else the datamodule, else the module's own methods."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from flashtrain.core import DataModule, Trainer
from tests.core.helpers import RegressionModule, regression_data


class SelfFeeding(RegressionModule):
    """Lightning's BoringModel habit: the module brings its own loaders."""

    def train_dataloader(self):
        return DataLoader(regression_data(32), batch_size=8)

    def val_dataloader(self):
        return DataLoader(regression_data(16, seed=1), batch_size=8)

    def test_dataloader(self):
        return DataLoader(regression_data(24, seed=2), batch_size=8)

    def predict_dataloader(self):
        return DataLoader(regression_data(8, seed=3), batch_size=4)


def _trainer(**kwargs):
    return Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, **kwargs)


def test_fit_validate_test_predict_use_the_modules_own_loaders():
    torch.manual_seed(0)
    model, trainer = SelfFeeding(), _trainer()
    trainer.fit(model)
    assert trainer.global_step == 4 and trainer.num_val_batches == [2]
    assert "val_loss" in trainer.callback_metrics
    assert trainer.validate(model, verbose=False)[0].keys() >= {"val_loss"}
    assert trainer.num_eval_batches == 2
    trainer.test(model, verbose=False)
    assert trainer.num_eval_batches == 3
    predictions = trainer.predict(model)
    assert [p.shape[0] for p in predictions] == [4, 4]


def test_passed_loaders_and_a_datamodule_win_over_the_modules_own():
    class Data(DataModule):
        def train_dataloader(self):
            return DataLoader(regression_data(16), batch_size=8)

    trainer = _trainer()
    trainer.fit(SelfFeeding(), datamodule=Data())
    assert trainer.global_step == 2  # the datamodule's 16 samples, not the module's 32
    assert trainer.num_val_batches == [2]  # the datamodule has no val_dataloader: the module's serves
    trainer = _trainer()
    trainer.fit(SelfFeeding(), DataLoader(regression_data(8), batch_size=8))
    assert trainer.global_step == 1


def test_without_any_source_the_error_names_all_three():
    fit = r"passed to `Trainer.fit\(train_dataloaders=...\)`. Found None. Either pass the dataloader to the `.fit\(\)`"
    with pytest.raises(TypeError, match=fit + r" method OR implement `def train_dataloader\(self\):` in your Light"):
        _trainer().fit(RegressionModule())
    with pytest.raises(TypeError, match=r"`Trainer.test\(dataloaders=...\)`. Found None. .* `def test_dataloader\("):
        _trainer().test(RegressionModule())


@pytest.mark.parametrize("data", [object(), [DataLoader(regression_data(8)), 3]])
def test_data_that_cannot_be_iterated_is_refused_naming_its_source(data):
    with pytest.raises(TypeError, match=r"An invalid dataloader was passed to `Trainer.validate\(dataloaders=...\)`"):
        _trainer().validate(RegressionModule(), dataloaders=data)

    class Returns(RegressionModule):
        def train_dataloader(self):
            return data

    with pytest.raises(TypeError, match=r"An invalid dataloader was returned from `Returns.train_dataloader\(\)`"):
        _trainer().fit(Returns())
