"""The precision interface: how the forward runs, how backward and the optimizer step are done."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

# Entered once per step: one shared do-nothing context (reusable) instead of a new one each step.
_NO_CONTEXT = contextlib.nullcontext()


class Precision:
    """Full float32 precision ("32-true"): every hook is the plain PyTorch call."""

    precision = "32-true"  # Lightning's attribute name: the precision flag this plugin runs

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """Cast the module's parameters where the precision needs it."""
        return module

    def convert_input(self, batch: Any) -> Any:
        """Cast a batch where the precision needs it."""
        return batch

    def forward_context(self) -> contextlib.AbstractContextManager:
        """Context around every ``*_step`` call (autocast for mixed precision)."""
        return _NO_CONTEXT

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Backward pass for one loss; extra arguments go to ``Tensor.backward`` (e.g. ``retain_graph=True``)."""
        loss.backward(*args, **kwargs)

    def unscale_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring gradients to their true scale before clipping or inspection."""

    def optimizer_step(self, optimizer: torch.optim.Optimizer, closure: Any = None, **kwargs: Any) -> Any:
        """Step the optimizer (through the grad scaler when there is one); ``kwargs`` go to ``optimizer.step``."""
        return optimizer.step(closure=closure, **kwargs) if closure is not None else optimizer.step(**kwargs)

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (the grad scaler's)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
