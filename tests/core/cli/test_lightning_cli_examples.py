"""The shapes of Lightning's profiler, fine-tuning, ImageNet and servable-module LightningCLI examples: fit, their
test step from the fit's checkpoint, ``--print_config`` and the ``--config`` round trip of what it printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("jsonargparse")

from flashtrain.core.cli import LightningCLI  # noqa: E402
from flashtrain.core.profilers import SimpleProfiler  # noqa: E402
from flashtrain.core.serve import ServableModuleValidator  # noqa: E402
from tests.core.cli.example_programs import (  # noqa: E402
    FineTuningCLI,
    SelfLoadingRegressor,
    TinyData,
    TinyRegressor,
    imagenet_main,
    production_main,
)

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def print_config(main, args, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


def test_profiler_shape_round_trips_its_profiler_instance_through_print_config(tmp_path, capsys, monkeypatch):
    """jsonargparse cannot write a profiler instance from trainer_defaults (it prints "Unable to serialize
    instance ..."); reading that config back keeps the script's own profiler, where Lightning fails."""
    monkeypatch.chdir(tmp_path)
    profiler = SimpleProfiler()
    defaults = {"profiler": profiler, "max_epochs": 3, "limit_train_batches": 2, "limit_val_batches": 1}

    def main(args):
        return LightningCLI(TinyRegressor, TinyData, run=False, trainer_defaults=defaults, args=[*QUIET, *args])

    printed = print_config(main, ["--trainer.max_epochs", "1", "--print_config"], capsys)
    config = yaml.safe_load(printed)
    assert config["trainer"]["max_epochs"] == 1
    assert config["trainer"]["profiler"].startswith("Unable to serialize instance <flashtrain.core.profilers.")
    (tmp_path / "config.yaml").write_text(printed)
    cli = main(["--config", "config.yaml", "--trainer.default_root_dir", str(tmp_path / "run")])
    assert cli.trainer.profiler is profiler and cli.trainer.max_epochs == 1
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step == 2


def test_fine_tuning_shape_print_config_keeps_the_callback_group_and_links(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--data.batch_size", "16", "--counter.every", "2", "--trainer.max_epochs", "1", "--print_config"]
    printed = print_config(lambda a: FineTuningCLI(TinyRegressor, TinyData, args=a), args, capsys)
    config = yaml.safe_load(printed)
    assert config["counter"] == {"every": 2} and config["data"]["batch_size"] == 16
    assert "batch_size" not in config["model"]  # a link target is not an option of its own
    (tmp_path / "config.yaml").write_text(printed)
    cli = FineTuningCLI(TinyRegressor, TinyData, args=["fit", "--config", "config.yaml", *QUIET])
    assert cli.model.hparams.batch_size == 16 and cli.trainer.global_step == 2


def test_imagenet_shape_fit_then_test_from_the_checkpoint_rebuilds_the_trained_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit = imagenet_main(["fit", "--model.data_path", "data", "--model.hidden", "3", *QUIET])
    assert fit.model.batch_size == 8  # one device: not a ParallelStrategy, the batch is not divided
    best = fit.trainer.checkpoint_callback.best_model_path
    assert Path(best).is_file()
    # a new process would parse only this: the model's options come back from the checkpoint (hidden=3)
    tested = imagenet_main(["test", "--model.data_path", "data", "--ckpt_path", best, *QUIET])
    assert isinstance(tested.model, SelfLoadingRegressor) and tested.model.hparams.hidden == 3
    assert "test_loss" in tested.trainer.callback_metrics


def test_imagenet_shape_requires_its_data_path_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        imagenet_main(["fit"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "model.data_path" in error


def test_imagenet_shape_print_config_round_trip(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--model.data_path", "data", "--trainer.max_epochs", "1", "--print_config"]
    printed = print_config(imagenet_main, args, capsys)
    config = yaml.safe_load(printed)
    assert config["model"]["data_path"] == "data" and config["trainer"]["logger"] is False
    (tmp_path / "config.yaml").write_text(printed)
    cli = imagenet_main(["fit", "--config", "config.yaml", *QUIET])
    assert cli.trainer.global_step == 4 and Path(cli.trainer.checkpoint_callback.best_model_path).is_file()


def test_production_shape_serves_the_module_when_training_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = production_main(QUIET)
    validator = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ServableModuleValidator))
    # the validator compared the answer with configure_response() before the first step (a mismatch raises)
    assert validator.successful and cli.trainer.global_step == 2
    answer = validator.resp.json()["output"]
    assert len(answer) == 1 and isinstance(answer[0][0], float)


@pytest.mark.slow
def test_print_config_and_config_round_trip_from_the_command_line(tmp_path):
    """The imagenet shape as a user runs it: two processes, the second from the first's printed config."""
    root = Path(__file__).resolve().parents[3]
    code = "import sys; from tests.core.cli.example_programs import imagenet_main; imagenet_main(sys.argv[1:])"
    base = [sys.executable, "-c", code, "fit"]
    printed = subprocess.run(
        [*base, "--model.data_path", "d", "--trainer.max_epochs", "1", "--print_config"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    (tmp_path / "config.yaml").write_text(printed.stdout)
    config = ["--config", str(tmp_path / "config.yaml"), "--trainer.default_root_dir", str(tmp_path), *QUIET]
    done = subprocess.run([*base, *config], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "checkpoints").glob("*.ckpt"))
