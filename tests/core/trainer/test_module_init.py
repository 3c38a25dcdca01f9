"""``trainer.init_module()`` builds tensors on the run's device, in the precision's dtype, optionally uninitialised."""

from __future__ import annotations

import torch

from flashtrain.core import Trainer


def test_tensors_built_inside_take_the_precision_dtype_and_the_old_default_comes_back():
    with Trainer(accelerator="cpu", precision="64-true", logger=False).init_module():
        layer = torch.nn.Linear(2, 2)
    assert layer.weight.dtype == torch.float64 and layer.weight.device.type == "cpu"
    assert torch.get_default_dtype() == torch.float32
    with Trainer(accelerator="cpu", logger=False).init_module():
        assert torch.nn.Linear(2, 2).weight.dtype == torch.float32


def test_empty_init_skips_the_initialisers():
    with Trainer(accelerator="cpu", logger=False).init_module(empty_init=True):
        weight = torch.nn.init.constant_(torch.zeros(3), 5.0)
    assert torch.equal(weight, torch.zeros(3))  # untouched
    with Trainer(accelerator="cpu", logger=False).init_module():
        weight = torch.nn.init.constant_(torch.zeros(3), 5.0)
    assert torch.equal(weight, torch.full((3,), 5.0))
