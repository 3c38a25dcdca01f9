"""``EarlyStopping``: stop when a monitored metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from flashtrain.core.callbacks.base import Callback


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` checks.

    Checked after each validation that logs ``monitor``, otherwise at each training epoch end. Also stops at
    once when the value is not finite (``check_finite``), reaches ``stopping_threshold``, or passes
    ``divergence_threshold``. The patience counter is saved in checkpoints.
    """

    runs_last = True

    def __init__(
        self,
        monitor: str,
        min_delta: float = 0.0,
        patience: int = 3,
        verbose: bool = False,
        mode: str = "min",
        strict: bool = True,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
        divergence_threshold: float | None = None,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'min' or 'max', got {mode!r}.")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping patience must be an int >= 0, got {patience!r}.")
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.strict = strict
        self.check_finite = check_finite
        self.stopping_threshold = stopping_threshold
        self.divergence_threshold = divergence_threshold
        self.wait_count = 0
        self.stopped_epoch = 0
        self.best_score = math.inf if mode == "min" else -math.inf
        self.stopping_reason = ""
        self._last_checked_step = -1

    @property
    def state_key(self) -> str:
        return f"EarlyStopping{{monitor={self.monitor!r}, mode={self.mode!r}}}"

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait_count": self.wait_count,
            "stopped_epoch": self.stopped_epoch,
            "best_score": self.best_score,
            "patience": self.patience,
            "last_checked_step": self._last_checked_step,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.wait_count = state_dict["wait_count"]
        self.stopped_epoch = state_dict["stopped_epoch"]
        self.best_score = state_dict["best_score"]
        self._last_checked_step = state_dict.get("last_checked_step", -1)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if (
            trainer.sanity_checking
            or trainer.state.fn != "fit"
            or self.monitor not in trainer.metrics_store.evaluation_metric_names
        ):
            return
        self._check(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.global_step != self._last_checked_step:
            self._check(trainer)

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best_score - self.min_delta
        return value > self.best_score + self.min_delta

    def _check(self, trainer: Any) -> None:
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            if self.strict:
                raise ValueError(
                    f"EarlyStopping(monitor={self.monitor!r}) could not find {self.monitor!r} in the logged metrics: "
                    f"{sorted(metrics)}. Log it with self.log({self.monitor!r}, ...) or pass strict=False."
                )
            return
        self._last_checked_step = trainer.global_step
        value = float(metrics[self.monitor])
        reason = ""
        if self.check_finite and not math.isfinite(value):
            reason = f"{self.monitor} = {value} is not finite"
        elif self.stopping_threshold is not None and (
            value < self.stopping_threshold if self.mode == "min" else value > self.stopping_threshold
        ):
            reason = f"{self.monitor} = {value:.6g} reached the stopping threshold {self.stopping_threshold}"
        elif self.divergence_threshold is not None and (
            value > self.divergence_threshold if self.mode == "min" else value < self.divergence_threshold
        ):
            reason = f"{self.monitor} = {value:.6g} passed the divergence threshold {self.divergence_threshold}"
        elif self._improved(value):
            self.best_score = value
            self.wait_count = 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                reason = (
                    f"{self.monitor} did not improve by more than {self.min_delta} in the last "
                    f"{self.wait_count} checks; best {self.best_score:.6g}"
                )
        # A stop on any rank stops every rank (their metrics may differ without sync_dist=True).
        if trainer.strategy.reduce_boolean_decision(bool(reason)):
            self.stopping_reason = reason or "another rank decided to stop"
            self.stopped_epoch = trainer.current_epoch
            trainer.should_stop = True
            if self.verbose and trainer.is_global_zero:
                print(f"EarlyStopping: {reason}. Stopping.")
