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
    from flashtrain.cli import errors

    target = str(tmp_path / "config.yaml")
    with pytest.raises(OSError) as raised, open("/dev/full", "w") as handle:  # an ENOSPC no helper has named
        handle.write("x" * 10)
    raised.value.filename = target
    message = errors.describe(raised.value)
    assert message.startswith(f"no space left on the device to write {target} (")
    assert f"MiB free in {tmp_path});" in message
    assert message.endswith("(--output-dir)")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's own report
def test_a_full_disk_under_the_tensorboard_logger_is_one_line_naming_the_files(tmp_path, monkeypatch, capsys):
    import errno

    from tensorboard.summary.writer import record_writer

    from flashtrain.cli.main import main

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)
    status = main(["tabular_classification", "--max-epochs", "1", "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"flash-train: error: no space left on the device to write {tmp_path / 'run'}")
    assert "events.out.tfevents.* (" in err[0] and "MiB free in" in err[0] and "Traceback" not in err[0]


def test_predictions_written_to_a_full_disk_are_one_line_naming_the_file(tmp_path, capsys):
    from flashtrain.cli.main import main
    from tests.tasks import checkpoints

    checkpoint = checkpoints.tabular_checkpoint(tmp_path)
    rows = tmp_path / "rows.csv"
    pd.DataFrame(checkpoints.PENGUIN_ROWS).to_csv(rows, index=False)
    out = tmp_path / "predictions.csv"
    out.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    status = main(["predict", "--checkpoint", checkpoint, "--file", str(rows), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"flash-train: error: no space left on the device to write {out} (")
