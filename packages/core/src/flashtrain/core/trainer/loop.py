"""The fit loop, top to bottom in one method: epochs -> batches -> (accumulate, clip, step, schedule, log) ->
validation when due -> callbacks.

Hook order for ``Trainer.fit`` (callbacks first, then the module, for every hook), as Lightning's
``models/test_hooks.py`` records it:

    configure_callbacks, prepare_data
    setup(stage="fit")                 datamodule, callbacks, module
    configure_model
    [resuming: on_load_checkpoint (module, callbacks), callbacks' load_state_dict]
    configure_optimizers
    on_fit_start
    module.zero_grad()
    on_sanity_check_start  [val_dataloader() requested; validation loop on num_sanity_val_steps batches]
        on_sanity_check_end
    train_dataloader() requested (val_dataloader() too if there was no sanity check)
    on_train_start
    for each epoch:
        on_train_epoch_start           (loaders requested again when reload_dataloaders_every_n_epochs is due)
        for each batch:
            on_before_batch_transfer, transfer_batch_to_device, on_after_batch_transfer   (module hooks)
            on_train_batch_start        (the module returning -1 ends the epoch early)
            optimizer_step(epoch, batch_idx, optimizer, closure)   last batch of an accumulation window
                (other batches call the closure directly; ``optimizer.step(closure)`` runs it:)
                training_step
                on_before_zero_grad, optimizer_zero_grad           first batch of a window
                on_before_backward, backward, on_after_backward
                on_before_optimizer_step, configure_gradient_clipping   last batch of a window
                (then the parameter update; global_step counts it once optimizer_step returns)
            [step-interval LR schedulers stepped, through lr_scheduler_step; on the epoch's last batch also
             the epoch-interval ones except ReduceLROnPlateau]
            on_train_batch_end
            [validation when due: on_validation_model_zero_grad (after an optimizer step),
             on_validation_model_eval, on_validation_start, on_validation_epoch_start, per batch the transfer
             hooks, on_validation_batch_start / validation_step / on_validation_batch_end,
             on_validation_epoch_end, on_validation_end, then on_validation_model_train if the module defines
             it, else each submodule's train/eval mode as it was before]
        on_train_epoch_end              callbacks, then the module (then ``training_epoch_end`` if defined)
        [epoch metrics reduced and logged; ReduceLROnPlateau schedulers stepped]
        on_train_epoch_end              callbacks with ``runs_last`` (EarlyStopping, ProgressBar's epoch line), then
                                        ModelCheckpoint, so the checkpoint holds the others' state
    on_train_end
    on_fit_end
    teardown(stage="fit")              datamodule, callbacks, module

The trainer never switches the module to train mode on its own during fit, except once at the start when the
whole module is in eval mode (e.g. after ``load_from_checkpoint``): a submodule the user put in eval mode stays
in eval mode.

Schedulers step where Lightning steps them (step-interval ones and, on the last batch, epoch-interval ones before
``on_train_batch_end``), so a checkpoint written there holds that step and resuming from it is exact.

For ``torch.optim`` optimizers (except LBFGS), when the module does not override ``optimizer_step``, the
trainer runs the closure itself and then calls ``optimizer.step()``: those optimizers evaluate a closure
exactly once before updating, so the update is the same.
"""

from __future__ import annotations

import itertools
import math
import signal
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from flashtrain.core.checkpoint.connector import CheckpointConnector
from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError, PossibleUserWarning
from flashtrain.core.module import Module
from flashtrain.core.strategies import Strategy
from flashtrain.core.trainer.data import ReplayableLoader
from flashtrain.core.trainer.data_connector import DataConnector
from flashtrain.core.trainer.dataloader_iter import DataLoaderIter, StopAwareStep, fetches_own_batches
from flashtrain.core.trainer.evaluation import EvaluationLoop
from flashtrain.core.trainer.hooks import HookDispatcher
from flashtrain.core.trainer.limits import LoopLimits
from flashtrain.core.trainer.metrics import MetricsStore
from flashtrain.core.trainer.optimizers import ManagedOptimizer, Optimization
from flashtrain.core.trainer.progress import FitProgress
from flashtrain.core.trainer.signals import SignalHandler
from flashtrain.core.utilities.apply import apply_to_tensors
from flashtrain.core.utilities.rank_zero import WarningCache

