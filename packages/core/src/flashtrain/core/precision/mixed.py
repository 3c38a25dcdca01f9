"""Automatic mixed precision: autocast, plus gradient scaling for float16."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from flashtrain.core.precision.base import Precision


class MixedPrecision(Precision):
    """``"bf16-mixed"`` (autocast to bfloat16) or ``"16-mixed"`` (autocast to float16 with a GradScaler)."""

    def __init__(self, name: str, device_type: str) -> None:
        self.precision = name
        self.device = device_type  # the autocast device type, Lightning's `device`
        self.dtype = torch.bfloat16 if name == "bf16-mixed" else torch.float16
        # float16 gradients underflow without scaling; bfloat16 has float32's range and needs none.
        self.scaler = torch.amp.GradScaler(device_type) if name == "16-mixed" else None

    def forward_context(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device, dtype=self.dtype)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if self.scaler is None:
            loss.backward(*args, **kwargs)
        else:
            self.scaler.scale(loss).backward(*args, **kwargs)

    def unscale_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def optimizer_step(self, optimizer: torch.optim.Optimizer, closure: Any = None, **kwargs: Any) -> Any:
        if self.scaler is None:
            return super().optimizer_step(optimizer, closure, **kwargs)
        # GradScaler cannot re-evaluate a closure: run it once (forward, backward, clipping) before stepping.
        if closure is not None and closure() is None:
            return None  # training_step returned None: nothing to step
        # GradScaler.step skips the update when gradients overflowed, then update() shrinks the scale.
        result = self.scaler.step(optimizer, **kwargs)
        self.scaler.update()
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
