"""TextClassifier options: heads, class weights, metrics; TextEmbedder and as_embedder; the bundled sample."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TextClassificationData, TextClassifier, TextEmbedder
from flashtrain.tasks.text import SAMPLE_BACKBONE, SAMPLE_TABLE
from tests.tasks.text.test_text import LABELS, TEXTS
from tests.tasks.text.tiny_model import make_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))


def quiet(**kwargs):
    return Trainer(
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, **kwargs
    )


def test_mlp_head_balanced_weights_and_f1(tiny_bert):
    seed_everything(0)
    dm = TextClassificationData.from_lists(TEXTS, LABELS, val_split=0.25, batch_size=8)
    model = TextClassifier(
        backbone=tiny_bert, labels=dm.labels, head="mlp", class_weights="balanced", metrics="f1", pooling="mean"
    )
    assert isinstance(model.head, torch.nn.Sequential)
    trainer = quiet(max_epochs=1)
    trainer.fit(model, datamodule=dm)
    assert "val_f1" in trainer.callback_metrics and len(model.hparams["class_weights"]) == 2


def test_text_embedder_and_as_embedder_share_the_encoder(tiny_bert):
    predict = TextClassificationData.from_lists(predict_data=["good film", "awful plot", "superb"], batch_size=2)
    embedder = TextEmbedder(tiny_bert, pooling="mean")
    vectors = quiet().predict(embedder, datamodule=predict, output="embeddings")
    assert len(vectors) == 3 and len(vectors[0]) == embedder.backbone.num_features
    classifier = TextClassifier(backbone=tiny_bert, num_classes=2, pooling="mean")
    shared = classifier.as_embedder()
    assert shared.backbone is classifier.backbone
    again = quiet().predict(shared, datamodule=TextClassificationData.from_lists(predict_data=["good film"]))
    assert again[0].shape == (1, classifier.backbone.num_features)


@pytest.mark.slow
def test_bundled_sample_trains_offline_from_scratch():
    import pandas as pd

    table = pd.read_csv(SAMPLE_TABLE)
    assert len(table) == 300 and set(table["sentiment"]) == {"positive", "negative"}
    seed_everything(0)
    dm = TextClassificationData.from_csv("review", "sentiment", train_file=SAMPLE_TABLE, val_split=0.2, batch_size=32)
    model = TextClassifier(
        backbone=SAMPLE_BACKBONE, labels=dm.labels, pretrained=False, pooling="mean", backbone_learning_rate=3e-3
    )
    trainer = quiet(max_epochs=3)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() >= 0.8
