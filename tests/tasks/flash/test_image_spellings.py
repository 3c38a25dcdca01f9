"""Flash's image-data spellings: transform_kwargs with image_size/mean/std, and from_csv's per-stage resolvers and
image roots (before, the resolver was swallowed and the error blamed the CSV's file ids)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from flashtrain.tasks import ImageClassificationData


def write_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.full((12, 10, 3), 80, dtype=np.uint8)).save(folder / f"{name}.png")


def test_transform_kwargs_carry_image_size_mean_and_std():
    images = np.zeros((4, 10, 12, 3), dtype=np.uint8)
    data = ImageClassificationData.from_numpy(
        train_data=images,
        train_targets=[0, 1, 0, 1],
        batch_size=2,
        transform_kwargs={"image_size": (20, 24), "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)},
    )
    batch, _ = next(iter(data.train_dataloader()))
    assert batch.shape[-2:] == (20, 24)
    assert data.image_config.mean == (0.5, 0.5, 0.5) and data.image_config.std == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError, match="image_size was given twice"):
        ImageClassificationData.from_numpy(
            train_data=images, train_targets=[0, 1, 0, 1], image_size=8, transform_kwargs={"image_size": 8}
        )


def test_from_csv_with_resolvers_and_image_roots(tmp_path):
    write_images(tmp_path / "train", ["a1", "a2", "b1", "b2"])
    write_images(tmp_path / "elsewhere", ["v1", "v2"])
    pd.DataFrame({"Id": ["a1", "a2", "b1", "b2"], "label": ["a", "a", "b", "b"]}).to_csv(tmp_path / "train.csv")
    pd.DataFrame({"Id": ["v1", "v2"], "label": ["a", "b"]}).to_csv(tmp_path / "val.csv")

    def resolver(root, file_id):
        return os.path.join(root, f"{file_id}.png")

    data = ImageClassificationData.from_csv(
        "Id",
        "label",
        train_file=str(tmp_path / "train.csv"),
        train_images_root=str(tmp_path / "train"),
        train_resolver=resolver,
        val_file=str(tmp_path / "val.csv"),
        val_images_root=str(tmp_path / "elsewhere"),
        val_resolver=resolver,
        batch_size=2,
    )
    assert data.labels == ["a", "b"] and len(data.val_dataloader().dataset) == 2
    with pytest.raises(FileNotFoundError, match=r"train_resolver resolver\(root=.*file_id='a1'\) returned .*not a"):
        ImageClassificationData.from_csv(
            "Id", "label", train_file=str(tmp_path / "train.csv"), train_resolver=resolver, batch_size=2
        )
    with pytest.raises(TypeError, match="val_resolver must be a callable"):
        ImageClassificationData.from_csv("Id", "label", train_file=str(tmp_path / "train.csv"), val_resolver="x")
