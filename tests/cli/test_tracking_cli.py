"""flash-train --auto-lr, --logger and --weight-averaging, run for real through its main on tiny data."""

from __future__ import annotations

import csv

import pytest
import torch
import yaml

from tests.cli.test_cli import TINY, flash_train, folders  # noqa: F401 - the fixture


@pytest.mark.slow
def test_auto_lr_with_csv_logs_and_ema(folders):  # noqa: F811
    result = flash_train(
        "image_classification",
        "--train-folder",
        "data/train",
        "--val-folder",
        "data/val",
        "--output-dir",
        "out",
        "--auto-lr",
        "30",
        "--logger",
        "csv",
        "--weight-averaging",
        "ema:0.9",
        *TINY,
        cwd=folders,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "learning-rate finder: suggested" in result.stdout
    run = folders / "out" / "logs" / "version_0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    with open(run / "lr_find.csv", newline="") as handle:
        curve = [(float(row["lr"]), float(row["loss"])) for row in csv.DictReader(handle)]
    assert len(curve) > 10 and curve == sorted(curve)  # rates only grow
    assert config["learning_rate"] in [lr for lr, _ in curve] and config["learning_rate"] != 1e-3
    assert config["weight_averaging"] == "ema:0.9" and config["logger"] == "csv"
    assert (run / "lr_find.png").stat().st_size > 1000
    assert (run / "metrics.csv").exists()
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["hyper_parameters"]["learning_rate"] == config["learning_rate"]
    assert "current_model_state" in best and "EMAWeightAveraging" in best["callbacks"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight-averaging", "sma"], "--weight-averaging sma is not valid; use None, 'ema'"),
        (["--logger", "neptune"], "argument --logger: invalid choice: 'neptune'"),
        (["--auto-lr", "1"], "argument --auto-lr: must be a whole number >= 2 (optimizer steps), got 1"),
    ],
)
def test_bad_tracking_flags_are_refused_in_one_line_before_any_data_is_read(tmp_path, args, message):
    # The folder does not exist: the flag must be refused before the data would be read.
    result = flash_train("image_classification", "--train-folder", "no-such-folder", *TINY, *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
