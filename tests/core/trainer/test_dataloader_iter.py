"""Steps that fetch their own batches (``dataloader_iter``) and the DataModule's batch-transfer hooks."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import DataModule
from flashtrain.core.trainer.dataloader_iter import DataLoaderIter, takes_dataloader_iter
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class TwoBatchesPerStep(RegressionModule):
    """Each step fetches two micro-batches itself; every hook's (batch_idx, dataloader_idx) is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, list] = {"train": [], "val": [], "predict": [], "starts": [], "ends": []}

    def _two(self, dataloader_iter, stage):
        loss = None
        for _ in range(2):
            try:
                batch, batch_idx, dataloader_idx = next(dataloader_iter)
            except StopIteration:
                return loss
            self.seen[stage].append((batch_idx, dataloader_idx))
            x, y = batch
            loss = F.mse_loss(self(x), y)
        return loss

    def training_step(self, dataloader_iter):
        return self._two(dataloader_iter, "train")

    def validation_step(self, dataloader_iter):
        self._two(dataloader_iter, "val")

    def predict_step(self, dataloader_iter):
        return self._two(dataloader_iter, "predict")

    def on_train_batch_start(self, batch, batch_idx):
        self.seen["starts"].append(batch_idx if batch is not None else None)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.seen["ends"].append(batch_idx)


def test_a_step_taking_dataloader_iter_fetches_its_own_batches():
    model = TwoBatchesPerStep()
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=5, limit_val_batches=3)
    with pytest.warns(UserWarning, match="Found `dataloader_iter` argument in the `training_step`"):
        trainer.fit(model, loader(64, batch_size=8), loader(32, batch_size=8))
    assert model.seen["train"] == [(i, 0) for i in range(5)]  # every batch once, within the limit
    assert trainer.global_step == 3  # three steps: 2 + 2 + 1 batches
    # before a step, the hooks see the batch the previous step ended on; after it, the one it ended on
    assert model.seen["starts"] == [None, 1, 3]
    assert model.seen["ends"] == [1, 3, 4]
    assert model.seen["val"] == [(0, 0), (1, 0), (2, 0)]  # validated once, when the training data ran out

    predictions = trainer.predict(model, [loader(16, batch_size=8), loader(24, batch_size=8)])
    assert model.seen["predict"] == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 1)]  # the loaders one after the other
    assert [len(p) for p in predictions] == [1, 2]  # each output filed under the loader its step ended on


def test_a_step_ending_its_own_data_ends_the_epoch():
    class StopsAfterTwo(RegressionModule):
        steps = 0

        def training_step(self, dataloader_iter):
            self.steps += 1
            if self.steps == 3:
                raise StopIteration  # the step decides the data is over
            x, y = next(dataloader_iter)[0]
            return F.mse_loss(self(x), y)

    model = StopsAfterTwo()
    trainer = quiet_trainer(max_epochs=1, limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, loader(64, batch_size=8))
    assert model.steps == 3
    assert trainer.global_step == 2


def test_dataloader_iter_without_a_length_is_done_when_it_runs_out():
    data_iter = DataLoaderIter.over_loaders([iter(range(3))], [float("inf")])
    assert not data_iter.done and data_iter.length is None
    assert [item for item in data_iter] == [(0, 0, 0), (1, 1, 0), (2, 2, 0)]
    assert data_iter.done and data_iter.fetched == 3
    assert list(data_iter.steps()) == []


def test_only_a_parameter_named_dataloader_iter_selects_the_flavour():
    assert takes_dataloader_iter(lambda dataloader_iter: None)
    assert not takes_dataloader_iter(lambda batch, batch_idx: None)
    assert not takes_dataloader_iter(len)


class TupleBatches(DataModule):
    """Dict batches turned into (x, y) before the transfer, by the DataModule's own hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = {"before": 0, "transfer": 0, "after": 0}

    def train_dataloader(self):
        data = [{"x": torch.randn(4, 8), "y": torch.randn(4, 1), "id": i} for i in range(3)]
        return torch.utils.data.DataLoader(data, batch_size=None)

    def on_before_batch_transfer(self, batch, dataloader_idx):
        self.calls["before"] += 1
        return batch["x"], batch["y"]

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        self.calls["transfer"] += 1
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        self.calls["after"] += 1
        return batch


def test_the_datamodules_batch_transfer_hooks_run_once_per_batch():
    datamodule = TupleBatches()
    quiet_trainer(max_epochs=1, limit_val_batches=0).fit(RegressionModule(), datamodule=datamodule)
    assert datamodule.calls == {"before": 3, "transfer": 3, "after": 3}


def test_the_modules_transfer_hook_wins_over_the_datamodules_with_a_warning():
    class OwnTransfer(RegressionModule):
        def on_before_batch_transfer(self, batch, dataloader_idx):
            return batch["x"], batch["y"]

    datamodule = TupleBatches()
    with pytest.warns(UserWarning, match="overridden `on_before_batch_transfer` in both `LightningModule` and"):
        quiet_trainer(max_epochs=1, limit_val_batches=0).fit(OwnTransfer(), datamodule=datamodule)
    assert datamodule.calls == {"before": 0, "transfer": 3, "after": 3}
