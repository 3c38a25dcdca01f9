"""Reading ``configure_optimizers`` (every Lightning return form) and wrapping optimizers for the trainer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

_INTERVALS = ("epoch", "step")


@dataclass
class LRSchedulerConfig:
    """A scheduler and when to step it (Lightning's ``lr_scheduler`` dict)."""

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None
    strict: bool = True
    name: str | None = None

    @property
    def reduce_on_plateau(self) -> bool:
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _scheduler_config(value: Any, default_monitor: str | None) -> LRSchedulerConfig:
    if isinstance(value, Mapping):
        unknown = set(value) - {
            "scheduler",
            "interval",
            "frequency",
            "monitor",
            "strict",
            "name",
            "opt_idx",
            "reduce_on_plateau",
        }
        if "scheduler" not in value or unknown:
            raise ValueError(
                f"An lr_scheduler dict needs a 'scheduler' key and may have interval, frequency, monitor, strict, "
                f"name; got keys {sorted(value)}."
            )
        config = LRSchedulerConfig(
            scheduler=value["scheduler"],
            interval=value.get("interval", "epoch"),
            frequency=value.get("frequency", 1),
            monitor=value.get("monitor", default_monitor),
            strict=value.get("strict", True),
            name=value.get("name"),
        )
    else:
        config = LRSchedulerConfig(scheduler=value, monitor=default_monitor)
    if config.interval not in _INTERVALS:
        raise ValueError(f"lr_scheduler interval must be 'epoch' or 'step', got {config.interval!r}.")
    if not isinstance(config.frequency, int) or config.frequency < 1:
        raise ValueError(f"lr_scheduler frequency must be a positive int, got {config.frequency!r}.")
    if not hasattr(config.scheduler, "step"):
        raise TypeError(f"lr_scheduler must be a torch LR scheduler, got {type(config.scheduler).__name__}.")
    if config.reduce_on_plateau and config.monitor is None:
        raise ValueError(
            "ReduceLROnPlateau needs a metric to monitor: return {'optimizer': opt, 'lr_scheduler': "
            "{'scheduler': sched, 'monitor': 'val_loss'}} from configure_optimizers."
        )
    return config


def parse_optimizers(returned: Any) -> tuple[list[torch.optim.Optimizer], list[LRSchedulerConfig]]:
    """Normalise what ``configure_optimizers`` returned into (optimizers, scheduler configs)."""
    optimizers: list[Any] = []
    schedulers: list[LRSchedulerConfig] = []
    if returned is None:
        return [], []
    if isinstance(returned, torch.optim.Optimizer):
        optimizers = [returned]
    elif isinstance(returned, Mapping):
        if "optimizer" not in returned:
            raise ValueError(
                f"configure_optimizers returned a dict without an 'optimizer' key (keys: {sorted(returned)})."
            )
        optimizers = [returned["optimizer"]]
        if returned.get("lr_scheduler") is not None:
            schedulers = [_scheduler_config(returned["lr_scheduler"], returned.get("monitor"))]
    elif isinstance(returned, Sequence) and not isinstance(returned, str):
        items = list(returned)
        if len(items) == 2 and isinstance(items[0], Sequence) and isinstance(items[1], (Sequence, Mapping)):
            optimizers = list(items[0])
            scheduler_items = items[1] if isinstance(items[1], Sequence) else [items[1]]
            schedulers = [_scheduler_config(item, None) for item in scheduler_items]
        elif items and all(isinstance(item, Mapping) for item in items):
            for item in items:
                opts, scheds = parse_optimizers(item)
                optimizers += opts
                schedulers += scheds
        else:
            optimizers = items
    else:
        optimizers = [returned]  # not a known form: the check below names its type
    for optimizer in optimizers:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "configure_optimizers must return an optimizer, a list of optimizers, (optimizers, schedulers), or a "
                f"dict with 'optimizer' and optional 'lr_scheduler'; found {type(optimizer).__name__} where an "
                "optimizer was expected."
            )
    return optimizers, schedulers


class ManagedOptimizer:
    """An optimizer as the module sees it: ``step`` goes through the precision plugin and counts the step."""

    def __init__(self, optimizer: torch.optim.Optimizer, trainer: Any) -> None:
        self.optimizer = optimizer
        self._trainer = trainer
        self._precision = trainer.strategy.precision

    def step(self, closure: Any = None) -> Any:
        result = self._precision.optimizer_step(self.optimizer, closure)
        self._trainer.global_step += 1
        return result

    def step_evaluated(self, loss: torch.Tensor | None) -> None:
        """Step after the trainer already ran the closure; no update when it returned None (a skipped batch)."""
        if loss is not None:
            self._precision.optimizer_step(self.optimizer, None)
        self._trainer.global_step += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"ManagedOptimizer({self.optimizer!r})"
