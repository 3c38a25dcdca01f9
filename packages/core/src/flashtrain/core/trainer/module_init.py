"""``trainer.init_module()``: build a model's tensors where and how the run will hold them (Lightning's name).

Parameters created inside are made on the strategy's device, in the dtype of a "true" precision (float64 for
"64-true"), so a large model is never first built on the CPU in float32 and then copied. ``empty_init=True`` also
skips ``torch.nn.init`` initialisation, for weights a checkpoint will overwrite anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

# Precisions that store parameters in another dtype than float32; mixed ones keep float32 weights.
_PARAMETER_DTYPES = {"64-true": torch.float64}


class _SkipInit(TorchFunctionMode):
    """Turns ``torch.nn.init.*`` calls into no-ops: the tensors keep whatever memory they were given."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if getattr(func, "__module__", None) == "torch.nn.init":
            return kwargs.get("tensor") if kwargs and "tensor" in kwargs else args[0]
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def module_init_context(strategy: Any, empty_init: bool | None = None) -> Iterator[None]:
    """Create tensors on ``strategy.root_device`` in the precision's parameter dtype (see the module docstring)."""
    dtype = _PARAMETER_DTYPES.get(strategy.precision.precision)
    previous = torch.get_default_dtype()
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.device(strategy.root_device))
        if empty_init:
            stack.enter_context(_SkipInit())
        if dtype is not None:
            torch.set_default_dtype(dtype)
            stack.callback(torch.set_default_dtype, previous)
        yield
