"""The toy's export graph: the column ``x`` as float32 (N, 1) -> y in the target's units."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.export import ExportGraph, TaskNetwork


def export_graph(predictor: Any) -> ExportGraph:
    network = TaskNetwork(predictor.model)  # backbone, head and the way back to y's units
    example, check = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.25], [0.5], [2.0]])

    def reference(x: torch.Tensor) -> torch.Tensor:
        return predictor.model.predict_step((x,), 0)

    return ExportGraph(network, ["x"], (example,), (check,), [{0: "batch"}], {"steps": "x as float32"}, reference)
