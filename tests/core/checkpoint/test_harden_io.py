"""Faults on the checkpoint path: a full disk mid-write (torch's zip writer says only "enforce fail"), a FIFO."""

import errno
import os

import pytest
import torch

from flashtrain.core.checkpoint import io


def test_a_short_write_in_torchs_zip_writer_is_a_full_disk_naming_the_file(tmp_path, monkeypatch):
    def short_write(obj, stream):
        stream.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 960")

    monkeypatch.setattr(torch, "save", short_write)
    path = str(tmp_path / "last.ckpt")
    with pytest.raises(OSError) as raised:
        io.save_checkpoint_file({"state_dict": {}}, path)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == path
    assert "MiB free in" in raised.value.strerror and "enforce fail" not in raised.value.strerror
    assert os.listdir(tmp_path) == []  # the temporary file is gone


def test_a_fifo_or_folder_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.ckpt")
    with pytest.raises(ValueError, match=r"pipe.ckpt is not a regular file \(a FIFO, device or socket\)"):
        io.load_checkpoint(str(tmp_path / "pipe.ckpt"))
    with pytest.raises(ValueError, match=r"is not a regular file \(a folder\)"):
        io.load_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Checkpoint file not found"):
        io.load_checkpoint(str(tmp_path / "missing.ckpt"))


def test_a_folder_that_refuses_chmod_still_gets_the_checkpoint(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")  # an SMB/CIFS or FUSE mount

    monkeypatch.setattr(os, "chmod", refuse)
    path = str(tmp_path / "last.ckpt")
    io.save_checkpoint_file({"state_dict": {"w": torch.ones(2)}}, path)
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.ckpt"]  # no temporary file left beside it
