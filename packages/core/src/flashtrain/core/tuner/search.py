"""Short trial fits for the tuner, run on a copy of the user's trainer so that trainer is left as it was.

Why a copy: the Trainer keeps where a run stands (epoch, step, batches done) and offers no public way to put
it back, so a trial fit on the user's own trainer would leave the next ``fit`` starting mid-way. A deep copy
made before any training shares the model, the data and nothing else; the model's weights, its train/eval
mode and the random number generators are restored after each trial.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.checkpoint.rng import capture_rng_states, restore_rng_states


def check_can_tune(trainer: Any, what: str) -> None:
    """Refuse trainers the trial fits cannot copy faithfully."""
    if trainer.global_step != 0 or trainer.current_epoch != 0:
        raise ValueError(
            f"{what} needs a Trainer that has not trained yet (this one is at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step}). Create a new Trainer, tune, then fit with it."
        )
    processes = trainer.num_devices * trainer.num_nodes
    if processes > 1:
        raise ValueError(
            f"{what} is not supported with distributed strategies: it runs on one process and this Trainer uses "
            f"{processes}. Tune with devices=1, then train with the tuned value on several devices."
        )


def trial_trainer(trainer: Any, callbacks: list[Callback], max_steps: int, limit_val_batches: int | float) -> Any:
    """A copy of ``trainer`` without loggers, checkpoints or progress bar, stopping after ``max_steps`` steps."""
    memo: dict[int, Any] = {
        id(trainer.module): trainer.module,
        id(trainer.datamodule): trainer.datamodule,
        id(trainer.callbacks): [],
        id(trainer.loggers): [],
    }
    memo.update({id(item): item for item in (*trainer.callbacks, *trainer.loggers)})
    trial = copy.deepcopy(trainer, memo)
    trial.callbacks = list(callbacks)
    trial.loggers = []
    trial.max_steps = max_steps
    # Enough epochs for max_steps on any data, yet finite: callbacks may size themselves by it (e.g. SWA).
    trial.max_epochs = max(trainer.max_epochs or -1, max_steps)  # None: not resolved by a fit yet
    trial.max_time = None
    trial.limit_val_batches = limit_val_batches
    trial.num_sanity_val_steps = 0
    trial.lightning_1x = None  # a trial fit neither resumes nor tunes again
    return trial


@contextlib.contextmanager
def restored(model: torch.nn.Module, trainer: Any, datamodule: Any) -> Iterator[None]:
    """Put the model's weights and mode, the RNG states and the datamodule's trainer back on exit."""
    weights = copy.deepcopy(model.state_dict())
    was_training = model.training
    rng = capture_rng_states()
    try:
        yield
    finally:
        model.load_state_dict(weights)
        model.train(was_training)
        if hasattr(type(model), "trainer"):
            model.trainer = trainer  # the trials attached it to their copies
        restore_rng_states(rng)
        for holder in (datamodule, trainer.datamodule):
            if holder is not None and hasattr(holder, "trainer"):
                holder.trainer = trainer
