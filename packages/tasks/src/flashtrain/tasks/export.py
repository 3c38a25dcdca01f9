"""Export a task checkpoint to ONNX, TorchScript or a ``torch.export`` ExportedProgram, checked against PyTorch.

The export folder holds the model file and ``preprocessing.json`` (what to feed it and how to read its output);
a text export also holds the tokenizer (``tokenizer/``). What runs inside the graph is each task's to say, in its
own folder (``image/export.py``, ``text/export.py``, ``tabular/export.py``, named in the registry as
``export_graph``: a function of the task's Predictor returning an :class:`ExportGraph`); for the built-in tasks:

- image: pixels in [0, 1], shape (N, 3, S, S) -> logits. The normalisation (mean/std) is in the graph; decoding to
  RGB and resizing to S x S (antialiased bilinear) is written beside it, as it depends on the image library.
- text: the tokenizer's tensors (``input_ids``, ``attention_mask``, and ``token_type_ids`` where the model has
  them), shape (N, L), right-padded -> logits.
- tabular: ``categorical`` int64 (N, C) and ``numerical`` float32 (N, F) made by the fitted preprocessing stored in
  ``preprocessing.json`` -> logits, or for regressors values in the targets' original units.

Every export is run once on inputs of a batch size (and, for text, a length) other than the traced ones, with
onnxruntime for ONNX, and compared with the checkpoint's own PyTorch outputs; a difference over the tolerance is
an error, never a silently wrong file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from flashtrain.core.utilities.disk import writing
from flashtrain.tasks import registry
from flashtrain.tasks.export_preprocessing import holds_preprocessing, raw_export, reading_of
from flashtrain.tasks.inference import Predictor, predictor_for
from flashtrain.tasks.optional import require

FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt", "exported-program": "model.pt2"}


@dataclass
class ExportResult:
    """Where the export went and how closely it reproduced PyTorch's outputs on the check inputs."""

    folder: str
    model_file: str
    format: str
    max_abs_difference: float
    preprocessing_inside: bool = False


class TaskNetwork(torch.nn.Module):
    """``head(backbone(x))`` of a task, and for regressors the way back to the targets' units. Built from the
    task's parts, not the task itself: tracing walks every attribute, and a task's ``trainer`` raises outside fit."""

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head
        regression = hasattr(model, "to_original_units")
        self.register_buffer("scale", model.target_std.clone() if regression else torch.ones(1))
        self.register_buffer("shift", model.target_mean.clone() if regression else torch.zeros(1))
        self.regression = regression

    def forward(self, inputs: Any) -> torch.Tensor:
        outputs = self.head(self.backbone(inputs))
        return outputs * self.scale + self.shift if self.regression else outputs


@dataclass
class ExportGraph:
    """What a task's export graph builder (``TaskSpec.export_graph``, in the task's own folder, e.g.
    ``image/export.py``) returns for a predictor: the module to export, its inputs, and the reference it must match."""

    module: torch.nn.Module
    input_names: list[str]
    example: tuple[torch.Tensor, ...]  # traced with these
    check: tuple[torch.Tensor, ...]  # and checked on these (another batch size / length)
    dynamic: list[dict[int, str]]  # per input: dimension -> name of the dynamic size
    preprocessing: dict[str, Any]
    reference: Callable[..., torch.Tensor]  # the task's own predict path on the same inputs
    variadic: bool = False  # the module's forward takes ``*tensors`` (torch.export then wants them as one tuple)


