"""Predicting with an image classifier from raw inputs: image files (paths, bytes, base64) or PIL images, decoded
by the one image decoder (:func:`flashtrain.tasks.image.files.read_image`) and preprocessed as for evaluation."""

from __future__ import annotations

import base64
import binascii
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
        # The decoder of training and `flash-train predict` (flashtrain.tasks.image.files.read_image), then the
        # checkpoint's evaluation transform: a request gives the same tensor as the same file in a dataset.
        return [self.transform(_image_pixels(item, index, self.input_help)) for index, item in enumerate(inputs)]

    def collate(self, samples: list[Any]) -> Any:
        return torch.stack(samples)


def _image_pixels(item: Any, index: int, expected: str) -> torch.Tensor:
    import os

    from flashtrain.tasks.image.files import ImageReadError, read_image

    source: Any
    on_disk = isinstance(item, str) and os.path.isfile(item)
    if on_disk or isinstance(item, (bytes, bytearray)) or hasattr(item, "getexif"):  # a path, bytes, a PIL image
        source = item
    elif isinstance(item, str):
        try:
            source = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"input {index} is not valid base64 (nor a file path); expected {expected}.") from None
    else:
        raise ValueError(f"input {index} is a {type(item).__name__}; expected {expected}.")
    try:
        return read_image(source, f"input {index}")
    except ImageReadError as error:
        reason = str(error).removeprefix(f"Cannot read image input {index}: ").rstrip(".")
        raise ValueError(f"input {index} is not a readable image ({reason}); expected {expected}.") from None
