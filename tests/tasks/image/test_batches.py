"""Whole batches from the image datasets (``__getitems__``): per-image work on uint8, one float conversion and
normalisation per batch. The batches must be exactly what the per-item path and torch's default collate give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, default_collate

from flashtrain.tasks import ImageClassificationData
from flashtrain.tasks.image.datasets import ImageBatch, collate_images
from flashtrain.tasks.image.transforms import (
    ImageConfig,
    SplitTransform,
    ToFloatNormalized,
    build_eval_transform,
    build_train_transform,
)


def _folder(root: Path, count: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for index in range(count):
        label = root / f"c{index % 3}"
        label.mkdir(parents=True, exist_ok=True)
        size = (20 + index, 16 + 2 * index)  # different sizes: the per-image part makes them equal
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(label / f"{index}.{'png' if index % 2 else 'jpg'}")
    return root


def _per_item(dataset, indices, seed: int):
    torch.manual_seed(seed)
    return default_collate([dataset[i] for i in indices])


@pytest.mark.parametrize("stage", ["train", "val"])
def test_batch_equals_the_items_collated(tmp_path, stage):
    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), val_split=0.5, image_size=16, batch_size=4, num_workers=0
    )
    dataset = data.datasets[stage]
    indices = [3, 0, 2, 1]
    expected = _per_item(dataset, indices, seed=7)
    torch.manual_seed(7)  # the same random crops: one draw per image, in the same order
    batch = dataset.__getitems__(indices)
    assert isinstance(batch, ImageBatch)
    images, targets = collate_images(batch)
    assert images.dtype == torch.float32 and images.shape == (4, 3, 16, 16)
    assert torch.equal(images, expected[0]) and torch.equal(targets, expected[1])  # bit for bit
    # A user's own DataLoader with torch's default collate sees a plain list of (image, target) items
    again = default_collate(list(batch))
    assert torch.equal(again[0], expected[0]) and torch.equal(again[1], expected[1])


def test_loader_batches_equal_a_plain_dataloader_over_the_same_dataset(tmp_path):
    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), val_split=0.25, image_size=16, batch_size=3, num_workers=0
    )
    ours = list(data.val_dataloader())
    plain = list(DataLoader(data.datasets["val"], batch_size=3))  # torch's default collate over our dataset
    assert len(ours) == len(plain) == 1
    assert torch.equal(ours[0][0], plain[0][0]) and torch.equal(ours[0][1], plain[0][1])


def test_predict_batches_without_targets(tmp_path):
    folder = _folder(tmp_path)
    files = sorted(str(p) for p in folder.rglob("*.*"))[:5]
    data = ImageClassificationData.from_files(predict_files=files, image_size=16, batch_size=5, num_workers=0)
    (images,) = list(data.predict_dataloader())
    assert torch.equal(images, torch.stack([data.datasets["predict"][i] for i in range(5)]))


def test_float_tensors_of_the_user_are_not_normalised_in_place():
    stored = torch.rand(6, 3, 16, 16)
    kept = stored.clone()
    data = ImageClassificationData.from_tensors(
        train_data=stored, train_targets=[0, 1, 0, 1, 0, 1], image_size=16, batch_size=6, num_workers=0
    )
    data.datasets["train"][0]
    images, _ = next(iter(data.train_dataloader()))
    assert torch.equal(stored, kept)
    assert not torch.equal(images, stored)  # normalised, in a copy


def test_custom_train_transform_is_applied_per_image(tmp_path):
    def to_mean_colour(image):
        return image.float().mean(dim=(1, 2))

    data = ImageClassificationData.from_folders(
        train_folder=_folder(tmp_path), train_transform=to_mean_colour, batch_size=4, num_workers=0
    )
    images, targets = next(iter(data.train_dataloader()))
    assert images.shape == (4, 3) and targets.shape == (4,)


def test_finish_on_a_batch_is_the_finish_on_each_image():
    finish = ToFloatNormalized((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    images = torch.randint(0, 256, (5, 3, 7, 9), dtype=torch.uint8)
    assert torch.equal(finish(images), torch.stack([finish(image) for image in images]))
    floats = torch.rand(3, 7, 9)
    before = floats.clone()
    finish(floats)
    assert torch.equal(floats, before)


def test_built_transforms_split_and_random_erasing_stays_per_image():
    config = ImageConfig(16)
    assert isinstance(build_eval_transform(config), SplitTransform)
    assert isinstance(build_train_transform(config), SplitTransform)
    assert not isinstance(build_train_transform(config, options={"random_erasing": 0.5}), SplitTransform)
    image = torch.randint(0, 256, (3, 20, 24), dtype=torch.uint8)
    evaluation = build_eval_transform(config)
    assert torch.equal(evaluation(image), evaluation.finish(evaluation.per_image(image)))


@pytest.mark.parametrize(
    "augmentation, options",
    [("default", {}), ("default", {"hflip": 0.5, "vflip": 0.5, "color_jitter": 0.3}), ("randaugment", {})],
)
def test_train_transform_gives_torchvision_compose_pixels(augmentation, options):
    """The per-image steps skip v2's forward (flattening, type checks) but draw and compute as it does."""
    from torchvision.transforms import v2

    config = ImageConfig(16, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    ours = build_train_transform(config, augmentation, options)
    steps = [v2.ToImage(), v2.RandomResizedCrop(16, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)]
    if options.get("hflip"):
        steps.append(v2.RandomHorizontalFlip(options["hflip"]))
    if options.get("vflip"):
        steps.append(v2.RandomVerticalFlip(options["vflip"]))
    if options.get("color_jitter"):
        steps.append(v2.ColorJitter(options["color_jitter"], options["color_jitter"], options["color_jitter"]))
    if augmentation == "randaugment":
        steps += [v2.ToDtype(torch.uint8, scale=True), v2.RandAugment()]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(config.mean), list(config.std))]
    reference = v2.Compose(steps)
    image = torch.randint(0, 256, (3, 24, 30), dtype=torch.uint8)
    for seed in range(8):  # flips both taken and not
        torch.manual_seed(seed)
        expected = reference(image)
        torch.manual_seed(seed)
        assert torch.equal(ours(image), expected)
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    torch.manual_seed(0)
    expected = reference(pil)
    torch.manual_seed(0)
    assert torch.equal(ours(pil), expected)  # a PIL image is converted as ToImage does


