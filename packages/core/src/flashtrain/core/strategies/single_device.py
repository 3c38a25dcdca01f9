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

    @property
    def root_device(self) -> torch.device:
        return self._device

    def move_batch(self, batch: Any) -> Any:
        if self._on_cpu:
            # Loader batches already live on the CPU; skipping the walk keeps the hot loop free of it.
            return batch
        return super().move_batch(batch)
