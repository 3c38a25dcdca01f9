"""``Timer``: measure time per stage and stop fit after a duration (Lightning's ``Timer``)."""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.utilities.rank_zero import rank_zero_info

STAGES = ("train", "sanity_check", "validate", "test", "predict")


class Timer(Callback):
    """Track elapsed time per stage ("train", "validate", "test"...); stop fit once ``duration`` has passed.

    The duration is checked when fit starts (a zero duration trains nothing), then after every training step
    (``interval="step"``) or epoch (``"epoch"``). Elapsed training time is saved in checkpoints, so the duration
    covers a run across resumes. ``"fit"`` is accepted as another name of the ``"train"`` stage.
    """

    def __init__(
        self, duration: str | datetime.timedelta | dict | None = None, interval: str = "step", verbose: bool = True
    ) -> None:
        if interval not in ("step", "epoch"):
            raise MisconfigurationException(
                f"Unsupported parameter value `Timer(interval={interval})`. Possible choices are: step, epoch"
            )
        self.duration = _seconds(duration)
        self.interval = interval
        self.verbose = verbose
        self._start: dict[str, float] = {}
        self._end: dict[str, float] = {}
        self._offset = 0.0  # training time before a resume

    def start_time(self, stage: str = "train") -> float | None:
        return self._start.get(_stage(stage))

    def end_time(self, stage: str = "train") -> float | None:
        return self._end.get(_stage(stage))

    def time_elapsed(self, stage: str = "train") -> float:
        """Seconds spent in ``stage``, training time before a resume included (0 for a stage not run)."""
        stage = _stage(stage)
        offset = self._offset if stage == "train" else 0.0
        start = self._start.get(stage)
        if start is None:
            return offset
        return self._end.get(stage, time.monotonic()) - start + offset

    def time_remaining(self, stage: str = "train") -> float | None:
        return None if self.duration is None else self.duration - self.time_elapsed(stage)

    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": {stage: self.time_elapsed(stage) for stage in STAGES}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        elapsed = state_dict.get("time_elapsed", {})
        self._offset = float(elapsed.get("train", elapsed.get("fit", 0.0)))  # "fit": older flashtrain checkpoints

    def _started(self, stage: str) -> None:
        self._start[stage] = time.monotonic()
        self._end.pop(stage, None)

    def _ended(self, stage: str) -> None:
        self._end[stage] = time.monotonic()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._started("train")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._ended("train")

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._started("validate")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._ended("validate")

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._started("test")

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._ended("test")

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.duration is not None:
            self._check(trainer)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        if self.interval == "step" and self.duration is not None:
            self._check(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.interval == "epoch" and self.duration is not None:
            self._check(trainer)

    def _check(self, trainer: Any) -> None:
        assert self.duration is not None
        # rank 0's clock decides for every rank, so they stop at the same step
        up = bool(trainer.strategy.broadcast(self.time_elapsed() >= self.duration))
        trainer.should_stop = trainer.should_stop or up
        if up and self.verbose:
            elapsed = datetime.timedelta(seconds=int(self.time_elapsed()))
            rank_zero_info(f"Time limit reached. Elapsed time is {elapsed}. Signaling Trainer to stop.")


def _stage(stage: str) -> str:
    stage = "train" if stage == "fit" else str(getattr(stage, "value", stage))
    if stage not in STAGES:
        raise ValueError(f"Timer stage must be one of {', '.join(STAGES)}, got {stage!r}.")
    return stage


def _seconds(duration: str | datetime.timedelta | dict | None) -> float | None:
    if duration is None:
        return None
    if isinstance(duration, str):
        match = re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", duration.strip())
        if not match:
            raise MisconfigurationException(
                f"`Timer(duration={duration!r})` is not a valid duration. Expected a string in the format DD:HH:MM:SS."
            )
        days, hours, minutes, seconds = (int(part) for part in match.groups())
        duration = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    elif isinstance(duration, dict):
        duration = datetime.timedelta(**duration)
    return duration.total_seconds()
