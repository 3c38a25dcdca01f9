"""One process on one device."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.strategies.base import Strategy


class SingleDeviceStrategy(Strategy):
    name = "single_device"

    def __init__(self, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self._device = torch.device(device)
        self._on_cpu = self._device.type == "cpu"  # asked every step; torch.device.type costs a string each time
        self._world_size = 1

    @property
    def root_device(self) -> torch.device:
        return self._device

    @property
    def world_size(self) -> int:
        """1. Assignable, as Lightning's attribute is: a test may pose as one rank of several processes."""
        return self._world_size

    @world_size.setter
    def world_size(self, size: int) -> None:
        self._world_size = size

    def move_batch(self, batch: Any) -> Any:
        if self._on_cpu:
            # Loader batches already live on the CPU; skipping the walk keeps the hot loop free of it.
            return batch
        return super().move_batch(batch)
