"""Lightning 1.x's ``pl.metrics``: ``Accuracy()``, ``Precision()``, ``Recall()``, ``F1()``, ``FBeta()``,
``AUROC()``, ``ConfusionMatrix()``, ``MeanSquaredError()``, ... on torchmetrics (``pip install
'flashtrain-core[metrics]'``).

Since torchmetrics 0.11 a classification metric needs ``task=``; the 1.x spellings had none. Here the task is read
from the first ``update`` (as 1.x did): scores of shape ``(N, C)`` -> multiclass with C classes; scores with the
target's shape -> binary (1-D) or multilabel (2-D); class labels -> multiclass with the ``num_classes`` given. A
``FutureWarning`` then names the torchmetrics spelling to write instead. Inputs that do not say the number of
classes (labels without ``num_classes``) are refused, except for ``Accuracy``, whose 1.x default (micro average)
is the fraction of exact matches whatever that number.

``functional`` holds 1.x's ``pl.metrics.functional.accuracy(preds, target)`` & co., with the same inference.

``Metric`` is torchmetrics' base class (``self.add_state`` in custom metrics works as in 1.x).
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any

import torch

try:
    import torchmetrics
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("flashtrain.core.metrics needs torchmetrics: pip install 'flashtrain-core[metrics]'.") from error

Metric = torchmetrics.Metric
MeanSquaredError = torchmetrics.MeanSquaredError
MeanAbsoluteError = torchmetrics.MeanAbsoluteError
MeanAbsolutePercentageError = torchmetrics.MeanAbsolutePercentageError
MeanSquaredLogError = torchmetrics.MeanSquaredLogError
ExplainedVariance = torchmetrics.ExplainedVariance
R2Score = torchmetrics.R2Score


def _warn(message: str) -> None:
    """A FutureWarning pointing at the user's line (past this file, torch.nn's and torchmetrics' call layers)."""
    frame: FrameType | None = sys._getframe(1)
    level = 2
    while frame is not None and (_is_this_package(frame.f_code.co_filename) or _is_library(frame.f_code.co_filename)):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, FutureWarning, stacklevel=level)


def _is_this_package(filename: str) -> bool:
    return os.path.dirname(filename) == os.path.dirname(__file__)


