"""data.check(): the data check from the Python API, on each task's data module (opt-in, a warning per problem,
strict=True refuses)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from flashtrain.tasks import ImageClassificationData, TabularClassificationData, TextClassificationData


def test_image_data_check_finds_a_training_image_copied_into_validation(tmp_path):
    for i in range(8):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        split = "train" if i < 6 else "val"
        (tmp_path / split / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / split / f"c{i % 2}" / f"{i}.png")
    (tmp_path / "val" / "c0" / "copy.png").write_bytes((tmp_path / "train" / "c0" / "0.png").read_bytes())
    data = ImageClassificationData.from_folders(
        train_folder=str(tmp_path / "train"), val_folder=str(tmp_path / "val"), batch_size=2, image_size=32
    )
    with pytest.warns(UserWarning, match=r"data check: the same file in \['train', 'val'\]"):
        report = data.check()
    assert [len(f.items) for f in report.of_kind("duplicate_file")] == [2]
    with pytest.raises(ValueError, match=r"refused \(check\(strict=True\)\)"):
        data.check(strict=True)


def test_image_val_split_of_one_folder_is_checked_through_its_subsets(tmp_path):
    for i in range(10):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        (tmp_path / f"c{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / f"c{i % 2}" / f"{i}.png")
    data = ImageClassificationData.from_folders(train_folder=str(tmp_path), val_split=0.4, batch_size=2, image_size=32)
    report = data.check()
    assert not report.problems
    assert "train c0=3, c1=3; val c0=2, c1=2" in report.of_kind("class_counts")[0].message


def test_text_data_check_finds_a_case_changed_copy_with_another_label():
    data = TextClassificationData.from_lists(
        train_data=["a fine film", "a dull film", "great acting"], train_targets=["pos", "neg", "pos"],
        val_data=["A  fine film", "bad plot"], val_targets=["neg", "neg"],
    )  # fmt: skip
    with pytest.warns(UserWarning, match="data check"):
        report = data.check()
    assert len(report.of_kind("duplicate_text")) == 1 and len(report.of_kind("conflicting_labels")) == 1


def test_tabular_data_check_finds_rows_repeated_across_splits():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "kind": rng.choice(["a", "b"], 60)})
    frame["y"] = np.where(frame["x"] > 0, "pos", "neg")
    data = TabularClassificationData.from_data_frame(
        categorical_fields="kind", numerical_fields="x", target_fields="y",
        train_data_frame=frame.iloc[:40], val_data_frame=pd.concat([frame.iloc[40:], frame.iloc[:2]]),
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"the same row in \['train', 'val'\]"):
        report = data.check()
    assert len(report.of_kind("duplicate_row")) == 2
    clean = TabularClassificationData.from_data_frame(
        categorical_fields="kind", numerical_fields="x", target_fields="y", train_data_frame=frame, val_split=0.25
    )
    assert not clean.check().problems
