"""Embedders: features from any backbone (or one of its layers), for retrieval and clustering.

    embedder = ImageEmbedder("resnet18")                   # or classifier.as_embedder("layer3")
    vectors = Trainer().predict(embedder, datamodule=ImageClassificationData.from_files(predict_files=[...]),
                                output="embeddings")      # one list of floats per image, in input order

An embedder has no head and no loss: ``predict`` returns the backbone's features (the pooled output of
``layer`` when one is named: 4-D feature maps are averaged over their spatial positions, token states over the
sequence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from flashtrain.core import Module


class _LayerTap:
    """Keeps the output of one named sub-module during a forward pass (a forward hook)."""

    def __init__(self, module: torch.nn.Module, layer: str) -> None:
        layers = dict(module.named_modules())
        if layer not in layers or not layer:
            close = [name for name in layers if name and layer.split(".")[-1] in name][:8]
            raise ValueError(
                f"The backbone has no layer {layer!r}. Some layers: {close or list(layers)[1:9]}; all of them: "
                "embedder.available_layers()."
            )
        self.output: Any = None
        layers[layer].register_forward_hook(self._keep)

    def _keep(self, module: torch.nn.Module, inputs: Any, output: Any) -> None:
        self.output = output[0] if isinstance(output, tuple) else output


def pool_features(features: torch.Tensor) -> torch.Tensor:
    """One vector per input: feature maps averaged over positions, token states over the sequence."""
    if features.ndim == 4:  # (N, C, H, W) feature maps
        return features.mean(dim=(2, 3))
    if features.ndim == 3:  # (N, tokens, width)
        return features.mean(dim=1)
    return features.flatten(1)


class Embedder(Module):
    """Shared by the embedders: ``forward`` gives features; ``output="embeddings"`` formats them."""

    outputs = ("embeddings",)
    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse the string ones
        backbone: torch.nn.Module

    def _tap(self, layer: str | None) -> None:
        self.layer = layer
        self.tap = _LayerTap(self.backbone, layer) if layer else None

    def setup(self, stage: str) -> None:
        """The handshake with the data (``adopt_model``), as for predicting: an embedder only embeds, so the data
        always takes its preprocessing (image) or its tokenizer (text)."""
        from flashtrain.tasks.data import TaskDataModule

        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if isinstance(datamodule, TaskDataModule):
            datamodule.adopt_model(self, "predict")

    def available_layers(self) -> list[str]:
        """Names of the backbone's sub-modules that ``layer=`` can pick."""
        return [name for name, _ in self.backbone.named_modules() if name]

    def forward(self, inputs: Any) -> torch.Tensor:
        features = self.backbone(inputs)
        if self.tap is not None:
            return pool_features(self.tap.output)
        return pool_features(features)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(inputs)

    def format_predictions(self, outputs: list[torch.Tensor], output: str | None = None) -> list[Any]:
        if (output or "embeddings") != "embeddings":
            raise ValueError(f"Unknown output {output!r} for an embedder. Allowed: embeddings.")
        return torch.cat(outputs).float().tolist() if outputs else []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        raise RuntimeError(
            f"{type(self).__name__} only predicts (features for retrieval or clustering): train a classifier and "
            "call classifier.as_embedder(), or use trainer.predict(embedder, ...)."
        )


# The embedders live in their task's folder; their old import path keeps working.
_MOVED = {"ImageEmbedder": "flashtrain.tasks.image.embedding", "TextEmbedder": "flashtrain.tasks.text.embedding"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
