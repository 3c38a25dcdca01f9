"""``TrainerState``: which entry point is running (``fn``), which loop inside it (``stage``), and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class _StrEnum(str, Enum):
    """A member is its value wherever a string is used: ``==``, dict keys, ``str()`` and f-strings."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __hash__(self) -> int:
        return hash(self.value)


class TrainerFn(_StrEnum):
    """The entry point called: ``trainer.state.fn == "fit"`` works as with Lightning's enum; ``setup(stage)`` hooks
    are given it (``stage == "fit"`` and ``stage.value`` both work, as in Lightning)."""

    FITTING = "fit"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"


class RunningStage(_StrEnum):
    """The loop running inside the entry point."""

    TRAINING = "train"
    SANITY_CHECKING = "sanity_check"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"

    @property
    def evaluating(self) -> bool:
        return self in (RunningStage.VALIDATING, RunningStage.TESTING)

    @property
    def dataloader_prefix(self) -> str | None:
        """The stage's name in ``*_dataloader`` methods: train, val (also in the sanity check), test, predict."""
        if self in (RunningStage.VALIDATING, RunningStage.SANITY_CHECKING):
            return "val"
        return self.value


class TrainerStatus(_StrEnum):
    INITIALIZING = "initializing"
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # KeyboardInterrupt, SystemExit (a signal)
    FAILED = "failed"  # any other exception


@dataclass
class TrainerState:
    """Where the trainer is: set by the trainer's entry points and loops, read by callbacks (``trainer.state``)."""

    fn: TrainerFn | None = None
    stage: RunningStage | None = None
    status: TrainerStatus = TrainerStatus.INITIALIZING

    @property
    def finished(self) -> bool:
        return self.status == TrainerStatus.FINISHED

    @property
    def stopped(self) -> bool:
        return self.status in (TrainerStatus.FINISHED, TrainerStatus.INTERRUPTED, TrainerStatus.FAILED)
