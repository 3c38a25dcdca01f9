"""Image inputs that used to give silent wrong results or raw errors: 16-bit PNGs, oversized images, missing or
single-class labels, a zero image size, weights of another architecture, a frozen random backbone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from flashtrain.core import Trainer
from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.image import backbones as backbone_registry
from flashtrain.tasks.image.files import SKIP_ADVICE, read_image
from tests.tasks.image.test_data import write_images

TINY = "test_resnet"


def test_16_bit_grayscale_pngs_keep_their_gray_levels(tmp_path):
    levels = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16).repeat(3, axis=0)
    Image.fromarray(levels).save(tmp_path / "deep.png")  # a 16-bit PNG
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    rgb = read_image(str(tmp_path / "deep.png"), "deep.png")
    # Pillow's convert("RGB") clips 16-bit values: everything but black became 255.
    assert rgb.shape == (3, 3, 4) and rgb[0, 0].tolist() == [0, 64, 128, 255]


def test_an_image_over_pillows_size_limit_names_the_file_and_the_ways_out(tmp_path, monkeypatch):
    write_images(tmp_path, ["big.png"], size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 pixels > 2 x limit: DecompressionBombError
    with pytest.raises(ValueError, match=r"Cannot read image .*big.png: .*MAX_IMAGE_PIXELS.*skip_bad_files=True"):
        read_image(str(tmp_path / "big.png"), str(tmp_path / "big.png"), SKIP_ADVICE)


def test_missing_labels_and_a_single_class_are_refused(tmp_path):
    write_images(tmp_path, [f"{i}.png" for i in range(4)])
    pd.DataFrame({"image": [f"{i}.png" for i in range(4)], "label": ["cat", None, "dog", "cat"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    with pytest.raises(ValueError, match=r"1 row\(s\) have no value in the target column\(s\) \['label'\]: rows \[1\]"):
        ImageClassificationData.from_csv("image", "label", train_file=str(tmp_path / "t.csv"))
    with pytest.raises(ValueError, match=r"the training data has only 1 class\(es\) \(\['cat'\]\).*at least two"):
        ImageClassificationData.from_files(train_files=[str(tmp_path / "0.png")] * 2, train_targets=["cat", "cat"])


def test_image_size_zero_is_refused_not_read_as_the_default(tmp_path):
    write_images(tmp_path, ["0.png", "1.png"])
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        ImageClassificationData.from_files(
            train_files=[str(tmp_path / "0.png"), str(tmp_path / "1.png")], train_targets=["a", "b"], image_size=0
        )


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4, 2))
    torch.save(other.state_dict(), tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"does not fit the test_resnet backbone: \d+ of its \d+ tensors are missing"):
        ImageClassifier(backbone=TINY, num_classes=2, pretrained=str(tmp_path / "other.pth"))
    with pytest.raises(ValueError, match=r"does not fit the torchvision/resnet18 backbone"):
        backbone_registry.build_backbone("torchvision/resnet18", pretrained=str(tmp_path / "other.pth"))


def test_freezing_a_backbone_that_was_never_pretrained_warns(tmp_path):
    write_images(tmp_path / "a", ["0.png", "1.png"])
    write_images(tmp_path / "b", ["0.png", "1.png"])
    files = [str(tmp_path / d / f) for d in "ab" for f in ("0.png", "1.png")]
    data = ImageClassificationData.from_files(train_files=files, train_targets=list("aabb"), image_size=16)
    model = ImageClassifier(backbone=TINY, labels=data.labels, pretrained=False)
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with pytest.warns(UserWarning, match=r"frozen but was not pretrained.*strategy='no_freeze'"):
        trainer.finetune(model, datamodule=data, strategy="freeze")
