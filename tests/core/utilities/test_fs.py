"""default_root_dir, checkpoints and logs on fsspec URLs: fsspec's in-memory filesystem stands in for s3:// and the
like; file:// URLs are plain local folders."""

from __future__ import annotations

import csv
import importlib.util
import io
import os

import pytest
import torch

from flashtrain.core import Callback, Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.checkpoint import load_checkpoint
from flashtrain.core.loggers import CSVLogger
from tests.core.helpers import RegressionModule, loader

fsspec = pytest.importorskip("fsspec")


@pytest.fixture
def memory_root(tmp_path):
    """A fresh folder of the process-wide memory filesystem, removed afterwards."""
    memory = fsspec.filesystem("memory")
    folder = f"/{tmp_path.name}"
    yield memory, f"memory://{tmp_path.name}"
    if memory.exists(folder):
        memory.rm(folder, recursive=True)


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("interrupted")


def run(root, stop_at=None, ckpt_path=None, max_epochs=3, logger=None):
    seed_everything(0)
    model = RegressionModule()
    callbacks = [ModelCheckpoint(every_n_train_steps=1, save_last=True, save_top_k=0)]
    if stop_at is not None:
        callbacks.insert(0, StopAt(stop_at))
    trainer = Trainer(
        default_root_dir=root,
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=logger,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader(32, shuffle=True), loader(16), ckpt_path=ckpt_path)
    return model, trainer


def test_a_run_on_a_memory_url_writes_there_and_resumes_exactly(memory_root, tmp_path):
    memory, root = memory_root
    full, _ = run(str(tmp_path / "local"))
    warning = rf"TensorBoard cannot write to {root}/lightning_logs/version_0 directly"
    with pytest.warns(UserWarning, match=warning), pytest.raises(RuntimeError, match="interrupted"):
        run(root, stop_at=7)
    inner = f"/{tmp_path.name}/lightning_logs/version_0"
    assert load_checkpoint(f"{root}/lightning_logs/version_0/checkpoints/last.ckpt")["global_step"] == 6
    with pytest.warns(UserWarning, match="TensorBoard cannot write"):
        resumed, trainer = run(root, ckpt_path="last")

    for key, value in full.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert trainer.log_dir == f"{root}/lightning_logs/version_0"
    assert memory.ls(f"/{tmp_path.name}/lightning_logs", detail=False) == [inner]  # the resumed run kept its folder
    assert memory.exists(f"{inner}/hparams.yaml")
    # Only last.ckpt (save_top_k=0); no temporary file left behind by the write-then-move.
    assert memory.ls(f"{inner}/checkpoints", detail=False) == [f"{inner}/checkpoints/last.ckpt"]
    assert not os.path.exists(tmp_path / "memory:")  # nothing went to a local folder named after the URL

    # The event files of both runs were copied next to the checkpoints, and TensorBoard reads them.
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    events = sorted(memory.glob(f"{inner}/events.out.tfevents.*"))
    assert len(events) == 2
    steps = []
    for index, path in enumerate(events):
        local = str(tmp_path / f"events.{index}")
        memory.get_file(path, local)
        steps.append(
            [e.step for e in EventFileLoader(local).Load() if any(v.tag == "train_loss_step" for v in e.summary.value)]
        )
    assert steps[0] == [0, 1, 2, 3, 4, 5]  # the interrupted run's six steps
    assert len(steps[1]) == 6 and steps[1] == sorted(steps[1])  # the resumed run's six


def test_csv_logs_on_a_memory_url_are_rewritten_whole_and_continue_on_resume(memory_root):
    memory, root = memory_root
    with pytest.raises(RuntimeError, match="interrupted"):
        run(root, stop_at=5, logger=CSVLogger(save_dir=root))
    run(root, ckpt_path="last", logger=CSVLogger(save_dir=root))
    with memory.open(f"{root[len('memory://') - 1 :]}/lightning_logs/version_0/metrics.csv", "rb") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    train_steps = [int(row["step"]) for row in rows if row.get("train_loss_step")]
    # The interrupted run's 4 steps were saved when it ended, and the resumed run's 8 were added to the same file.
    assert train_steps[:4] == [0, 1, 2, 3] and len(train_steps) == 12
    # Every epoch validated (epoch 0's twice: its last step's checkpoint came before its validation).
    assert {row["epoch"] for row in rows if row.get("val_loss")} == {"0.0", "1.0", "2.0"}


def test_file_urls_are_local_folders(tmp_path):
    _, trainer = run(f"file://{tmp_path}/run", max_epochs=1)
    last = tmp_path / "run" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert last.exists()
    assert load_checkpoint(f"file://{last}")["global_step"] == 4


def test_a_missing_checkpoint_on_a_url_is_named(memory_root):
    _, root = memory_root
    with pytest.raises(FileNotFoundError, match=f"Checkpoint file not found: {root}/nothing.ckpt"):
        load_checkpoint(f"{root}/nothing.ckpt")


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs installed: would reach the network")
def test_a_url_whose_filesystem_is_not_installed_says_what_to_install():
    with pytest.raises(ImportError, match="s3fs"):
        run("s3://bucket/runs", max_epochs=1)
