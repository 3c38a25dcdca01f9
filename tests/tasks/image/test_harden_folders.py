"""Symlinked folders inside class folders are followed, each real folder once (a link to a parent ends no loop)."""

import os

from flashtrain.tasks import ImageClassificationData
from tests.tasks.image.test_data import write_images


def test_symlinked_folders_are_followed_once(tmp_path):
    for name in ("ant", "bee", "elsewhere"):
        write_images(tmp_path / "real" / name, ["0.png", "1.png"])
    os.makedirs(tmp_path / "train")
    os.symlink(tmp_path / "real" / "ant", tmp_path / "train" / "ant")  # a linked class folder
    os.symlink(tmp_path / "real" / "bee", tmp_path / "train" / "bee")
    os.symlink(tmp_path / "real" / "elsewhere", tmp_path / "real" / "ant" / "more")  # a linked folder inside one
    os.symlink(tmp_path / "real" / "ant", tmp_path / "real" / "ant" / "loop")  # a cycle
    data = ImageClassificationData.from_folders(train_folder=str(tmp_path / "train"))
    assert data.labels == ["ant", "bee"]
    assert len(data.datasets["train"]) == 6  # ant 2 + its linked "more" 2, bee 2; the loop adds nothing
