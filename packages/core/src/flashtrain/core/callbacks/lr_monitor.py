"""``LearningRateMonitor``: log every optimizer's learning rate."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback


class LearningRateMonitor(Callback):
    """Log ``lr-<Optimizer>`` (``/pg<N>`` per extra parameter group) each step or epoch."""

    def __init__(self, logging_interval: str | None = None, log_momentum: bool = False) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise ValueError(f"logging_interval must be None, 'step' or 'epoch', got {logging_interval!r}.")
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.lrs: dict[str, list[float]] = {}

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit" and not trainer.loggers:
            raise ValueError("LearningRateMonitor needs a logger; do not pass logger=False with it.")

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

    def _log(self, trainer: Any) -> None:
        stats: dict[str, torch.Tensor] = {}
        names: dict[str, int] = {}
        for optimizer in trainer.optimizers:
            base = f"lr-{type(optimizer).__name__}"
            names[base] = names.get(base, 0) + 1
            if names[base] > 1:
                base = f"{base}-{names[base] - 1}"
            for index, group in enumerate(optimizer.param_groups):
                key = base if len(optimizer.param_groups) == 1 else f"{base}/pg{index + 1}"
                stats[key] = torch.tensor(float(group["lr"]))
                self.lrs.setdefault(key, []).append(float(group["lr"]))
                if self.log_momentum:
                    momentum = group.get("momentum", group.get("betas", (None,))[0])
                    if momentum is not None:
                        stats[key.replace("lr-", "lr-momentum-", 1)] = torch.tensor(float(momentum))
        if stats:
            trainer.metrics_store.send_to_loggers(stats, trainer.progress.batches_that_stepped, trainer.current_epoch)
