"""Validation, test and predict loops (also the validation that runs inside fit, and the sanity check).

Each submodule's train/eval mode is captured before evaluating and restored after it (as Lightning does), so a
submodule the user put in eval mode (a frozen BatchNorm) stays in eval mode.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch

from flashtrain.core.logging_results import ResultCollection
from flashtrain.core.module import Module
from flashtrain.core.seed import isolate_rng
from flashtrain.core.strategies import Strategy
from flashtrain.core.trainer.data_connector import CombinedBatches, DataConnector
from flashtrain.core.trainer.dataloader_iter import DataLoaderIter, fetches_own_batches
from flashtrain.core.trainer.hooks import HookDispatcher, check_dataloader_idx
from flashtrain.core.trainer.limits import LoopLimits
from flashtrain.core.trainer.metrics import MetricsStore
from flashtrain.core.trainer.progress import FitProgress
from flashtrain.core.trainer.state import RunningStage, TrainerState
from flashtrain.core.utilities.dataloaders import set_sampler_epoch

_STEP = {"validate": "validation_step", "test": "test_step", "sanity": "validation_step"}
_PREFIX = {"validate": "validation", "test": "test", "sanity": "validation"}
_STAGE = {"validate": RunningStage.VALIDATING, "test": RunningStage.TESTING, "sanity": RunningStage.SANITY_CHECKING}


def capture_modes(module: torch.nn.Module) -> dict[str, bool]:
    """Each submodule's ``training`` flag, by name."""
    return {name: sub.training for name, sub in module.named_modules()}


def restore_modes(module: torch.nn.Module, modes: dict[str, bool]) -> None:
    for name, sub in module.named_modules():
        if name in modes:
            sub.training = modes[name]


