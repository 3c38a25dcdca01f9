"""The validation confusion matrix of a single-label classifier, as the model decides (its decision threshold
included), kept for the model card: ``save_pretrained`` and ``flash-train push`` write it into ``README.md``.

Counts are added batch by batch with the argmax (a temperature never changes an argmax); a binary model with a
decision threshold, which is fitted at the end of the validation epoch, keeps that epoch's two-column logits and
counts them once the threshold is known.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CHECKPOINT_KEY = "validation_confusion_matrix"  # rows: actual, columns: predicted, in label order


class ValidationConfusion:
    """Counts of (actual, predicted) on the last validation epoch; ``matrix`` is None before one has run."""

    def __init__(self, num_labels: int, deferred: bool) -> None:
        self.num_labels = num_labels
        self.deferred = deferred  # decide at the epoch's end (a threshold fitted on this epoch's logits)
        self.matrix: list[list[int]] | None = None
        self._counts = torch.zeros(num_labels, num_labels, dtype=torch.long)
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        if targets.is_floating_point():  # soft targets (mixup): score the largest, as the metrics do
            targets = targets.argmax(dim=1)
        logits, targets = logits.detach().float().cpu(), targets.detach().long().cpu()
        if self.deferred:
            self._pending.append((logits, targets))
        else:
            self._add(targets, logits.argmax(dim=1))

    def finish(self, decide: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Close the epoch: ``decide`` turns the kept logits into class indices (the model's fitted rule)."""
        for logits, targets in self._pending:
            self._add(targets, decide(logits))
        self._pending = []
        if int(self._counts.sum()):
            self.matrix = self._counts.tolist()
        self._counts = torch.zeros_like(self._counts)

    def _add(self, targets: torch.Tensor, predicted: torch.Tensor) -> None:
        pairs = targets * self.num_labels + predicted
        self._counts += torch.bincount(pairs, minlength=self.num_labels**2).view(self.num_labels, self.num_labels)