_warning_cache = WarningCache()  # notices given once per process, as Lightning's loops give them


class FitLoop:
    """Trains until max_epochs / max_steps / max_time / should_stop, running validation when due."""

    def __init__(
        self,
        *,
        module: Module,
        strategy: Strategy,
        limits: LoopLimits,
        progress: FitProgress,
        hooks: HookDispatcher,
        metrics_store: MetricsStore,
        optimization: Optimization,
        evaluation: EvaluationLoop,
        checkpoint_connector: CheckpointConnector,
        signals: SignalHandler,
        data_connector: DataConnector,
    ) -> None:
        # Each owner under the name the Trainer gives it (trainer.metrics_store, trainer.data_connector, ...).
        self.module = module
        self.strategy = strategy
        self.limits = limits
        self.progress = progress
        self.hooks = hooks
        self.metrics_store = metrics_store
        self.optimization = optimization
        self.evaluation = evaluation
        self.checkpoint_connector = checkpoint_connector
        self.signals = signals
        self.data_connector = data_connector
        self._train_data: ReplayableLoader | None = None

    def _epoch_data(self) -> ReplayableLoader:
        """The training data of this epoch: requested again when reload_dataloaders_every_n_epochs says so."""
        if self._train_data is None or self.data_connector.train_reload_due():
            self._train_data = ReplayableLoader(self.data_connector.load_fit_train(), self.progress.base_seed)
        return self._train_data

    def run(self, validation_enabled: bool) -> None:
        module, strategy, progress, hooks, limits = self.module, self.strategy, self.progress, self.hooks, self.limits
        call = hooks.call
        accumulate = limits.accumulate_grad_batches
        automatic = module.automatic_optimization
        # A training_step taking ``dataloader_iter`` fetches its own batches (trainer/dataloader_iter.py).
        fetching_step = fetches_own_batches(module, "training_step")
        training_step: Any = StopAwareStep(strategy.training_step) if fetching_step else strategy.training_step
        progress.validate_on_last_batch = fetching_step  # its steps are not batches: validate when data ends
        data_iter: DataLoaderIter | None = None
        closure = _TrainingClosure(self, self.optimization.managed[0], training_step) if automatic else None
        step_through_closure = closure is not None and self._needs_closure_step(closure.optimizer.optimizer)
        step_schedulers = automatic and any(c.interval == "step" for c in self.optimization.lr_scheduler_configs)
        # As Lightning: epoch schedulers (not ReduceLROnPlateau) step on the epoch's last batch, before
        # on_train_batch_end; ReduceLROnPlateau steps at the epoch's end, once its metric is known.
        epoch_schedulers = automatic and any(
            c.interval == "epoch" and not c.reduce_on_plateau for c in self.optimization.lr_scheduler_configs
        )
        collect_outputs = hooks.module_overrides("training_epoch_end")
        log_every = 1 if limits.fast_dev_run else limits.log_every_n_steps  # a debug run logs every step (Lightning)
        defined = hooks.defined_hooks()  # per-step hooks nobody defines are not called
        # Ranks must stop at the same batch: signals and time limits are agreed on after every batch.
        distributed = strategy.world_size > 1
        _warn_if_modules_in_eval_mode(module)
        progress.start_clock()

        call("on_train_start")
        while not progress.fit_done():
            epoch = progress.current_epoch
            skip = progress.batches_done  # > 0 only when resuming mid-epoch
            train_data = self._epoch_data()
            num_batches = progress.num_training_batches
            outputs: list[Any] = []
            call("on_train_epoch_start")
            accumulate = (
                limits.accumulate_grad_batches
            )  # a callback may set it per epoch (GradientAccumulationScheduler)
            self.checkpoint_connector.restore_rng_if_resuming()
            if skip == 0 and progress.seeds_from_rng:  # a new epoch: seeds drawn where a plain DataLoader draws them
                seeds = train_data.draw_epoch_seeds()
                progress.epoch_seeds = strategy.broadcast(seeds) if distributed else seeds  # rank 0's order
            stopped_mid_epoch = False
            sized = not math.isinf(num_batches)
            # A checkpoint written after the last batch already holds that batch's scheduler step.
            self.epoch_schedulers_stepped = bool(skip) and sized and skip >= num_batches
            batches: Any = self._epoch_batches(train_data, skip, num_batches)
            if fetching_step:
                length = max(int(num_batches) - skip, 0) if sized else None
                data_iter = DataLoaderIter.over_batches(batches, skip, length)
                batches = data_iter.steps()
                training_step.stopped = False
            elif not sized:  # no len(): look one batch ahead to know which batch ends the epoch
                batches = _LookAhead(batches)
            for batch_idx, batch in enumerate(batches, start=skip):
                if data_iter is None:
                    is_last = batch_idx + 1 == num_batches if sized else batches.last
                    batch = hook_batch = hooks.transfer_batch(batch, 0)
                    hook_idx = batch_idx
                else:  # the step gets the iterator; the hooks, the batch it fetched last
                    is_last, hook_batch, hook_idx = data_iter.done, data_iter.batch, data_iter.batch_idx
                progress.is_last_batch = is_last
                self.metrics_store.train_results.new_batch(hook_batch)
                skipped = hook_batch is None and data_iter is None  # Lightning: a loader may yield None to skip it
                if skipped:
                    _warning_cache.warn("train_dataloader yielded None. If this was on purpose, ignore this warning...")
                elif "on_train_batch_start" in defined and call("on_train_batch_start", hook_batch, hook_idx) == -1:
                    break  # Lightning: -1 skips the rest of this epoch, which then counts as done
                window_end = not skipped and ((batch_idx + 1) % accumulate == 0 or is_last)
                if skipped:
                    output = None
                elif closure is not None:  # automatic optimization
                    closure.prepare(batch, batch_idx, batch_idx % accumulate == 0, window_end, accumulate)
                    if not window_end:
                        closure()
                    else:
                        if step_through_closure:
                            hooks.call_module("optimizer_step", epoch, batch_idx, closure.optimizer, closure)
                            closure.check_executed()
                        else:
                            # torch.optim optimizers evaluate a closure once, before updating: running it here and
                            # then stepping is the same update without the closure machinery on every step.
                            closure.optimizer.step_evaluated(closure())
                        if data_iter is None or not training_step.stopped:  # a step that found no data: no step
                            progress.optimizer_stepped()
                    output = closure.output
                    step_output = closure.raw_output
                else:
                    with strategy.precision.forward_context():
                        output = hooks.run_step("training_step", training_step, batch, batch_idx)
                        if hooks.module_overrides("training_step_end"):
                            output = hooks.call_module("training_step_end", output)  # Lightning 1.x
                    step_output = output
                    output = _manual_batch_outputs(output)
                if data_iter is not None:
                    if training_step.stopped:  # its own next() ran out: the epoch ends here (Lightning)
                        break
                    is_last, hook_batch, hook_idx = data_iter.done, data_iter.batch, data_iter.batch_idx
                if collect_outputs and not skipped:
                    # Lightning 1.x passed a bare loss as {"loss": loss}: sum(o["loss"] for o in outputs) works.
                    step_output = {"loss": step_output} if isinstance(step_output, torch.Tensor) else step_output
                    outputs.append(_detach(step_output))
                progress.batch_trained(batch_idx)
                stepped = window_end or not (automatic or skipped)
                if stepped:
                    # Counted before on_train_batch_end, so a checkpoint written there resumes at the next step.
                    logging_step = progress.logging_step()
                    if step_schedulers:
                        self.optimization.step_schedulers(
                            "step", hooks, self.metrics_store.callback_metrics, plateau=False
                        )
                if is_last and epoch_schedulers:
                    self._step_epoch_schedulers()
                if "on_train_batch_end" in defined:
                    call("on_train_batch_end", output, hook_batch, hook_idx)
                if stepped:
                    self.metrics_store.log_training_step(logging_step, log_every, epoch)
                if validation_enabled and progress.val_due(batch_idx, is_last=is_last):
                    if stepped:  # the gradients were used: free them for validation (not mid-accumulation)
                        hooks.call_module("on_validation_model_zero_grad")
                    self.evaluation.validate_in_fit(module)
                if stepped and step_schedulers:  # as Lightning: after this step's validation, whose metric it may use
                    self.optimization.step_schedulers("step", hooks, self.metrics_store.callback_metrics, plateau=True)
                if distributed:
                    self._agree_on_stop_requests()
                if self.signals.received is not None and stepped:
                    self.signals.stop(self.checkpoint_connector.save_interrupted, progress.global_step)
                if progress.stop_inside_epoch():
                    # A stop inside the epoch leaves it unfinished: a resume with a larger limit continues it.
                    stopped_mid_epoch = not is_last
                    break
            if skip and skip == num_batches and validation_enabled and progress.val_due(skip - 1, is_last=True):
                self.evaluation.validate_in_fit(module)  # resumed from a checkpoint written just before it
            self._end_epoch(outputs, finished=not stopped_mid_epoch)
        call("on_train_end")

    def _epoch_batches(self, train_data: ReplayableLoader, skip: int, num_batches: int | float) -> Any:
        """This epoch's batches after the first ``skip`` (a resumed epoch). Training iterables whose own state the
        checkpoint restored go on from it; the others are replayed past the batches already used."""
        if math.isinf(num_batches):
            count = None
        elif skip >= num_batches:
            return iter(())  # resumed from a checkpoint written after the epoch's last batch: nothing to load
        else:
            count = int(num_batches) - skip
        data_skip = 0 if self.data_connector.resumes_from_state() else skip
        return itertools.islice(
            train_data.epoch(self.progress.current_epoch, data_skip, self.progress.epoch_seeds), count
        )

    def _end_epoch(self, outputs: list[Any], finished: bool) -> None:
        """Epoch-end hooks, metric reduction, epoch schedulers, then the monitoring callbacks."""
        hooks, progress = self.hooks, self.progress
        hooks.call("on_train_epoch_end", runs_last=False)
        if hooks.module_overrides("training_epoch_end"):
            hooks.call_module("training_epoch_end", outputs)
        step = max(progress.batches_that_stepped - 1, 0)
        self.metrics_store.publish_epoch(self.metrics_store.train_results, step, progress.current_epoch)
        if finished:
            if self.module.automatic_optimization:
                if not self.epoch_schedulers_stepped:  # the epoch ended early (on_train_batch_start returned -1)
                    self._step_epoch_schedulers()
                self.optimization.step_schedulers("epoch", hooks, self.metrics_store.callback_metrics, plateau=True)
            progress.finish_epoch()
        hooks.call("on_train_epoch_end", runs_last=True, module=False)
        self.metrics_store.train_results.reset()
        if self.metrics_store.loggers and self.strategy.is_global_zero:
            for logger in self.metrics_store.loggers:
                logger.save()
        if finished:
            progress.next_epoch()

    def _step_epoch_schedulers(self) -> None:
        self.optimization.step_schedulers("epoch", self.hooks, self.metrics_store.callback_metrics, plateau=False)
        self.epoch_schedulers_stepped = True

    def _agree_on_stop_requests(self) -> None:
        """One collective: a signal or the time limit seen on any rank counts on all of them."""
        time_up = self.progress.time_up()
        if self.strategy.reduce_boolean_decision(self.signals.received is not None or time_up):
            if self.signals.received is None and not time_up:
                self.signals.request(signal.SIGTERM)  # another rank was told to stop
            if time_up:
                self.progress.should_stop = True

    def _needs_closure_step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Whether the optimizer step must receive the closure: the module overrides ``optimizer_step``, or the
        optimizer may call the closure several times (LBFGS) or is not one of torch's own."""
        if self.hooks.module_overrides("optimizer_step") or isinstance(optimizer, torch.optim.LBFGS):
            return True
        return not type(optimizer).__module__.startswith("torch.optim")

    def handle_nonfinite_loss(self, loss: torch.Tensor, batch_idx: int) -> bool:
        """The on_nan policy: True means skip this step; "raise" raises FloatingPointError naming the step."""
        loss = loss.detach()
        progress = self.progress
        where = f"step {progress.global_step} (epoch {progress.current_epoch}, batch {batch_idx})"
        if self.limits.on_nan == "skip_step":
            warnings.warn(
                f"Non-finite loss ({float(loss)}) at {where}; skipping the optimizer step (on_nan='skip_step').",
                stacklevel=2,
            )
            return True
        last = self.checkpoint_connector.last_saved_path
        raise FloatingPointError(
            f"Loss is {float(loss)} at {where}; training stopped. Last good checkpoint: "
            f"{last if last else 'none written yet'}. Lower the learning rate, enable gradient_clip_val, or pass "
            "Trainer(on_nan='skip_step') to skip such steps."
        )


