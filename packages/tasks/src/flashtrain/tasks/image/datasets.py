"""The image datasets behind ``ImageClassificationData``: files, tensors, lists of images, Hugging Face datasets.

Each yields ``(image, target)``, or the image alone when there are no targets (prediction); the image is the
stage's transform applied to the uint8 RGB tensor (3, H, W) that :func:`~flashtrain.tasks.image.files.read_image`
gives (augmentation runs on uint8; the transform converts to float last).

A DataLoader asks for whole batches (``__getitems__``): each image goes through the per-image part of the transform
(uint8), the batch is stacked as uint8 and converted to float and normalised once (see
:class:`~flashtrain.tasks.image.transforms.SplitTransform`). The batch comes back as an :class:`ImageBatch`: a list
of ``(image, target)`` items, as torch's default collate function expects, that also carries the collated batch,
which :func:`collate_images` (the data module's collate function) returns without copying it again. Per image this
saves two float copies (600 KB each at 224 px): the default collate's stack and the non-in-place normalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from flashtrain.tasks.image.files import SKIP_ADVICE, file_bytes, read_image
from flashtrain.tasks.image.transforms import transform_parts

DEFAULT_CACHE_BYTES = 512 * 2**20  # decoded images kept in memory, shared out over the DataLoader workers


def _plain_targets(targets: torch.Tensor | None) -> Any:
    # Plain ints for class indices: cheaper to index and to collate than 0-d tensors.
    return targets.tolist() if targets is not None and targets.ndim == 1 else targets


class ImageBatch(list):
    """A batch from an image dataset's ``__getitems__``: the ``(image, target)`` items (views into one batch
    tensor), and ``collated``, what torch's default collate function would make of them."""

    def __init__(self, items: list[Any], collated: Any) -> None:
        super().__init__(items)
        self.collated = collated


def collate_images(batch: Any) -> Any:
    """The image data's collate function: an :class:`ImageBatch` is already collated, a list of items is collated
    as torch's default collate function does, and anything else is a batch a dataset made whole (the encoded
    batches of :mod:`~flashtrain.tasks.image.device_decode`)."""
    if isinstance(batch, ImageBatch):
        return batch.collated
    return default_collate(batch) if isinstance(batch, list) else batch


class ImageDataset(Dataset):
    """The base of the image datasets: ``image(index)`` (the image before the transform), ``transform`` and
    ``targets`` (None for prediction); items and batches are made here."""

    transform: Callable
    targets: Any

    def image(self, index: int) -> Any:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        image = self.transform(self.image(index))
        return image if self.targets is None else (image, self.targets[index])

    def __getitems__(self, indices: list[int]) -> list[Any]:
        per_image, finish = transform_parts(self.transform)
        images = [per_image(self.image(index)) for index in indices]
        if finish is None or len({tuple(image.shape) for image in images}) != 1:
            finished = [image if finish is None else finish(image) for image in images]
            return finished if self.targets is None else [(x, self.targets[i]) for x, i in zip(finished, indices)]
        batch = finish(torch.stack(images))
        if self.targets is None:
            return ImageBatch(list(batch), batch)
        targets = [self.targets[index] for index in indices]
        return ImageBatch(list(zip(batch, targets)), [batch, default_collate(targets)])


