"""The tabular models' export graph: ``categorical`` int64 (N, C) and ``numerical`` float32 (N, F), as the fitted
preprocessing (stored in ``preprocessing.json``) makes them -> logits, or for regressors values in the targets'
original units. Named in the task registry as ``export_graph``; :func:`flashtrain.tasks.export.export` runs and
checks it (and for ONNX puts the preprocessing itself inside, see :mod:`flashtrain.tasks.export_preprocessing`)."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.export import ExportGraph, TaskNetwork


class TabularGraph(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.network = TaskNetwork(model)

    def forward(self, categorical: torch.Tensor, numerical: torch.Tensor) -> torch.Tensor:
        return self.network((categorical, numerical))


def export_graph(predictor: Any) -> ExportGraph:
    preprocessing = predictor.preprocessing
    generator = torch.Generator().manual_seed(0)

    def inputs(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        categorical = (
            torch.stack([torch.randint(0, n, (rows,), generator=generator) for n in preprocessing.cardinalities], dim=1)
            if preprocessing.cardinalities
            else torch.zeros(rows, 0, dtype=torch.long)
        )
        return categorical, torch.randn(rows, preprocessing.num_numerical_inputs, generator=generator)

    described = {"parameters": preprocessing.state_dict(), "steps": "the fitted preprocessing in 'parameters'"}
    module = TabularGraph(predictor.model)

    def reference(categorical: torch.Tensor, numerical: torch.Tensor) -> torch.Tensor:
        return predictor.model.predict_step(((categorical, numerical),), 0)  # regressors: in the original units

    names, dynamic = ["categorical", "numerical"], [{0: "batch"}, {0: "batch"}]
    return ExportGraph(module, names, inputs(2), inputs(3), dynamic, described, reference)
