"""Self-supervised pre-training of an :class:`~flashtrain.tasks.ImageEmbedder`'s backbone (Flash's
``training_strategy=``): two randomly augmented views of each unlabelled image, a projection head, and a loss that
makes the two views' projections agree.

Written here rather than taken from a library: Flash used VISSL (archived, pinned to old torch) and ``lightly``
brings its own training loop conventions and dependencies for what is, for these two strategies, a dozen lines of
loss each. The losses follow the papers:

- ``barlow_twins`` (Zbontar et al. 2021): the cross-correlation matrix of the two views' standardised projections
  pushed to the identity, ``sum (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2``.
- ``simclr`` (Chen et al. 2020): NT-Xent, a softmax over the batch in which each view must pick out its partner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambda_offdiag: float = 5e-3) -> torch.Tensor:
    """Barlow Twins: the two views' cross-correlation (over the batch) driven to the identity matrix."""
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / (z1.std(0, unbiased=False) + 1e-6)  # the paper's BatchNorm without affine
    z2 = (z2 - z2.mean(0)) / (z2.std(0, unbiased=False) + 1e-6)
    correlation = z1.T @ z2 / n
    on_diagonal = (torch.diagonal(correlation) - 1).pow(2).sum()
    off_diagonal = correlation.pow(2).sum() - torch.diagonal(correlation).pow(2).sum()
    return on_diagonal + lambda_offdiag * off_diagonal


def simclr_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent: each of the 2N projections must find its other view among the other 2N - 1."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))  # a view is not its own partner
    partners = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partners)


@dataclass(frozen=True)
class Strategy:
    loss: Callable[..., torch.Tensor]
    head: str
    transform: str
    loss_kwargs: tuple[str, ...]  # training_strategy_kwargs the loss takes; the others are the head's
    defaults: dict[str, Any] = field(default_factory=dict)


STRATEGIES = {
    "barlow_twins": Strategy(barlow_twins_loss, "barlow_twins_head", "barlow_twins_transform", ("lambda_offdiag",)),
    "simclr": Strategy(simclr_loss, "simclr_head", "simclr_transform", ("temperature",)),
}
# Flash's other strategies (VISSL's): named in the error so a Flash user sees what exists here.
FLASH_ONLY = ("swav", "moco", "dino")


def projection_head(features: int, hidden: int = 2048, latent_embedding_dim: int = 128) -> nn.Module:
    """Linear-BN-ReLU-Linear, the projector of both papers (smaller by default: these are small-data baselines)."""
    return nn.Sequential(
        nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, latent_embedding_dim)
    )


class TwoViews:
    """Two independently augmented views of each image of a normalised batch (per-image random parameters):
    random-resized crop, horizontal flip, brightness/contrast jitter, the augmentations of both papers minus the
    colour ones that assume unnormalised RGB. A plain object, not a module: it is not part of the exported model."""

    def __init__(self, size: int | None = None, crop_scale: tuple[float, float] = (0.2, 1.0)) -> None:
        self.size = size
        self.crop_scale = crop_scale

    def _one(self, images: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms import v2

        size = self.size or images.shape[-1]
        augment = v2.Compose(
            [
                v2.RandomResizedCrop(size, scale=self.crop_scale, antialias=True),
                v2.RandomHorizontalFlip(),
                v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4)], p=0.8),
            ]
        )
        return torch.stack([augment(image) for image in images])

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._one(images), self._one(images)


def resolve(
    training_strategy: str,
    head: str | None,
    pretraining_transform: str | None,
    training_strategy_kwargs: dict[str, Any] | None,
    pretraining_transform_kwargs: dict[str, Any] | None,
) -> tuple[Strategy, dict[str, Any], dict[str, Any], TwoViews]:
    """The strategy, its loss and head arguments, and the two-view transform; a clear error for names not here."""
    if training_strategy not in STRATEGIES:
        flash_only = f" (Flash's {training_strategy!r} came from VISSL and is not provided)" * (
            training_strategy in FLASH_ONLY
        )
        raise ValueError(
            f"Unknown training_strategy {training_strategy!r}{flash_only}. Available: {', '.join(STRATEGIES)}."
        )
    strategy = STRATEGIES[training_strategy]
    for given, expected, what in ((head, strategy.head, "head"), (pretraining_transform, strategy.transform, "")):
        if given is not None and given != expected:
            name = what or "pretraining_transform"
            raise ValueError(
                f"{name}={given!r} does not go with training_strategy={training_strategy!r}: use "
                f"{expected!r} (or leave it out)."
            )
    options = dict(training_strategy_kwargs or {})
    loss_kwargs = {key: options.pop(key) for key in strategy.loss_kwargs if key in options}
    unknown = set(options) - {"latent_embedding_dim", "hidden"}
    if unknown:
        raise ValueError(
            f"Unknown training_strategy_kwargs {sorted(unknown)}; allowed: latent_embedding_dim, hidden, "
            f"{', '.join(strategy.loss_kwargs)}."
        )
    transform_options = dict(pretraining_transform_kwargs or {})
    crops = transform_options.pop("size_crops", None)
    if transform_options:
        raise ValueError(f"Unknown pretraining_transform_kwargs {sorted(transform_options)}; allowed: size_crops.")
    size = int(crops[0]) if crops else None  # Flash's list of crop sizes: one global crop size here
    return strategy, loss_kwargs, options, TwoViews(size)
