"""Text checkpoints carry their tokenizer (they predict from any folder, after the model folder is gone), and text
tables with missing labels or a single class are refused."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.tasks import TextClassificationData, TextClassifier
from tests.tasks.text.test_text import LABELS, TEXTS
from tests.tasks.text.tiny_model import make_tiny_bert


def test_a_checkpoint_predicts_from_another_folder_after_the_model_folder_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    make_tiny_bert(tmp_path / "work" / "my-model")
    monkeypatch.chdir(tmp_path / "work")
    data = TextClassificationData.from_lists(train_data=TEXTS, train_targets=LABELS, batch_size=8)
    model = TextClassifier(backbone="./my-model", labels=data.labels, max_length=16)
    assert model.hparams["backbone"] == str(tmp_path / "work" / "my-model")  # resolved, not "./my-model"
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=data)
    trainer.save_checkpoint(str(tmp_path / "text.ckpt"))
    expected = trainer.predict(
        model, datamodule=TextClassificationData.from_lists(predict_data=TEXTS[:4]), output="logits"
    )

    shutil.rmtree(tmp_path / "work" / "my-model")
    os.makedirs(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path / "elsewhere")
    loaded = TextClassifier.load_from_checkpoint(str(tmp_path / "text.ckpt"))
    again = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False).predict(
        loaded, datamodule=TextClassificationData.from_lists(predict_data=TEXTS[:4]), output="logits"
    )
    assert torch.allclose(torch.tensor(again), torch.tensor(expected), atol=1e-6)


def test_missing_labels_and_a_single_class_are_refused(tmp_path):
    frame = pd.DataFrame({"text": ["good", "bad", "fine"], "label": ["pos", None, "neg"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        ValueError, match=r"have no value in the target column\(s\) \['label'\]: rows \[1\] \(file lines \[3\]\)"
    ):
        TextClassificationData.from_csv("text", "label", train_file=str(tmp_path / "t.csv"))
    with pytest.raises(ValueError, match=r"only 1 class\(es\) \(\['pos'\]\): a classifier needs at least two"):
        TextClassificationData.from_lists(train_data=["good", "great"], train_targets=["pos", "pos"])
