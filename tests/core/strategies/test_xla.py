"""The XLA strategy for real, on the CPU through PJRT (``nox -s xla`` installs torch + the matching torch_xla)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("PJRT_DEVICE", "CPU")
# The XLA device is set up before any backward pass: autograd sizes its device queues on the first one.
pytest.importorskip("torch_xla", reason="torch_xla is not installed; `nox -s xla` runs these tests").device()

from flashtrain.core import Trainer, seed_everything  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "core_custom_module.py"


def load_example():
    spec = importlib.util.spec_from_file_location("core_custom_module", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(accelerator: str, tmp_path: Path):
    example = load_example()
    seed_everything(0)
    data = example.DigitsDataModule(batch_size=64)
    model = example.DigitsClassifier(dropout=0.0)  # no dropout: the XLA device draws its own random numbers
    trainer = Trainer(
        accelerator=accelerator,
        max_epochs=2,
        default_root_dir=str(tmp_path / accelerator),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=data)
    tested = trainer.test(model, datamodule=data, verbose=False)[0]
    return trainer, {k: v.detach().cpu() for k, v in model.state_dict().items()}, tested


def test_xla_trains_the_core_example_like_the_cpu(tmp_path):
    cpu_trainer, cpu_weights, cpu_test = train("cpu", tmp_path)
    xla_trainer, xla_weights, xla_test = train("xla", tmp_path)
    assert xla_trainer.strategy.name == "xla" and xla_trainer.strategy.root_device.type == "xla"
    assert xla_trainer.global_step == cpu_trainer.global_step
    for name, value in cpu_weights.items():
        torch.testing.assert_close(xla_weights[name], value, atol=1e-4, rtol=1e-3)
    assert xla_test["test_acc"] == pytest.approx(cpu_test["test_acc"], abs=0.01)
    # The checkpoint holds CPU tensors: it loads without torch_xla's device.
    checkpoint = torch.load(xla_trainer.checkpoint_callback.best_model_path, map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in checkpoint["state_dict"].values())


def test_bf16_mixed_on_xla(tmp_path):
    example = load_example()
    seed_everything(0)
    trainer = Trainer(
        accelerator="xla",
        precision="bf16-mixed",
        max_steps=5,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = example.DigitsClassifier(dropout=0.0)
    trainer.fit(model, datamodule=example.DigitsDataModule(batch_size=64))
    assert trainer.global_step == 5
