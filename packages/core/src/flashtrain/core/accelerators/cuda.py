"""NVIDIA GPUs through torch.cuda."""

from __future__ import annotations

import torch

from flashtrain.core.accelerators.base import Accelerator


class CUDAAccelerator(Accelerator):
    name = "cuda"

    @staticmethod
    def is_available() -> bool:
        return torch.cuda.is_available()

    @staticmethod
    def device_count() -> int:
        return torch.cuda.device_count()

    def get_device(self, index: int) -> torch.device:
        return torch.device("cuda", index)

    def setup_device(self, device: torch.device) -> None:
        torch.cuda.set_device(device)

    def unavailable_hint(self) -> str:
        return "no CUDA GPU is visible to torch here (torch.cuda.is_available() is False); use accelerator='cpu'"