class ImageFileDataset(ImageDataset):
    """Images read from files; yields (image, target) or just the image when there are no targets.

    Decoded images (before the transform, so random augmentation still varies) are kept in memory up to
    ``cache_bytes`` per process, so later epochs skip file reads and decoding.
    """

    def __init__(
        self,
        files: Sequence[str],
        targets: torch.Tensor | None,
        transform: Callable,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.files = list(files)
        self.targets: Any = _plain_targets(targets)
        self.transform = transform
        self.cache_bytes = cache_bytes
        self._cache: dict[int, torch.Tensor] = {}
        self._cached = 0

    def __len__(self) -> int:
        return len(self.files)

    def _decoded(self, index: int) -> torch.Tensor:
        image = self._cache.get(index)
        if image is None:
            path = self.files[index]
            image = read_image(path, path, SKIP_ADVICE)
            if self._cached + image.numel() <= self.cache_bytes:
                self._cache[index] = image
                self._cached += image.numel()
        return image

    def image(self, index: int) -> torch.Tensor:
        return self._decoded(index)

    def file_bytes(self, index: int) -> bytearray:
        """The bytes of the ``index``-th file, not decoded (batches decoded on the GPU start from them)."""
        path = self.files[index]
        return file_bytes(path, path, SKIP_ADVICE)


class TensorImageDataset(ImageDataset):
    """Images already in memory as a (N, C, H, W) tensor."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor | None, transform: Callable) -> None:
        self.images = images
        self.targets = targets
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> torch.Tensor:
        return self.images[index]


class HFImageDataset(ImageDataset):
    """Images from a Hugging Face dataset column: PIL images (the ``Image`` feature), or file paths."""

    def __init__(self, dataset: Any, input_field: str, targets: torch.Tensor | None, transform: Callable) -> None:
        self.dataset = dataset
        self.input_field = input_field
        self.targets: Any = _plain_targets(targets)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def image(self, index: int) -> torch.Tensor:
        value = self.dataset[index][self.input_field]
        where = value if isinstance(value, str) else f"row {index} of the {self.input_field!r} column"
        return read_image(value, where, SKIP_ADVICE if isinstance(value, str) else "")


def to_chw_tensor(image: Any, where: str) -> torch.Tensor:
    """A PIL image, NumPy array (H, W[, C]) or tensor (C, H, W) as a 3-channel tensor (C, H, W)."""
    if hasattr(image, "getexif"):  # PIL: the same decoder as files
        return read_image(image, where)
    if isinstance(image, (np.ndarray, torch.Tensor)):
        return as_image_tensor(torch.as_tensor(image)[None], where)[0]
    raise TypeError(f"{where} holds a {type(image).__name__}; images must be PIL images, NumPy arrays or tensors.")


class ImageListDataset(ImageDataset):
    """Images held in memory as a list (PIL images, arrays or tensors of any sizes), or read from a user's
    dataset whose items are ``(image, target)`` or images; the targets are encoded here."""

    def __init__(
        self, images: Any, targets: torch.Tensor | None, transform: Callable, from_items: bool = False
    ) -> None:
        self.images = images
        self.targets: Any = _plain_targets(targets)
        self.transform = transform
        self.from_items = from_items

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> torch.Tensor:
        item = self.images[index]
        if self.from_items and isinstance(item, (tuple, list)):
            item = item[0]
        return to_chw_tensor(item, f"image {index}")


def as_image_tensor(data: Any, argument: str) -> torch.Tensor:
    """(N, H, W), (N, C, H, W) or NumPy's (N, H, W, C) with 1, 3 or 4 channels -> uint8/float (N, 3, H, W)."""
    tensor = torch.as_tensor(data)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 4:
        raise ValueError(
            f"{argument} must be images shaped (N, H, W), (N, C, H, W) or (N, H, W, C); got shape "
            f"{tuple(tensor.shape)}."
        )
    if tensor.shape[1] not in (1, 3, 4) and tensor.shape[-1] in (1, 3, 4):
        tensor = tensor.permute(0, 3, 1, 2)  # channels last (NumPy / PIL layout)
    channels = tensor.shape[1]
    if channels == 1:
        tensor = tensor.expand(-1, 3, -1, -1)
    elif channels == 4:
        tensor = tensor[:, :3]  # drop alpha
    elif channels != 3:
        raise ValueError(f"{argument} has {channels} channels; images need 1 (grayscale), 3 (RGB) or 4 (RGBA).")
    if not tensor.is_floating_point() and tensor.dtype != torch.uint8:
        tensor = tensor.to(torch.uint8)
    return tensor.contiguous()
