"""DataModule: save_hyperparameters and from_datasets, used through Trainer.fit as Lightning users do."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import DataModule, Trainer
from tests.core.helpers import RegressionModule, regression_data


class SizedData(DataModule):
    def __init__(self, batch_size: int = 4, root: str = "data", transform=None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore="transform")


def test_save_hyperparameters_records_init_arguments_except_ignored():
    datamodule = SizedData(batch_size=16, transform=lambda x: x)
    assert dict(datamodule.hparams) == {"batch_size": 16, "root": "data"}
    assert datamodule.hparams.batch_size == 16


def test_hparams_is_empty_without_save_hyperparameters():
    assert dict(DataModule().hparams) == {}


def test_from_datasets_builds_loaders_with_batch_size_and_train_shuffling():
    train, val = regression_data(32), regression_data(12, seed=1)
    datamodule = DataModule.from_datasets(train_dataset=train, val_dataset=val, batch_size=8)
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    assert isinstance(train_loader, DataLoader) and train_loader.batch_size == 8
    assert isinstance(train_loader.sampler, torch.utils.data.RandomSampler)
    assert isinstance(val_loader.sampler, torch.utils.data.SequentialSampler)
    assert [len(b[0]) for b in val_loader] == [8, 4]
    assert DataModule.defines(datamodule, "train_dataloader") and not DataModule.defines(datamodule, "test_dataloader")


def test_from_datasets_lists_of_datasets_give_lists_of_loaders():
    datamodule = DataModule.from_datasets(val_dataset=[regression_data(8), regression_data(4)], batch_size=4)
    loaders = datamodule.val_dataloader()
    assert [len(loader) for loader in loaders] == [2, 1]


def test_from_datasets_trains_through_the_trainer():
    torch.manual_seed(0)
    datamodule = DataModule.from_datasets(
        train_dataset=regression_data(32), val_dataset=regression_data(16), batch_size=8
    )
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(RegressionModule(), datamodule=datamodule)
    assert trainer.global_step == 4
    assert "val_loss" in trainer.callback_metrics


def test_from_datasets_passes_kwargs_to_the_subclass():
    datamodule = SizedData.from_datasets(train_dataset=regression_data(8), batch_size=2, root="elsewhere")
    assert datamodule.hparams.root == "elsewhere"


def test_from_datasets_refuses_no_datasets_and_bad_sizes():
    with pytest.raises(ValueError, match="needs at least one of train_dataset"):
        DataModule.from_datasets()
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        DataModule.from_datasets(train_dataset=TensorDataset(torch.zeros(2)), batch_size=0)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0, got -1"):
        DataModule.from_datasets(train_dataset=TensorDataset(torch.zeros(2)), num_workers=-1)


class _Sized(DataModule):
    def setup(self, stage):
        self.train = regression_data(12)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=4)

    def val_dataloader(self):
        return [DataLoader(self.train), DataLoader(_Unsized())]


class _Unsized(torch.utils.data.IterableDataset):
    def __iter__(self):
        yield from regression_data(4)


def test_str_lists_each_stage_with_its_dataset_size():
    datamodule = _Sized()
    assert str(datamodule).splitlines()[0] == "{Train dataloader: None}"  # before setup: not available
    datamodule.setup("fit")
    assert str(datamodule).splitlines() == [
        "{Train dataloader: size=12}",
        "{Validation dataloader: 1. size=12 ; 2. size=NA}",
        "{Test dataloader: None}",
        "{Predict dataloader: None}",
    ]


class _WithBatchSize(DataModule):
    def __init__(self, batch_size, note="x"):
        super().__init__()
        self.batch_size, self.note = batch_size, note


def test_from_datasets_passes_batch_size_to_an_init_that_takes_it():
    datamodule = _WithBatchSize.from_datasets(regression_data(8), batch_size=4, note="y")
    assert (datamodule.batch_size, datamodule.note) == (4, "y")
    assert len(datamodule.train_dataloader()) == 2


class _OneValidationLoader(_Sized):
    def val_dataloader(self):
        return DataLoader(self.train)


def test_datamodule_hooks_are_profiled_under_lightnings_names(tmp_path):
    datamodule = _OneValidationLoader()
    trainer = Trainer(
        max_epochs=1, profiler="simple", logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    trainer.fit(RegressionModule(), datamodule=datamodule)
    for hook in ("prepare_data", "setup", "teardown", "state_dict"):
        assert len(trainer.profiler.recorded_durations[f"[LightningDataModule]_OneValidationLoader.{hook}"]) == 1


def test_a_datamodule_is_rebuilt_from_the_checkpoint_of_its_fit(tmp_path):
    from torch.utils.data import DataLoader

    from flashtrain.core import DataModule
    from tests.core.helpers import RegressionModule, quiet_trainer, regression_data

    class Sized(DataModule):
        def __init__(self, batch_size: int = 4, note: str = "x") -> None:
            super().__init__()
            self.save_hyperparameters()
            self.seen = 0

        def train_dataloader(self):
            return DataLoader(regression_data(16), batch_size=self.hparams.batch_size)

        def state_dict(self):
            return {"seen": 7}

        def load_state_dict(self, state_dict):
            self.seen = state_dict["seen"]

    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(RegressionModule(), datamodule=Sized(batch_size=8, note="kept"))
    trainer.save_checkpoint(str(tmp_path / "run.ckpt"))
    rebuilt = Sized.load_from_checkpoint(str(tmp_path / "run.ckpt"), note="changed")
    assert (rebuilt.hparams.batch_size, rebuilt.hparams.note, rebuilt.seen) == (8, "changed", 7)


def test_a_failed_run_tells_the_datamodule():
    seen = []

    class Told(DataModule):
        def train_dataloader(self):
            return DataLoader(regression_data(16), batch_size=8)

        def on_exception(self, exception):
            seen.append(exception)

    class Fails(RegressionModule):
        def on_fit_start(self):
            raise RuntimeError("boom")

    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Fails(), datamodule=Told())
    assert [str(error) for error in seen] == ["boom"]
