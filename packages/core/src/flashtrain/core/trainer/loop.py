"""The fit loop, top to bottom in one function: epochs -> batches -> (accumulate, clip, step, schedule,
log) -> validation when due -> callbacks.

Hook order for ``Trainer.fit`` (callbacks first, then the module, for every hook):

    setup("fit")                       datamodule, callbacks, module
    configure_optimizers
    on_fit_start
    on_sanity_check_start  [validation loop on num_sanity_val_steps batches]  on_sanity_check_end
    on_train_start
    for each epoch:
        on_train_epoch_start
        for each batch:
            on_train_batch_start        (the module returning -1 ends the epoch early)
            training_step
            on_before_zero_grad, optimizer_zero_grad      first batch of an accumulation window
            on_before_backward, backward, on_after_backward
            on_before_optimizer_step, configure_gradient_clipping, optimizer_step
                                                          last batch of an accumulation window
            on_train_batch_end
            [validation loop when due: on_validation_start, on_validation_epoch_start,
             per batch on_validation_batch_start / validation_step / on_validation_batch_end,
             on_validation_epoch_end, on_validation_end]
        on_train_epoch_end              callbacks, then the module (then ``training_epoch_end`` if defined)
        [epoch metrics reduced and logged; epoch-interval LR schedulers stepped]
        on_train_epoch_end              callbacks with ``runs_last`` (ModelCheckpoint, EarlyStopping)
    on_train_end
    on_fit_end
    teardown("fit")                    datamodule, callbacks, module

Unlike Lightning, epoch-interval schedulers step *before* ModelCheckpoint saves the epoch's checkpoint, so a
checkpoint written at an epoch end holds a finished epoch and resuming from it is exact.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from flashtrain.core.trainer.data import ReplayableLoader
    from flashtrain.core.trainer.trainer import Trainer


def fit_loop(trainer: Trainer, train_data: ReplayableLoader) -> None:
    """Train until max_epochs / max_steps / max_time / should_stop, running validation when due."""
    module = trainer.module
    call = trainer._call_hook
    accumulate = trainer.accumulate_grad_batches
    automatic = module.automatic_optimization
    optimizer = trainer._managed_optimizers[0] if automatic and trainer._managed_optimizers else None
    collect_outputs = trainer._overrides("training_epoch_end")
    started = time.monotonic()

    call("on_train_start")
    while not trainer._fit_done():
        epoch = trainer.current_epoch
        skip = trainer._batches_done  # > 0 only when resuming mid-epoch
        num_batches = trainer.num_training_batches
        outputs: list[Any] = []
        call("on_train_epoch_start")
        module.train()
        trainer._restore_rng_if_resuming()
        batch_idx = skip - 1
        ended_early = False
        remaining = None if math.isinf(num_batches) else max(int(num_batches) - skip, 0)
        for batch_idx, batch in enumerate(itertools.islice(train_data.epoch(epoch, skip), remaining), start=skip):
            batch = trainer.strategy.batch_to_device(batch)
            trainer._train_results.new_batch(batch)
            if call("on_train_batch_start", batch, batch_idx) == -1:
                ended_early = True
                break
            window_end = (batch_idx + 1) % accumulate == 0 or batch_idx + 1 == num_batches
            if automatic:
                closure = _TrainingClosure(trainer, batch, batch_idx, window_start=batch_idx % accumulate == 0,
                                           window_end=window_end)
                if window_end:
                    module.optimizer_step(epoch, batch_idx, optimizer, closure)
                else:
                    closure()
                output = closure.output
            else:
                trainer._current_hook = "training_step"
                with trainer.strategy.precision.forward_context():
                    output = trainer.strategy.training_step(batch, batch_idx)
            if collect_outputs:
                outputs.append(_detach(output))
            call("on_train_batch_end", output, batch, batch_idx)
            trainer._batches_done = batch_idx + 1
            trainer._total_train_batches += 1
            if window_end or not automatic:
                if automatic:
                    trainer._step_schedulers("step")
                trainer._after_optimizer_step()
            if trainer._val_due(batch_idx, is_last=batch_idx + 1 == num_batches):
                trainer._run_validation_in_fit()
            if trainer._signal_received is not None and (window_end or not automatic):
                trainer._stop_on_signal()
            if trainer.max_time is not None and time.monotonic() - started >= trainer.max_time:
                trainer.should_stop = True
            if trainer._max_steps_reached() or (trainer.should_stop and trainer._min_reached()):
                ended_early = batch_idx + 1 < num_batches
                break
        _end_epoch(trainer, outputs, finished=not ended_early)
    call("on_train_end")


def _end_epoch(trainer: Trainer, outputs: list[Any], finished: bool) -> None:
    """Epoch-end hooks, metric reduction, epoch schedulers, then the monitoring callbacks."""
    trainer._call_hook("on_train_epoch_end", runs_last=False)
    if trainer._overrides("training_epoch_end"):
        trainer._current_hook = "training_epoch_end"
        trainer.module.training_epoch_end(outputs)  # type: ignore[attr-defined]
    trainer._publish_epoch_metrics(trainer._train_results)
    if finished:
        if trainer.module.automatic_optimization:
            trainer._step_schedulers("epoch")
        trainer._epoch_finished = True
    trainer._call_hook("on_train_epoch_end", runs_last=True, module=False)
    trainer._train_results.reset()
    if trainer.loggers:
        for logger in trainer.loggers:
            logger.save()
    if finished:
        trainer.current_epoch += 1
        trainer._batches_done = 0
        trainer._epoch_finished = False
        trainer._val_done_at = -1


class _TrainingClosure:
    """training_step, zero_grad, backward and clipping for one batch; the optimizer may call it in ``step``."""

    __slots__ = ("trainer", "batch", "batch_idx", "window_start", "window_end", "output")

    def __init__(self, trainer: Trainer, batch: Any, batch_idx: int, window_start: bool, window_end: bool) -> None:
        self.trainer = trainer
        self.batch = batch
        self.batch_idx = batch_idx
        self.window_start = window_start
        self.window_end = window_end
        self.output: Any = None

    def __call__(self) -> torch.Tensor | None:
        trainer = self.trainer
        module = trainer.module
        precision = trainer.strategy.precision
        optimizer = trainer._managed_optimizers[0]
        call = trainer._call_hook
        trainer._current_hook = "training_step"
        with precision.forward_context():
            self.output = output = trainer.strategy.training_step(self.batch, self.batch_idx)
        loss = _extract_loss(output)
        if self.window_start:
            call("on_before_zero_grad", optimizer)
            module.optimizer_zero_grad(trainer.current_epoch, self.batch_idx, optimizer)
        if loss is None:
            return None
        if trainer.on_nan is not None and not math.isfinite(loss.item()):
            if trainer._handle_nonfinite_loss(loss, self.batch_idx):
                return None  # on_nan="skip_step": no backward, the optimizer sees no gradients
        if trainer.accumulate_grad_batches > 1:
            loss = loss / trainer.accumulate_grad_batches
        call("on_before_backward", loss)
        module.backward(loss)
        call("on_after_backward")
        if self.window_end:
            precision.unscale_gradients(optimizer.optimizer)
            call("on_before_optimizer_step", optimizer)
            if trainer._clip_gradients:
                module.configure_gradient_clipping(optimizer, trainer.gradient_clip_val,
                                                   trainer.gradient_clip_algorithm)
        return loss


def _extract_loss(output: Any) -> torch.Tensor | None:
    if output is None or isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        if "loss" not in output:
            raise ValueError(
                f"training_step returned a dict without a 'loss' key (keys: {sorted(output)}). Return the loss "
                "tensor, a dict with 'loss', or None to skip the batch."
            )
        return output["loss"]
    raise TypeError(
        f"training_step must return a loss tensor, a dict with a 'loss' key, or None to skip the batch; got "
        f"{type(output).__name__}."
    )


def _detach(output: Any) -> Any:
    from flashtrain.core.utilities.apply import apply_to_tensors

    return apply_to_tensors(output, lambda tensor: tensor.detach())
