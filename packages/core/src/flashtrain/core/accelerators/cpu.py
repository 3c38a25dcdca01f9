"""CPU: always there."""

from __future__ import annotations

import os

import torch

from flashtrain.core.accelerators.base import Accelerator


class CPUAccelerator(Accelerator):
    name = "cpu"

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        # devices=N on CPU means N processes (DDP); any N is allowed, like Lightning.
        return os.cpu_count() or 1

    def get_device(self, index: int) -> torch.device:
        return torch.device("cpu")
