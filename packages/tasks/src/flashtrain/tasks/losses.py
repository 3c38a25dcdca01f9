"""Losses for the tasks: the default per task, by name, or the user's callable; class weights from the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy", "focal")
REGRESSION_LOSSES = ("mse", "l1", "huber", "smooth_l1")


class ClassificationLoss(torch.nn.Module):
    """Cross-entropy (single-label; also soft targets, e.g. from mixup) or binary cross-entropy (multi-label),
    with class weights (``pos_weight`` per label for multi-label) and label smoothing; or the user's loss.

    The weights are a non-persistent buffer: they travel in the hyper-parameters (as numbers), so a checkpoint
    loads into a model built with or without them.
    """

    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse ``X | None``
        weight: torch.Tensor | None  # the buffer registered in __init__

    def __init__(
        self,
        loss_fn: Any,
        num_classes: int,
        multi_label: bool,
        class_weights: str | Sequence[float] | None,
        label_smoothing: float,
    ) -> None:
        super().__init__()
        if loss_fn is not None and not callable(loss_fn) and loss_fn not in CLASSIFICATION_LOSSES:
            raise ValueError(
                f"Unknown loss_fn {loss_fn!r}. Allowed: None (the default), {', '.join(CLASSIFICATION_LOSSES)}, or a "
                "callable (logits, targets) -> loss such as torch.nn.CrossEntropyLoss(weight=...)."
            )
        if callable(loss_fn) and class_weights is not None:
            raise ValueError("class_weights applies to the built-in losses; put the weights into your loss_fn instead.")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.custom = loss_fn if callable(loss_fn) else None
        self.name = (
            loss_fn if isinstance(loss_fn, str) else ("binary_cross_entropy" if multi_label else "cross_entropy")
        )
        if self.name == "cross_entropy" and multi_label:
            raise ValueError("loss_fn='cross_entropy' is for single-label data; multi-label uses binary_cross_entropy.")
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.label_smoothing = float(label_smoothing)
        self.needs_counts = class_weights == "balanced"
        weights = None
        if isinstance(class_weights, str) and class_weights != "balanced":
            raise ValueError(f"class_weights={class_weights!r}: use 'balanced', None, or one weight per class.")
        if class_weights is not None and not isinstance(class_weights, str):
            weights = torch.as_tensor(list(class_weights), dtype=torch.float32)
            if weights.shape != (num_classes,) or bool((weights < 0).any()):
                raise ValueError(
                    f"class_weights needs {num_classes} non-negative numbers (one per class), got "
                    f"{list(class_weights)}."
                )
        self.register_buffer("weight", weights, persistent=False)

    def set_counts(self, counts: torch.Tensor, total: int) -> None:
        """Balanced weights from per-class counts (single-label) or per-label positive counts (multi-label)."""
        counts = counts.float().clamp(min=1)
        if self.multi_label:
            weights = (total - counts).clamp(min=1) / counts
        else:
            weights = total / (self.num_classes * counts)
        self.weight = weights.to(self.weight.device if self.weight is not None else "cpu")

    def weights_list(self) -> list[float] | None:
        return None if self.weight is None else [round(float(w), 6) for w in self.weight]

    @torch.jit.unused  # a training concern (user callables, lazy imports): a scripted task is for inference
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.custom is not None:
            return self.custom(logits, targets)
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        if self.name == "focal":
            from torchvision.ops import sigmoid_focal_loss

            hot = targets.float() if targets.ndim == logits.ndim else F.one_hot(targets, self.num_classes).float()
            return sigmoid_focal_loss(logits, hot, reduction="mean")
        if self.name == "binary_cross_entropy":
            hot = targets.float() if targets.ndim == logits.ndim else F.one_hot(targets, self.num_classes).float()
            return F.binary_cross_entropy_with_logits(logits, hot, pos_weight=weight)
        # Soft targets (mixup/cutmix) were smoothed already by whoever mixed them.
        smoothing = 0.0 if targets.is_floating_point() else self.label_smoothing
        return F.cross_entropy(logits, targets, weight=weight, label_smoothing=smoothing)


def regression_loss(loss_fn: Any) -> Any:
    """The regression loss: MSE by default, a name, or the user's callable."""
    if loss_fn is None or loss_fn == "mse":
        return torch.nn.MSELoss()
    if callable(loss_fn):
        return loss_fn
    built = {"l1": torch.nn.L1Loss, "huber": torch.nn.HuberLoss, "smooth_l1": torch.nn.SmoothL1Loss}.get(loss_fn)
    if built is None:
        raise ValueError(
            f"Unknown loss_fn {loss_fn!r}. Allowed: None (mse), {', '.join(REGRESSION_LOSSES)}, or a callable "
            "(predictions, targets) -> loss."
        )
    return built()
