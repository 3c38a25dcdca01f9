"""Training batches decoded and augmented on the training device: ``ImageClassificationData(decode_on_device=True)``.

The DataLoader (its workers) only reads the files: a batch leaves them as the JPEG files' bytes, in one tensor, and
is decoded when the trainer moves it to the device (:meth:`EncodedImages.to`, the method the core calls on batch
objects that move themselves). On CUDA that is one batched ``torchvision.io.decode_jpeg(list, device="cuda")``
(nvjpeg), then the training transform's per-image steps (random resized crop, flips) and the float conversion and
normalisation of the whole batch on the GPU. The CPU is left with reading files, which keeps a GPU fed from few
cores.

What stays on the CPU decoder (:func:`~flashtrain.tasks.image.files.read_image`, in the workers): every file that
is not a JPEG torchvision reads as Pillow does (PNG, palette, CMYK, 12-bit, ... — the header says), and JPEGs with
an EXIF orientation other than "normal" (nvjpeg does not apply it). A batch nvjpeg refuses is decoded on the CPU.

Off by default, until measured on hardware (``benchmarks/gpu_check.sh`` measures it): nvjpeg's IDCT and the GPU's
resize differ from libjpeg-turbo's and the CPU's in the last bit of some pixels, so it is a training-only option:
validation, test and prediction keep the one CPU decoder, so a checkpoint predicts from a file exactly as it was
evaluated. Elsewhere than on CUDA the option decodes on the CPU (same pixels as without it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Subset, default_collate

from flashtrain.tasks.image.files import SKIP_ADVICE, decoded_by_torchvision, read_image
from flashtrain.tasks.image.transforms import ToFloatNormalized, transform_parts

_EXIF_ORIENTATION = 0x0112


def device_decodable(data: bytes | bytearray) -> bool:
    """Whether a file's bytes can be decoded by nvjpeg to the pixels the CPU decoder gives (up to the IDCT's last
    bit): a JPEG torchvision reads (8-bit, gray or YCbCr; not CMYK/12-bit) with no EXIF rotation to apply."""
    if data[:3] != b"\xff\xd8\xff" or not decoded_by_torchvision(data):
        return False
    if b"Exif" not in data[:65536]:  # the APP1 segment sits before the image data
        return True
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:  # reads the headers only, not the pixels
        return image.getexif().get(_EXIF_ORIENTATION, 1) == 1


class EncodedImages:
    """A training batch as the workers leave it: JPEG bytes (one tensor, cut at ``offsets``) or, for files the
    device cannot decode, CPU-decoded uint8 images; the targets; and the stage's transform parts. ``to(device)``
    returns ``[images, targets]`` on ``device``, as the CPU path's batch."""

    def __init__(
        self,
        data: torch.Tensor,
        offsets: list[int],
        decoded: dict[int, torch.Tensor],
        targets: Any,
        per_image: Callable[[Any], Any],
        finish: ToFloatNormalized,
        names: Sequence[str],
    ) -> None:
        self.data = data
        self.offsets = offsets
        self.decoded = decoded
        self.targets = targets
        self.per_image = per_image
        self.finish = finish
        self.names = list(names)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def encoded(self) -> list[tuple[int, torch.Tensor]]:
        """(position in the batch, 1-D uint8 tensor of the file's bytes) of the JPEGs left to the device."""
        return [
            (i, self.data[self.offsets[i] : self.offsets[i + 1]]) for i in range(len(self)) if i not in self.decoded
        ]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> list[Any]:
        device = torch.device(device)
        images: list[Any] = [None] * len(self)
        for i, image in self.decoded.items():
            images[i] = image.to(device, non_blocking=non_blocking)
        encoded = self.encoded()
        if encoded:
            names = [self.names[i] for i, _ in encoded]
            for (i, _), image in zip(encoded, _decode_jpegs([data for _, data in encoded], device, names)):
                images[i] = image
        batch = self.finish(torch.stack([self.per_image(image) for image in images]))
        return [batch, self.targets.to(device, non_blocking=non_blocking)]


def _decode_jpegs(data: list[torch.Tensor], device: torch.device, names: list[str]) -> list[torch.Tensor]:
    """JPEG bytes -> uint8 RGB images on ``device``: nvjpeg in one batch on CUDA, else (and if nvjpeg refuses the
    batch) the CPU decoder, which names a bad file."""
    if device.type == "cuda":
        from torchvision.io import ImageReadMode, decode_jpeg

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29's TorchCodec notice, per call
            try:
                return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                pass  # e.g. a progressive JPEG nvjpeg's hardware path does not take: the CPU decodes the batch
    return [read_image(bytearray(d.numpy()), name, SKIP_ADVICE).to(device) for d, name in zip(data, names)]


class EncodedBatches(Dataset):
    """The training loader's view of an image file dataset (or a ``Subset`` of one): ``__getitems__`` gives
    :class:`EncodedImages`; ``__getitem__`` the dataset's own item (a user's DataLoader over it sees no change)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> Any:
        files, positions = _files_of(self.dataset, indices)
        per_image, finish = transform_parts(files.transform)
        if finish is None:  # a custom or per-image-only transform: the CPU path
            return files.__getitems__(positions)
        chunks: list[bytes] = []
        offsets, decoded, names = [0], {}, []
        for slot, position in enumerate(positions):
            path = files.files[position]
            names.append(path)
            data = files.file_bytes(position)
            if device_decodable(data):
                chunks.append(data)
            else:
                decoded[slot] = read_image(data, path, SKIP_ADVICE)
            offsets.append(offsets[-1] + (len(data) if slot not in decoded else 0))
        joined = bytearray().join(chunks)  # one copy, writable: frombuffer shares it
        data = torch.frombuffer(joined, dtype=torch.uint8) if chunks else torch.empty(0, dtype=torch.uint8)
        targets = default_collate([files.targets[p] for p in positions])
        return EncodedImages(data, offsets, decoded, targets, per_image, finish, names)


def _files_of(dataset: Any, indices: list[int]) -> tuple[Any, list[int]]:
    """The image file dataset under ``dataset`` (through ``Subset`` views) and ``indices`` as its positions."""
    positions = list(indices)
    while isinstance(dataset, Subset):
        positions = [int(dataset.indices[i]) for i in positions]
        dataset = dataset.dataset
    return dataset, positions


def encodable(dataset: Any) -> bool:
    """Whether ``dataset`` reads image files with targets (what :class:`EncodedBatches` can serve)."""
    from flashtrain.tasks.image.datasets import ImageFileDataset

    inner, _ = _files_of(dataset, [])
    return isinstance(inner, ImageFileDataset) and inner.targets is not None
