"""Where each stage's data comes from: passed loaders, else the datamodule, else the module's own methods."""

from __future__ import annotations

import multiprocessing

import pytest
import torch
from torch.utils.data import DataLoader

from flashtrain.core import DataModule, Trainer
from tests.core.helpers import RegressionModule, loader, quiet_trainer, regression_data


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


class TwoStreams(RegressionModule):
    """Trains on the first of several loaders' batches; records each step's batch sizes."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def training_step(self, batch, batch_idx):
        self.seen.append([len(part[0]) for part in batch])
        return super().training_step(batch[0], batch_idx)


def test_several_training_loaders_give_one_batch_of_each_per_step():

    long, short = DataLoader(regression_data(32), batch_size=8), DataLoader(regression_data(8), batch_size=4)
    trainer, model = _trainer(limit_val_batches=0), TwoStreams()
    trainer.fit(model, [long, short])
    # max_size_cycle (Lightning's default for training): the longest loader sets the epoch, the short one cycles
    assert trainer.num_training_batches == 4 and model.seen == [[8, 4]] * 4
    assert trainer.train_dataloader == [long, short]  # the collection, each loader as the fit used it


def test_a_plain_list_of_batches_is_still_one_loader():
    data = regression_data(16)
    batches = [(data.tensors[0][i : i + 4], data.tensors[1][i : i + 4]) for i in range(0, 16, 4)]
    trainer = _trainer(limit_val_batches=0)
    trainer.fit(RegressionModule(), batches)
    assert trainer.num_training_batches == 4 and trainer.train_dataloader is batches


def test_a_dict_of_plain_lists_is_several_loaders_not_one_iterable_of_keys():
    seen = []

    class Keyed(RegressionModule):
        def training_step(self, batch, batch_idx):
            seen.append(batch)  # nothing to learn from: the step is skipped

    _trainer(limit_val_batches=0).fit(Keyed(), {"a": [0, 1, 2], "b": [10, 11]})
    # one item of each per step (max_size_cycle: the shorter one cycles), never the dict's keys
    assert seen == [{"a": 0, "b": 10}, {"a": 1, "b": 11}, {"a": 2, "b": 10}]


def test_a_sequential_combined_loader_cannot_train():
    from flashtrain.core.utilities.combined_loader import CombinedLoader

    combined = CombinedLoader([DataLoader(regression_data(8), batch_size=4)] * 2, "sequential")
    with pytest.raises(ValueError, match=r'`FitLoop` does not support the `CombinedLoader\(mode="sequential"\)`'):
        _trainer().fit(RegressionModule(), combined)


def test_overfit_batches_unshuffles_every_training_and_validation_loader():
    shuffled = [DataLoader(regression_data(16), batch_size=4, shuffle=True) for _ in range(2)]
    val = DataLoader(regression_data(16, seed=1), batch_size=4, shuffle=True)
    trainer = _trainer(overfit_batches=2)
    with pytest.warns(UserWarning, match="overfit but enabled val dataloader shuffling"):
        trainer.fit(TwoStreams(), shuffled, val)
    samplers = [dl.sampler for dl in trainer.train_dataloader] + [trainer.val_dataloaders.sampler]
    assert all(isinstance(s, torch.utils.data.SequentialSampler) for s in samplers)


@pytest.mark.parametrize(
    ("sanity", "every_n", "reload_every", "requested_at"),
    [
        (0, 2, 1, [1, 3, 5]),  # no validation in epoch 0: its loader is requested when first due
        (2, 2, 2, [1, 3, 5]),  # the sanity check's request does not count as epoch 0's
        (0, 1, 2, [0, 2, 4]),
        (0, 3, 0, [2]),  # requested once, when first due
    ],
)
def test_validation_loaders_are_requested_when_validation_is_due(sanity, every_n, reload_every, requested_at):
    requested = []

    class Tracked(SelfFeeding):
        def val_dataloader(self):
            if not self.trainer.sanity_checking:
                requested.append(self.current_epoch)
            return super().val_dataloader()

    trainer = Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        max_epochs=6,
        limit_train_batches=1,
        num_sanity_val_steps=sanity,
        check_val_every_n_epoch=every_n,
        reload_dataloaders_every_n_epochs=reload_every,
    )
    trainer.fit(Tracked())
    assert requested == requested_at


def test_enable_validation_says_whether_a_fit_validates():
    trainer = _trainer(limit_val_batches=0)
    trainer.fit(SelfFeeding())
    assert not trainer.enable_validation
    trainer = _trainer()
    trainer.fit(SelfFeeding())
    assert trainer.enable_validation


def test_a_fraction_of_a_loader_that_rounds_to_no_batch_is_refused():
    with pytest.raises(ValueError, match=r"requested to check 0.1 of the `val_dataloader` but 0.1 \* 2 < 1"):
        _trainer(limit_val_batches=0.1).validate(RegressionModule(), DataLoader(regression_data(16), batch_size=8))


@pytest.mark.slow
def test_persistent_workers_end_with_the_trainer_call():
    train = loader(16, batch_size=8, num_workers=1, persistent_workers=True)
    val = loader(16, batch_size=8, num_workers=1, persistent_workers=True)
    quiet_trainer(max_epochs=2, limit_val_batches=1).fit(RegressionModule(), train, val)
    assert multiprocessing.active_children() == []  # torch would keep them as long as the loaders live


def test_workers_started_anew_each_epoch_by_spawn_get_lightnings_persistent_workers_notice():
    import warnings

    from flashtrain.core.trainer.data_connector import warn_if_workers_respawn

    data = regression_data(8)
    with pytest.warns(UserWarning, match=r"Consider setting `persistent_workers=True` in 'train_dataloader'"):
        warn_if_workers_respawn(DataLoader(data, num_workers=1, multiprocessing_context="spawn"), "train_dataloader")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # kept workers, workers forked, or no workers: nothing to say
        warn_if_workers_respawn(
            DataLoader(data, num_workers=1, persistent_workers=True, multiprocessing_context="spawn"), "x"
        )
        warn_if_workers_respawn(DataLoader(data, num_workers=1, multiprocessing_context="fork"), "x")
        warn_if_workers_respawn(DataLoader(data, num_workers=0), "x")
