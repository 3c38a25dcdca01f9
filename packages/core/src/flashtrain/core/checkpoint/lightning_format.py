"""The parts of a checkpoint that Lightning needs to resume a flashtrain run: its version key and ``loops``.

Lightning reads the training position from ``checkpoint["loops"]`` (progress counters of its fit, validate,
test and predict loops) and refuses a file without ``checkpoint["pytorch-lightning_version"]``. flashtrain
keeps its own position in ``loop`` (read first when flashtrain loads); these two keys are written next to it
so ``lightning.pytorch.Trainer.fit(model, ckpt_path=<flashtrain checkpoint>)`` continues from the same epoch
and step.
"""

from __future__ import annotations

from typing import Any

# The Lightning release whose checkpoint layout this writes (``loops`` has been stable across 2.x).
LIGHTNING_FORMAT_VERSION = "2.6.0"


def _counts(value: int, fields: tuple[str, ...]) -> dict[str, int]:
    return {field: value for field in fields}


def _progress(total: int, current: int, fields: tuple[str, ...] = ("ready", "completed", "started", "processed")):
    return {"total": _counts(total, fields), "current": _counts(current, fields)}


def _eval_loop(batches: int = 0, is_last_batch: bool = False) -> dict[str, Any]:
    return {"state_dict": {}, "batch_progress": {**_progress(batches, batches), "is_last_batch": is_last_batch}}


def lightning_loops(
    epochs_completed: int,
    batches_done_in_epoch: int,
    global_step: int,
    batches_that_stepped: int,
    manual_optimization: bool = False,
    *,
    at_epoch_end: bool = False,
    total_batches: int | None = None,
    steps_in_epoch: int | None = None,
    scheduler_steps: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """Lightning's ``loops`` entry for a run that finished ``epochs_completed`` epochs and is
    ``batches_done_in_epoch`` batches into the next one, after ``global_step`` optimizer steps.

    ``at_epoch_end``: written by the epoch-end hooks of epoch ``epochs_completed`` (its batches all done,
    ``batches_done_in_epoch`` of them): Lightning counts that epoch processed but not yet completed. The optional
    counts (all batches so far, optimizer steps of this epoch, scheduler steps in all / this epoch) default to
    what the step count implies."""
    mid_epoch = batches_done_in_epoch > 0 and not at_epoch_end
    epoch_counts = {
        "ready": epochs_completed + int(mid_epoch),
        "started": epochs_completed + int(mid_epoch),
        "processed": epochs_completed,
        "completed": epochs_completed - int(at_epoch_end),
    }
    step_fields = ("ready", "completed")
    steps_now = global_step if steps_in_epoch is None else steps_in_epoch
    automatic_steps, automatic_now = (0, 0) if manual_optimization else (global_step, steps_now)
    manual_steps, manual_now = (global_step, steps_now) if manual_optimization else (0, 0)
    fit_loop = {
        "state_dict": {},
        "epoch_loop.state_dict": {"_batches_that_stepped": batches_that_stepped},
        "epoch_loop.batch_progress": {
            **_progress(batches_that_stepped if total_batches is None else total_batches, batches_done_in_epoch),
            "is_last_batch": at_epoch_end,
        },
        "epoch_loop.scheduler_progress": _progress(*scheduler_steps, step_fields),
        "epoch_loop.automatic_optimization.state_dict": {},
        "epoch_loop.automatic_optimization.optim_progress": {
            "optimizer": {
                "step": _progress(automatic_steps, automatic_now, step_fields),
                "zero_grad": _progress(automatic_steps, automatic_now, ("ready", "completed", "started")),
            }
        },
        "epoch_loop.manual_optimization.state_dict": {},
        "epoch_loop.manual_optimization.optim_step_progress": _progress(manual_steps, manual_now, step_fields),
        "epoch_loop.val_loop.state_dict": {},
        "epoch_loop.val_loop.batch_progress": {**_progress(0, 0), "is_last_batch": False},
        "epoch_progress": {"total": dict(epoch_counts), "current": dict(epoch_counts)},
    }
    predict = _eval_loop()
    predict["batch_progress"].pop("is_last_batch")
    return {"fit_loop": fit_loop, "validate_loop": _eval_loop(), "test_loop": _eval_loop(), "predict_loop": predict}


def lightning_keys(
    epochs_completed: int,
    batches_done_in_epoch: int,
    global_step: int,
    batches_that_stepped: int,
    manual_optimization: bool = False,
) -> dict[str, Any]:
    """The two keys to add to a flashtrain checkpoint so Lightning can resume it."""
    return {
        "pytorch-lightning_version": LIGHTNING_FORMAT_VERSION,
        "loops": lightning_loops(
            epochs_completed, batches_done_in_epoch, global_step, batches_that_stepped, manual_optimization
        ),
    }


def position_from_lightning(checkpoint: dict[str, Any]) -> dict[str, int] | None:
    """Where a Lightning-written checkpoint stands, from its ``loops``: ``epochs_completed``,
    ``batches_done_in_epoch``, ``global_step``, ``batches_that_stepped``; None for a file without ``loops``.

    Lightning's top-level ``epoch`` is ambiguous (the epoch index when ModelCheckpoint saves inside an epoch,
    the number of epochs done when saved after fit), so the loop counters are the ones to trust.
    """
    fit_loop = (checkpoint.get("loops") or {}).get("fit_loop")
    if not fit_loop:
        return None
    epochs = fit_loop["epoch_progress"]["current"]
    batches = fit_loop["epoch_loop.batch_progress"]["current"]
    automatic = fit_loop["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"]["total"]
    manual = fit_loop["epoch_loop.manual_optimization.optim_step_progress"]["total"]
    # An epoch is over once processed (its batches done); written by its epoch-end hooks, it is not yet "completed".
    epochs_completed = int(epochs["processed"])
    mid_epoch = int(epochs["started"]) > epochs_completed
    return {
        "epochs_completed": epochs_completed,
        "batches_done_in_epoch": int(batches["completed"]) if mid_epoch else 0,
        "global_step": int(automatic["completed"]) + int(manual["completed"]),
        "batches_that_stepped": int(fit_loop["epoch_loop.state_dict"].get("_batches_that_stepped", 0)),
    }


def with_flashtrain_position(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A Lightning-written checkpoint (``loops``, no flashtrain ``loop``) given flashtrain's ``epoch``/``loop``
    entries, so resuming it continues at the same epoch and batch; other checkpoints come back unchanged."""
    if "loop" in checkpoint:
        return checkpoint
    position = position_from_lightning(checkpoint)
    if position is None:
        return checkpoint
    finished = position["batches_done_in_epoch"] == 0
    epoch = position["epochs_completed"] - (1 if finished else 0)
    loop = {
        "epoch_finished": finished,
        "batches_done": position["batches_done_in_epoch"],
        "batches_that_stepped": position["batches_that_stepped"],
    }
    return {**checkpoint, "epoch": epoch, "global_step": position["global_step"], "loop": loop}
