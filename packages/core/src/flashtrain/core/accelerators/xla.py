"""TPUs (and XLA on CPU with PJRT_DEVICE=CPU) through torch_xla, imported only when used."""

from __future__ import annotations

import importlib.util

import torch

from flashtrain.core.accelerators.base import Accelerator


class XLAAccelerator(Accelerator):
    name = "xla"

    @staticmethod
    def is_available() -> bool:
        return importlib.util.find_spec("torch_xla") is not None

    @staticmethod
    def device_count() -> int:
        if not XLAAccelerator.is_available():
            return 0
        import torch_xla.runtime as xr

        return xr.addressable_runtime_device_count()

    def get_device(self, index: int) -> torch.device:
        import torch_xla

        return torch_xla.device()

    def unavailable_hint(self) -> str:
        return (
            "torch_xla is not installed; install the torch_xla release that matches your torch (pip install torch_xla)"
        )

    @property
    def autocast_device_type(self) -> str:
        return "xla"
