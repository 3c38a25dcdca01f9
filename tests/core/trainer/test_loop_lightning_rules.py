"""Loop behaviours Lightning documents and ported code relies on: samplers told the epoch, the sanity check leaving
the random streams alone, the eval-mode notice, CombinedLoader batch counts, validation switched off."""

from __future__ import annotations

import warnings
from unittest.mock import Mock, call

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from flashtrain.core.exceptions import PossibleUserWarning
from flashtrain.core.utilities.combined_loader import CombinedLoader
from tests.core.helpers import RegressionModule, loader, quiet_trainer, regression_data


def _loader_with_spied_sampler(batch_sampler: bool):
    dataset = regression_data(16)
    sampler = RandomSampler(dataset)
    sampler.set_epoch = Mock()
    if batch_sampler:
        return DataLoader(dataset, batch_sampler=BatchSampler(sampler, 4, True)), sampler
    return DataLoader(dataset, sampler=sampler, batch_size=4), sampler


@pytest.mark.parametrize("batch_sampler", [False, True])
def test_every_loaders_sampler_is_told_the_epoch(batch_sampler):
    train, train_sampler = _loader_with_spied_sampler(batch_sampler)
    val, val_sampler = _loader_with_spied_sampler(batch_sampler)
    trainer = quiet_trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=1)
    trainer.fit(RegressionModule(), train, val)
    assert train_sampler.set_epoch.mock_calls == [call(0), call(1)]
    assert val_sampler.set_epoch.mock_calls == [call(0), call(0), call(1)]  # sanity check, then each epoch


def test_the_sanity_check_does_not_move_the_random_streams():
    def batches_seen(sanity_steps):
        seen = []

        class Recording(RegressionModule):
            def training_step(self, batch, batch_idx):
                seen.append(batch[0])
                return super().training_step(batch, batch_idx)

        torch.manual_seed(7)
        quiet_trainer(max_steps=2, num_sanity_val_steps=sanity_steps).fit(
            Recording(), loader(shuffle=True), loader(num_workers=0)
        )
        return torch.cat(seen)

    assert torch.equal(batches_seen(0), batches_seen(2))


def test_modules_in_eval_mode_at_the_start_are_reported():
    model = RegressionModule()
    model.net.layers[2].eval()  # the dropout layer
    with pytest.warns(PossibleUserWarning, match="Found 1 module\\(s\\) in eval mode at the start of training"):
        quiet_trainer(max_steps=1).fit(model, loader())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*in eval mode", category=PossibleUserWarning)
        quiet_trainer(max_steps=1).fit(RegressionModule(), loader())


@pytest.mark.parametrize(("mode", "batches"), [("min_size", 2), ("max_size_cycle", 3)])
def test_a_combined_loader_reports_each_iterables_length(mode, batches):
    seen = []

    class Recording(RegressionModule):
        def validation_step(self, batch, batch_idx):
            seen.append(batch)

    trainer = quiet_trainer()
    trainer.validate(Recording(), CombinedLoader({"a": [0, 1, 2], "b": [3, 4]}, mode), verbose=False)
    assert trainer.num_val_batches == [3, 2]
    assert len(seen) == batches


def test_val_check_interval_beyond_the_epoch_is_fine_with_validation_off():
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=3, val_check_interval=10, limit_val_batches=0)
    trainer.fit(RegressionModule(), loader(), loader())
    assert trainer.global_step == 3
    with pytest.raises(ValueError, match=r"`val_check_interval` \(10\) must be less than or equal"):
        quiet_trainer(max_epochs=1, limit_train_batches=3, val_check_interval=10).fit(
            RegressionModule(), loader(), loader()
        )


def test_the_training_bar_counts_the_steps_left_for_a_loader_without_length():
    from flashtrain.core.callbacks import TQDMProgressBar

    bar = TQDMProgressBar()
    endless = (batch for _ in range(100) for batch in loader())  # a generator: no len()
    trainer = quiet_trainer(max_steps=7, max_epochs=-1, callbacks=[bar], enable_progress_bar=True)
    trainer.fit(RegressionModule(), endless)
    assert bar.train_progress_bar.total == 7
