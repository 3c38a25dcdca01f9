"""The data check: duplicates across splits, near-identical images, conflicting labels, leaky columns, group
splits and label issues, each on data made here where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance

from flashtrain.tasks import data_check


def _image(path, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).resize((32, 32)).save(path)


def test_copied_and_brightened_images_across_splits_are_found_and_nothing_else(tmp_path):
    for i in range(6):
        _image(tmp_path / "train" / f"c{i % 2}" / f"{i}.png", i)
    for i in range(6, 9):
        _image(tmp_path / "val" / f"c{i % 2}" / f"{i}.png", i)
    (tmp_path / "val" / "c0" / "copy.png").write_bytes((tmp_path / "train" / "c0" / "0.png").read_bytes())
    with Image.open(tmp_path / "train" / "c1" / "1.png") as image:
        ImageEnhance.Brightness(image).enhance(1.03).save(tmp_path / "val" / "c1" / "bright.png")
    (tmp_path / "val" / "c1" / "relabelled.png").write_bytes((tmp_path / "train" / "c0" / "2.png").read_bytes())
    files, labels = {}, {}
    for split in ("train", "val"):
        files[split], labels[split] = data_check.image_folder_items(tmp_path / split)
    report = data_check.check_images(files, labels)
    exact = [{files[s][i].name for s, i in f.items} for f in report.of_kind("duplicate_file")]
    near = [{files[s][i].name for s, i in f.items} for f in report.of_kind("near_duplicate")]
    conflicts = [{files[s][i].name for s, i in f.items} for f in report.of_kind("conflicting_labels")]
    assert sorted(map(sorted, exact)) == [["0.png", "copy.png"], ["2.png", "relabelled.png"]]
    assert near == [{"1.png", "bright.png"}]
    assert conflicts == [{"2.png", "relabelled.png"}]
    with pytest.raises(FileNotFoundError, match="is not a folder of class sub-folders"):
        data_check.image_folder_items(tmp_path / "missing")


def test_tables_duplicate_rows_constant_id_and_leaky_columns():
    rng = np.random.default_rng(0)
    rows = 200
    frame = pd.DataFrame({"x": rng.normal(size=rows), "kind": rng.choice(["a", "b", "c"], rows)})
    frame["y"] = np.where(frame["x"] > 0, "yes", "no")
    frame["id"] = [f"row{i}" for i in range(rows)]
    frame["const"] = 7
    frame["answer"] = frame["y"].map({"yes": "Y", "no": "N"})
    train, val = frame.iloc[:150], pd.concat([frame.iloc[150:], frame.iloc[:3]])
    report = data_check.check_tables({"train": train, "val": val}, "y")
    assert len(report.of_kind("duplicate_row")) == 3
    assert [f.message.split("'")[1] for f in report.of_kind("leaky_column")] == ["answer"]
    assert (
        "'id'" in report.of_kind("id_column")[0].message and "'const'" in report.of_kind("constant_column")[0].message
    )
    assert not report.of_kind("conflicting_labels") and report.problems


def test_texts_that_differ_only_in_case_and_spaces_are_duplicates():
    report = data_check.check_texts(
        {"train": ["Great  film", "bad"], "test": ["great film\n", "fine"]},
        {"train": [1, 0], "test": [0, 1]},
    )
    assert len(report.of_kind("duplicate_text")) == 1 and len(report.of_kind("conflicting_labels")) == 1


def test_a_group_split_keeps_each_group_on_one_side_and_stratifies():
    groups = np.repeat(np.arange(40), 5)
    labels = np.repeat(np.arange(40) % 2, 5)
    train, val = data_check.group_split(groups, labels, 0.2, seed=0)
    assert not set(groups[train]) & set(groups[val]) and len(train) + len(val) == 200
    assert 0.3 < labels[val].mean() < 0.7  # both classes in validation
    with pytest.raises(ValueError, match="needs at least two groups"):
        data_check.group_split([1, 1, 1], None, 0.2)
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 0.5\]"):
        data_check.group_split(groups, None, 0.9)


def test_confidently_wrong_labels_rank_first():
    rng = np.random.default_rng(0)
    given = np.repeat([0, 1, 2], 30)
    probabilities = np.full((90, 3), 0.05)
    probabilities[np.arange(90), given] = 0.9
    flipped = [3, 40, 77]
    for index in flipped:  # the model is sure of another class than the label
        probabilities[index] = 0.05
        probabilities[index, (given[index] + 1) % 3] = 0.9
    probabilities += rng.uniform(0, 0.01, probabilities.shape)
    assert sorted(data_check.label_issues(probabilities, given)[:3].tolist()) == flipped
    assert len(data_check.label_issues(probabilities, given)) == 3


def test_the_bundled_8px_digits_have_no_near_duplicates_but_a_resized_64px_copy_is_found(tmp_path):
    from flashtrain.tasks.image import sample_data_folders

    files, labels = {}, {}
    for split, folder in zip(("train", "val"), sample_data_folders()):
        files[split], labels[split] = data_check.image_folder_items(folder)
    report = data_check.check_images(files, labels)
    assert not report.of_kind("near_duplicate")  # too small to hash: two writers' "3" are not copies
    assert len(files["train"]) > 1000  # the whole sample was looked at
    # The same check still finds a resized copy once images are large enough to hash.
    for i in range(4):
        pixels = np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        (tmp_path / "train" / "c").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).resize((64, 64)).save(tmp_path / "train" / "c" / f"{i}.png")
    (tmp_path / "val" / "c").mkdir(parents=True)
    with Image.open(tmp_path / "train" / "c" / "2.png") as image:
        image.resize((48, 48)).save(tmp_path / "val" / "c" / "smaller.jpg", quality=90)
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "val" / "c" / "other.png"
    )
    for split in ("train", "val"):
        files[split], labels[split] = data_check.image_folder_items(tmp_path / split)
    near = data_check.check_images(files, labels).of_kind("near_duplicate")
    assert [{files[s][i].name for s, i in f.items} for f in near] == [{"2.png", "smaller.jpg"}]


def test_near_duplicate_texts_across_splits_are_found_and_look_alikes_are_not():
    base = "the film was a slow but moving story about two brothers who run a farm in the hills"
    train = [base, "an action film with great stunts and a weak plot about a bank robbery", "bad", "fine"]
    val = [
        base.replace("moving", "touching") + ".",  # one word changed (and a full stop)
        base + " and the weather",  # a few words added
        "an action film with weak stunts and a great plot about a train robbery",  # same template, other review
        "Bad!",  # a short text whose words are the same: a near duplicate
    ]
    report = data_check.check_texts({"train": train, "val": val}, {"train": [1, 0, 0, 1], "val": [1, 1, 0, 0]})
    near = sorted(tuple(sorted(f.items)) for f in report.of_kind("near_duplicate_text"))
    assert near == [(("train", 0), ("val", 0)), (("train", 0), ("val", 1)), (("train", 2), ("val", 3))]
    assert all(f.problem for f in report.of_kind("near_duplicate_text"))
    messages = sorted(f.message for f in report.of_kind("near_duplicate_text"))
    assert messages[0].startswith("near-identical texts in train[0] and val[0] (79% of their word pairs shared)")


def test_near_duplicate_texts_of_a_large_set_use_minhash_and_still_find_the_edited_copy():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    train = [" ".join(rng.choice(words, 20)) for _ in range(400)]
    val = [" ".join(rng.choice(words, 20)) for _ in range(60)]  # 24,000 pairs: over the all-pairs limit
    val[7] = train[123].replace(train[123].split()[5], "changed")
    near = data_check.near_duplicate_texts({"train": train, "val": val})
    assert [f.items for f in near] == [[("train", 123), ("val", 7)]]
