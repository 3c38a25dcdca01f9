"""Exporting a module to TorchScript, ONNX or TensorRT (``Module.to_torchscript`` / ``to_onnx`` / ``to_tensorrt``).

Both export in eval mode and put the module back in the mode it was in. The example input is the one
passed in, else the module's ``example_input_array``; it is moved to the module's device first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, Any

import torch

from flashtrain.core.utilities import disk, fs
from flashtrain.core.utilities.apply import apply_to_tensors


def _example_input(module: torch.nn.Module, given: Any, what: str) -> Any:
    sample = given if given is not None else getattr(module, "example_input_array", None)
    if sample is None:
        if what in ("ONNX", "TensorRT"):
            raise ValueError(
                f"Could not export to {what} since neither `input_sample` nor `model.example_input_array` attribute "
                f"is set: pass input_sample=... or set {type(module).__name__}.example_input_array."
            )
        raise ValueError(
            f"Could not export {type(module).__name__} to TorchScript: method='trace' requires either "
            "`example_inputs` or `model.example_input_array` to be set."
        )
    return _on_device(module, sample)


def _on_device(module: torch.nn.Module, sample: Any) -> Any:
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    return apply_to_tensors(sample, lambda tensor: tensor.to(device))


def scriptable_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A shallow copy of ``module`` whose ``trainer`` property answers None: what ``torch.jit.script`` compiles.

    ``torch.jit.script`` reads every attribute of the module's class while compiling (inherited properties too,
    whatever ``__jit_unused_properties__`` says), and a detached Module's ``trainer`` raises. Scripting a copy
    (same parameters and buffers, its own submodule table, which torch rewrites in place) leaves the user's
    module untouched, so a plain ``torch.jit.script(task)`` works without any flag to set and reset.
    """
    import copy

    clone = copy.copy(module)
    clone.__dict__["_modules"] = dict(module.__dict__["_modules"])
    clone.__dict__["_jit_is_scripting"] = True
    return clone


def to_torchscript(
    module: torch.nn.Module,
    file_path: str | os.PathLike | None = None,
    method: str = "script",
    example_inputs: Any = None,
    **kwargs: Any,
) -> Any:
    """``torch.jit.script`` (default) or ``torch.jit.trace`` the module; saved to ``file_path`` when given.

    Deprecated as Lightning 2.6.5 deprecates ``LightningModule.to_torchscript`` (and torch ``torch.jit``): it warns
    with :class:`~flashtrain.core.exceptions.LightningDeprecationWarning` and still exports.

    Raises:
        ValueError: If ``method`` is neither "script" nor "trace", or tracing has no example input.
    """
    import warnings

    from flashtrain.core.exceptions import LightningDeprecationWarning

    warnings.warn(
        "`to_torchscript` follows Lightning's `LightningModule.to_torchscript`, which has been deprecated in v2.7 "
        "and will be removed in v2.8. TorchScript is deprecated in PyTorch. Use `torch.export.export()` for model "
        "exporting instead. See https://pytorch.org/docs/stable/export.html for more information.",
        LightningDeprecationWarning,
        stacklevel=3,
    )
    if method not in ("script", "trace"):
        raise ValueError(f"to_torchscript: the method only supports 'script' or 'trace', got {method!r}.")
    training = module.training
    module.eval()
    try:
        with jit_reading(module), torch.no_grad():
            if method == "script":
                exported = torch.jit.script(module, **kwargs)
            else:
                if kwargs.get("check_inputs") is not None:
                    kwargs["check_inputs"] = _on_device(module, kwargs["check_inputs"])
                exported = torch.jit.trace(
                    module, example_inputs=_example_input(module, example_inputs, "TorchScript"), **kwargs
                )
    finally:
        module.train(training)
    if file_path is not None:
        path = os.fspath(file_path)
        with disk.writing(path), fs.open_file(path, "wb") as stream:
            torch.jit.save(exported, stream)
    return exported


