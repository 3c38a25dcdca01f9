"""``Timer``: measure time per stage and stop fit after a duration."""

from __future__ import annotations

import datetime
import time
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.utilities.checks import parse_max_time


class Timer(Callback):
    """Track elapsed time in fit/validate/test; stop fit once ``duration`` has passed (checked per step or epoch).

    Elapsed training time is saved in checkpoints, so the duration covers a run across resumes.
    """

    def __init__(
        self, duration: str | datetime.timedelta | dict | None = None, interval: str = "step", verbose: bool = True
    ) -> None:
        if interval not in ("step", "epoch"):
            raise ValueError(f"Timer interval must be 'step' or 'epoch', got {interval!r}.")
        self.duration = parse_max_time(duration)
        self.interval = interval
        self.verbose = verbose
        self._start: dict[str, float] = {}
        self._end: dict[str, float] = {}
        self._offset: dict[str, float] = {"fit": 0.0}

    def time_elapsed(self, stage: str = "fit") -> float:
        """Seconds spent in ``stage`` ('fit', 'validate', 'test'), including time before a resume."""
        start = self._start.get(stage)
        if start is None:
            return self._offset.get(stage, 0.0)
        end = self._end.get(stage, time.monotonic())
        return end - start + self._offset.get(stage, 0.0)

    def time_remaining(self, stage: str = "fit") -> float | None:
        return None if self.duration is None else self.duration - self.time_elapsed(stage)

    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": {"fit": self.time_elapsed("fit")}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._offset = dict(state_dict.get("time_elapsed", {"fit": 0.0}))

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._start["fit"] = time.monotonic()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._end["fit"] = time.monotonic()

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._start["validate"] = time.monotonic()
        self._end.pop("validate", None)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._end["validate"] = time.monotonic()

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._start["test"] = time.monotonic()

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._end["test"] = time.monotonic()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.interval == "step":
            self._check(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.interval == "epoch":
            self._check(trainer)

    def _check(self, trainer: Any) -> None:
        if self.duration is not None and self.time_elapsed("fit") >= self.duration:
            trainer.should_stop = True
            if self.verbose and trainer.is_global_zero:
                print(f"Timer: time limit of {datetime.timedelta(seconds=self.duration)} reached; stopping.")
