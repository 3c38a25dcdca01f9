"""``SpikeDetection``: stop training when the loss jumps far above its recent running mean (Lightning 2's callback)."""

from __future__ import annotations

import collections
import json
import math
import os
from collections.abc import Mapping
from typing import Any

from flashtrain.core.callbacks.base import Callback


class TrainingSpikeException(RuntimeError):
    """Raised by :class:`SpikeDetection` when a batch's loss is a spike."""

    def __init__(self, batch_idx: int, *args: Any) -> None:
        super().__init__(f"Training spike detected in batch {batch_idx}", *args)
        self.batch_idx = batch_idx


class SpikeDetection(Callback):
    """Raise :class:`TrainingSpikeException` on a loss spike and record the batches to skip on a rerun.

    A loss is a spike when it is worse than the previous one and differs from the running mean of the last
    ``window`` losses by at least ``atol`` and by at least ``rtol`` times that mean (each check off when None).
    The batch and the one before it are appended to a JSON list in ``exclude_batches_path`` (the previous batch
    may have corrupted the weights). Each process checks its own losses; a spike on any one stops all.

    Args:
        mode: ``"min"``: a rising loss can be a spike; ``"max"``: a falling metric can.
        window: Number of recent losses in the running mean.
        warmup: Batches at the start of each epoch that are never a spike.
        atol: Absolute tolerance, or None.
        rtol: Relative tolerance (times the running mean), or None.
        exclude_batches_path: A ``.json`` file, or a folder for ``skip_batches.json``; default the trainer's
            ``default_root_dir``.
        finite_only: A NaN or infinite loss is always a spike; with False it is judged like any other (+inf is a
            spike, NaN and -inf are not) and kept out of the running mean.

    Raises:
        ValueError: ``mode`` is not "min" or "max", or ``window`` < 1.

    With this callback the Trainer's ``on_nan`` check stands aside (``judges_nonfinite_loss``): a non-finite loss
    reaches ``on_train_batch_end`` and is judged here, as in Lightning.
    """

    judges_nonfinite_loss = True

    def __init__(
        self,
        mode: str = "min",
        window: int = 10,
        warmup: int = 1,
        atol: float | None = None,
        rtol: float | None = 2.0,
        exclude_batches_path: str | os.PathLike | None = None,
        finite_only: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode. Has to be min or max, found {mode}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"SpikeDetection window must be an int >= 1, got {window!r}.")
        self.mode = mode
        self.warmup = warmup
        self.atol = atol
        self.rtol = rtol
        self.exclude_batches_path = exclude_batches_path
        self.finite_only = finite_only
        self.recent: collections.deque[float] = collections.deque(maxlen=window)
        self.last_val = 0.0
        self.bad_batches: list[int] = []

    def _is_spike(self, loss: float) -> bool:
        if self.finite_only and not math.isfinite(loss):
            return True  # (otherwise NaN compares false everywhere: never a spike; +inf is one, -inf is not)
        if (loss <= self.last_val) if self.mode == "min" else (loss >= self.last_val):
            return False  # an improvement is never a spike
        mean = sum(self.recent) / len(self.recent) if self.recent else math.nan
        gap = abs(loss - mean)
        return (self.atol is None or gap >= abs(self.atol)) and (self.rtol is None or gap >= abs(self.rtol * mean))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if isinstance(outputs, Mapping):
            outputs = outputs["loss"]
        if not hasattr(outputs, "detach"):
            raise TypeError(f"outputs have to be of type torch.Tensor or Mapping, got {type(outputs).__qualname__}")
        loss = float(outputs.detach().float().mean())
        strategy = trainer.strategy
        spike = strategy.reduce_boolean_decision(batch_idx >= self.warmup and self._is_spike(loss))  # any rank
        if spike:
            self._handle_spike(trainer, batch_idx)
        # Losses enter the running mean only when finite on every rank (or non-finite ones are spikes anyway).
        if self.finite_only or not strategy.reduce_boolean_decision(not math.isfinite(loss)):
            self.recent.append(loss)
            self.last_val = loss

    def _handle_spike(self, trainer: Any, batch_idx: int) -> None:
        path = os.fspath(self.exclude_batches_path or trainer.default_root_dir)
        if not path.endswith(".json"):
            path = os.path.join(path, "skip_batches.json")
        self.bad_batches.extend([batch_idx - 1, batch_idx])
        if trainer.is_global_zero:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as handle:
                json.dump(self.bad_batches, handle, indent=4)
        raise TrainingSpikeException(batch_idx=batch_idx)

    def state_dict(self) -> dict[str, Any]:
        return {"last_val": self.last_val, "recent": list(self.recent), "bad_batches": list(self.bad_batches)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_val = float(state_dict["last_val"])
        self.recent.clear()
        self.recent.extend(state_dict["recent"])
        self.bad_batches = list(state_dict["bad_batches"])
