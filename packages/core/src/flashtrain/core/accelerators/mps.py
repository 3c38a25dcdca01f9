"""Apple silicon GPUs through torch.backends.mps."""

from __future__ import annotations

import torch

from flashtrain.core.accelerators.base import Accelerator


class MPSAccelerator(Accelerator):
    name = "mps"

    @staticmethod
    def is_available() -> bool:
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())

    @staticmethod
    def device_count() -> int:
        return 1 if MPSAccelerator.is_available() else 0

    def get_device(self, index: int) -> torch.device:
        return torch.device("mps", index)

    def unavailable_hint(self) -> str:
        return "MPS needs an Apple-silicon Mac with a torch build that supports it; use accelerator='cpu'"
