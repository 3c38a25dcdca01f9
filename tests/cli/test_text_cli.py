"""flash-train text_classification and predict --text / --file, run for real through its main with a tiny local
model (offline)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.cli.test_cli import flash_train
from tests.cli.test_training import logged_steps
from tests.tasks.text.test_text import LABELS, TEXTS
from tests.tasks.text.tiny_model import make_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def reviews(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    pd.DataFrame({"review": TEXTS, "sentiment": LABELS}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"review": TEXTS[:14], "sentiment": LABELS[:14]}).to_json(
        tmp_path / "val.jsonl", orient="records", lines=True
    )
    return tmp_path


def test_train_then_predict_texts_lines_and_a_table(tiny_bert, reviews):
    result = flash_train(
        "text_classification", "--backbone", tiny_bert, "--train-file", "train.csv", "--val-file", "val.jsonl",
        "--input-field", "review", "--target-field", "sentiment", "--max-epochs", "1", "--batch-size", "8",
        "--group-by-length", "--output-dir", "out", cwd=reviews,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final validation accuracy:" in result.stdout
    # every choice of the text recipe is printed, and config.yaml records it (pooling as "auto" resolved it)
    recipe = "recipe: cls pooling, max_length 128, adamw (weight decay 0.01), encoder lr 5e-05, head lr 0.001, "
    assert f"{recipe}schedule none, label smoothing 0" in result.stdout
    config = yaml.safe_load((reviews / "out" / "logs" / "version_0" / "config.yaml").read_text())
    assert {key: config[key] for key in ("pooling", "label_smoothing", "lr_scheduler", "max_length")} == {
        "pooling": "cls",
        "label_smoothing": 0.0,
        "lr_scheduler": "none",
        "max_length": 128,
    }
    checkpoint = str(reviews / "out" / "logs" / "version_0" / "checkpoints" / "best.ckpt")
    assert len(logged_steps(reviews / "out")) >= 5  # 42 texts in batches of 8: every step is a training-curve point
    assert "Map:" not in result.stderr and "tokenizing:" not in result.stderr  # no progress bars in a log file

    texts = flash_train(
        "predict", "--checkpoint", checkpoint, "--text", "good film", "--text", "awful plot", cwd=reviews
    )
    assert texts.returncode == 0, texts.stderr[-2000:]
    lines = texts.stdout.strip().splitlines()
    assert lines[0] == "input,prediction" and [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        "good film",
        "awful plot",
    ]
    assert all(line.rsplit(",", 1)[1] in ("pos", "neg") for line in lines[1:])

    (reviews / "new.txt").write_text("a lovely story\n\nsad plot\n")
    from_lines = flash_train("predict", "--checkpoint", checkpoint, "--file", "new.txt", "--out", "p.json", cwd=reviews)
    assert from_lines.returncode == 0, from_lines.stderr[-2000:]
    assert pd.read_json(reviews / "p.json")["input"].tolist() == ["a lovely story", "sad plot"]

    table = flash_train(
        "predict", "--checkpoint", checkpoint, "--file", "train.csv", "--input-field", "review",
        "--output", "probabilities", "--out", "p.csv", cwd=reviews,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr[-2000:]
    written = pd.read_csv(reviews / "p.csv")
    assert list(written.columns) == ["review", "sentiment", "probability_neg", "probability_pos"]
    assert len(written) == len(TEXTS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backbone", "no-such-org/no-such-model"], "could not find the model 'no-such-org/no-such-model' locally"),
        (["--input-field", "text"], "has no column(s) ['text']; its columns are ['review', 'sentiment']"),
        (["--train-file", "empty_text.csv"], "has an empty text in row 1"),
        (["--train-file", "numbers.csv"], "holds 42 (int) in row 0, not text"),
        (["--val-file", "unseen.csv"], "has labels not seen in training: ['meh']"),
        (["--train-file", "train.txt"], "use a .csv, .json, .jsonl or .parquet file"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(tiny_bert, reviews, args, message):
    pd.DataFrame({"review": ["good", " ", "bad"], "sentiment": ["pos", "neg", "neg"]}).to_csv(
        reviews / "empty_text.csv", index=False
    )
    pd.DataFrame({"review": [42, 7], "sentiment": ["pos", "neg"]}).to_csv(reviews / "numbers.csv", index=False)
    pd.DataFrame({"review": ["so so"], "sentiment": ["meh"]}).to_csv(reviews / "unseen.csv", index=False)
    base = {
        "--backbone": tiny_bert,
        "--train-file": "train.csv",
        "--input-field": "review",
        "--target-field": "sentiment",
    }
    base.update(dict(zip(args[::2], args[1::2])))
    flags = [part for pair in base.items() for part in pair]
    result = flash_train("text_classification", *flags, "--max-epochs", "1", cwd=reviews)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flash-train: error:"), result.stderr
    assert message in lines[0]


@pytest.mark.slow
def test_with_no_data_flags_trains_on_the_bundled_sample_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    result = flash_train("text_classification", "--max-epochs", "1", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final validation accuracy:" in result.stdout


def test_the_pooling_flag_offers_the_task_poolings():
    from flashtrain.cli.commands.text_classification import POOLINGS
    from flashtrain.tasks.text.backbones import POOLINGS as TASK_POOLINGS

    assert POOLINGS == TASK_POOLINGS  # the CLI spells them out so that --help needs no torch
