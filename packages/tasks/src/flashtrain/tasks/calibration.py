"""Calibrated probabilities and tuned decision thresholds for classifiers, fitted on the validation split.

``calibrate="temperature"`` divides the logits by one temperature, the one that minimises the validation
negative log-likelihood (Guo et al. 2017): the ranking of classes, hence the argmax labels, does not change; the
probabilities stop being over- (or under-) confident. ``decision_threshold`` picks the label of a binary
classifier (the second label when its probability reaches the threshold) and the labels of a multi-label one (each
label with its own threshold): ``"f1"`` or ``"balanced_accuracy"`` choose the threshold that maximises that score on
the validation split, a float fixes it.

Both are fitted at the end of every validation epoch, on that epoch's validation logits, before the checkpoint
callbacks run: every checkpoint holds the temperature and thresholds that belong to its own weights. They live in
:class:`Calibration` (a child module, so in the state dict); ``predict``, ``serve``, the exports and
``from_pretrained`` read them from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

CALIBRATIONS = (None, "temperature")
THRESHOLD_CRITERIA = ("f1", "balanced_accuracy")
ECE_BINS = 15


def check_settings(calibrate: Any, decision_threshold: Any, num_labels: int, multi_label: bool) -> None:
    if calibrate not in CALIBRATIONS:
        raise ValueError(f"calibrate must be None or 'temperature', got {calibrate!r}.")
    if decision_threshold is None:
        return
    allowed = "'f1', 'balanced_accuracy' or a number in (0, 1)"
    if isinstance(decision_threshold, str):
        if decision_threshold not in THRESHOLD_CRITERIA:
            raise ValueError(f"decision_threshold must be {allowed}, got {decision_threshold!r}.")
    elif isinstance(decision_threshold, bool) or not isinstance(decision_threshold, (int, float)):
        raise TypeError(f"decision_threshold must be {allowed}, got {decision_threshold!r}.")
    elif not 0 < decision_threshold < 1:
        raise ValueError(f"decision_threshold must be {allowed}, got {decision_threshold}.")
    if not multi_label and num_labels != 2:
        raise ValueError(
            f"decision_threshold applies to binary and multi-label classifiers; this one has {num_labels} classes "
            "and picks the most probable. Leave decision_threshold=None."
        )


class Calibration(torch.nn.Module):
    """The fitted temperature and thresholds of a classifier (persistent buffers: they travel in checkpoints)."""

    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse the string ones
        temperature: torch.Tensor
        thresholds: torch.Tensor

    def __init__(self, calibrate: str | None, decision_threshold: Any, num_labels: int, multi_label: bool) -> None:
        super().__init__()
        check_settings(calibrate, decision_threshold, num_labels, multi_label)
        self.calibrate = calibrate
        self.criterion = decision_threshold if isinstance(decision_threshold, str) else None
        self.multi_label = multi_label
        count = num_labels if multi_label else 1
        fixed = float(decision_threshold) if isinstance(decision_threshold, (int, float)) else 0.5
        self.register_buffer("temperature", torch.ones(()))
        self.register_buffer("thresholds", torch.full((count,), fixed))
        self.uses_thresholds = decision_threshold is not None
        self.report: dict[str, float] = {}
        self._logits: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    # -- fitting ----------------------------------------------------------------------------------------------
    @property
    def fits(self) -> bool:
        return self.calibrate is not None or self.criterion is not None

    def collect(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        if self.fits:
            self._logits.append(logits.detach().float().cpu())
            self._targets.append(targets.detach().cpu())

    def fit_collected(self) -> None:
        """Fit on what :meth:`collect` gathered this validation epoch, then forget it."""
        if not self._logits:
            return
        logits, targets = torch.cat(self._logits), torch.cat(self._targets)
        self._logits, self._targets = [], []
        before = expected_calibration_error(logits, targets, self.multi_label)
        if self.calibrate == "temperature":
            self.temperature.fill_(fit_temperature(logits, targets, self.multi_label))
        after = expected_calibration_error(logits / self.temperature, targets, self.multi_label)
        self.report = {"ece_before": before, "ece_after": after, "temperature": float(self.temperature)}
        if self.criterion is not None:
            probabilities = self.probabilities(logits)
            if self.multi_label:
                chosen = [choose_threshold(probabilities[:, i], targets[:, i], self.criterion) for i in range(
                    probabilities.shape[1])]  # fmt: skip
            else:
                chosen = [choose_threshold(probabilities[:, 1], targets, self.criterion)]
            self.thresholds.copy_(torch.tensor(chosen))
        if self.uses_thresholds:
            self.report["thresholds"] = self.thresholds.tolist()  # type: ignore[assignment]

    # -- applying ---------------------------------------------------------------------------------------------
    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        scaled = logits / self.temperature
        return torch.sigmoid(scaled) if self.multi_label else torch.softmax(scaled, dim=1)

    def predicted(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Class indices (single-label) or a 0/1 mask per label (multi-label)."""
        if self.multi_label:
            return (probabilities >= self.thresholds).long()
        if self.uses_thresholds:
            return (probabilities[:, 1] >= self.thresholds[0]).long()
        return probabilities.argmax(dim=1)

    def summary(self) -> str:
        """One line for the run summary."""
        if not self.report:
            return ""
        parts = []
        if self.calibrate:
            parts.append(
                f"temperature {self.report['temperature']:.3f}: validation ECE {self.report['ece_before']:.4f} -> "
                f"{self.report['ece_after']:.4f}"
            )
        if self.uses_thresholds:
            how = self.criterion or "fixed"
            values = ", ".join(f"{value:.3f}" for value in self.thresholds.tolist())
            parts.append(f"decision threshold{'s' if self.multi_label else ''} ({how}): {values}")
        return "calibration: " + "; ".join(parts)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> float:
    """The temperature in [0.05, 20] minimising the negative log-likelihood of ``targets``.

    The likelihood is convex in 1/T (the logits scale linearly with it), so a golden-section search on log T finds
    the minimum. Hand-written rather than torch.optim.LBFGS: a one-dimensional convex problem needs no gradients,
    and the first optimizer built in a process imports torch._dynamo (seconds), at the end of every validation."""
    logits, targets = logits.float(), (targets.float() if multi_label else targets)

    def nll(log_temperature: float) -> float:
        scaled = logits / float(np.exp(log_temperature))
        if multi_label:
            return float(torch.nn.functional.binary_cross_entropy_with_logits(scaled, targets))
        return float(torch.nn.functional.cross_entropy(scaled, targets))

    low, high = float(np.log(0.05)), float(np.log(20.0))
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    value_a, value_b = nll(a), nll(b)
    for _ in range(60):  # the interval shrinks by 0.618 each step: 60 steps is far below float precision
        if value_a < value_b:
            high, b, value_b = b, a, value_a
            a = high - ratio * (high - low)
            value_a = nll(a)
        else:
            low, a, value_a = a, b, value_b
            b = low + ratio * (high - low)
            value_b = nll(b)
    return float(np.exp((low + high) / 2))