class EvaluationLoop:
    """Runs validation/test/predict passes; ``num_batches`` is the size of the one running (for progress bars)."""

    def __init__(
        self,
        *,
        strategy: Strategy,
        hooks: HookDispatcher,
        metrics_store: MetricsStore,
        state: TrainerState,
        progress: FitProgress,
        limits: LoopLimits,
        data_connector: DataConnector,
    ) -> None:
        # Each owner under the name the Trainer gives it.
        self.strategy = strategy
        self.hooks = hooks
        self.metrics_store = metrics_store
        self.state = state
        self.progress = progress
        self.limits = limits
        self.data_connector = data_connector
        self.num_batches: int | float = 0
        # Batches per loader of the latest validate / test / predict run (Lightning's trainer.num_*_batches).
        self.max_batches: dict[str, list[int | float]] = {"validate": [], "test": [], "predict": []}

    def _grad_mode(self) -> Any:
        """inference_mode for evaluation where the strategy supports it (XLA does not), else no_grad."""
        # Validation inside fit runs under no_grad, as Lightning's: tensors a callback makes there (a pruning mask)
        # must stay usable by training.
        if self.limits.inference_mode and self.strategy.supports_inference_mode and self.state.fn != "fit":
            return torch.inference_mode()
        return torch.no_grad()

    # -- entry points ---------------------------------------------------------------------------------------
    def run_stage(self, module: Module, stage: str, given: Any, verbose: bool) -> list[dict[str, float]]:
        """``trainer.validate`` / ``trainer.test``: one pass over every loader, then a metrics table."""
        limit, name = (
            (self.limits.limit_val_batches, "val") if stage == "validate" else (self.limits.limit_test_batches, "test")
        )
        if limit == 0:
            return []  # as Lightning: no loader is requested and no hook runs
        loaders = [
            self.data_connector.shard(loader, training=False)
            for loader in self.data_connector.stage_loaders(stage, given)
        ]
        limits = [self.data_connector.limited_length(dl, limit, name) for dl in loaders]
        self.max_batches[stage] = _per_iterable(
            loaders, limits, lambda dl: self.data_connector.limited_length(dl, limit, name)
        )
        results = self._evaluate(module, stage, loaders, limits)
        if verbose and self.strategy.is_global_zero:
            _print_results(stage, results)
        return results

    def validate_in_fit(self, module: Module) -> None:
        # requested when first due, and again when reload_dataloaders_every_n_epochs is due
        loaders = self.data_connector.load_fit_validation()
        if not any(self.data_connector.num_val_batches):
            return  # no batch to validate on: no hook runs (as Lightning)
        self.progress.validation_started()
        self._evaluate(module, "validate", loaders, self.data_connector.num_val_batches)
        self.progress.validation_ended()

    def sanity_check(self, module: Module) -> None:
        """A few validation batches before training, to fail fast on validation bugs; nothing is logged.

        As Lightning, it leaves the random streams as they were (a loader's iterator draws seeds from them), so a
        seeded run trains on the same batches with or without it."""
        with isolate_rng():
            previous, self.state.stage = self.state.stage, RunningStage.SANITY_CHECKING
            self.hooks.call("on_sanity_check_start")
            try:
                loaders = self.data_connector.load_fit_validation(sanity=True)  # Lightning requests them here
                self._evaluate(module, "sanity", loaders, self.sanity_batches())
            finally:
                self.hooks.call("on_sanity_check_end")
                self.state.stage = previous

    def sanity_batches(self) -> list[int | float]:
        """Batches per validation loader the sanity check uses (Lightning's ``trainer.num_sanity_val_batches``)."""
        steps = self.limits.num_sanity_val_steps
        return [n if steps == -1 else min(steps, n) for n in self.data_connector.num_val_batches]

    # -- the pass -------------------------------------------------------------------------------------------
    def _evaluate(self, module: Module, stage: str, loaders: list[Any], limits: list[int | float]) -> list[dict]:
        prefix = _PREFIX[stage]
        hooks = self.hooks
        call = hooks.call
        step = getattr(module, _STEP[stage])
        several = len(loaders) > 1
        fetching = fetches_own_batches(module, _STEP[stage])  # a step taking dataloader_iter
        hook_names: tuple[str, ...] = (f"on_{prefix}_batch_start", f"on_{prefix}_batch_end")
        hook_names = hook_names if fetching else (_STEP[stage], *hook_names)
        check_dataloader_idx(module, hook_names, several, "test" if stage == "test" else "val")
        collections = [ResultCollection(stage) for _ in loaders]
        epoch_collection = ResultCollection(stage)
        collect = hooks.module_overrides(f"{prefix}_epoch_end")
        step_end = hooks.module_overrides(f"{prefix}_step_end")  # Lightning 1.x
        outputs: list[list[Any]] = [[] for _ in loaders]
        self.num_batches = sum(limits)
        modes = capture_modes(module)
        previous_stage = self.state.stage
        if stage != "sanity":
            self.state.stage = _STAGE[stage]
        hooks.call_module(f"on_{prefix}_model_eval")
        try:
            with self._grad_mode(), self.metrics_store.recording_into(epoch_collection):
                call(f"on_{prefix}_start")
                call(f"on_{prefix}_epoch_start")
                if fetching:
                    self._fetching_steps(stage, step, loaders, limits, collections, outputs if collect else None)
                else:
                    for loader_idx, (loader, limit) in enumerate(zip(loaders, limits)):
                        collection = collections[loader_idx]
                        extra = (loader_idx,) if several else ()
                        suffix = f"/dataloader_idx_{loader_idx}" if several else ""
                        count = None if math.isinf(limit) else int(limit)
                        _set_epoch(loader, self.progress.current_epoch)
                        with self.metrics_store.recording_into(collection):
                            for batch_idx, batch in enumerate(itertools.islice(iter(loader), count)):
                                batch = hooks.transfer_batch(batch, loader_idx)
                                collection.new_batch(batch)
                                call(f"on_{prefix}_batch_start", batch, batch_idx, *extra)
                                with self.strategy.precision.forward_context():
                                    output = hooks.run_step(_STEP[stage], step, batch, batch_idx, *extra)
                                    if step_end:  # 1.x: its return replaces the step's output everywhere after
                                        output = hooks.call_module(f"{prefix}_step_end", output)
                                if collect:
                                    outputs[loader_idx].append(output)
                                call(f"on_{prefix}_batch_end", output, batch, batch_idx, *extra)
                                if stage != "sanity":
                                    self.metrics_store.log_evaluation_step(collection, loader_idx, suffix)
                call(f"on_{prefix}_epoch_end")
                if collect:
                    hooks.call_module(f"{prefix}_epoch_end", outputs if several else outputs[0])
                per_loader = self._publish(stage, collections, epoch_collection, several)
                call(f"on_{prefix}_end")
        finally:
            self.state.stage = previous_stage
            if hooks.module_overrides(f"on_{prefix}_model_train"):
                hooks.call_module(f"on_{prefix}_model_train")
            else:
                restore_modes(module, modes)
        return per_loader

    def _fetching_steps(
        self,
        stage: str,
        step: Any,
        loaders: list[Any],
        limits: list[int | float],
        collections: list[ResultCollection],
        outputs: list[list[Any]] | None,
    ) -> None:
        """A step taking ``dataloader_iter``: called until the loaders (one after the other) run out; the hooks
        around it see the batch fetched last (trainer/dataloader_iter.py)."""
        hooks, prefix, several = self.hooks, _PREFIX[stage], len(loaders) > 1
        step_end = hooks.module_overrides(f"{prefix}_step_end")
        for loader in loaders:
            _set_epoch(loader, self.progress.current_epoch)
        data_iter = DataLoaderIter.over_loaders(loaders, limits)
        for _ in data_iter.steps():
            loader_idx = data_iter.dataloader_idx
            collection = collections[loader_idx]
            with self.metrics_store.recording_into(collection):
                collection.new_batch(data_iter.batch)
                extra = (loader_idx,) if several else ()
                hooks.call(f"on_{prefix}_batch_start", data_iter.batch, data_iter.batch_idx, *extra)
                try:
                    with self.strategy.precision.forward_context():
                        output = hooks.run_step(_STEP[stage], step, data_iter)
                        if step_end:
                            output = hooks.call_module(f"{prefix}_step_end", output)
                except StopIteration:  # the step's own next() ran out: the pass ends (Lightning)
                    break
                if outputs is not None:
                    outputs[data_iter.dataloader_idx].append(output)
                extra = (data_iter.dataloader_idx,) if several else ()
                hooks.call(f"on_{prefix}_batch_end", output, data_iter.batch, data_iter.batch_idx, *extra)
                if stage != "sanity":
                    suffix = f"/dataloader_idx_{loader_idx}" if several else ""
                    self.metrics_store.log_evaluation_step(collection, loader_idx, suffix)

    def _publish(
        self, stage: str, collections: list[ResultCollection], epoch_collection: ResultCollection, several: bool
    ) -> list[dict[str, float]]:
        """Reduce each loader's results (suffix ``/dataloader_idx_N`` when several) and hand them out."""
        step, epoch = max(self.progress.batches_that_stepped - 1, 0), self.progress.current_epoch
        if stage == "sanity":
            per_loader: list[dict[str, float]] = [{} for _ in collections]
        else:
            per_loader = self.metrics_store.publish_evaluation(collections, epoch_collection, step, epoch)
        for collection in (*collections, epoch_collection):
            collection.reset()  # torchmetrics objects start the next evaluation empty (also after the sanity check)
        if stage == "sanity":
            self.metrics_store.evaluation_metric_names = set()
        return per_loader

    # -- predict --------------------------------------------------------------------------------------------
    def predict(self, module: Module, given: Any, return_predictions: bool) -> Any:
        """``trainer.predict``: ``predict_step`` over every batch; outputs per batch, in order."""
        loaders = self.data_connector.stage_loaders("predict", given)
        call = self.hooks.call
        several = len(loaders) > 1
        fetching = fetches_own_batches(module, "predict_step")  # a step taking dataloader_iter
        hook_names = ("on_predict_batch_start", "on_predict_batch_end")
        check_dataloader_idx(module, hook_names if fetching else ("predict_step", *hook_names), several, "predict")
        predictions: list[list[Any]] = [[] for _ in loaders]
        limits = [
            self.data_connector.limited_length(dl, self.limits.limit_predict_batches, "predict") for dl in loaders
        ]
        self.max_batches["predict"] = _per_iterable(
            loaders,
            limits,
            lambda dl: self.data_connector.limited_length(dl, self.limits.limit_predict_batches, "predict"),
        )
        self.num_batches = sum(limits)
        modes = capture_modes(module)
        self.state.stage = RunningStage.PREDICTING
        self.hooks.call_module("on_predict_model_eval")
        try:
            with self._grad_mode():
                call("on_predict_start")
                call("on_predict_epoch_start")
                if fetching:
                    self._fetching_predict_steps(module, loaders, limits, predictions if return_predictions else None)
                else:
                    for loader_idx, (loader, limit) in enumerate(zip(loaders, limits)):
                        count = None if math.isinf(limit) else int(limit)
                        extra = (loader_idx,) if several else ()
                        _set_epoch(loader, self.progress.current_epoch)
                        for batch_idx, batch in enumerate(itertools.islice(iter(loader), count)):
                            batch = self.hooks.transfer_batch(batch, loader_idx)
                            call("on_predict_batch_start", batch, batch_idx, *extra)
                            with self.strategy.precision.forward_context():
                                output = self.hooks.run_step(
                                    "predict_step", module.predict_step, batch, batch_idx, *extra
                                )
                            call("on_predict_batch_end", output, batch, batch_idx, *extra)
                            if return_predictions:
                                predictions[loader_idx].append(output)
                call("on_predict_epoch_end")
                call("on_predict_end")
        finally:
            restore_modes(module, modes)
        if not return_predictions:
            return None
        return predictions if several else predictions[0]

    def _fetching_predict_steps(
        self, module: Module, loaders: list[Any], limits: list[int | float], predictions: list[list[Any]] | None
    ) -> None:
        """``predict_step`` taking ``dataloader_iter`` (see :meth:`_fetching_steps`)."""
        hooks, several = self.hooks, len(loaders) > 1
        for loader in loaders:
            _set_epoch(loader, self.progress.current_epoch)
        data_iter = DataLoaderIter.over_loaders(loaders, limits)
        for _ in data_iter.steps():
            extra = (data_iter.dataloader_idx,) if several else ()
            hooks.call("on_predict_batch_start", data_iter.batch, data_iter.batch_idx, *extra)
            try:
                with self.strategy.precision.forward_context():
                    output = hooks.run_step("predict_step", module.predict_step, data_iter)
            except StopIteration:  # the step's own next() ran out
                break
            extra = (data_iter.dataloader_idx,) if several else ()
            hooks.call("on_predict_batch_end", output, data_iter.batch, data_iter.batch_idx, *extra)
            if predictions is not None:
                predictions[data_iter.dataloader_idx].append(output)


