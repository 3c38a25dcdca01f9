"""``LearningRateMonitor``: log every optimizer's learning rate (and momentum, weight decay), named as Lightning."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException


class LearningRateMonitor(Callback):
    """Log ``lr-<Optimizer>`` each step or epoch, also into ``trainer.callback_metrics`` (so e.g. EarlyStopping can
    monitor it).

    Names follow Lightning: a scheduler's ``name`` (from its ``lr_scheduler`` dict) replaces ``lr-<Optimizer>``;
    optimizers of one class are told apart as ``lr-Adam``, ``lr-Adam-1``; several parameter groups get
    ``/pg1``, ``/pg2``, ... or their ``"name"`` key. Momentum (``momentum`` or ``betas[0]``) and weight decay go
    under ``<name>-momentum`` / ``<name>-weight_decay`` with ``log_momentum`` / ``log_weight_decay``.
    ``lrs`` holds every value logged, ``last_momentum_values`` / ``last_weight_decay_values`` the latest.
    """

    def __init__(
        self, logging_interval: str | None = None, log_momentum: bool = False, log_weight_decay: bool = False
    ) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise MisconfigurationException(
                f"logging_interval should be `step` or `epoch` or `None`, got {logging_interval!r}."
            )
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.log_weight_decay = log_weight_decay
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.loggers:
            raise MisconfigurationException(
                "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger; pass a logger or "
                "remove the callback."
            )
        if self.log_momentum and any(not _has_momentum(opt) for opt in trainer.optimizers):
            warnings.warn(
                "You have set log_momentum=True, but some optimizers do not have momentum. This will log a value 0 "
                "for the momentum.",
                RuntimeWarning,
                stacklevel=2,
            )
        for name in self._names(trainer):
            self.lrs.setdefault(name, [])

    def _interval(self, trainer: Any) -> str:
        if self.logging_interval is not None:
            return self.logging_interval
        configs = trainer.lr_scheduler_configs
        return "step" if configs and all(c.interval == "step" for c in configs) else "epoch"

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self._interval(trainer) == "step" and trainer.progress.batches_that_stepped % trainer.log_every_n_steps == 0:
            self._log(trainer)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._interval(trainer) == "epoch":
            self._log(trainer)

    def _optimizer_order(self, trainer: Any) -> list[tuple[Any, str | None]]:
        """Optimizers with a scheduler first (in scheduler order, with the scheduler's name), then the others."""
        ordered: list[tuple[Any, str | None]] = []
        seen: set[int] = set()
        for config in trainer.lr_scheduler_configs:
            optimizer = config.scheduler.optimizer
            if id(optimizer) not in seen:
                seen.add(id(optimizer))
                ordered.append((optimizer, config.name))
        ordered += [(opt, None) for opt in trainer.optimizers if id(opt) not in seen]
        return ordered

    def _names(self, trainer: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
        """Logged name -> (optimizer, param group)."""
        names: dict[str, tuple[Any, dict[str, Any]]] = {}
        counts: dict[str, int] = {}
        for optimizer, scheduler_name in self._optimizer_order(trainer):
            base = scheduler_name or f"lr-{type(optimizer).__name__}"
            if scheduler_name is None:
                counts[base] = counts.get(base, 0) + 1
                if counts[base] > 1:
                    base = f"{base}-{counts[base] - 1}"
            groups = optimizer.param_groups
            group_names = [group.get("name") for group in groups]
            named = [n for n in group_names if n is not None]
            if len(named) != len(set(named)):
                raise MisconfigurationException(
                    "A single `Optimizer` cannot have multiple parameter groups with identical `name` values: "
                    f"{named}. Give each param group of {type(optimizer).__name__} its own name."
                )
            for index, group in enumerate(groups):
                if len(groups) == 1:
                    key = base if group_names[0] is None else f"{base}/{group_names[0]}"
                else:
                    key = f"{base}/{group_names[index] or f'pg{index + 1}'}"
                names[key] = (optimizer, group)
        return names

    def _rename_grown(self, names: dict[str, Any]) -> None:
        """An optimizer that had one parameter group and now has several (a finetuning callback added some):
        its history moves from ``lr-SGD`` to ``lr-SGD/pg1`` (to the end of ``lrs``, as Lightning)."""
        for name in names:
            if name in self.lrs or not name.endswith("/pg1"):
                continue
            old = name[: -len("/pg1")]
            if old in self.lrs and old not in names:
                self.lrs[name] = self.lrs.pop(old)

    def _log(self, trainer: Any) -> None:
        stats: dict[str, torch.Tensor] = {}
        names = self._names(trainer)
        self._rename_grown(names)
        for name, (optimizer, group) in names.items():
            lr = float(group["lr"])
            stats[name] = torch.tensor(lr)
            self.lrs.setdefault(name, []).append(lr)
            if self.log_momentum:
                momentum = _momentum(optimizer, group)
                self.last_momentum_values[f"{name}-momentum"] = momentum
                stats[f"{name}-momentum"] = torch.tensor(momentum)
            if self.log_weight_decay:
                decay = float(group.get("weight_decay", 0.0))
                self.last_weight_decay_values[f"{name}-weight_decay"] = decay
                stats[f"{name}-weight_decay"] = torch.tensor(decay)
        if stats:
            trainer.metrics_store.add_callback_metrics(stats)
            trainer.metrics_store.send_to_loggers(stats, trainer.progress.batches_that_stepped, None)


def _has_momentum(optimizer: Any) -> bool:
    return any("momentum" in group or "betas" in group for group in optimizer.param_groups)


def _momentum(optimizer: Any, group: dict[str, Any]) -> float:
    if "betas" in group:
        return float(group["betas"][0])
    return float(group.get("momentum", 0.0))
