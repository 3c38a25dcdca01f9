"""Tiny real checkpoints of every task, made in a second or two each, offline: what export and serve start from."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from flashtrain.core import Trainer, seed_everything


def _fit_and_save(model, datamodule, path: Path) -> str:
    trainer = Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(str(path))
    return str(path)


def png_bytes(seed: int, size: tuple[int, int] = (20, 16)) -> bytes:
    """A small random RGB PNG file."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64(seed: int) -> str:
    return base64.b64encode(png_bytes(seed)).decode("ascii")


def image_checkpoint(folder: Path) -> str:
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    seed_everything(0)
    for label, seeds in (("ant", range(6)), ("bee", range(6, 12))):
        (folder / "train" / label).mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (folder / "train" / label / f"{seed}.png").write_bytes(png_bytes(seed))
    data = ImageClassificationData.from_folders(train_folder=str(folder / "train"), batch_size=4, image_size=32)
    model = ImageClassifier(backbone="test_resnet", labels=data.labels, pretrained=False)
    return _fit_and_save(model, data, folder / "image.ckpt")


def text_checkpoint(folder: Path) -> str:
    from flashtrain.tasks import TextClassificationData, TextClassifier
    from tests.tasks.text.test_text import LABELS, TEXTS
    from tests.tasks.text.tiny_model import make_tiny_bert

    seed_everything(0)
    backbone = make_tiny_bert(folder / "tiny-bert")
    data = TextClassificationData.from_lists(TEXTS, LABELS, batch_size=8)
    model = TextClassifier(backbone=backbone, labels=data.labels, pooling="mean", max_length=32)
    return _fit_and_save(model, data, folder / "text.ckpt")


PENGUIN_ROWS = [
    {"island": "Biscoe", "sex": "female", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211,
     "body_mass_g": 4500},
    {"island": "Dream", "sex": "male", "bill_length_mm": 39.5, "bill_depth_mm": 17.4, "flipper_length_mm": 186,
     "body_mass_g": 3800},
    {"island": "Torgersen", "sex": None, "bill_length_mm": None, "bill_depth_mm": 18.0, "flipper_length_mm": 195,
     "body_mass_g": 3250},
]  # fmt: skip


def tabular_checkpoint(folder: Path, regression: bool = False, backbone: str = "mlp") -> str:
    from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    seed_everything(0)
    numerical = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    if regression:
        import pandas as pd

        frame = pd.read_csv(SAMPLE_TABLE).dropna(subset=["body_mass_g"])
        data = TabularRegressionData.from_data_frame(
            ["island", "sex"], numerical, "body_mass_g", train_data_frame=frame, batch_size=64
        )
        model = TabularRegressor.from_data(data, backbone=backbone)
    else:
        data = TabularClassificationData.from_csv(["island", "sex"], [*numerical, "body_mass_g"], "species",
                                                  train_file=SAMPLE_TABLE, batch_size=64)  # fmt: skip
        model = TabularClassifier.from_data(data, backbone=backbone)
    name = f"tabular-{'regression' if regression else 'classification'}-{backbone}.ckpt"
    return _fit_and_save(model, data, folder / name)
