"""``data.check()``: the data check of ``flash-train check`` on a task data module's own splits, from Python.

Opt-in and cheap (a hash per item, no decoding beyond a thumbnail per image large enough to hash): the splits the
data module holds are read through their public faces (image files, texts, prepared table rows, encoded targets)
and handed to :mod:`flashtrain.tasks.data_check`. Image data held in memory (arrays, tensors, Hugging Face images)
is not checked; the report says so.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch.utils.data import Subset

from flashtrain.tasks.data_check import (
    SPLITS,
    DataReport,
    Finding,
    check_images,
    check_texts,
    class_counts,
    conflicting_labels,
    cross_split_duplicates,
    row_digests,
)
from flashtrain.tasks.targets import dataset_targets


def _base(dataset: Any) -> tuple[Any, list[int] | None]:
    """The dataset under a ``Subset`` (val_split's) and the rows it takes (None: all)."""
    if isinstance(dataset, Subset):
        return dataset.dataset, [int(i) for i in dataset.indices]
    return dataset, None


def _label_names(targets: Any, labels: list[Any]) -> list[Any] | None:
    if targets is None:
        return None
    values = targets.tolist()
    if targets.ndim > 1:  # multi-label rows: compare as tuples of label names
        return [tuple(label for label, on in zip(labels, row) if on) for row in values]
    return [labels[int(value)] for value in values]


def check_datamodule(datamodule: Any, strict: bool = False) -> DataReport:
    """The data check on ``datamodule``'s train / val / test splits (see :meth:`TaskDataModule.check`)."""
    labels = list(datamodule.labels or [])
    splits = {split: datamodule.datasets.get(split) for split in SPLITS if datamodule.datasets.get(split) is not None}
    named = {split: _label_names(dataset_targets(dataset), labels) for split, dataset in splits.items()}
    targets = {split: value for split, value in named.items() if value is not None}
    if not splits or len(targets) < len(splits):
        return DataReport([Finding("not_checked", False, "no labelled train / val / test data to check")])
    bases = {split: _base(dataset) for split, dataset in splits.items()}
    if all(hasattr(base, "files") for base, _ in bases.values()):
        files = {split: _take(list(base.files), rows) for split, (base, rows) in bases.items()}
        report = check_images(files, targets)
    elif all(hasattr(base, "texts") for base, _ in bases.values()):
        texts = {split: _take(list(base.texts["text"]), rows) for split, (base, rows) in bases.items()}
        report = check_texts(texts, targets)
    elif all(hasattr(base, "tensors") for base, _ in bases.values()):
        report = _check_prepared_rows(splits, targets)
    else:
        report = DataReport([Finding("not_checked", False, "images held in memory are not checked (only files)")])
    if report.problems:
        count = len(report.problems)
        more = f" and {count - 1} more" if count > 1 else ""
        message = f"data check: {report.problems[0].message}{more} (report.summary() lists them)"
        if strict:
            raise ValueError(f"{message}; refused (check(strict=True)).")
        warnings.warn(message, UserWarning, stacklevel=3)
    return report


def _take(values: list[Any], rows: list[int] | None) -> list[Any]:
    return values if rows is None else [values[i] for i in rows]


def _check_prepared_rows(splits: dict[str, Any], targets: dict[str, list[Any]]) -> DataReport:
    """Tables as the model sees them (the fitted preprocessing's categories and standardised numbers): the same
    row in two splits, the same row with two labels, class counts. Column checks need the raw table: ``flash-train
    check --train-file``."""
    import pandas as pd
    import torch

    keys = {}
    for split, dataset in splits.items():
        tensors = dataset.tensors
        values = torch.cat([tensors.categorical.double(), tensors.numerical.double()], dim=1).numpy()
        keys[split] = row_digests(pd.DataFrame(values))
    report = DataReport(cross_split_duplicates(keys, "duplicate_row"))
    report.findings += conflicting_labels(keys, targets) + class_counts(targets)
    return report
