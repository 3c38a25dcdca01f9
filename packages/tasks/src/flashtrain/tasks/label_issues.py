"""``label_issues.csv``: the items whose given label the trained model most doubts, from held-out probabilities.

After a fit with validation data, every validation item has a probability the model never trained on (held out:
a model that has memorised a wrong training label would vouch for it, so in-sample probabilities are not used).
:func:`~flashtrain.tasks.data_check.label_issues` (confident learning) picks the items where another class is
confidently more likely than the given one, most doubtful first. With ``val_split`` those items are part of the
user's own training table or folders; for every item, pass out-of-fold probabilities to
:func:`~flashtrain.tasks.data_check.label_issues` directly.
"""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

FILE_NAME = "label_issues.csv"
GRID_NAME = "label_issues.png"
GRID_SIZE = 16  # the most doubtful items shown in the picture; the CSV lists them all
COLUMNS = (
    "rank",
    "split",
    "index",
    "item",
    "given_label",
    "suggested_label",
    "given_probability",
    "suggested_probability",
)


@torch.no_grad()
def held_out_probabilities(model: Any, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and given labels (class indices) of every item of ``loader``, in order, in eval mode."""
    from flashtrain.core.utilities.apply import apply_to_tensors

    was_training = model.training
    model.eval()
    probabilities, given = [], []
    try:
        for inputs, targets in loader:
            logits = model(apply_to_tensors(inputs, lambda tensor: tensor.to(model.device))).float().cpu()
            calibration = getattr(model, "calibration", None)
            probabilities.append(calibration.probabilities(logits) if calibration else torch.softmax(logits, 1))
            given.append(targets.cpu())
    finally:
        model.train(was_training)
    return torch.cat(probabilities).numpy(), torch.cat(given).numpy()


def item_names(dataset: Any) -> list[str] | None:
    """What names each item for a person: its image file or its text (None when neither is known: table rows)."""
    indices = None
    if isinstance(dataset, Subset):
        indices, dataset = list(dataset.indices), dataset.dataset
    files = getattr(dataset, "files", None)
    texts = getattr(dataset, "texts", None)
    if files is not None:
        names = [str(name) for name in files]
    elif texts is not None and hasattr(texts, "column_names") and "text" in texts.column_names:
        names = [str(text) for text in texts["text"]]
    else:
        return None
    return [names[i] for i in indices] if indices is not None else names


def write_label_issues(model: Any, datamodule: Any, path: str | None) -> tuple[int, int] | None:
    """Write ``label_issues.csv`` for the validation data of a single-label classifier; returns (issues found,
    items looked at), or None when there is nothing to rank (no validation data, multi-label, regression).
    ``path=None`` ranks without writing: the other ranks of a sharded model, whose forward every rank must run."""
    from flashtrain.core.utilities.disk import writing
    from flashtrain.tasks.data_check import label_issues

    dataset = datamodule.datasets.get("val")
    labels = list(getattr(model, "labels", None) or [])
    if dataset is None or not labels or getattr(model, "multi_label", False):
        return None
    loader = datamodule.val_dataloader()
    probabilities, given = held_out_probabilities(model, loader)
    if given.ndim != 1 or given.dtype.kind not in "iu":  # soft or multi-hot targets: no single given label
        return None
    ranked = label_issues(probabilities, given.tolist())
    names = item_names(dataset)
    rows = []
    for rank, index in enumerate(ranked, start=1):
        label, others = int(given[index]), probabilities[index].copy()
        others[label] = -1.0
        suggested = int(others.argmax())
        rows.append((rank, "val", int(index), names[index] if names else f"row {index} of the validation data",
                     labels[label], labels[suggested], round(float(probabilities[index, label]), 4),
                     round(float(probabilities[index, suggested]), 4)))  # fmt: skip
    if path is None:
        return len(rows), len(given)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with writing(path), open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows), len(given)


def write_label_issue_grid(datamodule: Any, csv_path: str, top: int = GRID_SIZE) -> str | None:
    """For image data: ``label_issues.png`` beside ``csv_path``, the ``top`` most doubtful validation images of the
    CSV in its order, each titled with its given and suggested label. Returns its path, or None when the data has
    no images to show or the CSV lists no issue. Needs matplotlib (the ``image`` extra): ImportError otherwise."""
    show = getattr(datamodule, "show_images", None)
    if show is None:
        return None
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "val"][:top]
    if not rows:
        return None
    # Short titles (the grid cuts them at 28 characters): "given cat → dog? 91%", the suggested label's probability.
    titles = [
        f"given {row['given_label']} → {row['suggested_label']}? {float(row['suggested_probability']):.0%}"
        for row in rows
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), GRID_NAME)
    return str(show("val", [int(row["index"]) for row in rows], titles=titles, path=path))