def _set_epoch(loader: Any, epoch: int) -> None:
    """As Lightning, evaluation loaders' samplers are told the epoch too (a DistributedSampler may shuffle)."""
    for each in loader.combined.flattened if isinstance(loader, CombinedBatches) else (loader,):
        set_sampler_epoch(each, epoch)


def _per_iterable(loaders: list[Any], limits: list[int | float], length: Any) -> list[int | float]:
    """Batches per iterable, as Lightning reports them (``trainer.num_val_batches``...): a non-sequential
    CombinedLoader runs as one loader of combined batches but reports each of its iterables' lengths."""
    reported: list[int | float] = []
    for loader, limit in zip(loaders, limits):
        if isinstance(loader, CombinedBatches):
            reported += [length(iterable) for iterable in loader.combined.flattened]
        else:
            reported.append(limit)
    return reported


def _print_results(stage: str, results: list[dict[str, float]]) -> None:
    title = "Validate metric" if stage == "validate" else "Test metric"
    for index, metrics in enumerate(results):
        if not metrics:
            continue
        width = max(len(title), *(len(k) for k in metrics)) + 2
        print(f"{title:<{width}} DataLoader {index}")
        print("-" * (width + 14))
        for key, value in sorted(metrics.items()):
            print(f"{key:<{width}} {value:.6g}")
