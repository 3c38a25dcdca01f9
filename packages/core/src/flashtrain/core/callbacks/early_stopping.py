"""``EarlyStopping``: stop when a monitored metric stops improving."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException


class EarlyStoppingReason(Enum):
    """Why :class:`EarlyStopping` stopped the run (``early_stopping.stopping_reason``); values as Lightning's."""

    NOT_STOPPED = 0
    STOPPING_THRESHOLD = 1
    DIVERGENCE_THRESHOLD = 2
    PATIENCE_EXHAUSTED = 3
    NON_FINITE_METRIC = 4


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` checks.

    By default (``check_on_train_epoch_end=None``) checked after each validation that logs ``monitor``,
    otherwise at each training epoch end; ``True`` checks only at training epoch ends, ``False`` only after
    validation. Also stops at once when the value is not finite (``check_finite``), reaches
    ``stopping_threshold``, or passes ``divergence_threshold``. After a stop, ``stopping_reason`` (an
    :class:`EarlyStoppingReason`) and ``stopping_reason_message`` say why. The patience counter and the
    reason are saved in checkpoints.
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
        check_on_train_epoch_end: bool | None = None,
        log_rank_zero_only: bool = False,
    ) -> None:
        if mode not in ("min", "max"):
            raise MisconfigurationException(f"EarlyStopping `mode` can be 'min' or 'max', got {mode}.")
        if not isinstance(patience, int) or patience < 0:
            raise MisconfigurationException(f"EarlyStopping patience must be an int >= 0, got {patience!r}.")
        if check_on_train_epoch_end not in (None, True, False):
            raise MisconfigurationException(
                f"EarlyStopping check_on_train_epoch_end must be None, True or False, got {check_on_train_epoch_end!r}."
            )
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
        self.check_on_train_epoch_end = check_on_train_epoch_end
        self.log_rank_zero_only = log_rank_zero_only
        self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
        self.stopping_reason_message: str | None = None
        self._last_checked_step = -1

    @property
    def state_key(self) -> str:
        return f"{type(self).__qualname__}{ {'monitor': self.monitor, 'mode': self.mode}!r}"  # Lightning's key

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait_count": self.wait_count,
            "stopped_epoch": self.stopped_epoch,
            "best_score": self.best_score,
            "patience": self.patience,
            "last_checked_step": self._last_checked_step,
            "stopping_reason": self.stopping_reason.value,
            "stopping_reason_message": self.stopping_reason_message,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.wait_count = state_dict["wait_count"]
        self.stopped_epoch = state_dict["stopped_epoch"]
        self.best_score = state_dict["best_score"]
        self._last_checked_step = state_dict.get("last_checked_step", -1)
        reason = state_dict.get("stopping_reason", EarlyStoppingReason.NOT_STOPPED.value)
        self.stopping_reason = reason if isinstance(reason, EarlyStoppingReason) else EarlyStoppingReason(reason)
        self.stopping_reason_message = state_dict.get("stopping_reason_message")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.check_on_train_epoch_end or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        if self.check_on_train_epoch_end is None and self.monitor not in trainer.metrics_store.evaluation_metric_names:
            return  # not logged by validation: checked at the training epoch end instead
        self._check(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.check_on_train_epoch_end is False or trainer.state.fn != "fit":
            return
        if self.check_on_train_epoch_end or trainer.global_step != self._last_checked_step:
            self._check(trainer)

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best_score - self.min_delta
        return value > self.best_score + self.min_delta

    def _check(self, trainer: Any) -> None:
        if trainer.fast_dev_run:
            return  # a smoke run checks that the code runs; it never stops early (as Lightning)
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
        reason, message = self._evaluate(value)
        # A stop on any rank stops every rank (their metrics may differ without sync_dist=True).
        if trainer.strategy.reduce_boolean_decision(reason is not None):
            if reason is None:
                reason, message = EarlyStoppingReason.PATIENCE_EXHAUSTED, "Another process decided to stop."
            self.stopping_reason, self.stopping_reason_message = reason, message
            self.stopped_epoch = trainer.current_epoch
            trainer.should_stop = True
        if self.verbose and message and (trainer.is_global_zero or not self.log_rank_zero_only):
            prefix = "" if trainer.world_size == 1 else f"[rank: {trainer.global_rank}] "
            print(f"{prefix}EarlyStopping: {message}")

    def _evaluate(self, value: float) -> tuple[EarlyStoppingReason | None, str | None]:
        """Update the patience counter with ``value``; the reason to stop (None to go on) and a message."""
        mode_word = "<" if self.mode == "min" else ">"
        if self.check_finite and not math.isfinite(value):
            return EarlyStoppingReason.NON_FINITE_METRIC, (
                f"Monitored metric {self.monitor} = {value} is not finite; best so far {self.best_score:.6g}. Stopping."
            )
        if self.stopping_threshold is not None and (
            value < self.stopping_threshold if self.mode == "min" else value > self.stopping_threshold
        ):
            return EarlyStoppingReason.STOPPING_THRESHOLD, (
                f"Stopping threshold reached: {self.monitor} = {value:.6g} {mode_word} {self.stopping_threshold}."
            )
        if self.divergence_threshold is not None and (
            value > self.divergence_threshold if self.mode == "min" else value < self.divergence_threshold
        ):
            opposite = ">" if self.mode == "min" else "<"
            return EarlyStoppingReason.DIVERGENCE_THRESHOLD, (
                f"Divergence threshold reached: {self.monitor} = {value:.6g} {opposite} {self.divergence_threshold}."
            )
        if self._improved(value):
            previous, self.best_score, self.wait_count = self.best_score, value, 0
            if math.isfinite(previous):
                return None, f"Metric {self.monitor} improved by {abs(previous - value):.6g}; new best {value:.6g}."
            return None, f"Metric {self.monitor} improved; new best {value:.6g}."
        self.wait_count += 1
        if self.wait_count >= self.patience:
            return EarlyStoppingReason.PATIENCE_EXHAUSTED, (
                f"Monitored metric {self.monitor} did not improve by more than {self.min_delta} in the last "
                f"{self.wait_count} checks; best {self.best_score:.6g}. Stopping."
            )
        return None, None
