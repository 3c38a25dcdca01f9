"""Predicting with an image classifier from raw inputs: image files (paths, bytes, base64) or PIL images, decoded
and preprocessed as for evaluation (the model's eval transform)."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from typing import Any

import torch

from flashtrain.tasks.inference import Predictor


class ImagePredictor(Predictor):
    input_help = "an image file (PNG, JPEG, ...) as a base64 string, raw bytes, a PIL image or a file path"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        from flashtrain.tasks.image.transforms import build_eval_transform

        self.transform = build_eval_transform(model.image_config)

    def prepare(self, inputs: Sequence[Any], where: str = "the request") -> list[Any]:
        import numpy as np

        samples = []
        for index, item in enumerate(inputs):
            image = _open_image(item, index, self.input_help)
            # The same path as training and `flash-train predict`: a uint8 (C, H, W) tensor, then the transform.
            samples.append(self.transform(torch.from_numpy(np.array(image)).permute(2, 0, 1)))
        return samples

    def collate(self, samples: list[Any]) -> Any:
        return torch.stack(samples)


def _open_image(item: Any, index: int, expected: str) -> Any:
    import os

    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    source: Any
    if isinstance(item, (bytes, bytearray)):
        source = io.BytesIO(item)
    elif isinstance(item, str) and os.path.isfile(item):
        source = item
    elif isinstance(item, str):
        try:
            source = io.BytesIO(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"input {index} is not valid base64 (nor a file path); expected {expected}.") from None
    else:
        raise ValueError(f"input {index} is a {type(item).__name__}; expected {expected}.")
    try:
        with Image.open(source) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"input {index} is not a readable image ({error}); expected {expected}.") from None
