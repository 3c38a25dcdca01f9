"""``ImageEmbedder``: image features from any timm / torchvision backbone (see :mod:`flashtrain.tasks.embedding`)."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.embedding import Embedder, pool_features


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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # Typed (not Embedder's ``Any``) and without super(): torch.jit.script compiles this method.
        features = self.backbone(images)
        return pool_features(self.tap.output if self.tap is not None else features)

    @classmethod
    def from_module(cls, backbone: torch.nn.Module, image_config: Any, layer: str | None = None) -> ImageEmbedder:
        """An embedder around an existing (e.g. trained) backbone; weights are shared, not copied."""
        embedder = cls.__new__(cls)
        Embedder.__init__(embedder)
        embedder.backbone = backbone
        embedder.image_config = image_config
        embedder._tap(layer)
        return embedder
