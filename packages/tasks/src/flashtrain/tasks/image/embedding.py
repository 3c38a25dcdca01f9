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
        training_strategy: Self-supervised pre-training with ``trainer.fit``: "barlow_twins" or "simclr" (see
            :mod:`flashtrain.tasks.image.self_supervised`); None (or Flash's "default") only embeds.
        head: Flash's projection-head name for the strategy ("barlow_twins_head", "simclr_head"), or None.
        pretraining_transform: Flash's two-view transform name for the strategy, or None.
        training_strategy_kwargs: ``latent_embedding_dim`` and ``hidden`` (the projection head), and the loss's
            ``lambda_offdiag`` (Barlow Twins) or ``temperature`` (SimCLR).
        pretraining_transform_kwargs: ``size_crops``: Flash's crop sizes; the first is the views' size.
        learning_rate: Adam's learning rate for pre-training.
    """

    task_name = "image_embedding"

    def __init__(
        self,
        backbone: str = "resnet18",
        pretrained: bool | str = True,
        layer: str | None = None,
        image_size: int | tuple[int, int] | None = None,
        backbone_kwargs: dict[str, Any] | None = None,
        training_strategy: str | None = None,
        head: str | None = None,
        pretraining_transform: str | None = None,
        training_strategy_kwargs: dict[str, Any] | None = None,
        pretraining_transform_kwargs: dict[str, Any] | None = None,
        learning_rate: float = 1e-3,
    ) -> None:
        super().__init__()
        from flashtrain.tasks.image.backbones import build_backbone
        from flashtrain.tasks.image.transforms import ImageConfig

        built = build_backbone(backbone, pretrained, backbone_kwargs)
        self.backbone = built.module
        config = built.image_config
        self.image_config = ImageConfig(image_size, config.mean, config.std) if image_size is not None else config
        self._tap(layer)
        self.training_strategy = None if training_strategy in (None, "default") else training_strategy
        self.learning_rate = learning_rate
        if self.training_strategy is not None:
            from flashtrain.tasks.image import self_supervised

            strategy, self.loss_kwargs, head_kwargs, self.views = self_supervised.resolve(
                self.training_strategy,
                head,
                pretraining_transform,
                training_strategy_kwargs,
                pretraining_transform_kwargs,
            )
            self.ssl_loss = strategy.loss
            with torch.no_grad():  # the backbone's pooled width, from one small image
                width = self(torch.zeros(2, 3, 32, 32)).shape[1]
            self.projection = self_supervised.projection_head(width, **head_kwargs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Self-supervised pre-training (``training_strategy=``): two augmented views, projected, the strategy's
        loss between them. Labels in the batch, if any, are not used."""
        if self.training_strategy is None:
            return super().training_step(batch, batch_idx)
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        first, second = self.views(images)
        loss = self.ssl_loss(self.projection(self(first)), self.projection(self(second)), **self.loss_kwargs)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)

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
