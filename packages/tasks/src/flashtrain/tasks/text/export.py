"""The text classifier's export graph: the tokenizer's tensors (``input_ids``, ``attention_mask``, and
``token_type_ids`` where the model has them), shape (N, L), right-padded -> logits; the tokenizer is saved beside
it. Named in the task registry as ``export_graph``; :func:`flashtrain.tasks.export.export` runs and checks it."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.export import ExportGraph, TaskNetwork


class TextGraph(torch.nn.Module):
    def __init__(self, model: Any, names: list[str]) -> None:
        super().__init__()
        self.network = TaskNetwork(model)
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.network(dict(zip(self.names, tensors)))


def export_graph(predictor: Any) -> ExportGraph:
    texts = ["a short text", "a somewhat longer text to export with its tokenizer"]
    check_texts = ["one", "three texts of other lengths", "and a third, the longest of all the texts checked here"]
    example = predictor.collate(predictor.prepare(texts))
    check = predictor.collate(predictor.prepare(check_texts))
    names = [name for name in predictor.input_names if name in example]
    preprocessing = {"tokenizer": "tokenizer", "max_length": predictor.max_length, "padding_side": "right"}
    module = TextGraph(predictor.model, names)
    dynamic = [{0: "batch", 1: "sequence"} for _ in names]

    def reference(*tensors: torch.Tensor) -> torch.Tensor:
        return predictor.model.predict_step((dict(zip(names, tensors)),), 0)

    example_inputs, check_inputs = tuple(example[n] for n in names), tuple(check[n] for n in names)
    return ExportGraph(module, names, example_inputs, check_inputs, dynamic, preprocessing, reference, variadic=True)
