"""Everyday mistakes end in one line on stderr and exit status 2, never a traceback; bugs say they are bugs.

The cases that used to print a traceback run as real subprocesses; the wording of messages is checked in-process
through ``main()`` (the same code path, without the cost of a new interpreter per case).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib

import pandas as pd
import pytest

from flashtrain.cli import errors
from flashtrain.cli.main import build_parser, main
from flashtrain.cli.options import command_parser
from tests.cli.test_cli import TINY, flash_train, folders  # noqa: F401 - fixture
from tests.tasks.image.test_data import write_images


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("FLASHTRAIN_DEBUG", raising=False)


def huge_png(path) -> None:
    """A valid PNG header claiming 20000 x 20000 pixels: over Pillow's limit, refused when opened."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 20001)  # one row; the rest never gets read
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image_classification", "--max-epochs", "0"], "argument --max-epochs: must be a whole number >= 1, got 0"),
        (["image_classification", "--max-epochs", "-1"], "argument --max-epochs: must be a whole number >= 1, got -1"),
        (["image_classification", "--image-size", "0"], "argument --image-size: must be a whole number >= 1, got 0"),
        (["image_classification", "--output-dir", "afile"], "afile is a file; pass a folder"),
        (["image_classification", "--output-dir", "afile/runs"], "afile/runs: part of this path is a file"),
        (["predict", "--checkpoint", "notes.ckpt", "--files", "a.png"], "not a checkpoint at all"),
        (
            ["predict", "--checkpoint", "notes.ckpt", "--files", "a.png", "--out", "missing/p.csv"],
            "missing/p.csv: the folder",
        ),
        (["predict", "--checkpoint", "notes.ckpt", "--files", "a.png", "--out", "data"], "--out data is a folder"),
        (
            ["tabular_regression", "--train-file", "inf.csv", "--numerical-fields", "x", "--target-field", "y"],
            "numerical column 'x' has an infinite value (inf) in row 1 (line 3 of the file)",
        ),
        (
            ["image_classification", "--train-folder", "huge", *TINY],
            "huge/b/big.png: 20000x20000 = 400000000 pixels is over twice PIL.Image.MAX_IMAGE_PIXELS",
        ),
    ],
)
def test_what_used_to_be_a_traceback_is_one_line_and_exit_status_2(folders, args, message):  # noqa: F811
    (folders / "afile").write_text("not a folder")
    (folders / "notes.ckpt").write_text("epoch 3: accuracy 0.91\n")
    pd.DataFrame({"x": [1.0, float("inf"), 2.0, 3.0], "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(
        folders / "inf.csv", index=False
    )
    write_images(folders / "huge" / "a", ["0.png", "1.png"])
    write_images(folders / "huge" / "b", ["0.png"])
    huge_png(folders / "huge" / "b" / "big.png")
    line = one_line(flash_train(*args, cwd=folders, isolated=True))
    assert line.startswith("flash-train") and message in line, line


@pytest.mark.slow
def test_predict_into_a_closed_pipe_is_quiet(tmp_path):
    """``flash-train predict ... | head``: no BrokenPipeError traceback once head has what it wants."""
    from tests.cli.test_tabular_cli import NEW_PENGUINS

    trained = flash_train("tabular_classification", "--max-epochs", "1", "--output-dir", "out", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    pd.concat([NEW_PENGUINS.drop(columns=["species"])] * 1000).to_csv(tmp_path / "many.csv", index=False)
    checkpoint = tmp_path / "out" / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = (
        f"{sys.executable} -m flashtrain.cli predict --checkpoint {checkpoint} --file many.csv 2>err.txt | head -n 2"
    )
    result = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert len(result.stdout.splitlines()) == 2
    assert (tmp_path / "err.txt").read_text() == ""


def run_main(capsys, *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().err.strip().splitlines()


def test_typos_in_choices_are_found_before_any_data_is_read(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = ["image_classification", "--train-folder", "no-such-folder"]  # would fail second, if it were read
    for flag, value, message in [
        ("--precision", "16-mix", "--precision '16-mix' is not known; use 32-true, 64-true, bf16-mixed or 16-mixed"),
        ("--optimizer", "adamm", "--optimizer 'adamm' is not known; did you mean adam, "),
        ("--accelerator", "gpuu", "invalid accelerator name"),
        ("--finetune-strategy", "melt", "--finetune-strategy 'melt' is not valid"),
    ]:
        status, lines = run_main(capsys, *missing, flag, value)
        assert status == 2 and len(lines) == 1 and message in lines[0], lines


def test_python_wording_is_put_in_flag_words(capsys, folders, monkeypatch):  # noqa: F811
    monkeypatch.chdir(folders)
    (folders / "data" / "train" / "ant" / "broken.png").write_bytes(b"not a png")
    status, lines = run_main(capsys, "image_classification", "--train-folder", "data/train", *TINY)
    # the last line: the automatic data check may warn first (these test images repeat across classes)
    assert status == 2 and "broken.png" in lines[-1] and "pass --skip-bad-files to skip" in lines[-1], lines
    assert "skip_bad_files" not in lines[-1]
    parser = command_parser(build_parser(), "image_classification")
    translated = errors.in_flag_words("no CUDA GPU here; use accelerator='cpu'. Or image_size=32.", parser)
    assert translated == "no CUDA GPU here; use --accelerator cpu. Or --image-size 32."
    assert (
        errors.in_flag_words("pretrained='w.pth' or pretrained=False", parser)
        == "pretrained='w.pth' or --no-pretrained"
    )


def test_config_values_are_checked_like_flags(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text, message in [
        ("backbone: [mlp]\n", "backbone must be a single value (like --backbone VALUE), got ['mlp']"),
        ("max_epochs: many\n", "max_epochs: 'many' is not valid for --max-epochs"),
        (
            "backbone: resnett\n",
            "--backbone 'resnett' is not known; did you mean resnet? allowed: ft_transformer, mlp,",
        ),
        ("task: image_classification\n", "is the config of a image_classification run; use it with flash-train image"),
        ("multi_label: 3\n", None),
    ]:
        (tmp_path / "run.yaml").write_text(text)
        status, lines = run_main(capsys, "tabular_classification", "--config", "run.yaml")
        if message is None:  # an option of another command
            assert status == 2 and "unknown options ['multi_label']" in lines[0], lines
            continue
        assert status == 2 and len(lines) == 1 and message in lines[0], lines


def test_single_class_data_and_missing_labels_name_the_problem(capsys, folders, monkeypatch):  # noqa: F811
    monkeypatch.chdir(folders)
    write_images(folders / "one" / "ant", ["0.png", "1.png"])
    status, lines = run_main(capsys, "image_classification", "--train-folder", "one", *TINY)
    assert status == 2 and "has only 1 class(es) (['ant']): a classifier needs at least two" in lines[0], lines
    (folders / "t.csv").write_text("image,label\ndata/train/ant/0.png,ant\ndata/train/bee/0.png,\n")
    status, lines = run_main(capsys, "image_classification", "--train-file", "t.csv", *TINY)
    assert status == 2 and "rows [1] (file lines [3]). Fill in their labels" in lines[0], lines
    status, lines = run_main(
        capsys, "image_classification", "--early-stopping", "2", "--train-folder", "data/train", *TINY
    )
    assert status == 2 and "--early-stopping needs validation data" in lines[0], lines
    status, lines = run_main(capsys, "image_classification", "--resume", "nowhere")
    assert status == 2 and "--resume nowhere: no such run folder or checkpoint" in lines[0], lines
    status, lines = run_main(capsys, "image_classification", "--crop-scale", "0", "--train-folder", "data/train", *TINY)
    assert status == 2 and "--crop-scale must be in (0, 1] (the smallest area fraction kept), got 0.0" in lines[0]


def test_a_bug_is_one_line_saying_so_and_debug_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_DEBUG", "0")  # "0" means off
    assert errors.report(KeyError(101)) == 1
    assert capsys.readouterr().err.strip() == (
        "flash-train: internal error: KeyError: 101 (a bug, not your input: rerun with FLASHTRAIN_DEBUG=1 for the "
        "traceback and report it)"
    )
    assert errors.report(ValueError("bad value\nmore detail")) == 2
    assert capsys.readouterr().err.strip() == "flash-train: error: bad value"
    monkeypatch.setenv("FLASHTRAIN_DEBUG", "1")
    with pytest.raises(KeyError):
        errors.report(KeyError(101))


def test_os_errors_name_the_path_and_what_to_do():
    import errno

    assert errors.describe(PermissionError(errno.EACCES, "Permission denied", "/data/runs")) == (
        "permission denied: /data/runs. Choose a folder you can write to (--output-dir) or fix its permissions."
    )
    assert errors.describe(NotADirectoryError(errno.ENOTDIR, "Not a directory", "out/x")) == (
        "out/x: part of this path is a file, not a folder. Choose another path."
    )
    said = "no space left on the device to write /r/a.ckpt (3 MiB free in /r); free some space or write to another disk"
    assert errors.describe(OSError(errno.ENOSPC, said, "/r/a.ckpt")) == f"{said} (--output-dir)"
