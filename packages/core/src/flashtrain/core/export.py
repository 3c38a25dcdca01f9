"""Exporting a module to TorchScript or ONNX (``Module.to_torchscript`` / ``Module.to_onnx``).

Both export in eval mode and put the module back in the mode it was in. The example input is the one
passed in, else the module's ``example_input_array``; it is moved to the module's device first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

from flashtrain.core.utilities import disk
from flashtrain.core.utilities.apply import apply_to_tensors


def _example_input(module: torch.nn.Module, given: Any, what: str) -> Any:
    sample = given if given is not None else getattr(module, "example_input_array", None)
    if sample is None:
        raise ValueError(
            f"Could not export {type(module).__name__} to {what}: pass an example input "
            f"({'input_sample' if what == 'ONNX' else 'example_inputs'}=...) or set model.example_input_array."
        )
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    return apply_to_tensors(sample, lambda tensor: tensor.to(device))


def to_torchscript(
    module: torch.nn.Module,
    file_path: str | os.PathLike | None = None,
    method: str = "script",
    example_inputs: Any = None,
    **kwargs: Any,
) -> Any:
    """``torch.jit.script`` (default) or ``torch.jit.trace`` the module; saved to ``file_path`` when given.

    Raises:
        ValueError: If ``method`` is neither "script" nor "trace", or tracing has no example input.
    """
    if method not in ("script", "trace"):
        raise ValueError(f"to_torchscript: method must be 'script' or 'trace', got {method!r}.")
    training = module.training
    module.eval()
    try:
        with jit_reading(module):
            if method == "script":
                exported = torch.jit.script(module, **kwargs)
            else:
                exported = torch.jit.trace(
                    module, example_inputs=_example_input(module, example_inputs, "TorchScript"), **kwargs
                )
    finally:
        module.train(training)
    if file_path is not None:
        with disk.writing(os.fspath(file_path)):
            torch.jit.save(exported, os.fspath(file_path))
    return exported


def to_onnx(module: torch.nn.Module, file_path: str | os.PathLike, input_sample: Any = None, **kwargs: Any) -> Any:
    """``torch.onnx.export`` the module to ``file_path`` with ``input_sample`` (or ``example_input_array``).

    Raises:
        ValueError: If there is no example input.
    """
    sample = _example_input(module, input_sample, "ONNX")
    training = module.training
    module.eval()
    try:
        with disk.writing(os.fspath(file_path)):
            return torch.onnx.export(module, sample, os.fspath(file_path), **kwargs)
    finally:
        module.train(training)


@contextlib.contextmanager
def jit_reading(module: torch.nn.Module) -> Iterator[None]:
    """While torch.jit scripts or traces ``module`` (reading every attribute), a Module outside a run answers
    ``trainer`` with None instead of its "not attached" error."""
    module.__dict__["_jit_is_scripting"] = True
    try:
        yield
    finally:
        module.__dict__.pop("_jit_is_scripting", None)