def export(
    checkpoint: str,
    out: str,
    format: str = "onnx",
    atol: float = 1e-4,
    rtol: float = 1e-4,
    preprocessing: bool = True,
) -> ExportResult:
    """Export the model in ``checkpoint`` to the folder ``out`` and check it against the checkpoint's outputs.

    Args:
        checkpoint: A ``.ckpt`` written by a flashtrain task.
        out: The folder to write (created; files in it are replaced).
        format: ``"onnx"`` (checked with onnxruntime), ``"torchscript"`` or ``"exported-program"``.
        atol: Largest allowed absolute difference to PyTorch's outputs (plus ``rtol`` times their size).
        rtol: Relative part of the tolerance.
        preprocessing: Put the preprocessing inside the graph where the format can hold it (images: every format;
            tables: ONNX; see :mod:`flashtrain.tasks.export_preprocessing`), checked once more on raw inputs.
            False keeps the graph on prepared tensors.

    Returns:
        The folder, the model file, the format and the largest difference measured.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}. Allowed: {', '.join(FORMATS)}.")
    if format == "onnx":
        require("onnx", "export", "ONNX export")
        require("onnxscript", "export", "ONNX export")
        require("onnxruntime", "export", "checking an ONNX export")
    predictor = predictor_for(checkpoint)
    graph = registry.get(predictor.task_name).load("export_graph")(predictor)
    graph.module.eval()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, FORMATS[format])
    with torch.no_grad():
        with writing(path):
            run = _SAVERS[format](graph, path)
        expected = graph.reference(*graph.check)
        try:
            produced = run(graph.check)
        except Exception as error:  # e.g. a batch size baked into the graph
            raise RuntimeError(
                f"the {format} export of {checkpoint} fails on inputs of another batch size than the traced one: "
                f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
            ) from error
    difference = float((produced - expected).abs().max()) if expected.numel() else 0.0
    if not torch.allclose(produced, expected, atol=atol, rtol=rtol):
        raise RuntimeError(
            f"the {format} export of {checkpoint} does not reproduce the PyTorch outputs: largest difference "
            f"{difference:.3g} (allowed: atol={atol}, rtol={rtol}). The file is at {path}; do not use it."
        )
    raw = None
    if preprocessing and holds_preprocessing(predictor.task_name, format):
        with torch.no_grad(), writing(path):
            network: torch.nn.Module = getattr(graph.module, "network")  # noqa: B009 - every graph wraps one
            raw = raw_export(format, predictor, network, path, reading_of(predictor.model))
    predictor.save_preprocessing_files(out)
    _write_description(out, format, predictor, graph, raw)
    return ExportResult(out, path, format, difference, raw is not None)


def _write_description(out: str, format: str, predictor: Predictor, graph: ExportGraph, raw: dict | None) -> None:
    model = predictor.model
    regression = registry.get(predictor.task_name).kind == "regression"
    description = {
        "task": predictor.task_name,
        "format": format,
        "model_file": FORMATS[format],
        "inputs": [
            {"name": name, "dtype": str(tensor.dtype).removeprefix("torch."), "dynamic_axes": dynamic}
            for name, tensor, dynamic in zip(graph.input_names, graph.example, graph.dynamic)
        ],
        "output": "values in the targets' original units (N, targets)" if regression else "logits (N, classes)",
        "labels": list(getattr(model, "labels", [])) if not regression else [],
        "target_names": list(getattr(model, "target_names", [])) if regression else [],
        "multi_label": bool(getattr(model, "multi_label", False)),
        "preprocessing": raw or {**graph.preprocessing, "inside": False, "why": _outside_because(predictor, format)},
    }
    reading = reading_of(model)
    if reading is not None:  # what turns the logits into probabilities and labels (inside an ONNX raw graph)
        description["calibration"] = {"temperature": reading.temperature, "thresholds": reading.thresholds}
    if raw is not None:
        description["inputs"] = raw["inputs"]
        description["output"] = ", ".join(raw["outputs"])
    path = os.path.join(out, "preprocessing.json")
    with writing(path), open(path, "w", encoding="utf-8") as handle:
        json.dump(description, handle, indent=1, default=str)


def _outside_because(predictor: Predictor, format: str) -> str:
    inputs = registry.get(predictor.task_name).inputs
    if inputs == "texts":
        return (
            "the tokenizer runs beside the model (tokenizer/): onnxruntime-extensions is not a dependency of "
            "flashtrain, and without it a tokenizer is not expressible in standard ONNX ops"
        )
    if inputs == "table" and format != "onnx":
        return "a PyTorch graph cannot take string columns; export to ONNX for raw table rows"
    return "exported with preprocessing=False (--no-preprocessing)"


def _save_torchscript(graph: ExportGraph, path: str) -> Any:
    with warnings.catch_warnings():
        # rtdl_num_embeddings (the tabular MLP's numerical embeddings) checks the number of columns in Python; the
        # trace keeps that check as a constant, which is right: a model's column count is fixed.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module="rtdl_num_embeddings")
        traced = torch.jit.trace(graph.module, graph.example, strict=False, check_trace=False)
    torch.jit.save(traced, path)
    loaded = torch.jit.load(path)
    return lambda inputs: loaded(*inputs)


def _shapes(graph: ExportGraph) -> Any:
    """``dynamic_shapes`` for torch.export: the batch (and text length) sizes free, the rest as traced."""
    auto = torch.export.Dim.AUTO  # a size the model really fixes stays fixed; the check inputs then catch it
    shapes = tuple({axis: auto for axis in axes} for axes in graph.dynamic)
    return (shapes,) if graph.variadic else shapes


def _save_exported_program(graph: ExportGraph, path: str) -> Any:
    program = torch.export.export(graph.module, graph.example, dynamic_shapes=_shapes(graph))
    torch.export.save(program, path)
    loaded = torch.export.load(path).module()
    return lambda inputs: loaded(*inputs)


def _save_onnx(graph: ExportGraph, path: str) -> Any:
    import onnxruntime

    torch.onnx.export(
        graph.module,
        graph.example,
        path,
        input_names=graph.input_names,
        output_names=["output"],
        dynamic_shapes=_shapes(graph),
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def run(inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        feed = {name: tensor.numpy() for name, tensor in zip(graph.input_names, inputs)}
        return torch.from_numpy(session.run(None, feed)[0])

    return run


_SAVERS = {"onnx": _save_onnx, "torchscript": _save_torchscript, "exported-program": _save_exported_program}
