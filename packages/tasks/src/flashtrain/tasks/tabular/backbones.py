"""Tabular backbones written here: ``"mlp"`` (category embeddings + MLP) and ``"ft_transformer"`` (a token per
column + a transformer encoder, Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data").

Both take ``(categorical, numerical)`` batches from :class:`~flashtrain.tasks.tabular.data.TabularDataset` and
return features of width ``num_features``; sizes default to values chosen from the data's shape.

A category value never seen in training maps to the "unknown" row of its embedding. Training never updates that
row (no training row uses it), so it starts at zero: an unseen value then adds nothing, instead of a random vector
that would push the prediction somewhere arbitrary.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import nn

from flashtrain.tasks.tabular.preprocessing import UNKNOWN, TabularPreprocessing


def embedding_size(cardinality: int) -> int:
    """Embedding width for a category with ``cardinality`` values (fast.ai's rule of thumb, capped at 32)."""
    return int(min(32, max(2, round(1.6 * cardinality**0.56))))


class TabularMLP(nn.Module):
    """Embeddings for the categorical columns, concatenated with the numerical inputs, then
    ``num_layers`` x (Linear, ReLU, Dropout). ``hidden_size`` defaults to 4x the input width, within 64..512."""

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        hidden_size: int | None = None,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(n, embedding_size(n)) for n in cardinalities)
        with torch.no_grad():
            for embedding in self.embeddings:
                cast(nn.Embedding, embedding).weight[UNKNOWN].zero_()  # see the note at the top of the module
        width = sum(embedding_size(n) for n in cardinalities) + num_numerical
        hidden = hidden_size or min(512, max(64, 4 * width))
        layers: list[nn.Module] = []
        for index in range(num_layers):
            layers += [nn.Linear(width if index == 0 else hidden, hidden), nn.ReLU(), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)
        self.num_features = hidden if num_layers else width

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        categorical, numerical = inputs
        parts = [embedding(categorical[:, i]) for i, embedding in enumerate(self.embeddings)]
        return self.layers(torch.cat([*parts, numerical], dim=1))


class FTTransformer(nn.Module):
    """Feature tokenizer + transformer: each numerical value scales a learned vector (plus a bias), each category
    looks up a learned vector; a [CLS] token reads the encoded columns. Pre-norm blocks, GELU."""

    category_offsets: torch.Tensor

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        d_token: int = 64,
        num_layers: int = 3,
        num_heads: int = 8,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        bound = 1 / math.sqrt(d_token)
        self.numerical_weight = nn.Parameter(torch.empty(num_numerical, d_token).uniform_(-bound, bound))
        self.numerical_bias = nn.Parameter(torch.empty(num_numerical, d_token).uniform_(-bound, bound))
        self.category_embeddings = nn.Embedding(max(1, sum(cardinalities)), d_token)
        nn.init.uniform_(self.category_embeddings.weight, -bound, bound)
        offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.long).cumsum(0)[: len(cardinalities)]
        self.register_buffer("category_offsets", offsets)
        with torch.no_grad():
            self.category_embeddings.weight[offsets + UNKNOWN] = 0.0  # see the note at the top of the module
        self.category_bias = nn.Parameter(torch.empty(len(cardinalities), d_token).uniform_(-bound, bound))
        self.cls_token = nn.Parameter(torch.empty(1, 1, d_token).uniform_(-bound, bound))
        layer = nn.TransformerEncoderLayer(
            d_token,
            num_heads,
            dim_feedforward=d_token * 4 // 3,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_token)
        self.num_features = d_token

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        categorical, numerical = inputs
        tokens = [self.cls_token.expand(numerical.shape[0], -1, -1)]  # not len(): export keeps the batch dynamic
        if numerical.shape[1]:
            tokens.append(numerical.unsqueeze(-1) * self.numerical_weight + self.numerical_bias)
        if categorical.shape[1]:
            tokens.append(self.category_embeddings(categorical + self.category_offsets) + self.category_bias)
        encoded = self.encoder(torch.cat(tokens, dim=1))
        return torch.relu(self.norm(encoded[:, 0]))


BACKBONES: dict[str, type[nn.Module]] = {"mlp": TabularMLP, "ft_transformer": FTTransformer}


def available_tabular_backbones() -> list[str]:
    return sorted(BACKBONES)


def build_tabular_backbone(name: str, preprocessing: TabularPreprocessing, options: dict[str, Any] | None) -> Any:
    if name not in BACKBONES:
        raise ValueError(f"Unknown tabular backbone {name!r}. Allowed: {', '.join(available_tabular_backbones())}.")
    backbone = BACKBONES[name]
    try:
        return backbone(preprocessing.cardinalities, preprocessing.num_numerical_inputs, **(options or {}))
    except TypeError as error:
        raise TypeError(f"backbone_kwargs for {name!r}: {error}") from None