def to_onnx(
    module: torch.nn.Module,
    file_path: str | os.PathLike | IO[bytes] | None = None,
    input_sample: Any = None,
    **kwargs: Any,
) -> Any:
    """``torch.onnx.export`` the module with ``input_sample`` (or ``example_input_array``).

    ``file_path`` may be a path, a binary stream (``BytesIO``) or None (with ``dynamo=True``: the returned
    ``ONNXProgram`` only). Returns what ``torch.onnx.export`` returns.

    Raises:
        ValueError: If there is no example input.
    """
    sample = _example_input(module, input_sample, "ONNX")
    training = module.training
    module.eval()
    try:
        if file_path is None or not isinstance(file_path, (str, os.PathLike)):
            with torch.no_grad():  # torch declares paths only; its exporter writes to a stream as well
                return torch.onnx.export(module, sample, file_path, **kwargs)  # type: ignore[arg-type]
        with disk.writing(os.fspath(file_path)), torch.no_grad():
            return torch.onnx.export(module, sample, os.fspath(file_path), **kwargs)
    finally:
        module.train(training)


def to_tensorrt(
    module: torch.nn.Module,
    file_path: str | os.PathLike | None = None,
    input_sample: Any = None,
    ir: str = "default",
    output_format: str = "exported_program",
    retrace: bool = False,
    default_device: str | torch.device = "cuda",
    **compile_kwargs: Any,
) -> Any:
    """Compile the module with TensorRT (``torch_tensorrt.compile``, on a CUDA device) and save it to ``file_path``.

    A module outside CUDA is compiled on ``default_device`` and moved back after; its train/eval mode is restored.
    ``ir="ts"`` gives a TorchScript module (saved with ``torch.jit.save``, ``output_format="torchscript"`` only),
    other IRs are saved with ``torch_tensorrt.save`` in ``output_format``.

    Raises:
        ModuleNotFoundError: ``torch_tensorrt`` is not installed.
        MisconfigurationException: No CUDA device to compile on.
        ValueError: No example input, or ``ir="ts"`` with another output format.
    """
    import importlib.util

    from flashtrain.core.exceptions import MisconfigurationException

    if importlib.util.find_spec("torch_tensorrt") is None:
        raise ModuleNotFoundError(
            f"`{type(module).__name__}.to_tensorrt` requires `torch_tensorrt` to be installed. "
            "pip install torch-tensorrt (a CUDA build matching your torch)."
        )
    if ir == "ts" and file_path is not None and output_format != "torchscript":
        raise ValueError(
            f"TensorRT with IR mode 'ts' only supports output format 'torchscript'. The current output format is "
            f"{output_format}."
        )
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    target = device if device.type == "cuda" else torch.device(default_device)
    if target.type != "cuda" or not torch.cuda.is_available():
        raise MisconfigurationException(
            f"TensorRT only supports CUDA devices. The current device is {device}. Please set the `default_device` "
            "argument to a CUDA device."
        )
    import torch_tensorrt

    training = module.training
    module.to(target).eval()
    try:
        sample = _example_input(module, input_sample, "TensorRT")
        sample = (sample,) if isinstance(sample, torch.Tensor) else sample
        with jit_reading(module) if ir == "ts" else contextlib.nullcontext():
            compiled = torch_tensorrt.compile(module=module, ir=ir, inputs=sample, **compile_kwargs)
    finally:
        module.train(training)
        module.to(device)
    if file_path is not None:
        path = os.fspath(file_path)
        with disk.writing(path):
            if ir == "ts":
                torch.jit.save(compiled, path)
            else:
                torch_tensorrt.save(compiled, path, inputs=sample, output_format=output_format, retrace=retrace)
    return compiled


@contextlib.contextmanager
def jit_reading(module: torch.nn.Module) -> Iterator[None]:
    """While torch.jit scripts or traces ``module`` (reading every attribute), a Module outside a run answers
    ``trainer`` with None instead of its "not attached" error."""
    module.__dict__["_jit_is_scripting"] = True
    try:
        yield
    finally:
        module.__dict__.pop("_jit_is_scripting", None)