def _is_library(filename: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    return "torchmetrics" in parts or ("torch" in parts and "nn" in parts)


def infer_task(
    name: str,
    torchmetrics_name: str,
    preds: torch.Tensor,
    target: torch.Tensor,
    num_classes: int | None,
    fix: str = "",
) -> dict[str, Any]:
    """torchmetrics' ``task`` options for 1.x inputs (see the module's docstring); ``name`` is the 1.x spelling
    and ``fix`` the same call with ``num_classes`` given."""
    if preds.is_floating_point() and preds.ndim == target.ndim + 1:
        return {"task": "multiclass", "num_classes": num_classes or preds.shape[1]}
    if preds.is_floating_point() and preds.shape == target.shape:
        if preds.ndim == 2 and preds.shape[1] > 1:
            return {"task": "multilabel", "num_labels": preds.shape[1]}
        return {"task": "binary"}
    if not preds.is_floating_point() and preds.shape == target.shape:
        if num_classes is None:
            raise ValueError(
                f"{name} got class labels without num_classes, which 1.x guessed from the data; pass "
                f"{fix or name.replace('()', '(num_classes=N)')}, or the scores of shape (N, C) from which C is read."
            )
        return {"task": "multiclass", "num_classes": num_classes}
    raise ValueError(
        f"{name} cannot tell the task from preds of shape {tuple(preds.shape)} ({preds.dtype}) and target of "
        f"shape {tuple(target.shape)}; use torchmetrics' {torchmetrics_name}(task=...) directly."
    )


class _TaskFromFirstUpdate(torchmetrics.Metric):
    """A 1.x classification metric: builds ``torchmetrics.<name>(task=..., ...)`` on its first update and passes
    every call on to it (that metric keeps and syncs the state)."""

    _torchmetrics_name = ""
    _default_average: str | None = "micro"  # 1.x's default for multiclass and multilabel inputs
    full_state_update = False

    def __init__(self, num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__()
        kwargs.pop("compute_on_step", None)  # 1.x only: torchmetrics' forward always returns the batch value
        self.num_classes = num_classes
        self.options = kwargs
        self.inner: torchmetrics.Metric | None = None

    def _task(self, preds: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
        return infer_task(f"{type(self).__name__}()", self._torchmetrics_name, preds, target, self.num_classes)

    def _build(self, preds: torch.Tensor, target: torch.Tensor) -> torchmetrics.Metric:
        task = self._task(preds, target)
        if self._default_average and task["task"] != "binary":
            task["average"] = self._default_average
        options = {**task, **self.options}
        spelling = ", ".join(f"{key}={value!r}" for key, value in options.items())
        _warn(
            f"{type(self).__name__}() is Lightning 1.x's pl.metrics; write "
            f"torchmetrics.{self._torchmetrics_name}({spelling}). flashtrain built that metric from the first batch."
        )
        metric = getattr(torchmetrics, self._torchmetrics_name)(**options)
        return metric.to(preds.device)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        if self.inner is None:
            self.inner = self._build(preds, target)
        self.inner.update(preds, target)

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> Any:
        """The value on this batch, accumulated into the epoch's value (torchmetrics' forward)."""
        if self.inner is None:
            self.inner = self._build(preds, target)
        self._update_count += 1  # so compute() knows an update happened
        self._computed = None
        return self.inner(preds, target)

    def compute(self) -> Any:
        if self.inner is None:
            raise RuntimeError(f"{type(self).__name__}.compute() was called before any update.")
        return self.inner.compute()

    def reset(self) -> None:
        super().reset()
        if self.inner is not None:
            self.inner.reset()


class Accuracy(_TaskFromFirstUpdate):
    """1.x ``Accuracy()``; class labels without ``num_classes`` give the fraction of exact matches (1.x's micro
    average), the same for every number of classes."""

    _torchmetrics_name = "Accuracy"

    def _build(self, preds: torch.Tensor, target: torch.Tensor) -> torchmetrics.Metric:
        labels = not preds.is_floating_point() and preds.shape == target.shape
        if not (labels and self.num_classes is None):
            return super()._build(preds, target)
        _warn(
            "Accuracy() is Lightning 1.x's pl.metrics; write torchmetrics.Accuracy(task='multiclass', num_classes=N). "
            "flashtrain counts exact matches of the labels, which is that metric's value for any N."
        )
        return _ExactMatch().to(preds.device)


class _ExactMatch(torchmetrics.MeanMetric):
    """The fraction of predicted labels equal to the target (a torchmetrics mean, so it syncs over ranks)."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        super().update((preds == target).float())


class Precision(_TaskFromFirstUpdate):
    _torchmetrics_name = "Precision"


class Recall(_TaskFromFirstUpdate):
    _torchmetrics_name = "Recall"


class F1(_TaskFromFirstUpdate):
    _torchmetrics_name = "F1Score"


class FBeta(_TaskFromFirstUpdate):
    _torchmetrics_name = "FBetaScore"


class AUROC(_TaskFromFirstUpdate):
    _torchmetrics_name = "AUROC"
    _default_average = "macro"


class ConfusionMatrix(_TaskFromFirstUpdate):
    _torchmetrics_name = "ConfusionMatrix"
    _default_average = None


F1Score = F1  # torchmetrics' later name

from flashtrain.core.metrics import functional  # noqa: E402 - 1.x's pl.metrics.functional; uses infer_task above

__all__ = [
    "functional",
    "infer_task",
    "AUROC",
    "Accuracy",
    "ConfusionMatrix",
    "ExplainedVariance",
    "F1",
    "F1Score",
    "FBeta",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogError",
    "Metric",
    "Precision",
    "R2Score",
    "Recall",
]