def expected_calibration_error(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> float:
    """ECE (15 equal-width bins, torchmetrics) of the probabilities of ``logits``; for multi-label over all
    (sample, label) pairs."""
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    if multi_label:
        return float(binary_calibration_error(torch.sigmoid(logits).flatten(), targets.flatten().long(), ECE_BINS))
    probabilities = torch.softmax(logits, dim=1)
    return float(multiclass_calibration_error(probabilities, targets, probabilities.shape[1], ECE_BINS))


def choose_threshold(probabilities: torch.Tensor, targets: torch.Tensor, criterion: str) -> float:
    """The threshold on ``probabilities`` (of the positive class) maximising ``criterion`` over ``targets`` (0/1):
    every distinct probability is a candidate; the midpoint to the next lower one is returned, so that a value
    between the two validation points falls on the same side as at the optimum."""
    order = torch.argsort(probabilities, descending=True)
    scores, positives = probabilities[order].double(), targets[order].double()
    total_positive = positives.sum()
    total_negative = len(positives) - total_positive
    if total_positive == 0 or total_negative == 0:
        return 0.5  # nothing to tune on a split with one class
    true_positive = torch.cumsum(positives, 0)  # predicting positive for the first k+1 (highest) scores
    false_positive = torch.cumsum(1 - positives, 0)
    last_of_value = torch.ones_like(scores, dtype=torch.bool)
    last_of_value[:-1] = scores[1:] != scores[:-1]  # only cut between distinct scores
    if criterion == "f1":
        quality = 2 * true_positive / (true_positive + false_positive + total_positive)
    else:
        quality = (true_positive / total_positive + (total_negative - false_positive) / total_negative) / 2
    quality = torch.where(last_of_value, quality, torch.full_like(quality, -1.0))
    best = int(quality.argmax())
    lower = float(scores[best + 1]) if best + 1 < len(scores) else 0.0
    return (float(scores[best]) + lower) / 2


def reliability_table(
    logits: torch.Tensor, targets: torch.Tensor, multi_label: bool, temperature: float
) -> list[dict[str, float]]:
    """The reliability diagram's numbers, in the ECE's 15 equal-width bins of confidence (lower, upper], without and
    with the temperature: per bin the count, the mean confidence and the accuracy (multi-label: the rate of positives
    among the (sample, label) pairs). ``sum(count / n * |accuracy - confidence|)`` over the bins is the ECE."""
    rows = [{"lower": i / ECE_BINS, "upper": (i + 1) / ECE_BINS} for i in range(ECE_BINS)]
    for when, scale in (("before", 1.0), ("after", temperature)):
        confidence, correct = _confidence_and_correct(logits.float() / scale, targets, multi_label)
        index = (confidence * ECE_BINS).ceil().long().clamp(1, ECE_BINS) - 1
        counts = torch.bincount(index, minlength=ECE_BINS)
        confidence_sums = torch.bincount(index, weights=confidence.double(), minlength=ECE_BINS)
        correct_sums = torch.bincount(index, weights=correct.double(), minlength=ECE_BINS)
        for i, row in enumerate(rows):
            count = int(counts[i])
            row[f"count_{when}"] = count
            row[f"confidence_{when}"] = float(confidence_sums[i] / count) if count else float("nan")
            row[f"accuracy_{when}"] = float(correct_sums[i] / count) if count else float("nan")
    return rows


def _confidence_and_correct(
    logits: torch.Tensor, targets: torch.Tensor, multi_label: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """What the ECE compares: single-label the top probability and whether the top class is right; multi-label each
    label's probability and whether the label is on (as torchmetrics' binary calibration error does)."""
    if multi_label:
        return torch.sigmoid(logits).flatten(), targets.flatten().float()
    top, predicted = torch.softmax(logits, dim=1).max(dim=1)
    return top, (predicted == targets).float()
