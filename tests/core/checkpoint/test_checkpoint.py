"""The checkpoint file: what it holds, atomic writes, safe loading, and clear errors for bad files."""

from __future__ import annotations

import errno
import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import zipfile

import pytest
import torch

from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint
from flashtrain.core.checkpoint.io import save_checkpoint_file
from tests.core.helpers import RegressionModule, loader, quiet_trainer, silent_trainer


def trained(tmp_path, **kwargs):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), save_last=True, **kwargs)
    trainer = silent_trainer(tmp_path, max_epochs=2, callbacks=[checkpoint])
    model = RegressionModule(lr=0.02, dropout=0.1)
    trainer.fit(model, loader(), loader(n=16))
    return trainer, model, checkpoint


def test_every_written_checkpoint_loads_with_weights_only_and_holds_the_documented_keys(tmp_path):
    trainer, model, checkpoint = trained(tmp_path, save_top_k=-1)
    files = sorted(os.listdir(tmp_path / "ckpts"))
    assert files == ["epoch=0-step=8.ckpt", "epoch=1-step=16.ckpt", "last.ckpt"]
    for name in files:
        raw = torch.load(tmp_path / "ckpts" / name, weights_only=True)
        assert {
            "format_version",
            "state_dict",
            "optimizer_states",
            "lr_schedulers",
            "precision",
            "epoch",
            "global_step",
            "loop",
            "rng",
            "callbacks",
            "hyper_parameters",
            "flashtrain_version",
        } <= set(raw)
        assert raw["format_version"] == FORMAT_VERSION
    last = torch.load(tmp_path / "ckpts" / "last.ckpt", weights_only=True)
    assert last["hyper_parameters"] == {"lr": 0.02, "dropout": 0.1, "optimizer": "adam"}
    assert (last["epoch"], last["global_step"], last["loop"]["epoch_finished"]) == (1, 16, True)
    assert torch.equal(last["state_dict"]["net.layers.0.weight"], model.net.layers[0].weight)
    assert not [f for f in os.listdir(tmp_path / "ckpts") if f.startswith(".tmp")]  # no temp files left


def test_load_from_checkpoint_rebuilds_the_module_with_overrides(tmp_path):
    _, model, checkpoint = trained(tmp_path)
    restored = RegressionModule.load_from_checkpoint(checkpoint.best_model_path)
    assert restored.hparams.lr == 0.02 and not restored.training
    x = torch.randn(5, 8)
    model.eval()
    assert torch.equal(restored(x), model(x))
    overridden = RegressionModule.load_from_checkpoint(checkpoint.best_model_path, lr=0.5)
    assert overridden.hparams.lr == 0.5


def test_weights_only_checkpoint_is_small_and_cannot_resume(tmp_path):
    trainer, model, _ = trained(tmp_path)
    trainer.save_checkpoint(str(tmp_path / "weights.ckpt"), weights_only=True)
    saved = load_checkpoint(str(tmp_path / "weights.ckpt"))
    assert "optimizer_states" not in saved and "state_dict" in saved
    with pytest.raises(ValueError, match="holds weights only .* cannot resume training"):
        quiet_trainer(max_epochs=3).fit(RegressionModule(), loader(), ckpt_path=str(tmp_path / "weights.ckpt"))


def test_validate_and_test_with_ckpt_path_best(tmp_path):
    trainer, _, checkpoint = trained(tmp_path, monitor="val_loss")
    (result,) = trainer.validate(ckpt_path="best", dataloaders=loader(n=16), verbose=False)
    assert result["val_loss"] == pytest.approx(float(checkpoint.best_model_score), rel=1e-5)
    with pytest.raises(ValueError, match=r'ckpt_path="best"\)` is set but `ModelCheckpoint` is not configured'):
        quiet_trainer().test(RegressionModule(), loader(), ckpt_path="best")


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_carrying_pickled_code_is_refused_not_run(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": RegressionModule().state_dict(), "format_version": 1, "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="contains pickled Python objects.*could run arbitrary code"):
        RegressionModule.load_from_checkpoint(str(path))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "truncated or corrupt"),
        (b"PK\x03\x04 not really a zip", "truncated or corrupt"),
    ],
)
def test_truncated_files_are_explained(tmp_path, content, match):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(str(path))


def test_a_cut_off_real_checkpoint_is_explained(tmp_path):
    _, _, checkpoint = trained(tmp_path)
    with open(checkpoint.last_model_path, "rb") as handle:
        data = handle.read()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.ckpt: the file is truncated or corrupt.*earlier checkpoint"):
        load_checkpoint(str(cut))


def test_not_a_flashtrain_checkpoint(tmp_path):
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"not a flashtrain checkpoint: expected a dict with 'state_dict'"):
        load_checkpoint(str(tmp_path / "other.pt"))
    with pytest.raises(FileNotFoundError, match="Checkpoint file not found"):
        load_checkpoint(str(tmp_path / "missing.ckpt"))


def test_a_newer_format_asks_for_an_upgrade(tmp_path):
    torch.save({"state_dict": {}, "format_version": FORMAT_VERSION + 1}, tmp_path / "future.ckpt")
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1}, newer than .* Upgrade flashtrain"):
        load_checkpoint(str(tmp_path / "future.ckpt"))


def test_unsafe_hyperparameters_are_left_out_with_a_warning(tmp_path):
    class WithModule(RegressionModule):
        def __init__(self, encoder=None, lr=0.05, optimizer="adam"):
            super().__init__(lr=lr)
            self.save_hyperparameters()  # adds to the parent's record (dropout stays), as in Lightning 2

    trainer = quiet_trainer(max_steps=1)
    with pytest.warns(UserWarning, match="'encoder' is an instance of `nn.Module` and is already saved"):
        model = WithModule(encoder=torch.nn.Linear(1, 1))
    trainer.fit(model, loader())
    with pytest.warns(UserWarning, match=r"Hyper-parameter 'encoder' \(Linear\) is not saved"):
        trainer.save_checkpoint(str(tmp_path / "m.ckpt"))
    saved = load_checkpoint(str(tmp_path / "m.ckpt"))["hyper_parameters"]
    assert saved == {"lr": 0.05, "dropout": 0.2, "optimizer": "adam"}


