"""A full disk names the file and the free space on the tasks' write paths: export (ONNX, ExportedProgram, the
description beside the model) and save_pretrained (weights through safetensors' Rust writer, config.json)."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from tests.core.utilities.test_disk import assert_full_disk_named
from tests.tasks import checkpoints


@pytest.fixture(scope="module")
def tabular(tmp_path_factory) -> str:
    return checkpoints.tabular_checkpoint(tmp_path_factory.mktemp("full-disk"))


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")  # what write() raises: no file name


def test_onnx_export_names_the_model_file(tabular, tmp_path, monkeypatch):
    from flashtrain.tasks.export import export

    monkeypatch.setattr(torch.onnx, "export", no_space)
    with pytest.raises(OSError) as caught:
        export(tabular, str(tmp_path / "out"), format="onnx")
    assert_full_disk_named(caught.value, str(tmp_path / "out" / "model.onnx"))


def test_exported_program_names_the_model_file(tabular, tmp_path, monkeypatch):
    from flashtrain.tasks.export import export

    def short_write(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 960")

    monkeypatch.setattr(torch.export, "save", short_write)
    with pytest.raises(OSError) as caught:
        export(tabular, str(tmp_path / "out"), format="exported-program")
    assert_full_disk_named(caught.value, str(tmp_path / "out" / "model.pt2"))


def test_export_description_names_its_file(tabular, tmp_path, monkeypatch):
    import builtins

    from flashtrain.tasks.export import export

    real_open = builtins.open

    def full_for_json(path, mode="r", *args, **kwargs):
        if str(path).endswith("preprocessing.json") and "w" in mode:
            return real_open("/dev/full", mode, *args, **kwargs)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_for_json)
    with pytest.raises(OSError) as caught:
        export(tabular, str(tmp_path / "out"), format="torchscript", preprocessing=False)
    assert_full_disk_named(caught.value, str(tmp_path / "out" / "preprocessing.json"))


def test_save_pretrained_names_the_weights_file(tabular, tmp_path, monkeypatch):
    import safetensors.torch

    from flashtrain.tasks.inference import load_task

    def rust_full_disk(*args, **kwargs):  # safetensors reports the OS error in its text only
        raise Exception('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space" })')

    monkeypatch.setattr(safetensors.torch, "save_model", rust_full_disk)
    with pytest.raises(OSError) as caught:
        load_task(tabular).save_pretrained(str(tmp_path / "folder"))
    assert_full_disk_named(caught.value, os.path.join(str(tmp_path / "folder"), "model.safetensors"))
