"""The text task under strategy="fsdp": one shard unit per transformer layer, trained by flash-train in two
processes, and its checkpoint predicting in one."""

from __future__ import annotations

import pandas as pd
import pytest

from flashtrain.core.strategies.fsdp import shard_units
from flashtrain.tasks import TextClassifier
from tests.cli.test_cli import flash_train
from tests.tasks.text.test_text import LABELS, TEXTS
from tests.tasks.text.tiny_model import make_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_default_policy_shards_each_layer_the_hugging_face_model_declares(tiny_bert):
    model = TextClassifier(backbone=tiny_bert, num_classes=2)
    units = shard_units(model)
    names = [type(unit).__name__ for unit in units]
    layers = model.backbone.model.config.num_hidden_layers
    # BertModel._no_split_modules: one unit per encoder layer, one for the embeddings.
    assert sorted(names) == ["BertEmbeddings"] + ["BertLayer"] * layers
    # Children come before the modules that hold them, as fully_shard needs.
    assert all(
        not any(other is not unit and unit in other.modules() for other in units[:i]) for i, unit in enumerate(units)
    )


@pytest.mark.slow
def test_flash_train_text_classification_with_strategy_fsdp_on_two_processes(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pd.DataFrame({"review": TEXTS, "sentiment": LABELS}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"review": TEXTS[:14], "sentiment": LABELS[:14]}).to_csv(tmp_path / "val.csv", index=False)
    result = flash_train(
        "text_classification", "--backbone", tiny_bert, "--train-file", "train.csv", "--val-file", "val.csv",
        "--input-field", "review", "--target-field", "sentiment", "--max-epochs", "2", "--batch-size", "8",
        "--accelerator", "cpu", "--devices", "2", "--strategy", "fsdp", "--output-dir", "out", cwd=tmp_path,
        isolated=True,  # flash-train starts the second rank by running its own command line again
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("final validation accuracy:") == 1  # rank 0 only
    checkpoint = tmp_path / "out" / "logs" / "version_0" / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()  # a full checkpoint: one plain file, gathered on rank 0

    predicted = flash_train("predict", "--checkpoint", str(checkpoint), "--text", "good film", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    lines = predicted.stdout.strip().splitlines()
    assert lines[0] == "input,prediction" and lines[1].rsplit(",", 1)[1] in ("pos", "neg")
