"""Stand-ins for Flash's published checkpoints (``https://flash-weights.s3.amazonaws.com/...``), trained by
flashtrain for one smoke epoch on the stand-in data, so the serve examples load a real checkpoint from a URL.

    python make_checkpoints.py DATA_FOLDER OUT_FOLDER   (run with the harness's HF_HOME / HF_HUB_OFFLINE)
"""

from __future__ import annotations

import sys
from pathlib import Path

from flashtrain.core import Trainer
from flashtrain.tasks import (
    ImageClassificationData,
    ImageClassifier,
    TabularClassificationData,
    TabularClassifier,
    TextClassificationData,
    TextClassifier,
)


def main(data: Path, out: Path) -> None:
    def train(model, datamodule, path: Path) -> None:
        trainer = Trainer(
            max_epochs=1,
            limit_train_batches=2,
            limit_val_batches=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
        )
        trainer.fit(model, datamodule=datamodule)
        path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(str(path))

    images = ImageClassificationData.from_folders(
        train_folder=str(data / "hymenoptera_data" / "train"),
        val_folder=str(data / "hymenoptera_data" / "val"),
        batch_size=4,
    )
    train(
        ImageClassifier(backbone="resnet18", labels=images.labels),
        images,
        out / "0.7.0" / "image_classification_model.pt",
    )
    texts = TextClassificationData.from_csv(
        "review",
        "sentiment",
        train_file=str(data / "imdb" / "train.csv"),
        val_file=str(data / "imdb" / "valid.csv"),
        batch_size=4,
    )
    train(
        TextClassifier(backbone="prajjwal1/bert-medium", labels=texts.labels),
        texts,
        out / "0.9.0" / "text_classification_model.pt",
    )
    table = TabularClassificationData.from_csv(
        categorical_fields=["Sex", "Age", "SibSp", "Parch", "Ticket", "Cabin", "Embarked"],
        numerical_fields=["Fare"],
        target_fields="Survived",
        train_file=str(data / "titanic.csv"),
        val_split=0.2,
        batch_size=8,
    )
    train(TabularClassifier.from_data(table), table, out / "0.7.0" / "tabular_classification_model.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
