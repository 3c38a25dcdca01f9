"""flash-train run for real (in this process, through its main) on tiny data: training, predict, backbones,
config, and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings

import pytest
import yaml

from flashtrain.cli.main import main
from tests.tasks.image.test_data import write_images

TINY = ["--backbone", "test_resnet", "--no-pretrained", "--max-epochs", "1", "--image-size", "16", "--batch-size", "8"]


def flash_train(*args, cwd, isolated=False):
    """``flash-train *args`` run in ``cwd``: its exit status, stdout and stderr as a CompletedProcess.

    By default the command runs in this process through ``main(argv)``, the whole command line tool (parsing,
    running and error reporting), so each call does not pay the second or more of importing torch again. Pass
    ``isolated=True`` where the interpreter itself is part of what is tested (what Python prints on its own,
    exit by a signal, a first import).
    """
    if isolated:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("FLASHTRAIN_DEBUG", None)
        return subprocess.run(
            [sys.executable, "-m", "flashtrain.cli", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=300,
        )
    stdout, stderr, before, debug = io.StringIO(), io.StringIO(), os.getcwd(), os.environ.pop("FLASHTRAIN_DEBUG", None)
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
            # Warnings reach stderr as in a fresh interpreter (pytest would otherwise collect them), with Python's
            # default filters (deprecations and the like are not shown).
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", hidden)
            warnings.showwarning = _print_warning
            try:
                status = main(list(args))
            except SystemExit as exit_:  # argparse's --help and usage errors
                status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(before)
        if debug is not None:
            os.environ["FLASHTRAIN_DEBUG"] = debug
    return subprocess.CompletedProcess(["flash-train", *args], status, stdout.getvalue(), stderr.getvalue())


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@pytest.fixture
def folders(tmp_path):
    for name in ("ant", "bee"):
        write_images(tmp_path / "data" / "train" / name, [f"{i}.png" for i in range(6)])
        write_images(tmp_path / "data" / "val" / name, ["v.png"])
    return tmp_path


def test_train_then_predict_from_the_checkpoint(folders):
    result = flash_train(
        "image_classification",
        "--train-folder",
        "data/train",
        "--val-folder",
        "data/val",
        "--output-dir",
        "out",
        *TINY,
        cwd=folders,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final validation accuracy:" in result.stdout
    checkpoint = folders / "out" / "logs" / "version_0" / "checkpoints" / "best.ckpt"
    assert checkpoint.exists()
    config = yaml.safe_load((folders / "out" / "logs" / "version_0" / "config.yaml").read_text())
    assert config["task"] == "image_classification" and config["backbone"] == "test_resnet"
    # the augmentation the run used, printed and recorded: by default none that could mirror the label
    assert "augmentation: random resized crop 80%-100% of the area, no flip" in result.stdout
    assert config["train_transform"] == "default" and config["hflip"] == 0.0 and config["crop_scale"] == 0.8

    images = [str(folders / "data" / "val" / name / "v.png") for name in ("ant", "bee")]
    table = flash_train("predict", "--checkpoint", str(checkpoint), "--files", *images, cwd=folders)
    assert table.returncode == 0, table.stderr[-2000:]
    lines = table.stdout.strip().splitlines()
    assert lines[0] == "input,prediction" and len(lines) == 3
    assert all(line.rsplit(",", 1)[1] in ("ant", "bee") for line in lines[1:])
    saved = flash_train(
        "predict",
        "--checkpoint",
        str(checkpoint),
        "--files",
        *images,
        "--output",
        "probabilities",
        "--out",
        "p.json",
        cwd=folders,
    )
    assert saved.returncode == 0, saved.stderr[-2000:]
    rows = json.loads((folders / "p.json").read_text())
    assert [row["input"] for row in rows] == images and all(len(row["prediction"]) == 2 for row in rows)


def test_train_from_a_csv_with_multi_label_columns(folders):
    rows = ["image,round,striped"] + [
        f"data/train/{name}/{i}.png,{i % 2},{int(name == 'bee')}" for name in ("ant", "bee") for i in range(6)
    ]
    (folders / "train.csv").write_text("\n".join(rows) + "\n")
    result = flash_train(
        "image_classification",
        "--train-file",
        "train.csv",
        "--target-field",
        "round,striped",
        "--val-split",
        "0.25",
        "--output-dir",
        "out",
        *TINY,
        cwd=folders,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final validation accuracy:" in result.stdout


def test_config_file_sets_options_and_flags_win(folders):
    (folders / "run.yaml").write_text(
        "train-folder: data/train\nval_split: 0.5\nmax_epochs: 3\nbackbone: test_resnet\n"
    )
    result = flash_train(
        "image_classification",
        "--config",
        "run.yaml",
        "--max-epochs",
        "1",
        "--no-pretrained",
        "--image-size",
        "16",
        "--output-dir",
        "out",
        cwd=folders,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    config = yaml.safe_load((folders / "out" / "logs" / "version_0" / "config.yaml").read_text())
    assert (config["max_epochs"], config["val_split"]) == (1, 0.5)
    assert config["train_folder"] == str(folders / "data" / "train")  # absolute: the config works from anywhere


def test_backbones_lists_both_sources(tmp_path):
    result = flash_train("backbones", "image_classification", "--filter", "resnet18", cwd=tmp_path)
    names = result.stdout.split()
    assert result.returncode == 0 and "resnet18" in names and "torchvision/resnet18" in names


def test_help_does_not_import_torch(tmp_path):
    code = "import sys, flashtrain.cli.main as m; m.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image_classification", "--train-folder", "missing"], "--train-folder missing is not a folder"),
        (["image_classification", "--train-folder", "empty"], "has no class folders"),
        (
            ["image_classification", "--train-folder", "data/train", "--gpus", "1"],
            "--accelerator gpu was requested but is not available",
        ),
        (["image_classification", "--backbone", "resnet19"], "'resnet19' is not known; did you mean resnet18"),
        (["image_classification", "--colour"], "unrecognized arguments: --colour"),
        (
            ["image_classification", "--train-folder", "data/train", "--finetune-strategy", "melt"],
            "--finetune-strategy 'melt' is not valid",
        ),
        (["image_classification", "--config", "bad.yaml"], "has unknown options ['epochs']"),
        (["predict", "--checkpoint", "nope.ckpt", "--files", "a.png"], "Checkpoint file not found: nope.ckpt"),
        (
            ["image_classification", "--train-file", "train.csv", "--target-field", "species"],
            "has no column(s) ['species']; its columns are ['image', 'label']",
        ),
        (["image_classification", "--train-folder", "one_empty_class"], "has no images"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(folders, args, message):
    (folders / "empty").mkdir()
    (folders / "bad.yaml").write_text("epochs: 3\n")
    (folders / "train.csv").write_text("image,label\ndata/train/ant/0.png,ant\n")
    write_images(folders / "one_empty_class" / "ant", ["0.png"])
    (folders / "one_empty_class" / "bee").mkdir()
    if "--gpus" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    result = flash_train(
        *args, *(TINY if args[0] == "image_classification" and "--backbone" not in args else []), cwd=folders
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("flash-train") and message in lines[0]


def test_corrupt_image_names_the_file_and_skip_bad_files_skips_it(folders):
    (folders / "data" / "train" / "ant" / "broken.png").write_bytes(b"not a png")
    failed = flash_train(
        "image_classification", "--train-folder", "data/train", "--output-dir", "out", *TINY, cwd=folders
    )
    assert failed.returncode == 2 and "broken.png" in failed.stderr and "Traceback" not in failed.stderr
    skipped = flash_train(
        "image_classification",
        "--train-folder",
        "data/train",
        "--skip-bad-files",
        "--output-dir",
        "out",
        *TINY,
        cwd=folders,
    )
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "Skipped 1 unreadable" in skipped.stderr
