"""Data forms Flash users relied on: delimited multi-label strings, one-hot single-label targets, PIL images,
their own datasets, a training sampler and pinned memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flashtrain.tasks import ImageClassificationData
from tests.tasks.image.test_data import write_images


def test_comma_delimited_targets_in_from_files_are_multi_label(tmp_path):
    write_images(tmp_path, ["a.png", "b.png", "c.png"])
    files = [str(tmp_path / name) for name in ("a.png", "b.png", "c.png")]
    data = ImageClassificationData.from_files(train_files=files, train_targets=["cat,dog", "dog", "cat"])
    assert data.multi_label and data.labels == ["cat", "dog"]
    assert data.datasets["train"][0][1].tolist() == [1.0, 1.0]
    single = ImageClassificationData.from_files(
        train_files=files, train_targets=["cat,dog", "dog", "cat"], target_delimiter=None
    )
    assert not single.multi_label and single.labels == ["cat", "cat,dog", "dog"]


def test_one_hot_targets_are_single_label_as_in_flash():
    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    one_hot = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    data = ImageClassificationData.from_tensors(train_data=images, train_targets=one_hot, labels=["a", "b", "c"])
    assert not data.multi_label and [data.datasets["train"][i][1] for i in range(3)] == [0, 2, 1]
    forced = ImageClassificationData.from_tensors(train_data=images, train_targets=one_hot, multi_label=True)
    assert forced.multi_label
    with pytest.raises(ValueError, match="the training targets were one-hot"):
        ImageClassificationData.from_tensors(
            train_data=images, train_targets=one_hot, val_data=images[:1], val_targets=np.array([[1, 1, 0]])
        )


def test_from_images_takes_pil_images_of_any_size():
    pictures = [Image.new("RGB", (10 + i, 12), color=(i * 40, 0, 0)) for i in range(4)] + [Image.new("L", (9, 9))]
    data = ImageClassificationData.from_images(
        train_images=pictures, train_targets=["r", "r", "g", "g", "b"], image_size=8, train_transform="none"
    )
    assert data.labels == ["b", "g", "r"] and data.datasets["train"][4][0].shape == (3, 8, 8)
    with pytest.raises(TypeError, match="image 0 holds a str"):
        ImageClassificationData.from_images(predict_images=["not an image"]).datasets["predict"][0]


def test_from_datasets_with_targets_attribute_or_pairs():
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return np.full((6, 6, 3), index * 50, dtype=np.uint8), ["x", "y"][index % 2]

    data = ImageClassificationData.from_datasets(train_dataset=Pairs(), val_dataset=Pairs(), image_size=4)
    assert data.labels == ["x", "y"] and data.datasets["val"][1][1] == 1
    assert data.datasets["val"][1][0].shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r"train_dataset\[0\] is not an \(image, target\) pair"):
        ImageClassificationData.from_datasets(train_dataset=[np.zeros((4, 4, 3), dtype=np.uint8)])


def test_sampler_and_pin_memory_reach_the_training_loader():
    images = torch.zeros(6, 3, 8, 8, dtype=torch.uint8)
    sampler = torch.utils.data.WeightedRandomSampler([1.0] * 6, num_samples=6)
    data = ImageClassificationData.from_tensors(
        train_data=images, train_targets=[0, 1] * 3, sampler=sampler, pin_memory=True, batch_size=2
    )
    loader = data.train_dataloader()
    assert loader.sampler is sampler and loader.pin_memory
    by_function = ImageClassificationData.from_tensors(
        train_data=images, train_targets=[0, 1] * 3, sampler=lambda dataset: torch.utils.data.SequentialSampler(dataset)
    )
    assert isinstance(by_function.train_dataloader().sampler, torch.utils.data.SequentialSampler)
    with pytest.raises(TypeError, match="sampler must be a torch Sampler"):
        ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1] * 3, sampler=[0, 1])
