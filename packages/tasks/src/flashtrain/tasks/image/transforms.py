"""Image preprocessing: size and normalisation, by default those of the backbone's pretrained config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ImageConfig:
    """What a backbone expects: square input size and per-channel mean/std (timm's pretrained config)."""

    image_size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def as_dict(self) -> dict:
        return {"image_size": self.image_size, "mean": list(self.mean), "std": list(self.std)}


def build_transform(config: ImageConfig) -> Callable[[object], torch.Tensor]:
    """PIL image or uint8/float tensor (C, H, W) -> float tensor (3, size, size), resized and normalised."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize((config.image_size, config.image_size), antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(config.mean), list(config.std)),
        ]
    )


class TransformSlot:
    """The transform the datasets call, swappable after they were built (the model sets its backbone's config)."""

    def __init__(self, config: ImageConfig, custom: Callable | None = None) -> None:
        self.custom = custom
        self.set_config(config)

    def set_config(self, config: ImageConfig) -> None:
        self.config = config
        self._transform = self.custom if self.custom is not None else build_transform(config)

    def __call__(self, image: object) -> torch.Tensor:
        return self._transform(image)
