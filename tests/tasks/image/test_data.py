"""ImageClassificationData: every constructor, targets in each form, stratified splits, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from flashtrain.tasks import ImageClassificationData
from flashtrain.tasks.image import sample_data_folders
from flashtrain.tasks.image.transforms import ImageConfig


def write_images(folder, names, mode="RGB", size=(10, 12)):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index, name in enumerate(names):
        pixels = np.full((size[1], size[0], len(mode)), index * 20 % 255, dtype=np.uint8).squeeze()
        path = os.path.join(folder, name)
        Image.fromarray(pixels, mode=mode).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def class_folders(tmp_path):
    write_images(tmp_path / "train" / "cat", [f"{i}.png" for i in range(6)])
    write_images(tmp_path / "train" / "dog", [f"{i}.jpg" for i in range(4)], mode="L")  # grayscale
    write_images(tmp_path / "train" / "owl", [f"{i}.png" for i in range(2)], mode="RGBA")  # alpha channel
    write_images(tmp_path / "val" / "cat", ["a.png"])
    write_images(tmp_path / "val" / "dog", ["b.png"])
    return tmp_path


def test_bundled_sample_data():
    train, val = sample_data_folders()
    data = ImageClassificationData.from_folders(train_folder=train, val_folder=val, image_size=32, batch_size=64)
    assert data.labels == [str(d) for d in range(10)] and data.num_classes == 10 and not data.multi_label
    assert (len(data.datasets["train"]), len(data.datasets["val"])) == (1437, 360)
    images, targets = next(iter(data.train_dataloader()))
    assert images.shape == (64, 3, 32, 32) and targets.dtype == torch.long


def test_from_folders_reads_every_mode_as_rgb(class_folders):
    data = ImageClassificationData.from_folders(
        train_folder=str(class_folders / "train"), val_folder=str(class_folders / "val"), image_size=16, batch_size=12
    )
    assert data.labels == ["cat", "dog", "owl"]
    images, targets = next(iter(data.train_dataloader()))
    assert images.shape == (12, 3, 16, 16)
    assert sorted(Counter(targets.tolist()).items()) == [(0, 6), (1, 4), (2, 2)]
    dog = data.datasets["train"][6][0]  # a grayscale image: the three channels are equal
    assert torch.allclose(dog[0] * 0.229 + 0.485, dog[1] * 0.224 + 0.456, atol=1e-5)


def test_val_split_is_stratified(tmp_path):
    for name, count in (("a", 40), ("b", 20), ("c", 10)):
        write_images(tmp_path / name, [f"{i}.png" for i in range(count)])
    data = ImageClassificationData.from_folders(train_folder=str(tmp_path), val_split=0.2, seed=3)
    val_counts = Counter(int(data.datasets["val"][i][1]) for i in range(len(data.datasets["val"])))
    assert val_counts == {0: 8, 1: 4, 2: 2}
    assert len(data.datasets["train"]) == 56
    again = ImageClassificationData.from_folders(train_folder=str(tmp_path), val_split=0.2, seed=3)
    assert again.datasets["val"].indices == data.datasets["val"].indices


def test_from_files_single_label_and_predict(class_folders):
    files = sorted(str(p) for p in (class_folders / "train" / "cat").iterdir())
    data = ImageClassificationData.from_files(
        train_files=files[:4], train_targets=["x", "y", "x", "y"], predict_files=files[4:], batch_size=2, image_size=8
    )
    assert data.labels == ["x", "y"]
    batch = next(iter(data.predict_dataloader()))
    assert isinstance(batch, torch.Tensor) and batch.shape == (2, 3, 8, 8)  # no targets at predict time


def test_from_files_multi_label_as_lists_and_as_multi_hot(class_folders):
    files = sorted(str(p) for p in (class_folders / "train" / "cat").iterdir())[:3]
    as_lists = ImageClassificationData.from_files(train_files=files, train_targets=[["sun"], ["sea", "sun"], []])
    assert as_lists.multi_label and as_lists.labels == ["sea", "sun"]
    assert as_lists.datasets["train"][1][1].tolist() == [1.0, 1.0]
    hot = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    as_rows = ImageClassificationData.from_files(train_files=files, train_targets=hot, labels=["a", "b", "c"])
    assert as_rows.multi_label and as_rows.datasets["train"][0][1].tolist() == [1.0, 0.0, 1.0]


def test_from_tensors_and_from_numpy_layouts():
    gray = torch.randint(0, 256, (6, 9, 9), dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(train_data=gray, train_targets=[0, 1, 2, 0, 1, 2], image_size=8)
    assert data.labels == [0, 1, 2] and data.datasets["train"][0][0].shape == (3, 8, 8)
    rgba_last = np.random.default_rng(0).random((4, 9, 9, 4)).astype(np.float32)  # NumPy channels-last, with alpha
    data = ImageClassificationData.from_numpy(
        train_data=rgba_last,
        train_targets=np.array([1, 0, 1, 0]),
        image_size=9,
        mean=(0, 0, 0),
        std=(1, 1, 1),
        train_transform="none",
    )
    image, _ = data.datasets["train"][0]
    assert torch.allclose(image, torch.from_numpy(rgba_last[0, :, :, :3]).permute(2, 0, 1), atol=1e-6)


def test_model_config_is_adopted_unless_fixed():
    images = torch.zeros(2, 3, 20, 20, dtype=torch.uint8)
    free = ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1])
    free.use_model_config(ImageConfig(image_size=12))
    assert free.datasets["train"][0][0].shape == (3, 12, 12)
    fixed = ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1], image_size=16)
    fixed.use_model_config(ImageConfig(image_size=12))
    assert fixed.datasets["train"][0][0].shape == (3, 16, 16)
    state = fixed.state_dict()
    assert state.pop("fingerprint")["rows"] == 2  # what a resume compares its data with
    assert state == {
        "labels": [0, 1],
        "multi_label": False,
        "image_config": {"image_size": 16, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    }


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train_folder='.*nope' is not a folder"):
        ImageClassificationData.from_folders(train_folder=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no class folders: expected one sub-folder per class"):
        ImageClassificationData.from_folders(train_folder=str(tmp_path / "empty"))
    write_images(tmp_path / "data" / "cat", ["1.png"])
    (tmp_path / "data" / "dog").mkdir()
    with pytest.raises(ValueError, match=r"Class folder '.*dog' has no images"):
        ImageClassificationData.from_folders(train_folder=str(tmp_path / "data"))


def test_non_image_and_corrupt_files_name_the_file(class_folders):
    (class_folders / "train" / "cat" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes.txt is not an image file.*skip_bad_files=True"):
        ImageClassificationData.from_folders(train_folder=str(class_folders / "train"))
    (class_folders / "train" / "cat" / "notes.txt").unlink()
    (class_folders / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    data = ImageClassificationData.from_folders(train_folder=str(class_folders / "train"))
    broken = data.datasets["train"].files.index(str(class_folders / "train" / "cat" / "broken.png"))
    with pytest.raises(ValueError, match=r"Cannot read image .*broken.png"):
        data.datasets["train"][broken]
    with pytest.warns(UserWarning, match=r"Skipped 1 unreadable or non-image file.*broken.png"):
        skipping = ImageClassificationData.from_folders(train_folder=str(class_folders / "train"), skip_bad_files=True)
    assert len(skipping.datasets["train"]) == 12


def test_labels_unseen_in_training_are_refused(class_folders):
    files = sorted(str(p) for p in (class_folders / "train" / "cat").iterdir())
    with pytest.raises(ValueError, match=r"val targets has labels not seen in training: \['z'\]"):
        ImageClassificationData.from_files(
            train_files=files[:2], train_targets=["x", "y"], val_files=files[2:3], val_targets=["z"]
        )
    write_images(class_folders / "val" / "bat", ["c.png"])
    with pytest.raises(ValueError, match=r"val_folder has class folders that train_folder lacks: \['bat'\]"):
        ImageClassificationData.from_folders(
            train_folder=str(class_folders / "train"), val_folder=str(class_folders / "val")
        )


def test_mismatched_lengths_and_bad_options(class_folders):
    files = sorted(str(p) for p in (class_folders / "train" / "cat").iterdir())
    with pytest.raises(ValueError, match="train_files has 6 paths but train_targets has 2 entries"):
        ImageClassificationData.from_files(train_files=files, train_targets=["x", "y"])
    with pytest.raises(TypeError, match=r"Unexpected argument\(s\) \['batchsize'\]"):
        ImageClassificationData.from_files(train_files=files, train_targets=list("abcabc"), batchsize=4)
    with pytest.raises(ValueError, match="images shaped"):
        ImageClassificationData.from_tensors(train_data=torch.zeros(4, 5), train_targets=[0, 1, 0, 1])


def test_importing_tasks_stays_light():
    code = (
        "import sys, flashtrain.tasks; print(sorted(m for m in ('torchvision', 'timm', 'transformers', 'datasets') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_decoded_images_are_cached_within_the_budget(class_folders):
    data = ImageClassificationData.from_folders(train_folder=str(class_folders / "train"), image_size=8)
    dataset = data.datasets["train"]
    first = dataset[0][0]
    assert len(dataset._cache) == 1
    os.remove(dataset.files[0])  # served from memory now
    assert torch.equal(dataset[0][0], first)
    tiny = ImageClassificationData.from_folders(train_folder=str(class_folders / "train"), cache_bytes=0)
    tiny.datasets["train"][1]
    assert tiny.datasets["train"]._cache == {}


def test_from_csv_single_label_with_paths_relative_to_the_csv(class_folders):
    (class_folders / "train.csv").write_text(
        "image,kind\ntrain/cat/0.png,cat\ntrain/dog/0.jpg,dog\ntrain/cat/1.png,cat\n"
    )
    (class_folders / "new.csv").write_text("image\nval/cat/a.png\n")
    data = ImageClassificationData.from_csv(
        "image",
        "kind",
        train_file=str(class_folders / "train.csv"),
        predict_file=str(class_folders / "new.csv"),
        image_size=8,
    )
    assert data.labels == ["cat", "dog"] and len(data.datasets["train"]) == 3
    assert data.datasets["predict"].files == [str(class_folders / "val" / "cat" / "a.png")]


def test_from_data_frame_multi_label_delimited_and_multi_hot(class_folders):
    import pandas as pd

    paths = [f"train/cat/{i}.png" for i in range(3)]
    delimited = pd.DataFrame({"path": paths, "tags": ["fluffy;small", "small", ""]})
    data = ImageClassificationData.from_data_frame(
        "path", "tags", train_data_frame=delimited, images_root=str(class_folders), target_delimiter=";"
    )
    assert data.multi_label and data.labels == ["fluffy", "small"]
    assert data.datasets["train"][0][1].tolist() == [1.0, 1.0] and data.datasets["train"][2][1].tolist() == [0, 0]
    hot = pd.DataFrame({"path": paths, "indoor": [1, 0, 1], "outdoor": [0, 1, 1]})
    data = ImageClassificationData.from_data_frame(
        "path", ["indoor", "outdoor"], train_data_frame=hot, images_root=str(class_folders)
    )
    assert data.multi_label and data.labels == ["indoor", "outdoor"]
    assert data.datasets["train"][1][1].tolist() == [0.0, 1.0]
    # Exactly one 1 per row is one-hot single-label (as Flash read it), unless multi_label=True says otherwise.
    one_hot = hot.assign(indoor=[1, 0, 0])
    single = ImageClassificationData.from_data_frame(
        "path", ["indoor", "outdoor"], train_data_frame=one_hot, images_root=str(class_folders)
    )
    assert not single.multi_label and single.datasets["train"][1][1] == 1
    forced = ImageClassificationData.from_data_frame(
        "path", ["indoor", "outdoor"], train_data_frame=one_hot, images_root=str(class_folders), multi_label=True
    )
    assert forced.multi_label


def test_csv_missing_columns_and_files_are_explained(class_folders):
    (class_folders / "train.csv").write_text("file,label\ntrain/cat/0.png,cat\n")
    with pytest.raises(
        ValueError,
        match=r"train_file .*train.csv has no column\(s\) \['image'\]; its columns are "
        r"\['file', 'label'\]",
    ):
        ImageClassificationData.from_csv("image", "label", train_file=str(class_folders / "train.csv"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        ImageClassificationData.from_csv("image", "label", train_file=str(class_folders / "missing.csv"))
    (class_folders / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty: expected a header row"):
        ImageClassificationData.from_csv("image", "label", train_file=str(class_folders / "empty.csv"))


def test_from_hf_datasets_single_and_multi_label(class_folders):
    import datasets  # a test dependency (requirements-dev.txt); users need it only for from_hf_datasets

    images = [Image.fromarray(np.full((6, 6, 3), i * 40, dtype=np.uint8)) for i in range(4)]
    single = datasets.Dataset.from_dict(
        {"image": images, "label": [0, 1, 0, 1]},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])}),
    )
    data = ImageClassificationData.from_hf_datasets(train_hf_dataset=single, val_split=0.5, image_size=8, batch_size=2)
    assert data.labels == ["cat", "dog"] and len(data.datasets["train"]) == len(data.datasets["val"]) == 2
    batch_images, batch_targets = next(iter(data.train_dataloader()))
    assert batch_images.shape == (2, 3, 8, 8) and batch_targets.dtype == torch.long
    multi = datasets.Dataset.from_dict(
        {"img": images, "tags": [[0], [1, 0], [], [1]]},
        features=datasets.Features(
            {"img": datasets.Image(), "tags": datasets.Sequence(datasets.ClassLabel(names=["x", "y"]))}
        ),
    )
    data = ImageClassificationData.from_hf_datasets("img", "tags", train_hf_dataset=multi)
    assert data.multi_label and data.datasets["train"][1][1].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"train_hf_dataset has no column\(s\) \['image', 'label'\]; its columns"):
        ImageClassificationData.from_hf_datasets(train_hf_dataset=multi)


def test_a_last_training_batch_of_one_is_dropped(class_folders):
    data = ImageClassificationData.from_folders(train_folder=str(class_folders / "train"), batch_size=11, image_size=8)
    assert [len(batch[0]) for batch in data.train_dataloader()] == [11]  # 12 images: the 12th alone would break BN
    assert [
        len(b[0])
        for b in ImageClassificationData.from_folders(
            train_folder=str(class_folders / "train"), batch_size=5, image_size=8
        ).train_dataloader()
    ] == [5, 5, 2]


def test_from_tensors_multi_label():
    images = torch.zeros(3, 3, 6, 6, dtype=torch.uint8)
    hot = torch.tensor([[1, 0], [1, 1], [0, 0]])
    data = ImageClassificationData.from_tensors(train_data=images, train_targets=hot, labels=["rain", "wind"])
    assert data.multi_label and data.labels == ["rain", "wind"]
    assert data.datasets["train"][1][1].tolist() == [1.0, 1.0]
    as_lists = ImageClassificationData.from_tensors(train_data=images, train_targets=[["rain"], ["rain", "wind"], []])
    assert as_lists.multi_label and as_lists.datasets["train"][0][1].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("argument", "value"),
    [("mean", 0.5), ("std", 0.5), ("mean", (0.5, 0.5)), ("std", (0.2, 0.0, 0.2)), ("mean", ("a", "b", "c"))],
)
def test_mean_and_std_must_be_one_number_per_channel(argument, value):
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match=rf"{argument} must be one value per channel, a list of 3"):
        ImageClassificationData.from_tensors(train_data=images, train_targets=[0, 1], **{argument: value})


def test_mean_and_std_accept_arrays_and_single_channel_values():
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    data = ImageClassificationData.from_tensors(
        train_data=images, train_targets=[0, 1], mean=np.array([0.5, 0.5, 0.5]), std=[0.25]
    )
    assert data.state_dict()["image_config"]["mean"] == [0.5, 0.5, 0.5]
    assert data.state_dict()["image_config"]["std"] == [0.25]
