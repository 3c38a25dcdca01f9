"""label_issues.png beside label_issues.csv for images: the most doubtful validation images, in the CSV's order,
each titled with its given and suggested label."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import torch
from PIL import Image

from flashtrain.tasks import ImageClassificationData
from flashtrain.tasks.label_issues import COLUMNS, GRID_NAME, write_label_issue_grid
from tests.tasks.image.test_data import write_images


def _csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return str(path)


def test_the_most_doubtful_validation_images_are_drawn_in_rank_order(tmp_path):
    write_images(tmp_path / "train" / "cat", ["0.png", "1.png"])
    write_images(tmp_path / "train" / "dog", ["0.png", "1.png"])
    write_images(tmp_path / "val" / "cat", [f"{i}.png" for i in range(3)])
    write_images(tmp_path / "val" / "dog", [f"{i}.png" for i in range(3)])
    data = ImageClassificationData.from_folders(
        train_folder=str(tmp_path / "train"), val_folder=str(tmp_path / "val"), image_size=16, batch_size=2
    )
    shown = {}
    draw = data.show_images

    def spy(split, indices, titles=None, path="x.png"):
        shown.update(split=split, indices=list(indices), titles=titles)
        return draw(split, indices, titles=titles, path=path)

    data.show_images = spy
    rows = [
        (1, "val", 4, "val/dog/1.png", "dog", "cat", 0.05, 0.95),
        (2, "val", 0, "val/cat/0.png", "cat", "dog", 0.2, 0.8),
        (3, "val", 5, "val/dog/2.png", "dog", "cat", 0.3, 0.7),
    ]
    (tmp_path / "run").mkdir()
    grid = write_label_issue_grid(data, _csv(tmp_path / "run" / "label_issues.csv", rows))
    assert grid == str(tmp_path / "run" / GRID_NAME)
    assert shown["split"] == "val" and shown["indices"] == [4, 0, 5]
    assert shown["titles"][0] == "given dog → cat? 95%" and shown["titles"][1] == "given cat → dog? 80%"
    with Image.open(grid) as picture:
        assert picture.format == "PNG" and picture.width > 100
    assert write_label_issue_grid(data, _csv(tmp_path / "run" / "empty.csv", []), top=2) is None  # nothing doubted


def test_top_limits_the_grid_and_data_without_images_gets_none(tmp_path):
    rows = [(rank, "val", rank, f"row {rank}", "a", "b", 0.1, 0.9) for rank in range(1, 6)]
    path = _csv(tmp_path / "label_issues.csv", rows)
    seen = []
    images = SimpleNamespace(show_images=lambda split, indices, titles, path: seen.append(list(indices)) or path)
    assert write_label_issue_grid(images, path, top=3) == str(tmp_path / GRID_NAME) and seen == [[1, 2, 3]]
    assert write_label_issue_grid(SimpleNamespace(), path) is None  # a table: the CSV is the whole report


class SureItIsTheFirstClass(torch.nn.Module):
    """A model that calls every image its first class, with confidence: the images labelled otherwise are doubted."""

    labels = ["cat", "dog"]
    device = torch.device("cpu")

    def forward(self, images):
        return torch.tensor([4.0, -4.0]).expand(len(images), 2) + 0.01 * images.mean((1, 2, 3)).unsqueeze(1)


def test_a_run_summary_names_the_grid_of_doubted_images(tmp_path):
    from flashtrain.cli.training import rank_label_issues

    write_images(tmp_path / "train" / "cat", ["0.png", "1.png"])
    write_images(tmp_path / "train" / "dog", ["0.png", "1.png"])
    write_images(tmp_path / "val" / "cat", ["0.png", "1.png"])
    write_images(tmp_path / "val" / "dog", ["0.png", "1.png", "2.png"])
    data = ImageClassificationData.from_folders(
        train_folder=str(tmp_path / "train"), val_folder=str(tmp_path / "val"), image_size=8, batch_size=4,
        num_workers=0,
    )  # fmt: skip
    said = []
    summary = rank_label_issues(SureItIsTheFirstClass(), data, str(tmp_path / "run"), lambda *parts: said.extend(parts))
    assert summary == {
        "label_issues": str(tmp_path / "run" / "label_issues.csv"),
        "label_issues_grid": str(tmp_path / "run" / GRID_NAME),
    }
    with open(summary["label_issues"], newline="", encoding="utf-8") as handle:
        doubted = [row["given_label"] for row in csv.DictReader(handle)]
    assert doubted == ["dog"] * 3  # the three dogs, called cats
    assert f"label issues, the most doubtful images: {summary['label_issues_grid']}" in said
