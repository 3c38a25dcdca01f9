"""``FitProgress``: where a fit stands (epoch, step, batches, validation schedule, stop requests) and every rule
that ends it. Its ``state_dict()`` is the checkpoint's ``epoch``, ``global_step`` and ``loop`` position.

The loops move it forward through its methods; callbacks read it (``trainer.progress``) and may request a stop
(``trainer.should_stop = True``). Nothing else keeps a copy of these numbers.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.trainer.limits import LoopLimits
from flashtrain.core.utilities.rank_zero import rank_zero_info

_LOOP_KEYS = (
    "batches_done",
    "epoch_finished",
    "val_done_at",
    "total_train_batches",
    "batches_that_stepped",
    "base_seed",
    "epoch_seeds",
    "seeds_from_rng",
)


class FitProgress:
    """The position inside ``fit`` and its stop rules (max/min epochs and steps, max_time, should_stop)."""

    def __init__(self, limits: LoopLimits) -> None:
        self.limits = limits
        self.current_epoch = 0
        self.global_step = 0  # optimizer steps taken
        self.batches_done = 0  # batches of current_epoch already trained on
        self.epoch_finished = False  # the epoch's end (schedulers, metrics) ran; only its checkpoint callbacks remain
        self.val_done_at = -1  # batches_done when validation last started in this epoch (-1: not yet)
        self.total_train_batches = 0  # over all epochs (check_val_every_n_epoch=None counts these)
        self.batches_that_stepped = 0  # Lightning's logging step: batches that ended with an optimizer step
        self.base_seed = 0  # every epoch's shuffle order and worker seeds derive from it
        # This epoch's data seeds, drawn from the global RNG at its start (None: derived from base_seed).
        self.epoch_seeds: list[int] | None = None
        # False only for a run continued from a checkpoint of an earlier flashtrain, whose epochs all derived
        # their order from base_seed: it keeps doing so, and so resumes exactly as that version would have.
        self.seeds_from_rng = True
        self.should_stop = False
        self.is_last_batch = False
        self.validate_on_last_batch = False  # a training_step taking dataloader_iter: its steps are not batches
        self.num_training_batches: int | float = 0
        self.val_check_batch: int | float = math.inf
        self._started: float | None = None
        self._told_min_not_met = False
        self.last_validation_end = 0.0

    # -- the schedule ---------------------------------------------------------------------------------------
    def configure(self, num_training_batches: int | float) -> None:
        """Fix the epoch length and the validation interval for this fit."""
        self.num_training_batches = num_training_batches
        self.val_check_batch = self._val_check_batch()

    def start_clock(self) -> None:
        """max_time and a time-based val_check_interval count from here (after the sanity check)."""
        self._started = self.last_validation_end = time.monotonic()

    def _val_check_batch(self) -> int | float:
        interval = self.limits.val_check_interval
        if self.limits.val_check_time is not None or not isinstance(interval, (int, float)):
            return math.inf  # a duration: by the clock, not by batches
        if isinstance(interval, float):
            if math.isinf(self.num_training_batches):
                if interval != 1.0:
                    raise ValueError(
                        "val_check_interval as a fraction needs a training dataloader with a length; "
                        "pass an int (every N batches)."
                    )
                return math.inf
            return max(1, int(self.num_training_batches * interval))
        validation_off = self.limits.limit_val_batches == 0  # as Lightning: nothing to schedule, nothing to refuse
        if (
            self.limits.check_val_every_n_epoch is not None
            and interval > self.num_training_batches
            and not validation_off
        ):
            raise ValueError(
                f"`val_check_interval` ({interval}) must be less than or equal to the number of the training batches "
                f"({self.num_training_batches}). Lower it, set limit_val_batches=0 to disable validation, or set "
                "check_val_every_n_epoch=None to count batches across epochs."
            )
        return interval

    def validates_this_epoch(self) -> bool:
        """Whether check_val_every_n_epoch lets the current epoch validate (every epoch when it is None)."""
        every_n_epochs = self.limits.check_val_every_n_epoch
        return every_n_epochs is None or (self.current_epoch + 1) % every_n_epochs == 0

    def val_due(self, batch_idx: int, is_last: bool) -> bool:
        """Whether validation runs after training batch ``batch_idx`` of the current epoch."""
        every_n_epochs = self.limits.check_val_every_n_epoch
        if not self.validates_this_epoch():
            return False
        if self.val_done_at == batch_idx + 1:
            return False  # already ran here before a resume
        if self.limits.val_check_time is not None:  # every val_check_time seconds since the last validation
            return time.monotonic() - self.last_validation_end >= self.limits.val_check_time
        if is_last and (self.validate_on_last_batch or math.isinf(self.val_check_batch)):
            return True  # a loader without a length (or a step fetching its own batches): validate when it runs out
        if self.should_stop and self.min_reached():
            return True  # as Lightning: a stop request (early stopping) validates before the fit ends
        if every_n_epochs is None:  # an int interval counted over all epochs
            return self.total_train_batches % self.val_check_batch == 0
        # A fraction gives exactly that many validations per epoch (int(batches * fraction) apart), as Lightning:
        # with 0.5 and 5 batches after batches 2 and 4, not again after the last one.
        return (batch_idx + 1) % self.val_check_batch == 0

    def validation_started(self) -> None:
        # Marked first: a checkpoint written by this validation (on_validation_end) must not run it again on resume.
        self.val_done_at = self.batches_done

    def validation_ended(self) -> None:
        self.last_validation_end = time.monotonic()  # a time-based val_check_interval counts from here

    def estimated_stepping_batches(self) -> int | float:
        """Optimizer steps the fit will take (for schedulers like OneCycleLR)."""
        per_epoch = math.ceil(self.num_training_batches / self.limits.accumulate_grad_batches)
        max_epochs, max_steps = self.limits.max_epochs, self.limits.max_steps
        # max_epochs None: read before a fit resolved it
        by_epochs = math.inf if max_epochs is None or max_epochs == -1 else per_epoch * max_epochs
        return min(by_epochs, max_steps) if max_steps != -1 else by_epochs

    # -- moving forward -------------------------------------------------------------------------------------
    def batch_trained(self, batch_idx: int) -> None:
        # Moves before on_train_batch_end, so a checkpoint written there resumes after this batch.
        self.batches_done = batch_idx + 1
        self.total_train_batches += 1

    def optimizer_stepped(self) -> None:
        self.global_step += 1

    def logging_step(self) -> int:
        """Count a batch that stepped; returns the logging step it was logged at."""
        self.batches_that_stepped += 1
        return self.batches_that_stepped - 1

    def finish_epoch(self) -> None:
        self.epoch_finished = True

    def next_epoch(self) -> None:
        self.current_epoch += 1
        self.batches_done = 0
        self.epoch_finished = False
        self.val_done_at = -1
        self.epoch_seeds = None

    # -- stop rules -----------------------------------------------------------------------------------------
    def max_steps_reached(self) -> bool:
        return self.limits.max_steps != -1 and self.global_step >= self.limits.max_steps

    def time_up(self) -> bool:
        max_time = self.limits.max_time
        return max_time is not None and self._started is not None and time.monotonic() - self._started >= max_time

    def min_reached(self) -> bool:
        """Whether min_epochs (completed epochs) and min_steps are met (a question only: it changes nothing)."""
        min_epochs, min_steps = self.limits.min_epochs, self.limits.min_steps
        epochs_ok = min_epochs is None or self.current_epoch >= min_epochs
        steps_ok = min_steps is None or self.global_step >= min_steps
        return epochs_ok and steps_ok

    def honour_stop_request(self) -> bool:
        """Whether a stop request (``should_stop``) ends the fit now: yes once the minimum is met; before that the
        request waits (Lightning 2: should_stop stays set) and ends the fit as soon as the minimum is met."""
        if not self.should_stop:
            return False
        if self.min_reached():
            return True
        if not self._told_min_not_met:
            self._told_min_not_met = True
            rank_zero_info(
                f"Trainer was signaled to stop but the required `min_epochs={self.limits.min_epochs!r}` or "
                f"`min_steps={self.limits.min_steps!r}` has not been met. Training will continue..."
            )
        return False

    def fit_done(self) -> bool:
        """Checked before each epoch."""
        if self.max_steps_reached():
            return True
        max_epochs = self.limits.max_epochs
        if max_epochs is not None and max_epochs != -1 and self.current_epoch >= max_epochs:
            return True
        if self.num_training_batches == 0:
            return True
        return self.honour_stop_request()

    def stop_inside_epoch(self) -> bool:
        """Checked after each batch: max_steps, or a stop request (should_stop, max_time) once the minimum is met."""
        if self.time_up():
            self.should_stop = True
        return self.max_steps_reached() or (self.should_stop and self.honour_stop_request())  # no call per step

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's ``epoch``, ``global_step`` and ``loop`` entries."""
        loop = {key: getattr(self, key) for key in _LOOP_KEYS}
        return {"epoch": self.current_epoch, "global_step": self.global_step, "loop": loop}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Continue after what the checkpoint saw: the next epoch if its epoch had finished, else the next batch."""
        loop = checkpoint.get("loop", {})
        finished = loop.get("epoch_finished", True)
        self.current_epoch = checkpoint["epoch"] + (1 if finished else 0)
        self.global_step = checkpoint["global_step"]
        self.batches_done = 0 if finished else loop.get("batches_done", 0)
        self.epoch_finished = False
        self.val_done_at = -1 if finished else loop.get("val_done_at", -1)
        self.total_train_batches = loop.get("total_train_batches", 0)
        self.batches_that_stepped = loop.get("batches_that_stepped", self.global_step)
        self.base_seed = loop.get("base_seed", self.base_seed)
        seeds = loop.get("epoch_seeds")
        self.epoch_seeds = None if finished or seeds is None else [int(seed) for seed in seeds]
        self.seeds_from_rng = bool(loop.get("seeds_from_rng", False))
        max_epochs = self.limits.max_epochs
        if max_epochs not in (None, -1) and self.current_epoch > max_epochs:
            # Lightning's message: the checkpoint is past the end of the fit asked for, which would train nothing.
            raise MisconfigurationException(
                f"You restored a checkpoint with current_epoch={self.current_epoch}, but you have set "
                f"Trainer(max_epochs={max_epochs}). Raise max_epochs to continue training from it."
            )
