"""Training batches decoded on the device (``decode_on_device=True``): the CPU side here (which files stay on the
CPU decoder, one bytes tensor per batch, the same batch as the CPU path when "the device" is the CPU); the CUDA
side runs where there is a GPU (``benchmarks/gpu_check.sh``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from flashtrain.core import Trainer
from flashtrain.core.utilities.apply import move_to_device
from flashtrain.tasks import ImageClassificationData
from flashtrain.tasks.image.datasets import collate_images
from flashtrain.tasks.image.device_decode import EncodedBatches, EncodedImages, device_decodable


def _pixels(seed: int, size=(24, 20)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _jpeg(pixels: np.ndarray, orientation: int | None = None, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels).convert(mode)
    if orientation is None:
        image.save(buffer, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _folder(root: Path) -> Path:
    """Eight images in two classes: JPEGs, PNGs and one rotated JPEG (EXIF orientation 6)."""
    for index in range(8):
        label = root / f"c{index % 2}"
        label.mkdir(parents=True, exist_ok=True)
        pixels = _pixels(index, (24 + index, 20))
        if index % 3 == 1:
            Image.fromarray(pixels).save(label / f"{index}.png")
        else:
            (label / f"{index}.jpg").write_bytes(_jpeg(pixels, orientation=6 if index == 4 else None))
    return root


def test_which_files_the_device_decodes():
    pixels = _pixels(0)
    assert device_decodable(_jpeg(pixels))
    assert device_decodable(_jpeg(pixels, orientation=1))  # "normal": nothing to rotate
    assert device_decodable(_jpeg(pixels, mode="L"))  # grayscale: nvjpeg gives RGB as the CPU decoder does
    assert not device_decodable(_jpeg(pixels, orientation=6))  # nvjpeg does not rotate: the CPU decoder does
    assert not device_decodable(_jpeg(pixels, mode="CMYK"))
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, "PNG")
    assert not device_decodable(png.getvalue())


def test_encoded_batch_decodes_to_the_cpu_paths_batch(tmp_path):
    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), val_split=0.25, image_size=16, batch_size=4, num_workers=0
    )
    train = data.datasets["train"]  # a Subset of the file dataset (val_split)
    indices = [0, 1, 2, 3, 4, 5]
    encoded = EncodedBatches(train).__getitems__(indices)
    assert isinstance(encoded, EncodedImages) and len(encoded) == 6
    files = [train.dataset.files[train.indices[i]] for i in indices]
    left_to_device = [files[i] for i, _ in encoded.encoded()]
    assert left_to_device == [f for f in files if f.endswith(".jpg") and not f.endswith("4.jpg")]
    assert sorted(encoded.decoded) == [i for i, f in enumerate(files) if f not in left_to_device]
    assert encoded.data.ndim == 1 and encoded.data.dtype == torch.uint8  # one tensor for the whole batch

    torch.manual_seed(3)  # on the CPU, the same decoder and the same random crops, drawn in the same order
    images, targets = move_to_device(encoded, torch.device("cpu"))  # what the trainer does with the batch
    torch.manual_seed(3)
    expected = collate_images(train.__getitems__(indices))
    assert torch.equal(images, expected[0]) and torch.equal(targets, expected[1])


def test_loader_of_encoded_batches_with_workers_argument_zero(tmp_path):
    data = ImageClassificationData.from_folders(train_folder=_folder(tmp_path), image_size=16, batch_size=4)
    loader = DataLoader(EncodedBatches(data.datasets["train"]), batch_size=4, collate_fn=collate_images)
    batches = list(loader)
    assert len(batches) == 2 and all(isinstance(batch, EncodedImages) for batch in batches)
    images, targets = batches[0].to("cpu")
    assert images.shape == (4, 3, 16, 16) and images.dtype == torch.float32 and targets.shape == (4,)
    assert EncodedBatches(data.datasets["train"])[0][0].shape == (3, 16, 16)  # single items: the dataset's own


def test_option_falls_back_to_the_cpu_off_cuda(tmp_path):
    with pytest.raises(TypeError, match="decode_on_device must be True or False, got 'yes'"):
        ImageClassificationData.from_folders(train_folder=_folder(tmp_path), decode_on_device="yes")
    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), image_size=16, batch_size=4, decode_on_device=True
    )
    data.trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    with pytest.warns(UserWarning, match="the trainer's device is cpu, not CUDA .nvjpeg.: the training images are"):
        loader = data.train_dataloader()
    assert loader.dataset is data.datasets["train"]
    train = data.datasets["train"]
    assert data.loader_dataset("val", train) is train  # evaluation always reads through the one CPU decoder


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nvjpeg_batches_match_the_cpu_decoder_and_train(tmp_path):
    from flashtrain.tasks import ImageClassifier

    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), image_size=16, batch_size=8, num_workers=0, decode_on_device=True
    )
    encoded = EncodedBatches(data.datasets["train"]).__getitems__(list(range(8)))
    torch.manual_seed(0)
    on_gpu, _ = encoded.to("cuda")
    torch.manual_seed(0)
    on_cpu, _ = encoded.to("cpu")
    assert on_gpu.is_cuda
    # nvjpeg's IDCT and the GPU's resize differ from the CPU's by a level or two in some pixels (of 255)
    assert (on_gpu.cpu() - on_cpu).abs().mean().item() < 0.05
    model = ImageClassifier(backbone="test_resnet", labels=data.labels, pretrained=False)
    trainer = Trainer(max_epochs=1, accelerator="gpu", devices=1, logger=False, enable_checkpointing=False)
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 1


def test_a_jpeg_that_cannot_be_decoded_is_named(tmp_path):
    data = ImageClassificationData.from_folders(train_folder=_folder(tmp_path), image_size=16, batch_size=4)
    train = data.datasets["train"]
    broken = next(path for path in train.files if path.endswith("5.jpg"))  # after two files the CPU decodes
    Path(broken).write_bytes(Path(broken).read_bytes()[:200])  # a JPEG header, then nothing
    encoded = EncodedBatches(train).__getitems__(list(range(len(train))))
    assert broken in [encoded.names[i] for i, _ in encoded.encoded()] and min(encoded.decoded) < train.files.index(
        broken
    )
    with pytest.raises(ValueError, match=f"Cannot read image {broken}"):
        encoded.to("cpu")
