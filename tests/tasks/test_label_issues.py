"""label_issues.csv after fit: on scikit-learn's digits (the bundled digits, as a table) with 3% of the labels
flipped, the held-out ranking finds the flipped items (precision >= 0.5 at k = the number flipped)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from flashtrain.core import Trainer, seed_everything


@pytest.mark.slow  # ~15 CPU seconds: a real fit of the tabular task
def test_flipped_digit_labels_are_ranked_first_in_label_issues_csv(tmp_path):
    from sklearn.datasets import load_digits

    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.label_issues import COLUMNS, write_label_issues

    seed_everything(0)
    frame = load_digits(as_frame=True).frame
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(frame), round(0.03 * len(frame)), replace=False)
    frame.loc[flipped, "target"] = (frame.loc[flipped, "target"] + rng.integers(1, 10, len(flipped))) % 10
    order = rng.permutation(len(frame))
    val_rows, train_rows = order[:600], order[600:]
    pixels = [column for column in frame.columns if column.startswith("pixel")]
    data = TabularClassificationData.from_data_frame(
        numerical_fields=pixels, target_fields="target", train_data_frame=frame.iloc[train_rows],
        val_data_frame=frame.iloc[val_rows], batch_size=64,
    )  # fmt: skip
    model = TabularClassifier.from_data(data, learning_rate=3e-3)
    trainer = Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=data)
    found, looked_at = write_label_issues(model, data, str(tmp_path / "label_issues.csv"))
    with open(tmp_path / "label_issues.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == found and looked_at == 600 and tuple(rows[0]) == COLUMNS
    flipped_in_val = {position for position, row in enumerate(val_rows) if row in set(flipped.tolist())}
    k = len(flipped_in_val)
    precision = len({int(row["index"]) for row in rows[:k]} & flipped_in_val) / k
    assert k >= 10 and precision >= 0.5, (precision, k, found)
    first = rows[0]
    assert first["given_label"] != first["suggested_label"]
    assert float(first["given_probability"]) < float(first["suggested_probability"])


def test_nothing_is_written_without_validation_data_or_for_multi_label(tmp_path):
    from types import SimpleNamespace

    from flashtrain.tasks.label_issues import write_label_issues

    without_val = SimpleNamespace(datasets={"train": [1], "val": None})
    assert write_label_issues(SimpleNamespace(labels=["a", "b"]), without_val, str(tmp_path / "x.csv")) is None
    with_val = SimpleNamespace(datasets={"val": [1]})
    multi = SimpleNamespace(labels=["a", "b"], multi_label=True)
    assert write_label_issues(multi, with_val, str(tmp_path / "x.csv")) is None
    assert not (tmp_path / "x.csv").exists()
