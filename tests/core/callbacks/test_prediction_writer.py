"""BasePredictionWriter hands each batch's prediction (and where its samples came from) to the user's writer."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

from flashtrain.core.callbacks import BasePredictionWriter
from flashtrain.core.callbacks.tqdm_bar import Tqdm
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, quiet_trainer, regression_data


class Recorder(BasePredictionWriter):
    def __init__(self, interval):
        super().__init__(interval)
        self.batches, self.epochs = [], []

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        self.batches.append((tuple(prediction.shape), batch_indices, batch_idx, dataloader_idx))

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        self.epochs.append(([[tuple(p.shape) for p in per_loader] for per_loader in predictions], batch_indices))


@pytest.mark.parametrize(
    ("interval", "batches", "epochs"), [("batch", 3, 0), ("epoch", 0, 1), ("batch_and_epoch", 3, 1)]
)
def test_the_writer_is_called_at_its_interval_with_each_batchs_sample_indices(interval, batches, epochs):
    writer = Recorder(interval)
    trainer = quiet_trainer(callbacks=[writer])
    trainer.predict(RegressionModule(), DataLoader(regression_data(10), batch_size=4), return_predictions=False)
    assert len(writer.batches) == batches and len(writer.epochs) == epochs
    if batches:
        assert writer.batches[-1] == ((2, 1), [8, 9], 2, 0)
    if epochs:
        assert writer.epochs[0] == ([[(4, 1), (4, 1), (2, 1)]], [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]])


def test_a_shuffled_loader_gives_no_indices_rather_than_wrong_ones():
    writer = Recorder("batch")
    loader = DataLoader(regression_data(8), batch_size=4, shuffle=True)
    quiet_trainer(callbacks=[writer]).predict(RegressionModule(), loader, return_predictions=False)
    assert [indices for _, indices, _, _ in writer.batches] == [None, None]


def test_an_unknown_interval_is_refused():
    with pytest.raises(MisconfigurationException, match=r"`write_interval` should be one of \['batch', 'epoch'"):
        Recorder("sometimes")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1, "1"),
        ("10000", "10000"),
        (10000, "1e+4"),
        (1.0, "1.000"),
        (0.1, "0.100"),
        (1e-5, "1e-5"),
        ("2", "2.000"),
        ("abc", "abc"),
    ],
)
def test_the_bar_pads_floats_so_the_postfix_keeps_its_width(value, shown):
    assert Tqdm.format_num(value) == shown
