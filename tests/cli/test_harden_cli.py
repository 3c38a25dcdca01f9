"""Command-line cases of issue 24, run through the whole tool (parsing, running, error reporting)."""

from __future__ import annotations

import pandas as pd
import pytest

from flashtrain.tasks.tabular import SAMPLE_TABLE
from tests.cli.test_cli import flash_train
from tests.cli.test_training import run_folder


@pytest.mark.slow
def test_resume_on_other_data_warns_and_strict_resume_refuses(tmp_path):
    first = flash_train("tabular_classification", "--max-epochs", "1", "--output-dir", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    pd.read_csv(SAMPLE_TABLE).sample(250, random_state=0).to_csv(tmp_path / "fewer.csv", index=False)
    resume = ["tabular_classification", "--resume", str(run_folder(tmp_path / "run")), "--train-file", "fewer.csv"]
    resume += ["--max-epochs", "2"]
    refused = flash_train(*resume, "--strict-resume", cwd=tmp_path)  # first: the warned run moves the checkpoint on
    assert refused.returncode == 2 and "refused (strict_resume / --strict-resume)" in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("flash-train: error: the checkpoint was trained on")
    warned = flash_train(*resume, cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert "the checkpoint was trained on other data than this run's: 275 training samples then, 201 now" in (
        warned.stderr
    ), warned.stderr[-2000:]


@pytest.mark.parametrize("value", ["inf", "nan", "-0.5", "0"])
def test_a_learning_rate_that_is_not_a_finite_positive_number_is_a_user_error(capsys, value):
    from flashtrain.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(["tabular_classification", "--learning-rate", value])
    assert stopped.value.code == 2
    assert f"--learning-rate: must be a finite number > 0 (e.g. 1e-3), got {value}" in capsys.readouterr().err


def test_a_nan_loss_is_reported_as_the_users_problem_not_a_bug():
    from flashtrain.cli import errors

    message = errors.describe(FloatingPointError("Loss is nan at step 1; Lower the learning rate"))
    assert message is not None and message.startswith("Loss is nan")


def test_a_fifo_or_device_as_checkpoint_is_not_a_regular_file(tmp_path, monkeypatch, capsys):
    import os

    from flashtrain.cli.main import main

    os.mkfifo(tmp_path / "pipe.ckpt")
    monkeypatch.chdir(tmp_path)
    for argv, said in (
        (["predict", "--checkpoint", "pipe.ckpt"], "pipe.ckpt is not a regular file (a FIFO, device or socket)"),
        (["predict", "--checkpoint", "/dev/null"], "/dev/null is not a regular file (a FIFO, device or socket)"),
        (["export", "--checkpoint", "pipe.ckpt"], "--checkpoint pipe.ckpt: not a regular file"),
        (["serve", "--checkpoint", "pipe.ckpt"], "--checkpoint pipe.ckpt: not a regular file"),
        (["tabular_classification", "--resume", "pipe.ckpt"], "--resume pipe.ckpt: not a regular file"),
    ):
        assert main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and said in lines[0], lines


def test_image_size_has_an_upper_bound_checked_before_allocation(tmp_path, capsys):
    from flashtrain.cli.main import main
    from tests.tasks.image.test_data import write_images

    for name in ("ant", "bee"):
        write_images(tmp_path / "train" / name, ["0.png", "1.png"])
    status = main(["image_classification", "--train-folder", str(tmp_path / "train"), "--image-size", "100000"])
    assert status == 2
    assert "--image-size 100000 is too large: at most 4096 pixels a side" in capsys.readouterr().err


def test_a_full_disk_names_the_file_and_the_free_space(tmp_path):
    import errno

    from flashtrain.cli import errors

    target = str(tmp_path / "config.yaml")
    with pytest.raises(OSError) as raised, errors.naming_file(target), open("/dev/full", "w") as handle:
        handle.write("x" * 10)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == target
    message = errors.describe(raised.value)
    assert (
        message.startswith(f"no space left on the device to write {target} (") and f"MiB free in {tmp_path})" in message
    )
