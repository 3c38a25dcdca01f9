"""The validation confusion matrix: counted as the model decides (a fitted decision threshold included), kept in the
checkpoint, and written into the model card by save_pretrained and ``flash-train push``."""

from __future__ import annotations

import os

import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks.confusion import ValidationConfusion
from tests.cli.test_cli import flash_train


def test_counts_follow_the_threshold_fitted_at_the_end_of_the_epoch():
    confusion = ValidationConfusion(2, deferred=True)
    logits = torch.log(torch.tensor([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1]]))
    confusion.update(logits[:2], torch.tensor([0, 1]))
    confusion.update(logits[2:], torch.tensor([1, 0]))
    assert confusion.matrix is None  # nothing decided before the epoch ends
    confusion.finish(lambda scores: (scores.softmax(1)[:, 1] >= 0.35).long())  # the threshold fitted meanwhile
    assert confusion.matrix == [[2, 0], [0, 2]]  # actual 1 at p=0.4 counts as predicted 1 (argmax: [[2, 0], [1, 1]])

    immediate = ValidationConfusion(3, deferred=False)
    immediate.update(torch.eye(3)[[0, 1, 2, 2]], torch.tensor([0, 2, 2, 1]))
    immediate.finish(lambda scores: scores.argmax(1))
    assert immediate.matrix == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    immediate.finish(lambda scores: scores.argmax(1))  # an epoch with no batches keeps the last matrix
    assert immediate.matrix == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]


@pytest.mark.slow
def test_the_validation_confusion_matrix_reaches_the_checkpoint_and_the_pushed_card(tmp_path):
    import pandas as pd
    from huggingface_hub import ModelCard
    from sklearn.metrics import confusion_matrix

    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.inference import load_task
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    seed_everything(0)
    frame = pd.read_csv(SAMPLE_TABLE).sample(frac=1.0, random_state=0)
    train, val = frame.iloc[:240], frame.iloc[240:]
    numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    data = TabularClassificationData.from_data_frame(
        ["island", "sex"], numbers, "species", train_data_frame=train, val_data_frame=val, batch_size=64
    )
    model = TabularClassifier.from_data(data)
    trainer = Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, datamodule=data)
    checkpoint = str(tmp_path / "model.ckpt")
    trainer.save_checkpoint(checkpoint)

    on_val = TabularClassificationData.from_data_frame(
        predict_data_frame=val.drop(columns="species"), parameters=model.hparams["parameters"], batch_size=64
    )
    predicted = trainer.predict(model, datamodule=on_val, output="labels")
    expected = confusion_matrix(val["species"], predicted, labels=model.labels).tolist()
    assert model.validation_confusion_matrix == expected
    assert sum(map(sum, expected)) == len(val)
    assert load_task(checkpoint).validation_confusion_matrix == expected

    done = flash_train("push", "--checkpoint", checkpoint, "--dry-run", "--out", "card", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    card = ModelCard.load(os.path.join(tmp_path, "card", "README.md"))  # still parses
    assert card.data.library_name == "flashtrain"
    assert "## Confusion matrix (validation; rows: actual, columns: predicted)" in card.text
    for label, row in zip(model.labels, expected):
        assert f"| {label} | " + " | ".join(str(count) for count in row) + " |" in card.text
