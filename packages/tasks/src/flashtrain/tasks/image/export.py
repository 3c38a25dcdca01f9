"""The image classifier's export graph: pixels in [0, 1], shape (N, 3, H, W) -> logits, with the normalisation
inside; decoding and resizing are described beside it (``preprocessing.json``). Named in the task registry as
``export_graph``; :func:`flashtrain.tasks.export.export` runs and checks it."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.export import ExportGraph, TaskNetwork


class ImageGraph(torch.nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: Any, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.network = TaskNetwork(model)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network((pixels - self.mean) / self.std)


def export_graph(predictor: Any) -> ExportGraph:
    config = predictor.model.image_config
    if config.steps is not None or config.custom is not None:
        raise ValueError(
            "This image model was evaluated with custom preprocessing steps, which an export cannot describe as "
            "resize + normalise. Export a model trained with the default evaluation transform."
        )
    height, width = config.size
    generator = torch.Generator().manual_seed(0)
    example, check = (torch.rand(n, 3, height, width, generator=generator) for n in (2, 3))
    preprocessing = {
        "image_size": config.image_size if isinstance(config.image_size, int) else [height, width],
        "mean": list(config.mean),
        "std": list(config.std),
        "steps": "RGB, resize to image_size (an int: square; else [height, width]; bilinear, antialias), "
        "scale to [0, 1] (float32, N x 3 x H x W); the mean/std normalisation is inside the model",
    }
    module = ImageGraph(predictor.model, list(config.mean), list(config.std))

    def reference(pixels: torch.Tensor) -> torch.Tensor:
        normalised = (pixels - module.mean) / module.std
        return predictor.model.predict_step((normalised,), 0)

    return ExportGraph(module, ["pixels"], (example,), (check,), [{0: "batch"}], preprocessing, reference)