@pytest.mark.slow  # one DataLoader worker process
def test_finish_gives_torchvision_numbers_and_shared_batches_in_workers():
    from torchvision.transforms import v2

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    finish = ToFloatNormalized(mean, std)
    reference = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
    images = torch.randint(0, 256, (4, 3, 9, 7), dtype=torch.uint8)
    assert torch.equal(finish(images), reference(images))
    assert not finish(images).is_shared()  # in the main process: plain memory

    loader = DataLoader(_Finishing(images, finish), batch_size=None, num_workers=1)
    (batch,) = list(loader)
    assert torch.equal(batch[0], reference(images)) and batch[1]  # made in shared memory by the worker


class _Finishing(torch.utils.data.Dataset):
    def __init__(self, images, finish):
        self.images, self.finish = images, finish

    def __len__(self):
        return 1

    def __getitem__(self, index):
        out = self.finish(self.images)
        return out, out.is_shared()


def test_eval_transform_gives_the_pixels_of_the_transform_before():
    """Predictions are unchanged: the evaluation transform computes what its v2.Compose did, bit for bit."""
    from torchvision.transforms import v2

    config = ImageConfig((20, 16), (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    before = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(config.size, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(config.mean), list(config.std)),
        ]
    )
    image = torch.randint(0, 256, (3, 37, 29), dtype=torch.uint8)
    assert torch.equal(build_eval_transform(config)(image), before(image))
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    assert torch.equal(build_eval_transform(config)(pil), before(pil))
    floats = torch.rand(3, 37, 29)
    assert torch.equal(build_eval_transform(config)(floats), before(floats))
