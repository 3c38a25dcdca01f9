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
            optimizer_step(epoch, batch_idx, optimizer, closure)   last batch of an accumulation window
                (other batches call the closure directly; ``optimizer.step(closure)`` runs it:)
                on_before_zero_grad, optimizer_zero_grad           first batch of a window
                training_step
                on_before_backward, backward, on_after_backward
                on_before_optimizer_step, configure_gradient_clipping   last batch of a window
                (then the parameter update)
            [step-interval LR schedulers stepped]
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

Two deliberate differences from Lightning:

- Gradients are zeroed *before* ``training_step`` (Lightning zeroes them after it). The result is identical,
  but freeing the old gradients before the forward instead of after it saved about 55 us per step (6%) on
  the 784-128-10 MLP of ``benchmarks/overhead.py``.
- Step-interval schedulers step before ``on_train_batch_end`` and epoch-interval ones before ModelCheckpoint
  saves the epoch's checkpoint, so every checkpoint holds a completed step or epoch and resuming from it is
  exact (Lightning steps them afterwards, so its checkpoints miss that scheduler step).

For ``torch.optim`` optimizers (except LBFGS), when the module does not override ``optimizer_step``, the
trainer runs the closure itself and then calls ``optimizer.step()``: those optimizers evaluate a closure
exactly once before updating, so the update is the same.
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
    strategy = trainer.strategy
    call = trainer._call_hook
    accumulate = trainer.accumulate_grad_batches
    automatic = module.automatic_optimization
    optimizer = trainer._managed_optimizers[0] if automatic else None
    closure = _TrainingClosure(trainer) if automatic else None
    step_through_closure = automatic and _needs_closure_step(trainer, optimizer.optimizer)
    step_schedulers = automatic and any(c.interval == "step" for c in trainer.lr_scheduler_configs)
    validation_enabled = bool(trainer._val_loaders) and any(trainer.num_val_batches)
    collect_outputs = trainer._overrides("training_epoch_end")
    # Ranks must stop at the same batch: signals and time limits are agreed on after every batch.
    distributed = strategy.world_size > 1
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
        stopped_mid_epoch = False
        sized = not math.isinf(num_batches)
        batches: Any = itertools.islice(
            train_data.epoch(epoch, skip), max(int(num_batches) - skip, 0) if sized else None
        )
        if not sized:  # no len(): look one batch ahead to know which batch ends the epoch
            batches = _LookAhead(batches)
        for batch_idx, batch in enumerate(batches, start=skip):
            is_last = batch_idx + 1 == num_batches if sized else batches.last
            batch = strategy.batch_to_device(batch)
            trainer._train_results.new_batch(batch)
            if call("on_train_batch_start", batch, batch_idx) == -1:
                break  # Lightning: -1 skips the rest of this epoch, which then counts as done
            window_end = (batch_idx + 1) % accumulate == 0 or is_last
            if automatic:
                closure.prepare(batch, batch_idx, batch_idx % accumulate == 0, window_end)
                if not window_end:
                    closure()
                elif step_through_closure:
                    module.optimizer_step(epoch, batch_idx, optimizer, closure)
                else:
                    # torch.optim optimizers evaluate a closure once, before updating: running it here and
                    # then stepping is the same update without the closure machinery on every step.
                    optimizer.step_evaluated(closure())
                output = closure.output
            else:
                trainer._current_hook = "training_step"
                with strategy.precision.forward_context():
                    output = strategy.training_step(batch, batch_idx)
            if collect_outputs:
                outputs.append(_detach(output))
            # The position moves before on_train_batch_end, so a checkpoint written there resumes after this batch.
            trainer._batches_done = batch_idx + 1
            trainer._total_train_batches += 1
            stepped = window_end or not automatic
            if stepped and step_schedulers:
                trainer._step_schedulers("step")
            call("on_train_batch_end", output, batch, batch_idx)
            if stepped:
                trainer._after_optimizer_step()
            if validation_enabled and trainer._val_due(batch_idx, is_last=is_last):
                trainer._run_validation_in_fit()
            if distributed:
                _agree_on_stop_requests(trainer, started)
            if trainer._signal_received is not None and (window_end or not automatic):
                trainer._stop_on_signal()
            if trainer.max_time is not None and time.monotonic() - started >= trainer.max_time:
                trainer.should_stop = True
            if (trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps) or (
                trainer.should_stop and trainer._min_reached()
            ):
                # A stop inside the epoch leaves it unfinished: a resume with a larger limit continues it.
                stopped_mid_epoch = not is_last
                break
        if skip and skip == num_batches and validation_enabled and trainer._val_due(skip - 1, is_last=True):
            trainer._run_validation_in_fit()  # resumed from a checkpoint written just before this validation
        _end_epoch(trainer, outputs, finished=not stopped_mid_epoch)
    call("on_train_end")