def _warn_if_modules_in_eval_mode(module: torch.nn.Module) -> None:
    """The trainer keeps each submodule's train/eval mode; as Lightning, it says so when some start in eval mode."""
    in_eval = sum(1 for _, submodule in module.named_modules() if not submodule.training)
    if in_eval:
        warnings.warn(
            f"Found {in_eval} module(s) in eval mode at the start of training. This may lead to unexpected behavior "
            "during training. If this is intentional, you can ignore this warning.",
            PossibleUserWarning,
            stacklevel=5,
        )


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


class _TrainingClosure:
    """training_step, zero_grad, backward and clipping for one batch; the optimizer may call it in ``step``."""

    def __init__(self, loop: FitLoop, optimizer: ManagedOptimizer, training_step: Any) -> None:
        self.loop = loop
        self.hooks = loop.hooks
        self.precision = loop.strategy.precision
        self.training_step = training_step  # the strategy's (wrapped for a step taking dataloader_iter)
        self.backward_sync = loop.strategy.backward_sync
        self.optimizer = optimizer
        self.accumulate = loop.limits.accumulate_grad_batches
        # With detect_anomaly the backward pass is left to report a NaN: torch's anomaly mode names the operation
        # that made it (with its forward traceback), which says more than the loss check.
        # A callback that judges non-finite losses itself (SpikeDetection) replaces the on_nan check.
        self.check_finite = (
            loop.limits.on_nan is not None
            and not loop.limits.detect_anomaly
            and not any(callback.judges_nonfinite_loss for callback in loop.hooks.callbacks)
        )
        self.batch: Any = None
        self.batch_idx = 0
        self.window_start = self.window_end = True
        self.executed = False  # whether the closure ran for the current batch
        self.output: Any = None  # what on_train_batch_end gets: {"loss": detached loss, **other keys}, {} if skipped
        self.raw_output: Any = None  # what training_step returned (kept for 1.x's training_epoch_end)
        self.step_end = loop.hooks.module_overrides("training_step_end")  # Lightning 1.x
        # Hooks nobody defines are skipped without a call; only on_train_batch_end reads ``output``: without a
        # listener the per-step detach and dict are skipped too.
        self.defined = loop.hooks.defined_hooks()
        self.keep_output = "on_train_batch_end" in self.defined
        self.distributed = loop.strategy.world_size > 1

    def prepare(self, batch: Any, batch_idx: int, window_start: bool, window_end: bool, accumulate: int = 1) -> None:
        self.batch, self.batch_idx, self.window_start, self.window_end = batch, batch_idx, window_start, window_end
        self.accumulate = accumulate
        self.output = self.raw_output = None
        self.executed = False

    def check_executed(self) -> None:
        """After ``optimizer_step``: the closure must have run (else no training_step, no gradients: a silent
        no-op step), as Lightning checks."""
        if not self.executed:
            raise MisconfigurationException(
                "The closure hasn't been executed. HINT: did you call `optimizer_closure()` in your `optimizer_step` "
                "hook? It could also happen because the `optimizer.step(optimizer_closure)` call did not execute it "
                "internally."
            )

    def __call__(self) -> torch.Tensor | None:
        if not torch.is_grad_enabled():  # an optimizer whose step runs under no_grad (transformers' AdamW, once)
            with torch.enable_grad():
                return self()  # one function, not a wrapper around another: this runs every step
        self.executed = True
        hooks, defined = self.hooks, self.defined
        optimizer = self.optimizer
        with self.backward_sync(self.window_end):  # DDP: gradients sync on the window's last backward only
            with self.precision.forward_context():
                output = hooks.run_step("training_step", self.training_step, self.batch, self.batch_idx)
                if self.step_end:  # 1.x: training_step_end(output) gets the step's output and returns what counts
                    output = hooks.call_module("training_step_end", output)
            self.raw_output = output
            loss = _extract_loss(output)
            if not self.keep_output:
                self.output = None
            elif output is loss and loss is not None and self.accumulate == 1:  # the common case, inline (per step)
                self.output = {"loss": loss.detach()}
            else:
                self.output = _automatic_batch_outputs(output, loss, self.accumulate)
            if loss is None:
                _warning_cache.warn("`training_step` returned `None`. If this was on purpose, ignore this warning...")
            if self.window_start:  # after training_step, as Lightning
                if "on_before_zero_grad" in defined:
                    hooks.call("on_before_zero_grad", optimizer)
                hooks.call_module("optimizer_zero_grad", self.loop.progress.current_epoch, self.batch_idx, optimizer)
            if loss is None:
                if self.distributed:  # the other ranks would wait forever in this step's gradient all-reduce
                    raise RuntimeError(
                        "Skipping the `training_step` by returning None in distributed training is not supported. It "
                        "is recommended that you rewrite your training logic to avoid having to skip the step in the "
                        "first place."
                    )
                return None
            # handle_nonfinite_loss raises for on_nan="raise"; True means "skip_step": no backward, no gradients.
            if (
                self.check_finite
                and not math.isfinite(loss.item())
                and self.loop.handle_nonfinite_loss(loss, self.batch_idx)
            ):
                return None
            if self.accumulate > 1:
                loss = loss / self.accumulate
            if "on_before_backward" in defined:
                hooks.call("on_before_backward", loss)
            hooks.call_module("backward", loss)
            if "on_after_backward" in defined:
                hooks.call("on_after_backward")
        if self.window_end:
            self.precision.unscale_gradients(optimizer.optimizer)
            if "on_before_optimizer_step" in defined:
                hooks.call("on_before_optimizer_step", optimizer)
            hooks.call_module(
                "configure_gradient_clipping",
                optimizer,
                gradient_clip_val=self.loop.limits.gradient_clip_val,
                gradient_clip_algorithm=self.loop.limits.gradient_clip_algorithm,
            )
        return loss


