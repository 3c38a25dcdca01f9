"""A full disk names the file and the free space on every write path of core: the helper itself, both loggers
(TensorBoard's event files are written by a thread of their own), hparams.yaml, best_k_models.yaml, the profiler's
report, and Module.to_onnx / to_torchscript. The low-level write is made to fail as a full disk does."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from flashtrain.core.utilities import disk, fs


def assert_full_disk_named(error: BaseException, path: str) -> None:
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC, repr(error)
    assert error.filename == path
    assert error.strerror.startswith(f"no space left on the device to write {path} (")
    assert "MiB free in " in error.strerror and error.strerror.endswith("free some space or write to another disk")


def test_the_helper_names_the_file_whatever_library_reported_the_full_disk(tmp_path):
    target = str(tmp_path / "out.bin")
    for raised in (
        OSError(errno.ENOSPC, "No space left on device"),  # write(): no file name
        OSError(errno.EDQUOT, "Disk quota exceeded", "/elsewhere/tmp"),
        RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0"),
        Exception('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space" })'),
    ):
        with pytest.raises(OSError) as caught, disk.writing(target):
            raise raised
        assert_full_disk_named(caught.value, target)
        assert caught.value.__cause__ is raised
    # A real full device: /dev/full refuses every write with ENOSPC.
    with pytest.raises(OSError) as caught, disk.writing(target), open("/dev/full", "w") as handle:
        handle.write("x")
    assert_full_disk_named(caught.value, target)
    # Other failures keep their kind; an OSError without a file name gets one; unrelated errors pass untouched.
    with pytest.raises(OSError, match="Input/output error") as caught, disk.writing(target):
        raise OSError(errno.EIO, "Input/output error")
    assert caught.value.errno == errno.EIO and caught.value.filename == target
    with pytest.raises(RuntimeError, match="^shape mismatch$"), disk.writing(target):
        raise RuntimeError("shape mismatch")


@pytest.fixture
def full_disk_for_writes(monkeypatch):
    """``fs.open_file`` (every local or URL write of the loggers and callbacks) opens /dev/full for writing."""
    real = fs.open_file

    def open_file(path, mode="r", **kwargs):
        return real("/dev/full", mode, **kwargs) if any(flag in mode for flag in "wax") else real(path, mode, **kwargs)

    monkeypatch.setattr(fs, "open_file", open_file)


def test_csv_logger_metrics_and_hparams_name_the_file(tmp_path, full_disk_for_writes):
    from flashtrain.core.loggers import CSVLogger

    logger = CSVLogger(str(tmp_path), name="run", version=0)
    logger.log_metrics({"loss": 1.0}, step=0)
    with pytest.raises(OSError) as caught:
        logger.save()
    assert_full_disk_named(caught.value, logger.metrics_file)
    with pytest.raises(OSError) as caught:
        logger.log_hyperparams({"lr": 0.1})
    assert_full_disk_named(caught.value, os.path.join(logger.log_dir, "hparams.yaml"))


def test_model_checkpoint_best_k_yaml_names_the_file(tmp_path, full_disk_for_writes):
    from flashtrain.core.callbacks import ModelCheckpoint

    callback = ModelCheckpoint(dirpath=str(tmp_path))
    with pytest.raises(OSError) as caught:
        callback.to_yaml()
    assert_full_disk_named(caught.value, os.path.join(str(tmp_path), "best_k_models.yaml"))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's own report
def test_tensorboard_event_files_written_by_its_thread_name_the_folder(tmp_path, monkeypatch):
    from tensorboard.summary.writer import record_writer

    from flashtrain.core.loggers import TensorBoardLogger

    logger = TensorBoardLogger(str(tmp_path), name="run", version=0)
    logger.log_metrics({"loss": 1.0}, step=0)  # the writer and its event file exist
    logger.save()

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)
    logger.log_metrics({"loss": 0.5}, step=1)  # queued; the writer thread fails on it
    with pytest.raises(OSError) as caught:
        logger.save()
    assert_full_disk_named(caught.value, os.path.join(logger.log_dir, "events.out.tfevents.*"))
    with pytest.raises(OSError) as caught:  # closing still says it, and does not hang on the dead thread
        logger.finalize("failed")
    assert caught.value.errno == errno.ENOSPC


def test_profiler_report_names_the_file(tmp_path, monkeypatch):
    import builtins

    from flashtrain.core.profilers import SimpleProfiler

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, mode="r", *a, **k: real_open("/dev/full", mode, *a, **k))
    profiler = SimpleProfiler(dirpath=str(tmp_path), filename="perf")
    with profiler.profile("step"):
        pass
    with pytest.raises(OSError) as caught:
        profiler.describe()
    assert_full_disk_named(caught.value, os.path.join(str(tmp_path), "perf.txt"))


def test_module_exports_name_the_file(tmp_path, monkeypatch):
    from flashtrain.core import Module

    class Tiny(Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)
            self.example_input_array = torch.zeros(1, 2)

        def forward(self, x):
            return self.layer(x)

    def full_onnx(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_zip(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1024 vs 960")

    monkeypatch.setattr(torch.onnx, "export", full_onnx)
    monkeypatch.setattr(torch.jit, "save", full_zip)
    target = str(tmp_path / "tiny.onnx")
    with pytest.raises(OSError) as caught:
        Tiny().to_onnx(target)
    assert_full_disk_named(caught.value, target)
    with pytest.raises(OSError) as caught:
        Tiny().to_torchscript(str(tmp_path / "tiny.pt"), method="trace")
    assert_full_disk_named(caught.value, str(tmp_path / "tiny.pt"))


def test_sharded_fsdp_checkpoint_names_the_folder(tmp_path, monkeypatch):
    import types

    import torch.distributed.checkpoint as dcp

    from flashtrain.core.strategies.fsdp import save_sharded_checkpoint

    def full(*args, **kwargs):  # what a rank's failed shard write becomes inside DCP's CheckpointException
        raise RuntimeError("CheckpointException ranks:dict_keys([1]) ... OSError: [Errno 28] No space left on device")

    monkeypatch.setattr(dcp, "save", full)
    one_process = types.SimpleNamespace(is_global_zero=True, broadcast=lambda value: value, barrier=lambda: None)
    target = str(tmp_path / "epoch=0-step=1.ckpt")
    with pytest.raises(OSError) as caught:
        save_sharded_checkpoint(one_process, {"state_dict": {"w": torch.zeros(2)}}, target)
    assert_full_disk_named(caught.value, target)
    assert not os.path.exists(target)  # the previous checkpoint (none here) is never replaced by a partial folder