class _LookAhead:
    """Iterate while holding the next item, so ``last`` says whether the item just returned was the final one."""

    _END = object()

    def __init__(self, iterable: Any) -> None:
        self._iterator = iter(iterable)
        self._next = next(self._iterator, self._END)
        self.last = self._next is self._END

    def __iter__(self) -> _LookAhead:
        return self

    def __next__(self) -> Any:
        if self._next is self._END:
            raise StopIteration
        current = self._next
        self._next = next(self._iterator, self._END)
        self.last = self._next is self._END
        return current


def _agree_on_stop_requests(trainer: Trainer, started: float) -> None:
    """One collective: a signal or the time limit seen on any rank counts on all of them."""
    import signal

    time_up = trainer.max_time is not None and time.monotonic() - started >= trainer.max_time
    if trainer.strategy.reduce_boolean_decision(trainer._signal_received is not None or time_up):
        if trainer._signal_received is None and not time_up:
            trainer._signal_received = signal.SIGTERM  # another rank was told to stop
        if time_up:
            trainer.should_stop = True


def _needs_closure_step(trainer: Trainer, optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer step must receive the closure: the module overrides ``optimizer_step``, or the
    optimizer may call the closure several times (LBFGS) or is not one of torch's own."""
    if trainer._overrides("optimizer_step") or isinstance(optimizer, torch.optim.LBFGS):
        return True
    return not type(optimizer).__module__.startswith("torch.optim")


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
    if trainer.loggers and trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.save()
    if finished:
        trainer.current_epoch += 1
        trainer._batches_done = 0
        trainer._epoch_finished = False
        trainer._val_done_at = -1


class _TrainingClosure:
    """training_step, zero_grad, backward and clipping for one batch; the optimizer may call it in ``step``."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.module = trainer.module
        self.precision = trainer.strategy.precision
        self.training_step = trainer.strategy.training_step
        self.backward_sync = trainer.strategy.backward_sync
        self.optimizer = trainer._managed_optimizers[0]
        self.batch: Any = None
        self.batch_idx = 0
        self.window_start = self.window_end = True
        self.output: Any = None

    def prepare(self, batch: Any, batch_idx: int, window_start: bool, window_end: bool) -> None:
        self.batch, self.batch_idx, self.window_start, self.window_end = batch, batch_idx, window_start, window_end
        self.output = None

    def __call__(self) -> torch.Tensor | None:
        trainer = self.trainer
        module = self.module
        optimizer = self.optimizer
        call = trainer._call_hook
        if self.window_start:
            call("on_before_zero_grad", optimizer)
            module.optimizer_zero_grad(trainer.current_epoch, self.batch_idx, optimizer)
        with self.backward_sync(self.window_end):  # DDP: gradients sync on the window's last backward only
            trainer._current_hook = "training_step"
            with self.precision.forward_context():
                self.output = output = self.training_step(self.batch, self.batch_idx)
            loss = _extract_loss(output)
            if loss is None:
                return None
            # _handle_nonfinite_loss raises for on_nan="raise"; True means "skip_step": no backward, no gradients.
            nonfinite = trainer.on_nan is not None and not math.isfinite(loss.item())
            if nonfinite and trainer._handle_nonfinite_loss(loss, self.batch_idx):
                return None
            if trainer.accumulate_grad_batches > 1:
                loss = loss / trainer.accumulate_grad_batches
            call("on_before_backward", loss)
            module.backward(loss)
            call("on_after_backward")
        if self.window_end:
            self.precision.unscale_gradients(optimizer.optimizer)
            call("on_before_optimizer_step", optimizer)
            if trainer._clip_gradients:
                module.configure_gradient_clipping(
                    optimizer, trainer.gradient_clip_val, trainer.gradient_clip_algorithm
                )
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