@pytest.mark.slow
def test_a_crash_inside_a_checkpoint_write_leaves_the_previous_file_loadable(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = os.path.join(os.path.dirname(__file__), "crash_worker.py")
    result = subprocess.run(
        [sys.executable, worker, str(tmp_path), "5"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    last = load_checkpoint(str(tmp_path / "ckpts" / "last.ckpt"))
    assert last["global_step"] == 4  # the write of step 5 died; step 4's file is intact
    leftovers = [f for f in os.listdir(tmp_path / "ckpts") if f.startswith(".tmp")]
    assert leftovers  # the torn temporary file is what died, not last.ckpt
    # and training resumes from it
    trainer = quiet_trainer(
        max_epochs=2,
        enable_checkpointing=True,
        default_root_dir=str(tmp_path),
        callbacks=[ModelCheckpoint(dirpath=str(tmp_path / "ckpts"))],
    )
    trainer.fit(RegressionModule(), loader(), ckpt_path="last")
    assert trainer.global_step == 16


def test_pickle_module_is_not_needed_to_read_rng_state(tmp_path):
    """RNG states are stored as tensors and lists, never as pickled objects."""
    _, _, checkpoint = trained(tmp_path)
    rng = torch.load(checkpoint.last_model_path, weights_only=True)["rng"]
    assert isinstance(rng["torch"], torch.Tensor) and isinstance(rng["numpy"][1], torch.Tensor)
    assert pickle.dumps(rng)  # plain data


def test_datamodule_state_travels_in_the_checkpoint(tmp_path):
    from flashtrain.core import DataModule

    class WithVocabulary(DataModule):
        def __init__(self):
            super().__init__()
            self.vocabulary = None

        def setup(self, stage):
            if self.vocabulary is None:
                self.vocabulary = ["cat", "dog"] if stage == "fit" else None

        def train_dataloader(self):
            return loader()

        def state_dict(self):
            return {"vocabulary": self.vocabulary}

        def load_state_dict(self, state_dict):
            self.vocabulary = state_dict["vocabulary"]

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    quiet_trainer(max_epochs=1, enable_checkpointing=True, callbacks=[checkpoint]).fit(
        RegressionModule(), datamodule=WithVocabulary()
    )
    assert load_checkpoint(checkpoint.last_model_path)["datamodule"] == {"vocabulary": ["cat", "dog"]}
    restored = WithVocabulary()
    restored.vocabulary = []
    quiet_trainer(max_epochs=2, enable_checkpointing=True, callbacks=[ModelCheckpoint(dirpath=str(tmp_path))]).fit(
        RegressionModule(), datamodule=restored, ckpt_path="last"
    )
    assert restored.vocabulary == ["cat", "dog"]


def test_checkpoints_get_the_permissions_of_other_new_files(tmp_path):
    previous = os.umask(0o022)
    try:
        _, _, checkpoint = trained(tmp_path)
    finally:
        os.umask(previous)
    # mkstemp alone would leave 0600: unreadable for the rest of the group that shares the run folder.
    assert stat.S_IMODE(os.stat(checkpoint.last_model_path).st_mode) == 0o644


def _damage_first_tensor(source: str, target) -> None:
    with zipfile.ZipFile(source) as archive:
        member = next(info for info in archive.infolist() if "/data/" in info.filename and info.file_size > 0)
    with open(source, "rb") as handle:
        data = bytearray(handle.read())
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26 : member.header_offset + 30])
    start = member.header_offset + 30 + name_length + extra_length
    data[start] ^= 0xFF
    target.write_bytes(bytes(data))


def test_damaged_bytes_and_text_files_are_refused_not_loaded(tmp_path):
    _, _, checkpoint = trained(tmp_path)
    _damage_first_tensor(checkpoint.last_model_path, tmp_path / "damaged.ckpt")
    with pytest.raises(CheckpointError, match=r"damaged.ckpt: the file is corrupt, its bytes are damaged"):
        load_checkpoint(str(tmp_path / "damaged.ckpt"))
    (tmp_path / "notes.ckpt").write_text("epoch 3: accuracy 0.91\n")
    with pytest.raises(CheckpointError, match=r"notes.ckpt: .*not a checkpoint at all \(torch.save writes a zip"):
        load_checkpoint(str(tmp_path / "notes.ckpt"))


def test_a_full_disk_is_reported_as_such_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:671] . PytorchStreamWriter failed writing file data/0: file write "
            "failed"
        )

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match=r"no space left on the device to write .*a\.ckpt \(\d+ MiB free") as info:
        save_checkpoint_file({"state_dict": {}}, str(tmp_path / "a.ckpt"))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "a.ckpt")
    assert os.listdir(tmp_path) == []


def test_resuming_a_checkpoint_past_max_epochs_is_refused(tmp_path):
    from flashtrain.core.exceptions import MisconfigurationException

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path))
    quiet_trainer(max_epochs=3, callbacks=[checkpoint], enable_checkpointing=True).fit(RegressionModule(), loader())
    with pytest.raises(MisconfigurationException, match=r"current_epoch=3, but you have set Trainer\(max_epochs=2\)"):
        quiet_trainer(max_epochs=2).fit(
            RegressionModule(), loader(), ckpt_path=checkpoint.last_model_path or checkpoint.best_model_path
        )
