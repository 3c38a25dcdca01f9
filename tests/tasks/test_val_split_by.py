"""val_split_by: a group column of the training table makes the validation split hold out whole groups (no group
on both sides), stratified by class where the groups allow; for tables and texts, from the Python API and the CLI."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from flashtrain.tasks import TabularClassificationData, TextClassificationData


def grouped_frame(rows: int = 240, groups: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    group = rng.integers(0, groups, rows)
    return pd.DataFrame(
        {
            "site": [f"site{g}" for g in group],
            "x": rng.normal(size=rows),
            "label": np.where(group % 2 == 0, "a", "b"),  # classes follow the groups: both sides need both
            "text": [f"review number {i} from site {g}" for i, g in enumerate(group)],
        }
    )


def test_tabular_val_split_by_keeps_each_group_on_one_side_and_both_classes_in_validation():
    frame = grouped_frame()
    data = TabularClassificationData.from_data_frame(
        categorical_fields="site", numerical_fields="x", target_fields="label", train_data_frame=frame,
        val_split=0.25, val_split_by="site",
    )  # fmt: skip
    train, val = data.datasets["train"], data.datasets["val"]
    # "site" is also a feature here, so each row's group is readable from its categorical code.
    train_sites, val_sites = set(train.tensors.categorical[:, 0].tolist()), set(val.tensors.categorical[:, 0].tolist())
    assert not train_sites & val_sites and len(train) + len(val) == len(frame)
    assert 0.1 < len(val) / len(frame) < 0.4
    assert set(val.targets.tolist()) == {0, 1}  # stratified: both classes validated
    # Without val_split_by the same split mixes the groups (what the option is for).
    mixed = TabularClassificationData.from_data_frame(
        categorical_fields="site", numerical_fields="x", target_fields="label", train_data_frame=frame, val_split=0.25
    )
    mixed_sites = set(mixed.datasets["val"].tensors.categorical[:, 0].tolist())
    assert mixed_sites & set(mixed.datasets["train"].tensors.categorical[:, 0].tolist())


def test_text_from_csv_val_split_by_keeps_each_group_on_one_side(tmp_path):
    frame = grouped_frame()
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    data = TextClassificationData.from_csv(
        "text", "label", train_file=str(tmp_path / "reviews.csv"), val_split=0.25, val_split_by="site"
    )
    site_of = lambda texts: {text.rsplit(" ", 1)[1] for text in texts}  # noqa: E731
    train_sites = site_of(data.datasets["train"].texts["text"])
    val_sites = site_of(data.datasets["val"].texts["text"])
    assert train_sites and val_sites and not train_sites & val_sites
    assert len(data.datasets["train"]) + len(data.datasets["val"]) == len(frame)


def test_val_split_by_mistakes_are_named():
    frame = grouped_frame()
    arguments = {"numerical_fields": "x", "target_fields": "label", "train_data_frame": frame}
    with pytest.raises(ValueError, match=r"val_split_by='patient': train_data_frame has no such column; its columns"):
        TabularClassificationData.from_data_frame(**arguments, val_split=0.2, val_split_by="patient")
    with pytest.raises(ValueError, match=r"val_split_by='site' needs val_split, the fraction to hold out"):
        TabularClassificationData.from_data_frame(**arguments, val_split_by="site")
    with pytest.raises(ValueError, match=r"val_split with val_split_by must be in \(0, 0.5\]"):
        TabularClassificationData.from_data_frame(**arguments, val_split=0.7, val_split_by="site")
    frame.loc[3, "site"] = None
    with pytest.raises(ValueError, match=r"1 training row\(s\) have no group: rows \[3\]"):
        TabularClassificationData.from_data_frame(**arguments, val_split=0.2, val_split_by="site")


def test_the_cli_flag_names_a_missing_group_column_in_one_line(tmp_path, capsys):
    from flashtrain.cli.main import main

    grouped_frame().to_csv(tmp_path / "t.csv", index=False)
    status = main([
        "tabular_classification", "--train-file", str(tmp_path / "t.csv"), "--numerical-fields", "x",
        "--target-field", "label", "--val-split-by", "patient", "--output-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "val_split_by='patient'" in err[0] or "--val-split-by patient" in err[0]
    assert "has no such column" in err[0]


def grouped_images(tmp_path, patients: int = 12, per_patient: int = 3):
    """A CSV of image paths, each patient's images on one row per image, the class following the patient."""
    from tests.tasks.image.test_data import write_images

    rows = []
    for patient in range(patients):
        label = "sick" if patient % 2 else "well"
        names = [f"p{patient}_{i}.png" for i in range(per_patient)]
        write_images(tmp_path / "images", names, size=(4, 4))
        rows += [{"image": f"images/{name}", "label": label, "patient": f"p{patient}"} for name in names]
    pd.DataFrame(rows).to_csv(tmp_path / "scans.csv", index=False)
    return tmp_path / "scans.csv"


def test_image_from_csv_val_split_by_keeps_each_patient_on_one_side(tmp_path):
    from flashtrain.tasks import ImageClassificationData

    csv_file = grouped_images(tmp_path)
    data = ImageClassificationData.from_csv(
        "image", "label", train_file=str(csv_file), val_split=0.25, val_split_by="patient", image_size=8,
        num_workers=0,
    )  # fmt: skip
    patients = {}
    for split in ("train", "val"):
        subset = data.datasets[split]
        files = [subset.dataset.files[i] for i in subset.indices]
        patients[split] = {os.path.basename(path).split("_")[0] for path in files}
    assert patients["train"] and patients["val"] and not patients["train"] & patients["val"]
    assert len(data.datasets["train"]) + len(data.datasets["val"]) == 36
    assert {int(data.datasets["val"][i][1]) for i in range(len(data.datasets["val"]))} == {0, 1}  # both classes


def test_image_val_split_by_mistakes_are_named(tmp_path, capsys):
    from flashtrain.cli.main import main
    from flashtrain.tasks import ImageClassificationData

    csv_file = grouped_images(tmp_path, patients=4, per_patient=1)
    with pytest.raises(ValueError, match=r"val_split_by='site': .* has no such column; its columns"):
        ImageClassificationData.from_csv("image", "label", train_file=str(csv_file), val_split=0.5, val_split_by="site")
    with pytest.raises(ValueError, match=r"train_groups has 2 entries for 4 train_files; give one group per file"):
        ImageClassificationData.from_files(train_files=["a"] * 4, train_targets=[0, 1, 0, 1], train_groups=["x", "y"])
    folders = tmp_path / "folders"
    status = main(["image_classification", "--train-folder", str(folders), "--val-split", "0.2", "--val-split-by",
                   "patient", "--output-dir", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "image folders have no group column" in err[0]