def _extract_loss(output: Any) -> torch.Tensor | None:
    """The loss of an automatic-optimization step: the tensor itself, or a mapping's ``"loss"`` (any ``Mapping``,
    as Lightning); None skips the step. Other values are refused with Lightning's messages (its exception type,
    which is also the ValueError/TypeError raised here before)."""
    if output is None or isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        loss = output.get("loss")
        if loss is None:
            raise MisconfigurationException(
                "In automatic optimization, when `training_step` returns a dict, the 'loss' key needs to be present "
                f"(keys: {sorted(output)}). Return the loss tensor, a dict with 'loss', or None to skip the batch."
            )
        return loss
    raise MisconfigurationTypeError(
        "In automatic optimization, `training_step` must return a Tensor, a dict, or None (where the step will be "
        f"skipped); got {type(output).__name__}."
    )


def _automatic_batch_outputs(output: Any, loss: torch.Tensor | None, accumulate: int) -> dict[str, Any]:
    """What ``on_train_batch_end`` receives in automatic optimization, as in Lightning: ``{"loss": loss}`` with the
    loss detached and divided by ``accumulate_grad_batches`` (the value backward sees), plus the other keys of a
    returned dict; ``{}`` when the step was skipped."""
    if loss is None:
        return {}
    extra = {} if output is loss else {key: value for key, value in output.items() if key not in ("loss", "hiddens")}
    return {"loss": (loss / accumulate if accumulate > 1 else loss).detach(), **extra}


def _manual_batch_outputs(output: Any) -> Any:
    """Manual optimization: ``training_step`` returns nothing, a tensor or a dict; ``on_train_batch_end`` receives
    ``{"loss": detached}`` (a dict's copy with its loss detached), ``{}`` for no return (Lightning's forms)."""
    if output is None:
        return {}
    if isinstance(output, torch.Tensor):
        return {"loss": output.detach()}
    if isinstance(output, Mapping):
        outputs = dict(output)
        if isinstance(outputs.get("loss"), torch.Tensor):
            outputs["loss"] = outputs["loss"].detach()
        return outputs
    raise MisconfigurationTypeError(
        "In manual optimization, `training_step` must either return a Tensor or have no return (a dict is also "
        f"accepted); got {type(output).__name__}."
    )


def _detach(output: Any) -> Any:
    return apply_to_tensors(output, lambda tensor: tensor.detach())
