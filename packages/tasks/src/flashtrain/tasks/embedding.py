"""Embedders: features from any backbone (or one of its layers), for retrieval and clustering.

    embedder = ImageEmbedder("resnet18")                   # or classifier.as_embedder("layer3")
    vectors = Trainer().predict(embedder, datamodule=ImageClassificationData.from_files(predict_files=[...]),
                                output="embeddings")      # one list of floats per image, in input order

An embedder has no head and no loss: ``predict`` returns the backbone's features (the pooled output of
``layer`` when one is named: 4-D feature maps are averaged over their spatial positions, token states over the
sequence).
"""

from __future__ import annotations

from typing import Any

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


def _pool(features: torch.Tensor) -> torch.Tensor:
    if features.ndim == 4:  # (N, C, H, W) feature maps
        return features.mean(dim=(2, 3))
    if features.ndim == 3:  # (N, tokens, width)
        return features.mean(dim=1)
    return features.flatten(1)


class Embedder(Module):
    """Shared by the embedders: ``forward`` gives features; ``output="embeddings"`` formats them."""

    outputs = ("embeddings",)
    backbone: torch.nn.Module

    def _tap(self, layer: str | None) -> None:
        self.layer = layer
        self.tap = _LayerTap(self.backbone, layer) if layer else None

    def available_layers(self) -> list[str]:
        """Names of the backbone's sub-modules that ``layer=`` can pick."""
        return [name for name, _ in self.backbone.named_modules() if name]

    def forward(self, inputs: Any) -> torch.Tensor:
        features = self.backbone(inputs)
        if self.tap is not None:
            return _pool(self.tap.output)
        return _pool(features)

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


class ImageEmbedder(Embedder):
    """Image features from any timm / torchvision backbone.

    Args:
        backbone: Backbone name, as for :class:`~flashtrain.tasks.ImageClassifier`.
        pretrained: True, False or a weights file.
        layer: A sub-module whose (pooled) output is the embedding; None: the backbone's pooled features.
        image_size: Input size (int or (H, W)); by default the backbone's.
        backbone_kwargs: Passed to the backbone builder.
    """

    task_name = "image_embedding"

    def __init__(
        self,
        backbone: str = "resnet18",
        pretrained: bool | str = True,
        layer: str | None = None,
        image_size: int | tuple[int, int] | None = None,
        backbone_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from flashtrain.tasks.image.backbones import build_backbone
        from flashtrain.tasks.image.transforms import ImageConfig

        built = build_backbone(backbone, pretrained, backbone_kwargs)
        self.backbone = built.module
        config = built.image_config
        self.image_config = ImageConfig(image_size, config.mean, config.std) if image_size is not None else config
        self._tap(layer)

    @classmethod
    def from_module(cls, backbone: torch.nn.Module, image_config: Any, layer: str | None = None) -> ImageEmbedder:
        """An embedder around an existing (e.g. trained) backbone; weights are shared, not copied."""
        embedder = cls.__new__(cls)
        Embedder.__init__(embedder)
        embedder.backbone = backbone
        embedder.image_config = image_config
        embedder._tap(layer)
        return embedder

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "use_model_config"):
            datamodule.use_model_config(self.image_config, force=True)


class TextEmbedder(Embedder):
    """Text features from any Hugging Face encoder, pooled as :class:`~flashtrain.tasks.TextClassifier` pools.

    Args:
        backbone: Model name or local folder.
        pooling: "auto", "cls", "mean" or "last".
        max_length: Longer texts are truncated.
        layer: A sub-module whose (token-averaged) output is the embedding; None: the pooled encoder output.
    """

    task_name = "text_embedding"

    def __init__(
        self,
        backbone: str = "prajjwal1/bert-tiny",
        pooling: str = "auto",
        max_length: int = 128,
        layer: str | None = None,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        from flashtrain.tasks.text.backbones import build_encoder, load_config, load_tokenizer

        config = load_config(backbone)
        self.tokenizer = load_tokenizer(backbone, config)
        self.backbone = build_encoder(backbone, pooling, pretrained, config)
        self.max_length = max_length
        self._tap(layer)

    @classmethod
    def from_module(
        cls, encoder: torch.nn.Module, tokenizer: Any, max_length: int, layer: str | None = None
    ) -> TextEmbedder:
        embedder = cls.__new__(cls)
        Embedder.__init__(embedder)
        embedder.backbone = encoder
        embedder.tokenizer = tokenizer
        embedder.max_length = max_length
        embedder._tap(layer)
        return embedder

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "use_tokenizer"):
            datamodule.use_tokenizer(self.tokenizer, self.max_length)
