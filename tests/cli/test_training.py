"""Runs a user can trust, for real: the same command gives the same run; an interrupted run (a real process
stopped by SIGTERM) resumed with --resume ends with the weights of one never interrupted; the config a run writes
when it starts holds what was used and is accepted back by --config; every run has a training curve;
--early-stopping; --help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from tests.cli.test_cli import TINY, flash_train, folders  # noqa: F401 - fixture


def run_folder(root, version=0):
    return root / "logs" / f"version_{version}"


def weights(root):
    return torch.load(run_folder(root) / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def same_weights(first, second) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


def logged_steps(root, tag="train_loss") -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_folder(root)))
    events.Reload()
    return [event.step for event in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def final_line(result) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("final validation"))


def test_the_same_command_twice_gives_identical_metrics_and_weights(folders):  # noqa: F811
    command = ["image_classification", "--train-folder", "data/train", "--val-folder", "data/val", *TINY]
    first = flash_train(*command, "--max-epochs", "2", "--output-dir", "a", cwd=folders)
    second = flash_train(*command, "--max-epochs", "2", "--output-dir", "b", cwd=folders)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr + second.stderr)[-2000:]
    assert final_line(first) == final_line(second)
    assert same_weights(weights(folders / "a"), weights(folders / "b"))
    # 12 images in batches of 8 for 2 epochs: 4 steps, each one a point of the training curve.
    assert logged_steps(folders / "a") == [0, 1, 2, 3]
    mode = os.stat(run_folder(folders / "a") / "checkpoints" / "last.ckpt").st_mode & 0o777
    assert mode == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_the_config_a_run_writes_holds_what_was_used_and_is_accepted_back(tmp_path):
    first = flash_train("tabular_classification", "--max-epochs", "2", "--output-dir", "first", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "validating on 20% of the training rows" in first.stdout
    path = run_folder(tmp_path / "first") / "config.yaml"
    config = yaml.safe_load(path.read_text())
    assert config["task"] == "tabular_classification"
    assert (config["categorical_fields"], config["target_field"], config["val_split"]) == ("island,sex", "species", 0.2)
    assert config["numerical_fields"] == "bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g"
    again = flash_train("tabular_classification", "--config", str(path), "--output-dir", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert final_line(again) == final_line(first)
    assert same_weights(weights(tmp_path / "first"), weights(tmp_path / "again"))
    wrong = flash_train("tabular_regression", "--config", str(path), cwd=tmp_path)
    assert wrong.returncode == 2 and "is the config of a tabular_classification run" in wrong.stderr


@pytest.mark.slow
def test_an_interrupted_run_resumed_from_the_cli_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    command = ["tabular_classification", "--max-epochs", "8", "--batch-size", "8"]  # 35 steps an epoch
    whole = flash_train(*command, "--output-dir", "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert len(logged_steps(tmp_path / "whole")) >= 20  # a real curve, not 3 points

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("FLASHTRAIN_DEBUG", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "flashtrain.cli", *command, "--output-dir", "cut"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_epoch_saved = run_folder(tmp_path / "cut") / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not first_epoch_saved.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)  # during the second of eight epochs
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 143, stderr[-2000:]  # stopped by the signal, not finished first
    assert (run_folder(tmp_path / "cut") / "config.yaml").exists()  # an interrupted run has its config too
    assert f"flash-train tabular_classification --resume {run_folder(tmp_path / 'cut')}" in stderr
    assert not same_weights(weights(tmp_path / "whole"), weights(tmp_path / "cut"))

    resumed = flash_train("tabular_classification", "--resume", str(run_folder(tmp_path / "cut")), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert final_line(resumed) == final_line(whole)
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "cut"))
    assert not (tmp_path / "cut" / "logs" / "version_1").exists()  # the same run continued, in its own folder


def test_early_stopping_stops_when_the_metric_stalls(tmp_path):
    stalled = flash_train(
        "tabular_classification", "--learning-rate", "1e-30", "--early-stopping", "1", "--max-epochs", "20",
        "--output-dir", "out", cwd=tmp_path,
    )  # fmt: skip
    assert stalled.returncode == 0, stalled.stderr[-2000:]
    last = torch.load(run_folder(tmp_path / "out") / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # no improvement after the first epoch; patience 1


def test_help_shows_defaults_and_examples_without_markup():
    result = subprocess.run(
        [sys.executable, "-m", "flashtrain.cli", "image_classification", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=True,
    )
    assert "(default: 10)" in result.stdout and "(default: resnet18)" in result.stdout
    assert "examples:" in result.stdout and "--resume" in result.stdout and "``" not in result.stdout
