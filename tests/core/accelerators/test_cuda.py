"""CUDA paths: device transfer, 16-mixed with gradient scaling, bf16-mixed. Skipped where no GPU is visible
(CI has none); run them on a GPU machine with `python -m pytest tests/core/accelerators/test_cuda.py`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Module
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.checkpoint import load_checkpoint
from tests.core.helpers import loader, quiet_trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


class SmallCNN(Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 1)
        )
        self.seen = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x.reshape(-1, 1, 8, 1).expand(-1, 1, 8, 8))
        self.seen.append((x.device.type, out.dtype))
        return F.mse_loss(out.float(), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.parametrize(
    ("precision", "dtype"), [("32-true", torch.float32), ("16-mixed", torch.float16), ("bf16-mixed", torch.bfloat16)]
)
def test_cuda_training_in_each_precision(tmp_path, precision, dtype):
    model = SmallCNN()
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    trainer = quiet_trainer(
        accelerator="gpu",
        devices=1,
        precision=precision,
        max_epochs=1,
        enable_checkpointing=True,
        callbacks=[checkpoint],
    )
    trainer.fit(model, loader())
    assert set(model.seen) == {("cuda", dtype)}
    assert next(model.parameters()).device.type == "cuda"
    saved = load_checkpoint(checkpoint.last_model_path)
    if precision == "16-mixed":
        assert saved["precision"]["scaler"]["scale"] > 0  # the grad scaler's state is checkpointed
    else:
        assert saved["precision"] == {}
