"""SpikeDetection stops training on a loss far above its running mean and records the batches to skip."""

from __future__ import annotations

import json

import pytest
import torch

from flashtrain.core import Module
from flashtrain.core.callbacks.spike import SpikeDetection, TrainingSpikeException
from tests.core.helpers import quiet_trainer


class ScriptedLoss(Module):
    """Its loss at batch i is losses[i] (times a weight of one, so it has gradients)."""

    def __init__(self, losses):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.losses = losses

    def training_step(self, batch, batch_idx):
        return self.weight * self.losses[batch_idx]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def _fit(losses, detector, **kwargs):
    data = torch.utils.data.DataLoader([0.0] * len(losses))
    quiet_trainer(max_epochs=1, callbacks=[detector], **kwargs).fit(ScriptedLoss(losses), data)


def test_a_spike_stops_training_and_writes_the_batches_to_skip(tmp_path):
    detector = SpikeDetection(exclude_batches_path=tmp_path)
    with pytest.raises(TrainingSpikeException, match="Training spike detected in batch 4"):
        _fit([1.0, 0.5, 0.33, 0.25, 4.0, 0.2], detector)
    assert json.loads((tmp_path / "skip_batches.json").read_text()) == [3, 4]


def test_noise_below_the_tolerances_and_improvements_are_not_spikes(tmp_path):
    detector = SpikeDetection(exclude_batches_path=tmp_path / "skip.json", atol=1.0, rtol=None)
    _fit([1.0, 0.5, 0.33, 1.2, 0.2, 0.1], detector)  # 1.2 rose, but by less than atol from the mean
    assert detector.bad_batches == [] and not (tmp_path / "skip.json").exists()
    assert list(detector.recent) == pytest.approx([1.0, 0.5, 0.33, 1.2, 0.2, 0.1])


def test_non_finite_losses_are_spikes_unless_finite_only_is_off(tmp_path):
    # The Trainer's default on_nan="raise" stands aside for SpikeDetection: the callback judges the loss.
    with pytest.raises(TrainingSpikeException):
        _fit([1.0, 0.5, float("nan"), 0.4], SpikeDetection(exclude_batches_path=tmp_path))
    detector = SpikeDetection(exclude_batches_path=tmp_path, finite_only=False)
    _fit([1.0, 0.5, 0.4, float("nan")], detector)  # judged like any loss: NaN is not a spike
    assert list(detector.recent) == pytest.approx([1.0, 0.5, 0.4])  # and stays out of the running mean
    with pytest.raises(ValueError, match="Invalid mode. Has to be min or max"):
        SpikeDetection(mode="up")


def test_without_spike_detection_a_non_finite_loss_still_stops_the_fit():
    with pytest.raises(FloatingPointError, match="Loss is nan at step 2"):
        quiet_trainer(max_epochs=1).fit(ScriptedLoss([1.0, 0.5, float("nan")]), torch.utils.data.DataLoader([0.0] * 3))
