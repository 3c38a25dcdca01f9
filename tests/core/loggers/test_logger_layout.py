"""Logger folders, what loggers receive when fit starts and ends, and the do-nothing logger (Lightning 2's rules)."""

from __future__ import annotations

import os

import pytest
import torch

from flashtrain.core import DataModule
from flashtrain.core.loggers import CSVLogger, DummyLogger, Logger, TensorBoardLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer


@pytest.mark.parametrize("name", [None, ""])
def test_without_a_name_versions_go_straight_into_save_dir(tmp_path, name):
    logger = CSVLogger(tmp_path, name=name)
    logger.log_hyperparams()
    assert logger.root_dir == str(tmp_path) and os.listdir(tmp_path / "version_0") == ["hparams.yaml"]
    tensorboard = TensorBoardLogger(tmp_path / "tb", name="exp", version=3, sub_dir="images")
    assert tensorboard.log_dir == os.path.join(tmp_path, "tb", "exp", "version_3", "images")


def test_tensorboard_takes_metrics_with_hyperparameters_and_logs_the_graph_when_asked(tmp_path):
    logger = TensorBoardLogger(tmp_path, default_hp_metric=False, log_graph=True)
    logger.log_hyperparams({"lr": 0.1, "layers": [1, 2]}, {"val_loss": torch.tensor(0.5)})
    model = RegressionModule()
    with pytest.warns(UserWarning, match="Could not log computational graph to TensorBoard"):
        logger.log_graph(model)
    logger.log_graph(model, torch.zeros(2, 8))
    logger.finalize("success")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(logger.log_dir))


class _Recording(Logger):
    name, version = "rec", 0

    def __init__(self) -> None:
        self.params: list[dict] = []
        self.statuses: list[str] = []

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params):
        self.params.append(dict(params))

    def finalize(self, status):
        self.statuses.append(status)


class _Data(DataModule):
    def __init__(self, lr: float = 0.05, batch_size: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()

    def train_dataloader(self):
        return loader(16, batch_size=self.hparams.batch_size)


def test_module_and_datamodule_hyperparameters_are_merged_and_the_run_ends_with_success():
    logger = _Recording()
    quiet_trainer(max_epochs=1, logger=logger).fit(RegressionModule(lr=0.05), datamodule=_Data())
    assert logger.params == [{"lr": 0.05, "dropout": 0.2, "optimizer": "adam", "batch_size": 8}]
    assert logger.statuses == ["success"]
    with pytest.raises(RuntimeError, match=r"keys \['lr'\] are present in both the LightningModule's and"):
        quiet_trainer(max_epochs=1, logger=_Recording()).fit(RegressionModule(lr=0.1), datamodule=_Data())


def test_the_dummy_logger_accepts_any_call():
    logger = DummyLogger()
    logger.log_hyperparams("1", 2, three="three")
    logger.log_metrics("1", 2, three="three")
    logger.log_text(key="samples", columns=["a"], data=[[1]])  # a W&B method: accepted, does nothing
    logger.experiment["anything"] = 1


def test_save_dir_and_sub_dir_expand_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS_ROOT", str(tmp_path))
    monkeypatch.setenv("RUN_PART", "images")
    logger = TensorBoardLogger("$RUNS_ROOT/tb", name="exp", version=1, sub_dir="$RUN_PART")
    assert logger.log_dir == os.path.join(str(tmp_path), "tb", "exp", "version_1", "images")


def test_a_graph_input_tensorboard_cannot_trace_is_named_in_the_warning(tmp_path):
    logger = TensorBoardLogger(tmp_path, log_graph=True)
    model = torch.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match=r"has type <class 'dict'> which can't be traced by TensorBoard"):
        logger.log_graph(model, {"x": 1})


def test_a_tensorboard_logger_whose_writer_is_open_pickles_and_writes_again(tmp_path):
    import pickle

    logger = TensorBoardLogger(tmp_path, name="exp", version=0)
    logger.log_metrics({"a": 1.0}, step=0)
    copy = pickle.loads(pickle.dumps(logger))
    copy.log_metrics({"a": 2.0}, step=1)
    copy.experiment.flush()
    assert copy.log_dir == logger.log_dir and len(os.listdir(copy.log_dir)) >= 1


def test_hyperparameters_clashing_under_int_and_str_keys_are_all_named():
    from types import SimpleNamespace

    from flashtrain.core.loggers.base import log_run_start

    module = SimpleNamespace(logs_hyperparameters=True, hparams_initial={1: 1, "a": 2, "same": 0})
    datamodule = SimpleNamespace(logs_hyperparameters=True, hparams_initial={1: 0, "a": 3, "same": 0})
    with pytest.raises(RuntimeError, match=r"Error while merging hparams: the keys \[1, 'a'\] are present"):
        log_run_start([], module, datamodule)


def test_a_tensorboard_run_without_hyperparameters_still_has_an_hparams_file(tmp_path):
    from flashtrain.core import Module

    class NoHyperparameters(Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(8, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = (self.layer(x) - y.view(-1, 1)).pow(2).mean()
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    logger = TensorBoardLogger(tmp_path, name="exp")
    quiet_trainer(max_steps=1, logger=logger, log_every_n_steps=1).fit(NoHyperparameters(), loader(8))
    with open(os.path.join(logger.log_dir, "hparams.yaml")) as handle:
        assert handle.read().strip() == "{}"  # as Lightning's: every run folder has one


def test_hyperparameters_with_int_and_str_keys_copy_and_name_the_missing_attribute():
    import copy

    from flashtrain.core.hparams import AttributeDict

    hparams = AttributeDict({1: 1, "lr": 0.1})
    assert copy.deepcopy(hparams) == hparams  # deepcopy probes __deepcopy__: a plain AttributeError, not a TypeError
    with pytest.raises(AttributeError, match=r"hyper-parameter 'missing' is not set; known: \[1, 'lr'\]"):
        hparams.missing  # noqa: B018
