"""Resume checks what it resumes: the checkpoint records a fingerprint of the training data, and a checkpoint of
another task is named as such."""

import warnings

import pandas as pd
import pytest

from flashtrain.core import Trainer
from flashtrain.tasks import (
    ImageClassificationData,
    ImageClassifier,
    TabularClassificationData,
    TabularClassifier,
    TabularRegressor,
)
from flashtrain.tasks.tabular import SAMPLE_TABLE

NUMERICAL = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]


def penguins(rows=None, first=False):
    frame = pd.read_csv(SAMPLE_TABLE)
    if rows is not None:
        frame = frame.iloc[:rows] if first else frame.sample(rows, random_state=0)
    return TabularClassificationData.from_data_frame(["island"], NUMERICAL, "species", train_data_frame=frame)


def trainer(root, epochs):
    return Trainer(max_epochs=epochs, default_root_dir=str(root), logger=False, enable_progress_bar=False,
                   enable_model_summary=False, enable_checkpointing=False)  # fmt: skip


@pytest.fixture(scope="module")
def tabular_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    data = penguins()
    first = trainer(folder, 1)
    first.fit(TabularClassifier.from_data(data), datamodule=data)
    path = str(folder / "one-epoch.ckpt")
    first.save_checkpoint(path)
    return path


def test_resuming_on_the_same_data_says_nothing(tabular_checkpoint, tmp_path):
    data = penguins()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*other data")
        trainer(tmp_path, 2).fit(TabularClassifier.from_data(data), datamodule=data, ckpt_path=tabular_checkpoint)


def test_resuming_on_other_data_warns_and_strict_resume_refuses(tabular_checkpoint, tmp_path):
    data = penguins(rows=200)
    with pytest.warns(UserWarning, match=r"trained on other data than this run's: \d+ training samples then, 200 now"):
        trainer(tmp_path, 2).fit(TabularClassifier.from_data(data), datamodule=data, ckpt_path=tabular_checkpoint)
    data = penguins(rows=200)
    data.strict_resume = True
    with pytest.raises(ValueError, match=r"refused \(strict_resume / --strict-resume\)"):
        trainer(tmp_path, 2).fit(TabularClassifier.from_data(data), datamodule=data, ckpt_path=tabular_checkpoint)
    data = penguins(rows=200, first=True)  # the table is sorted by species: two of the three
    with pytest.raises(ValueError, match=r"the checkpoint's labels \['Adelie', 'Chinstrap', 'Gentoo'\] are not"):
        trainer(tmp_path, 2).fit(TabularClassifier.from_data(data), datamodule=data, ckpt_path=tabular_checkpoint)


def test_a_checkpoint_of_another_task_is_named(tabular_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="this is a tabular_classification checkpoint, not a image_classification"):
        ImageClassifier.load_from_checkpoint(tabular_checkpoint)
    from flashtrain.tasks import TabularRegressionData

    frame = pd.read_csv(SAMPLE_TABLE).dropna(subset=["body_mass_g"])
    data = TabularRegressionData.from_data_frame(["island"], NUMERICAL, "body_mass_g", train_data_frame=frame)
    with pytest.raises(ValueError, match="this is a tabular_classification checkpoint, not a tabular_regression one"):
        trainer(tmp_path, 2).fit(TabularRegressor.from_data(data), datamodule=data, ckpt_path=tabular_checkpoint)


def test_image_fingerprint_sees_file_sizes_and_names(tmp_path):
    from PIL import Image

    files = []
    for i, colour in enumerate(["red", "blue", "green", "white"]):
        Image.new("RGB", (8, 8), colour).save(tmp_path / f"{i}.png")
        files.append(str(tmp_path / f"{i}.png"))
    make = lambda: ImageClassificationData.from_files(train_files=files, train_targets=["a", "b", "a", "b"])  # noqa: E731
    before = make().state_dict()["fingerprint"]
    assert before["rows"] == 4 and before["files"] == 4 and before["labels"] == ["a", "b"]
    Image.new("RGB", (64, 64), "red").save(files[0])
    after = make()
    with pytest.warns(UserWarning, match=r"4 files of \d+ bytes then, 4 of \d+ now"):
        after.load_state_dict({"fingerprint": before})
    assert make().state_dict()["fingerprint"] != before
