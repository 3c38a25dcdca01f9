"""What ``Module.load_from_checkpoint`` reads, as in Lightning: a path or an open binary file; and a checkpoint dict
already in memory through ``module_from_checkpoint``, so a caller who has read the file once does not read it again."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
import torch

from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.checkpoint import CheckpointError, load_checkpoint, module_from_checkpoint
from tests.core.helpers import RegressionModule, loader, silent_trainer


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    checkpoint = ModelCheckpoint(dirpath=str(folder), save_last=True)
    model = RegressionModule(lr=0.02, dropout=0.1)
    silent_trainer(folder, max_epochs=1, callbacks=[checkpoint]).fit(model, loader(n=16))
    return checkpoint.last_model_path, model.eval()


def _same(restored, model):
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    assert not restored.training and restored.hparams.lr == 0.02
    assert torch.equal(restored(x), model(x))


def test_load_from_checkpoint_reads_an_open_file_and_a_bytes_buffer(saved):
    path, model = saved
    with open(path, "rb") as handle:
        _same(RegressionModule.load_from_checkpoint(handle), model)
    with open(path, "rb") as handle:
        buffer = io.BytesIO(handle.read())
    _same(RegressionModule.load_from_checkpoint(buffer, lr=0.02), model)


def test_module_from_checkpoint_rebuilds_from_a_dict_already_read(saved):
    path, model = saved
    checkpoint = load_checkpoint(path)
    _same(module_from_checkpoint(RegressionModule, checkpoint, source=path), model)
    assert module_from_checkpoint(RegressionModule, checkpoint, lr=0.5).hparams.lr == 0.5  # overrides win


def test_a_damaged_stream_and_a_dict_given_as_a_file_are_refused_with_the_way_out(saved):
    path, _ = saved
    with open(path, "rb") as handle:
        damaged = bytearray(handle.read())
    with zipfile.ZipFile(path) as archive:  # the first byte of the largest record's data (a tensor's storage)
        largest = max(archive.infolist(), key=lambda info: info.file_size)
    header = largest.header_offset
    name_length, extra_length = struct.unpack("<HH", damaged[header + 26 : header + 30])
    damaged[header + 30 + name_length + extra_length] ^= 0xFF  # one flipped byte: the CRC check must catch it
    with pytest.raises(CheckpointError, match="Cannot read checkpoint the BytesIO stream"):
        RegressionModule.load_from_checkpoint(io.BytesIO(bytes(damaged)))
    with pytest.raises(TypeError, match=r"open binary file object .* got dict.*module_from_checkpoint"):
        RegressionModule.load_from_checkpoint(load_checkpoint(path))
    with pytest.raises(TypeError, match=r"needs a checkpoint dict with a 'state_dict'.*load_from_checkpoint\(path\)"):
        module_from_checkpoint(RegressionModule, {"weights": 1})
