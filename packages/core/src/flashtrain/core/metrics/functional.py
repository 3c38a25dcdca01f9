"""Lightning 1.x's ``pl.metrics.functional``: ``accuracy(preds, target)``, ``f1(preds, target, num_classes=3)``, ...
on ``torchmetrics.functional``.

As with the metric classes, the task torchmetrics now needs is read from the inputs (scores ``(N, C)`` ->
multiclass; scores shaped like the target -> binary / multilabel; labels -> multiclass with ``num_classes``), with
1.x's averages (micro; macro for ``auroc``), and each call warns (``FutureWarning``) with the torchmetrics spelling.
The regression functions had the same signature in 1.x and are torchmetrics' own.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics.functional as tmf

from flashtrain.core.metrics import _warn, infer_task

mean_squared_error = tmf.mean_squared_error
mean_absolute_error = tmf.mean_absolute_error
mean_squared_log_error = tmf.mean_squared_log_error
explained_variance = tmf.explained_variance


def _classification(
    name: str,
    torchmetrics_name: str,
    preds: torch.Tensor,
    target: torch.Tensor,
    num_classes: int | None,
    options: dict[str, Any],
    average: str | None = "micro",
) -> torch.Tensor:
    fix = f"{name}(preds, target, num_classes=N)"
    task = infer_task(f"{name}()", torchmetrics_name, preds, target, num_classes, fix=fix)
    if average and task["task"] != "binary":
        task["average"] = average
    options = {**task, **options}
    spelling = ", ".join(f"{key}={value!r}" for key, value in options.items())
    _warn(
        f"pl.metrics.functional.{name} is Lightning 1.x's; write "
        f"torchmetrics.functional.{torchmetrics_name}(preds, target, {spelling})."
    )
    return getattr(tmf, torchmetrics_name)(preds, target, **options)


def accuracy(preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any) -> torch.Tensor:
    """1.x ``accuracy``: labels without ``num_classes`` give the fraction of exact matches (1.x's micro value)."""
    if not preds.is_floating_point() and preds.shape == target.shape and num_classes is None and not options:
        _warn(
            "pl.metrics.functional.accuracy is Lightning 1.x's; write torchmetrics.functional.accuracy(preds, "
            "target, task='multiclass', num_classes=N). flashtrain counts exact matches, its value for any N."
        )
        return (preds == target).float().mean()
    return _classification("accuracy", "accuracy", preds, target, num_classes, options)


def precision(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any
) -> torch.Tensor:
    return _classification("precision", "precision", preds, target, num_classes, options)


def recall(preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any) -> torch.Tensor:
    return _classification("recall", "recall", preds, target, num_classes, options)


def f1(preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any) -> torch.Tensor:
    return _classification("f1", "f1_score", preds, target, num_classes, options)


def fbeta(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, beta: float = 1.0, **options: Any
) -> torch.Tensor:
    return _classification("fbeta", "fbeta_score", preds, target, num_classes, {"beta": beta, **options})


def auroc(preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any) -> torch.Tensor:
    return _classification("auroc", "auroc", preds, target, num_classes, options, average="macro")


def confusion_matrix(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, **options: Any
) -> torch.Tensor:
    return _classification("confusion_matrix", "confusion_matrix", preds, target, num_classes, options, average=None)


def r2score(preds: torch.Tensor, target: torch.Tensor, **options: Any) -> torch.Tensor:
    """1.x's name of torchmetrics' ``r2_score``."""
    _warn("pl.metrics.functional.r2score is Lightning 1.x's; write torchmetrics.functional.r2_score(preds, target).")
    return tmf.r2_score(preds, target, **options)


f1_score = f1  # torchmetrics' later names
fbeta_score = fbeta

__all__ = [
    "accuracy",
    "auroc",
    "confusion_matrix",
    "explained_variance",
    "f1",
    "f1_score",
    "fbeta",
    "fbeta_score",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "precision",
    "r2score",
    "recall",
]
