"""LightningCLI runs that a later ``Model.load_from_checkpoint`` rebuilds, and ``class_path`` loggers and callbacks in
a YAML config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("jsonargparse")

from flashtrain.core import Module  # noqa: E402
from flashtrain.core.callbacks import EarlyStopping  # noqa: E402
from flashtrain.core.cli import LightningCLI  # noqa: E402
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger  # noqa: E402
from tests.core.cli.example_programs import InjectedRegressor, TinyData, TinyRegressor  # noqa: E402

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def fit(tmp_path, *args, model_class=TinyRegressor, **kwargs):
    run = ["fit", "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    return LightningCLI(model_class, TinyData, args=[*run, *QUIET, *args], save_config_callback=None, **kwargs)


def test_load_from_checkpoint_after_fit_rebuilds_the_model_the_flags_built(tmp_path):
    cli = fit(tmp_path, "--model.hidden", "5", "--model.lr", "0.2")
    loaded = TinyRegressor.load_from_checkpoint(cli.trainer.checkpoint_callback.best_model_path)
    assert loaded.hparams.hidden == 5 and loaded.hparams.lr == 0.2 and loaded.net[0].out_features == 5
    assert torch.equal(loaded.net[0].weight, cli.model.net[0].weight)


def test_load_from_checkpoint_rebuilds_the_subclass_and_the_injected_layer_named_in_the_config(tmp_path):
    """Subclass mode with dependency injection: ``--model InjectedRegressor --model.encoder torch.nn.Linear``.
    The checkpoint records the config (not the Linear object), so the base class's load_from_checkpoint builds
    the subclass with a new Linear of the same shape, then loads the trained weights."""
    encoder = ["--model.encoder", "torch.nn.Linear", "--model.encoder.in_features", "4"]
    encoder += ["--model.encoder.out_features", "6"]
    cli = fit(tmp_path, "--model", "InjectedRegressor", *encoder, model_class=Module, subclass_mode_model=True)
    path = cli.trainer.checkpoint_callback.best_model_path
    saved = torch.load(path, weights_only=True)["hyper_parameters"]
    assert saved["encoder"]["class_path"] == "torch.nn.Linear" and saved["_class_path"].endswith("InjectedRegressor")
    loaded = Module.load_from_checkpoint(path)
    assert type(loaded) is InjectedRegressor and loaded.net[0].out_features == 6
    assert torch.equal(loaded.net[0].weight, cli.model.net[0].weight)


def test_without_the_support_the_module_records_its_init_arguments(tmp_path):
    cli = fit(tmp_path, "--model.hidden", "5", load_from_checkpoint_support=False)
    assert dict(cli.model.hparams) == {"hidden": 5, "lr": 0.05, "batch_size": 8}


def test_a_checkpoint_naming_another_instantiator_is_refused(tmp_path):
    cli = fit(tmp_path)
    path = Path(cli.trainer.checkpoint_callback.best_model_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["_instantiator"] = "os.system"
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match=r"_instantiator='os.system', which flashtrain does not run"):
        TinyRegressor.load_from_checkpoint(str(path))


CONFIG = """
trainer:
  logger:
    class_path: flashtrain.core.loggers.TensorBoardLogger
    init_args:
      save_dir: {root}
      name: from_config
  callbacks:
    - class_path: flashtrain.core.callbacks.EarlyStopping
      init_args:
        monitor: val_loss
        patience: 7
"""


def test_class_path_logger_and_callbacks_in_a_yaml_config_and_its_print_config_round_trip(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(CONFIG.format(root=tmp_path / "tb"))
    args = ["--config", "run.yaml", "--trainer.max_epochs", "1", *QUIET]
    cli = LightningCLI(TinyRegressor, TinyData, run=False, args=args)
    logger = cli.trainer.logger
    assert isinstance(logger, TensorBoardLogger) and logger.name == "from_config"
    stopping = [cb for cb in cli.trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert len(stopping) == 1 and stopping[0].patience == 7
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert list(Path(logger.log_dir).glob("events.out.tfevents.*"))
    assert yaml.safe_load((Path(logger.log_dir) / "config.yaml").read_text())["trainer"]["logger"]["init_args"][
        "name"
    ] == ("from_config")

    with pytest.raises(SystemExit):
        LightningCLI(TinyRegressor, TinyData, run=False, args=[*args, "--print_config"])
    printed = capsys.readouterr().out
    assert yaml.safe_load(printed)["trainer"]["logger"]["class_path"] == "flashtrain.core.loggers.TensorBoardLogger"
    (tmp_path / "printed.yaml").write_text(printed)
    again = LightningCLI(TinyRegressor, TinyData, run=False, args=["--config", "printed.yaml"])
    assert isinstance(again.trainer.logger, TensorBoardLogger) and again.trainer.logger.name == "from_config"


def test_a_class_path_logger_from_the_command_line(tmp_path):
    logger = ["--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", str(tmp_path), *QUIET]
    cli = LightningCLI(TinyRegressor, TinyData, run=False, args=logger)
    assert isinstance(cli.trainer.logger, CSVLogger) and cli.trainer.logger.save_dir == str(tmp_path)


LIGHTNING_CONFIG = """
trainer:
  logger:
    class_path: lightning.pytorch.loggers.TensorBoardLogger
    init_args:
      save_dir: {root}
  callbacks:
    - class_path: pytorch_lightning.callbacks.early_stopping.EarlyStopping
      init_args:
        monitor: val_loss
        patience: 3
"""


def test_a_lightning_projects_config_and_flags_naming_lightnings_classes_build_flashtrains(tmp_path, monkeypatch):
    """A project ported by changing imports keeps its YAML and scripts, which name Lightning's class paths."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lightning.yaml").write_text(LIGHTNING_CONFIG.format(root=tmp_path / "tb"))
    more = ["--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint", "--trainer.max_epochs", "1", *QUIET]
    cli = LightningCLI(TinyRegressor, TinyData, run=False, args=["--config", "lightning.yaml", *more])
    assert isinstance(cli.trainer.logger, TensorBoardLogger)
    stopping = [cb for cb in cli.trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert len(stopping) == 1 and stopping[0].patience == 3
    from flashtrain.core.callbacks import ModelCheckpoint

    assert any(isinstance(cb, ModelCheckpoint) for cb in cli.trainer.callbacks)


def test_a_lightning_class_flashtrain_lacks_is_named_as_written(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_code:
        LightningCLI(
            TinyRegressor, TinyData, run=False, args=["--trainer.logger", "lightning.pytorch.loggers.NeptuneLogger"]
        )
    assert exit_code.value.code == 2
    assert "lightning.pytorch.loggers.NeptuneLogger" in capsys.readouterr().err
