"""``TextEmbedder``: text features from any Hugging Face encoder (see :mod:`flashtrain.tasks.embedding`)."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks.embedding import Embedder


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
