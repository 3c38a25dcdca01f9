"""LightningCLI on example programs shaped like Lightning's six LightningCLI examples (run in-process with args)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("jsonargparse")

from flashtrain.core.cli import LightningCLI, SaveConfigCallback, cli_lightning_logo  # noqa: E402
from tests.core.cli.example_programs import (  # noqa: E402
    CountBatches,
    FineTuningCLI,
    TinyData,
    TinyRegressor,
    autoencoder_main,
)

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_run_false_builds_the_objects_then_fit_test_and_predict_from_the_best_checkpoint(tmp_path):
    cli, tested, predictions = autoencoder_main(["--trainer.default_root_dir", str(tmp_path), "--model.hidden", "4"])
    assert isinstance(cli.model, TinyRegressor) and cli.model.hparams.hidden == 4
    assert isinstance(cli.datamodule, TinyData)
    assert cli.trainer.max_epochs == 2  # trainer_defaults
    counters = [cb for cb in cli.trainer.callbacks if isinstance(cb, CountBatches)]
    assert len(counters) == 1 and counters[0].counted == 8  # the trainer_defaults callback ran: 2 epochs x 4
    best = cli.trainer.checkpoint_callback.best_model_path
    assert Path(best).is_file() and "test_loss" in tested[0]
    assert len(predictions) == 4 and predictions[0].shape == (8, 1)
    saved = yaml.safe_load((Path(cli.trainer.log_dir) / "config.yaml").read_text())
    assert saved["model"]["hidden"] == 4 and saved["seed_everything"] == 1234 and saved["trainer"]["max_epochs"] == 2


def test_fit_subcommand_with_a_callback_group_a_link_defaults_and_hooks(tmp_path):
    cli = FineTuningCLI(
        TinyRegressor,
        TinyData,
        args=["fit", "--trainer.default_root_dir", str(tmp_path), "--data.batch_size", "16", "--counter.every", "2"],
    )
    assert cli.subcommand == "fit" and cli.events == ["before_fit", "after_fit"]
    assert cli.model.hparams.batch_size == 16  # linked from data.batch_size
    assert cli.trainer.max_epochs == 1 and cli.trainer.global_step == 2  # set_defaults; 32 samples / 16
    counter = next(cb for cb in cli.trainer.callbacks if isinstance(cb, CountBatches))
    assert counter.every == 2 and counter.counted == 1
    assert (Path(cli.trainer.log_dir) / "config.yaml").is_file()


def test_print_config_then_the_printed_config_round_trips(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        FineTuningCLI(
            TinyRegressor, TinyData, args=["fit", "--trainer.max_epochs", "1", "--model.lr", "0.2", "--print_config"]
        )
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    config = yaml.safe_load(printed)
    assert config["trainer"]["max_epochs"] == 1 and config["model"]["lr"] == 0.2 and config["counter"] == {"every": 1}
    (tmp_path / "config.yaml").write_text(printed)
    cli = FineTuningCLI(
        TinyRegressor,
        TinyData,
        args=["fit", "--config", "config.yaml", "--trainer.default_root_dir", str(tmp_path / "run"), *QUIET],
    )
    assert cli.model.hparams.lr == 0.2 and cli.trainer.current_epoch == 1
    saved = yaml.safe_load((Path(cli.trainer.log_dir) / "config.yaml").read_text())
    assert {k: v for k, v in saved.items() if k != "trainer"} == {
        **{k: v for k, v in config.items() if k != "trainer"},
        "seed_everything": saved["seed_everything"],  # the seed this run drew is saved, to repeat it
    }


def test_several_configs_later_ones_win(tmp_path):
    (tmp_path / "a.yaml").write_text("model:\n  hidden: 3\n  lr: 0.1\n")
    (tmp_path / "b.yaml").write_text("model:\n  lr: 0.01\n")
    cli = LightningCLI(
        TinyRegressor,
        TinyData,
        run=False,
        save_config_callback=None,
        args=["--config", str(tmp_path / "a.yaml"), "--config", str(tmp_path / "b.yaml")],
    )
    assert (cli.model.hparams.hidden, cli.model.hparams.lr) == (3, 0.01)
    assert not any(isinstance(cb, SaveConfigCallback) for cb in cli.trainer.callbacks)


def test_optimizer_and_lr_scheduler_flags_replace_configure_optimizers(tmp_path):
    args = ["fit", "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1", *QUIET]
    args += ["--optimizer", "SGD", "--optimizer.lr", "0.3", "--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1"]
    with pytest.warns(UserWarning, match="TinyRegressor.configure_optimizers is replaced by the --optimizer"):
        cli = LightningCLI(TinyRegressor, TinyData, args=args)
    optimizer = cli.trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["lr"] == 0.3
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR) and optimizer.param_groups[0]["lr"] == pytest.approx(
        0.03
    )  # stepped once after the one epoch (gamma 0.1)


def test_a_model_chosen_by_class_path_in_subclass_mode(tmp_path):
    cli = LightningCLI(
        datamodule_class=TinyData,
        run=False,
        save_config_callback=None,
        args=["--model", "tests.core.cli.example_programs.TinyRegressor", "--model.hidden", "5"],
    )
    assert type(cli.model) is TinyRegressor and cli.model.hparams.hidden == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--model.hidden", "abc"], r'Parser key "model.hidden": Expected a <class .int.>. Got value: abc'),
        (["fit", "--model.depth", "3"], "unrecognized arguments: --model.depth 3"),
        (["fit", "--config", "missing.yaml"], "missing.yaml"),
        (["train"], "invalid choice: 'train'"),
    ],
)
def test_a_mistake_in_a_flag_or_config_is_one_line_and_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        LightningCLI(TinyRegressor, TinyData, args=args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "error:" in error

    assert re.search(message, error), error


def test_save_config_refuses_to_overwrite_an_earlier_run(tmp_path):
    args = ["fit", "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false", "--trainer.max_steps", "1"]
    LightningCLI(TinyRegressor, TinyData, args=[*args, *QUIET])
    with pytest.raises(RuntimeError, match=r"would overwrite .*config.yaml from an earlier run"):
        LightningCLI(TinyRegressor, TinyData, args=[*args, *QUIET])
    with pytest.raises(ValueError, match="writes nothing unless a subclass implements save_config"):
        SaveConfigCallback(parser=None, config=None, save_to_log_dir=False)


def test_cli_lightning_logo_prints_the_name(capsys):
    cli_lightning_logo()
    assert "flashtrain" in capsys.readouterr().out


@pytest.mark.slow
def test_an_example_program_runs_from_the_command_line(tmp_path):
    root = Path(__file__).resolve().parents[3]
    command = [sys.executable, "-m", "tests.core.cli.example_programs", "fit", "--trainer.max_epochs", "1"]
    command += ["--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "config.yaml").is_file()


def test_trainer_defaults_may_hold_a_profiler_instance(tmp_path):
    """profiler_example.py's shape: trainer_defaults={"profiler": PyTorchProfiler(), ...} with run=False."""
    from flashtrain.core.profilers import SimpleProfiler

    profiler = SimpleProfiler()
    defaults = {"profiler": profiler, "max_epochs": 1, "limit_train_batches": 2, "default_root_dir": str(tmp_path)}
    cli = LightningCLI(TinyRegressor, TinyData, run=False, trainer_defaults=defaults, args=QUIET)
    with pytest.warns(UserWarning, match="Unable to serialize instance"):  # jsonargparse, when config.yaml is written
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.profiler is profiler and cli.trainer.global_step == 2
    assert (Path(cli.trainer.log_dir) / "config.yaml").is_file()
