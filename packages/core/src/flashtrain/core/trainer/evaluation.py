"""Validation, test and predict loops (also the validation that runs inside fit)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flashtrain.core.datamodule import DataModule
from flashtrain.core.logging_results import ResultCollection
from flashtrain.core.module import Module

if TYPE_CHECKING:
    from flashtrain.core.trainer.trainer import Trainer

_STEP = {"validate": "validation_step", "test": "test_step", "sanity": "validation_step"}
_PREFIX = {"validate": "validation", "test": "test", "sanity": "validation"}


def as_loader_list(loaders: Any) -> list[Any]:
    """One loader, a list/tuple of loaders, or a dict of them -> a list."""
    if loaders is None:
        return []
    if isinstance(loaders, Mapping):
        return list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        return list(loaders)
    return [loaders]


def _stage_loaders(trainer: Trainer, stage: str, given: Any) -> list[Any]:
    if given is not None:
        return as_loader_list(given)
    method = {"validate": "val_dataloader", "test": "test_dataloader", "predict": "predict_dataloader"}[stage]
    if trainer.datamodule is not None and DataModule.defines(trainer.datamodule, method):
        return as_loader_list(getattr(trainer.datamodule, method)())
    raise ValueError(f"trainer.{stage} needs data: pass dataloaders=... or a datamodule with {method}().")


def run_evaluation_stage(trainer: Trainer, stage: str, given: Any, verbose: bool) -> list[dict[str, float]]:
    """``trainer.validate`` / ``trainer.test``: one pass over every loader, then a metrics table."""
    step_name = _STEP[stage]
    if not trainer._overrides(step_name):
        raise ValueError(
            f"{type(trainer.module).__name__} has no {step_name}(self, batch, batch_idx); trainer.{stage} needs one."
        )
    loaders = [trainer._shard(loader, training=False) for loader in _stage_loaders(trainer, stage, given)]
    limit = trainer.limit_val_batches if stage == "validate" else trainer.limit_test_batches
    limits = [trainer._limited_length(dl, limit, "val" if stage == "validate" else "test") for dl in loaders]
    results = _evaluate(trainer, stage, loaders, limits)
    if verbose and trainer.is_global_zero:
        _print_results(stage, results)
    return results


def run_validation_in_fit(trainer: Trainer) -> None:
    _evaluate(trainer, "validate", trainer._val_loaders, trainer.num_val_batches)


def run_sanity_check(trainer: Trainer) -> None:
    """A few validation batches before training, to fail fast on validation bugs; nothing is logged."""
    steps = trainer.num_sanity_val_steps
    limits = [n if steps == -1 else min(steps, n) for n in trainer.num_val_batches]
    trainer.sanity_checking = True
    trainer._call_hook("on_sanity_check_start")
    try:
        _evaluate(trainer, "sanity", trainer._val_loaders, limits)
    finally:
        trainer._call_hook("on_sanity_check_end")
        trainer.sanity_checking = False


def _evaluate(trainer: Trainer, stage: str, loaders: list[Any], limits: list[int | float]) -> list[dict[str, float]]:
    module = trainer.module
    prefix = _PREFIX[stage]
    step = getattr(module, _STEP[stage])
    call = trainer._call_hook
    several = len(loaders) > 1
    pass_idx = several
    collections = [ResultCollection(stage) for _ in loaders]
    epoch_collection = ResultCollection(stage)
    was_training = module.training
    grad_mode = trainer._eval_grad_mode()
    previous_results = trainer._results
    collect = trainer._overrides(f"{prefix}_epoch_end")
    outputs: list[list[Any]] = [[] for _ in loaders]
    trainer.num_eval_batches = sum(limits)  # for progress bars
    module.on_validation_model_eval() if prefix == "validation" else module.eval()
    try:
        with grad_mode:
            trainer._results = epoch_collection
            call(f"on_{prefix}_start")
            call(f"on_{prefix}_epoch_start")
            for loader_idx, (loader, limit) in enumerate(zip(loaders, limits)):
                trainer._results = collections[loader_idx]
                count = None if math.isinf(limit) else int(limit)
                for batch_idx, batch in enumerate(itertools.islice(iter(loader), count)):
                    batch = trainer.strategy.batch_to_device(batch)
                    collections[loader_idx].new_batch(batch)
                    extra = (loader_idx,) if pass_idx else ()
                    call(f"on_{prefix}_batch_start", batch, batch_idx, *extra)
                    trainer._current_hook = _STEP[stage]
                    with trainer.strategy.precision.forward_context():
                        output = step(batch, batch_idx, *extra)
                    if collect:
                        outputs[loader_idx].append(output)
                    call(f"on_{prefix}_batch_end", output, batch, batch_idx, *extra)
            trainer._results = epoch_collection
            call(f"on_{prefix}_epoch_end")
            if collect:
                trainer._current_hook = f"{prefix}_epoch_end"
                getattr(module, f"{prefix}_epoch_end")(outputs if several else outputs[0])
            per_loader = _publish(trainer, stage, collections, epoch_collection, several)
            call(f"on_{prefix}_end")
    finally:
        trainer._results = previous_results
        if was_training:
            module.on_validation_model_train() if prefix == "validation" else module.train()
    return per_loader


def _publish(
    trainer: Trainer, stage: str, collections: list[ResultCollection], epoch_collection: ResultCollection, several: bool
) -> list[dict[str, float]]:
    """Reduce each loader's results (suffix ``/dataloader_idx_N`` when several) and hand them out."""
    log = stage != "sanity"
    shared = trainer._publish_epoch_metrics(epoch_collection, log=log) if log else {}
    per_loader = []
    for index, collection in enumerate(collections):
        suffix = f"/dataloader_idx_{index}" if several else ""
        metrics = trainer._publish_epoch_metrics(collection, suffix, log=log) if log else {}
        per_loader.append({key: float(value) for key, value in {**shared, **metrics}.items()})
        collection.reset()  # torchmetrics objects start the next evaluation empty (also after the sanity check)
    epoch_collection.reset()
    trainer._last_eval_metric_names = {key for metrics in per_loader for key in metrics}
    return per_loader


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


def run_predict(trainer: Trainer, given: Any, return_predictions: bool) -> Any:
    """``trainer.predict``: ``predict_step`` over every batch; outputs per batch, in order."""
    module: Module = trainer.module
    loaders = _stage_loaders(trainer, "predict", given)
    call = trainer._call_hook
    several = len(loaders) > 1
    predictions: list[list[Any]] = [[] for _ in loaders]
    grad_mode = trainer._eval_grad_mode()
    limits = [trainer._limited_length(loader, trainer.limit_predict_batches, "predict") for loader in loaders]
    trainer.num_eval_batches = sum(limits)
    module.eval()
    with grad_mode:
        call("on_predict_start")
        call("on_predict_epoch_start")
        for loader_idx, (loader, limit) in enumerate(zip(loaders, limits)):
            count = None if math.isinf(limit) else int(limit)
            for batch_idx, batch in enumerate(itertools.islice(iter(loader), count)):
                batch = trainer.strategy.batch_to_device(batch)
                extra = (loader_idx,) if several else ()
                call("on_predict_batch_start", batch, batch_idx, *extra)
                trainer._current_hook = "predict_step"
                with trainer.strategy.precision.forward_context():
                    output = module.predict_step(batch, batch_idx, *extra)
                call("on_predict_batch_end", output, batch, batch_idx, *extra)
                if return_predictions:
                    predictions[loader_idx].append(output)
        call("on_predict_epoch_end")
        call("on_predict_end")
    if not return_predictions:
        return None
    return predictions if several else predictions[0]
