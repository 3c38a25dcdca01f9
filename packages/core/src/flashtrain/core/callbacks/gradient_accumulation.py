"""``GradientAccumulationScheduler``: an ``accumulate_grad_batches`` that changes with the epoch."""

from __future__ import annotations

from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.utilities.rank_zero import rank_zero_warn


class GradientAccumulationScheduler(Callback):
    """Accumulate gradients over a number of batches that depends on the epoch.

    Args:
        scheduling: ``{first_epoch: factor}``, e.g. ``{0: 8, 4: 4, 8: 1}``: 8 batches per optimizer step in epochs
            0-3, then 4, then 1. Epochs before the smallest key accumulate nothing (factor 1).

    Raises:
        TypeError: An empty schedule.
        MisconfigurationException: A key that is not an int >= 0, or a factor that is not an int >= 1.

    Example::

        trainer = Trainer(callbacks=[GradientAccumulationScheduler({0: 8, 4: 4, 8: 1})])
    """

    def __init__(self, scheduling: dict[int, int]) -> None:
        if not scheduling:
            raise TypeError("Empty dict cannot be interpreted correct")
        if any(isinstance(key, bool) or not isinstance(key, int) or key < 0 for key in scheduling):
            raise MisconfigurationException(
                f"Epoch should be an int greater than or equal to 0. Got {list(scheduling.keys())}."
            )
        if any(isinstance(value, bool) or not isinstance(value, int) or value < 1 for value in scheduling.values()):
            raise MisconfigurationException(
                f"Accumulation factor should be an int greater than 0. Got {list(scheduling.values())}."
            )
        self.scheduling = {0: 1, **scheduling}
        self.epochs = sorted(self.scheduling)
        self.trainer_value: int | None = None  # the Trainer's own setting, put back when training ends

    def going_to_accumulate_grad_batches(self) -> bool:
        """Whether any epoch accumulates more than one batch."""
        return any(value > 1 for value in self.scheduling.values())

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        """The factor for ``epoch``: that of the last scheduled epoch at or before it."""
        return self.scheduling[max(start for start in self.epochs if start <= epoch)]

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Refuse what cannot follow a schedule: manual optimization, or a Trainer that accumulates already."""
        from flashtrain.core.module import Module
        from flashtrain.core.utilities.model_helpers import is_overridden

        if not pl_module.automatic_optimization:
            raise RuntimeError(
                "Automatic gradient accumulation and the `GradientAccumulationScheduler` is not supported for manual"
                " optimization. Please remove the callback or switch to automatic optimization."
            )
        overridden = any(is_overridden(hook, pl_module, Module) for hook in ("optimizer_step", "optimizer_zero_grad"))
        if overridden and self.going_to_accumulate_grad_batches():
            rank_zero_warn(
                "When using `Trainer(accumulate_grad_batches != 1)` and overriding"
                " `LightningModule.optimizer_{step,zero_grad}`, the hooks will not be called on every batch"
                " (rather, they are called on every optimization step)."
            )
        if trainer.accumulate_grad_batches != 1:
            raise ValueError(
                "You have set `accumulate_grad_batches` and are using the `GradientAccumulationScheduler`"
                " callback. Either remove `accumulate_grad_batches` from the Trainer or remove the callback."
            )
        self.trainer_value = trainer.accumulate_grad_batches

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        trainer.accumulate_grad_batches = self.get_accumulate_grad_batches(trainer.current_epoch)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.trainer_value is not None:  # a later fit starts from the Trainer's setting again
            trainer.accumulate_grad_batches, self.trainer_value = self.trainer_value, None
