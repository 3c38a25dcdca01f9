"""Metrics for the tasks by name (torchmetrics), or the user's torchmetrics objects; one copy per stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

CLASSIFICATION_METRICS = ("acc", "accuracy", "f1", "precision", "recall", "auroc", "average_precision", "mcc")
REGRESSION_METRICS = ("rmse", "mae", "mse", "r2", "mape")


def _classification_factory(name: str, num_classes: int, multi_label: bool) -> Callable[[], Any]:
    import torchmetrics

    task: dict[str, Any] = (
        {"task": "multilabel", "num_labels": num_classes}
        if multi_label
        else {"task": "multiclass", "num_classes": num_classes}
    )
    # Macro averages for the per-class scores (micro F1 equals accuracy for single-label data).
    average: dict[str, Any] = {} if name in ("auroc", "average_precision", "mcc") else {"average": "macro"}
    builders = {
        "f1": lambda: torchmetrics.F1Score(**task, **average),
        "precision": lambda: torchmetrics.Precision(**task, **average),
        "recall": lambda: torchmetrics.Recall(**task, **average),
        "auroc": lambda: torchmetrics.AUROC(**task),
        "average_precision": lambda: torchmetrics.AveragePrecision(**task),
        "mcc": lambda: torchmetrics.MatthewsCorrCoef(**task),
    }
    return builders[name]


def _named_or_objects(chosen: Any, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """``"f1"`` | ``["f1", Metric]`` | ``{"name": Metric}`` -> {log name: name-or-Metric}."""
    import torchmetrics

    if isinstance(chosen, (str, torchmetrics.Metric)):
        chosen = [chosen]
    if isinstance(chosen, dict):
        items = dict(chosen)
    elif isinstance(chosen, (list, tuple)):
        items = {}
        for entry in chosen:
            key = entry if isinstance(entry, str) else _snake(type(entry).__name__)
            items[key] = entry
    else:
        raise TypeError(
            f"metrics must be a name, a torchmetrics Metric, or a list/dict of them; got {type(chosen).__name__}."
        )
    for key, entry in items.items():
        if isinstance(entry, str) and entry not in allowed:
            raise ValueError(
                f"Unknown {what} metric {entry!r}. Allowed names: {', '.join(allowed)}, or Metric objects."
            )
        if not isinstance(entry, (str, torchmetrics.Metric)):
            raise TypeError(f"metric {key!r} must be a name or a torchmetrics Metric, got {type(entry).__name__}.")
    return items


def classification_metrics(chosen: Any, num_classes: int, multi_label: bool) -> torch.nn.ModuleDict:
    """``acc`` (always, logged as ``{stage}_acc``) plus the chosen metrics, freshly built or cloned."""
    import torchmetrics

    accuracy: torchmetrics.Metric
    if multi_label:
        accuracy = torchmetrics.classification.MultilabelAccuracy(num_labels=num_classes)
    else:
        accuracy = torchmetrics.classification.MulticlassAccuracy(num_classes=num_classes, average="micro")
    built: dict[str, Any] = {"acc": accuracy}
    for key, entry in _named_or_objects(chosen, CLASSIFICATION_METRICS, "classification").items():
        if isinstance(entry, str) and entry in ("acc", "accuracy"):
            continue
        built[key] = (
            entry.clone() if not isinstance(entry, str) else _classification_factory(entry, num_classes, multi_label)()
        )
    return torch.nn.ModuleDict(built)


def regression_metrics(chosen: Any) -> torch.nn.ModuleDict:
    """``rmse`` (always) plus the chosen metrics, in the targets' original units."""
    import torchmetrics

    builders: dict[str, Callable[[], torchmetrics.Metric]] = {
        "rmse": lambda: torchmetrics.MeanSquaredError(squared=False),
        "mse": torchmetrics.MeanSquaredError,
        "mae": torchmetrics.MeanAbsoluteError,
        "r2": torchmetrics.R2Score,
        "mape": torchmetrics.MeanAbsolutePercentageError,
    }
    built: dict[str, Any] = {"rmse": builders["rmse"]()}
    for key, entry in _named_or_objects(chosen if chosen is not None else [], REGRESSION_METRICS, "regression").items():
        built[key] = entry.clone() if not isinstance(entry, str) else builders[entry]()
    return torch.nn.ModuleDict(built)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
