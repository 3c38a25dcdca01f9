"""What ``Module.log`` records, and how step and epoch values are reduced (Lightning 2.x semantics).

Per step, a logged value is only detached and appended; reductions happen once per epoch, and no
value is copied to the host unless a logger or the progress bar asks for it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import torch

from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError

# Hooks that may call self.log, and their (on_step, on_epoch) defaults.
_STEP_HOOKS = (
    "training_step",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "optimizer_step",
    "optimizer_zero_grad",
    "backward",
    "configure_gradient_clipping",
)
_EPOCH_HOOKS = (
    "validation_step",
    "test_step",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "training_epoch_end",
    "validation_epoch_end",
    "test_epoch_end",
    "on_train_start",
    "on_validation_start",
    "on_test_start",
)
LOGGING_DEFAULTS: dict[str, tuple[bool, bool]] = {
    **{hook: (True, False) for hook in _STEP_HOOKS},
    **{hook: (False, True) for hook in _EPOCH_HOOKS},
}
_EPOCH_ONLY_HOOKS = frozenset(h for h in _EPOCH_HOOKS if "epoch" in h or h.endswith("_start") and "batch" not in h)
REDUCE_FXS = ("mean", "sum", "max", "min")
# Bound the per-epoch list of appended values: fold it into a partial sum past this many entries.
_FOLD_EVERY = 2048


def is_torchmetric(value: Any) -> bool:
    """Whether ``value`` is a torchmetrics ``Metric`` (checked without importing torchmetrics)."""
    module = sys.modules.get("torchmetrics")
    return module is not None and isinstance(value, module.Metric)


def is_metric_collection(value: Any) -> bool:
    """Whether ``value`` is a torchmetrics ``MetricCollection`` (checked without importing torchmetrics)."""
    module = sys.modules.get("torchmetrics")
    return module is not None and isinstance(value, module.MetricCollection)


def _reduce_fx_name(reduce_fx: Any) -> str:
    if isinstance(reduce_fx, str):
        name = "mean" if reduce_fx.lower() == "avg" else reduce_fx.lower()  # Lightning's spellings: "avg", "SUM"
        if name in REDUCE_FXS:
            return name
    for name, fn in (
        ("mean", torch.mean),
        ("sum", torch.sum),
        ("max", torch.max),
        ("min", torch.min),
        ("sum", sum),
        ("max", max),
        ("min", min),
    ):
        if reduce_fx is fn:
            return name
    raise MisconfigurationException(
        f"self.log got reduce_fx={reduce_fx!r}. Only `self.log(..., reduce_fx={{min,max,mean,sum}})` are supported "
        "('avg' too, in any case, or torch.mean/sum/max/min); log a torchmetrics Metric for another reduction."
    )


@dataclass
class _Entry:
    """One logged name inside one stage: its options and what has been accumulated this epoch."""

    name: str
    on_step: bool
    on_epoch: bool
    prog_bar: bool
    logger: bool
    reduce_fx: str
    sync_dist: bool
    metric: Any = None  # a torchmetrics.Metric logged as an object
    step_value: torch.Tensor | None = None
    values: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    partial: torch.Tensor | None = None  # folded reduction of earlier values
    partial_size: float = 0.0
    add_dataloader_idx: bool = True  # with several evaluation loaders, the key gets "/dataloader_idx_N"
    hook: str | None = None  # where it was first logged this epoch, and with which arguments (as given)
    arguments: tuple = ()

    def add(self, value: torch.Tensor, batch_size: int) -> None:
        self.step_value = value
        if self.on_epoch and self.metric is None:
            self.values.append(value)
            self.sizes.append(batch_size)
            if len(self.values) >= _FOLD_EVERY:
                self._fold()

    def _fold(self) -> None:
        stacked = torch.stack(self.values).to(torch.float64)
        if self.reduce_fx == "mean":
            weights = torch.tensor(self.sizes, dtype=torch.float64, device=stacked.device)
            folded = (stacked * weights).sum()
            self.partial_size += float(weights.sum())
        elif self.reduce_fx == "sum":
            folded = stacked.sum()
        else:
            folded = stacked.max() if self.reduce_fx == "max" else stacked.min()
        if self.partial is not None:
            if self.reduce_fx in ("mean", "sum"):
                folded = folded + self.partial
            else:
                folded = (
                    torch.maximum(folded, self.partial)
                    if self.reduce_fx == "max"
                    else torch.minimum(folded, self.partial)
                )
        self.partial = folded
        self.values, self.sizes = [], []

    def epoch_value(self, reduce: Any = None) -> torch.Tensor | None:
        """The epoch reduction (batch-size weighted for 'mean'), or None if nothing was logged.

        With ``sync_dist`` and a ``reduce`` over ranks, the reduction covers every rank's values exactly: the
        weighted sums and the weights are summed over ranks before dividing.
        """
        if self.metric is not None:
            computed = self.metric.compute()  # torchmetrics syncs its own state over ranks
            if not isinstance(computed, torch.Tensor):  # a tuple or dict cannot be one logged number
                raise ValueError(
                    f"The `.compute()` return of the metric logged as {self.name!r} must be a tensor. Found "
                    f"{computed}. Log each value of a metric that returns several under its own name."
                )
            return computed.detach()
        dtype = self.values[0].dtype if self.values else torch.float32
        if self.values:
            self._fold()
        if self.sync_dist and reduce is not None:
            return self._synced(reduce).to(dtype)
        if self.partial is None:
            return None
        value = self.partial / self.partial_size if self.reduce_fx == "mean" else self.partial
        return value.to(dtype)

    def _synced(self, reduce: Any) -> torch.Tensor:
        partial, size = self._synced_totals(reduce)
        return partial / size if self.reduce_fx == "mean" else partial

    def _synced_totals(self, reduce: Any) -> tuple[torch.Tensor, float]:
        """(partial, partial_size) over every rank's values."""
        empty = {"mean": 0.0, "sum": 0.0, "max": -math.inf, "min": math.inf}[self.reduce_fx]
        partial = self.partial if self.partial is not None else torch.tensor(empty, dtype=torch.float64)
        if self.reduce_fx != "mean":
            return reduce(partial, self.reduce_fx), 0.0
        totals = reduce(torch.stack([partial, partial.new_tensor(self.partial_size)]), "sum")
        return totals[0], float(totals[1])

    def reset(self) -> None:
        self.values, self.sizes, self.partial, self.partial_size = [], [], None, 0.0
        self.step_value = None
        if self.metric is not None:
            self.metric.reset()

    def state_dict(self, reduce: Any = None) -> dict[str, Any]:
        """Options and accumulated values as plain tensors and numbers, so a resumed epoch reduces alike.

        With ``sync_dist`` and a ``reduce`` over ranks, the values are every rank's together, so the
        checkpoint that rank 0 writes holds the whole epoch so far (``load_state_dict`` gives it to rank 0).
        """
        if self.values:
            self._fold()
        partial, partial_size = self.partial, self.partial_size
        if self.sync_dist and reduce is not None:
            partial, partial_size = self._synced_totals(reduce)
        return {
            "name": self.name,
            "on_step": self.on_step,
            "on_epoch": self.on_epoch,
            "prog_bar": self.prog_bar,
            "logger": self.logger,
            "reduce_fx": self.reduce_fx,
            "sync_dist": self.sync_dist,
            "partial": partial,
            "partial_size": partial_size,
        }


class ResultCollection:
    """Every value logged during one stage ("train", "validate", "test") of one epoch."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.entries: dict[str, _Entry] = {}
        self.batch: Any = None
        self._batch_size: int | None = None
        self.reduce: Any = None  # the strategy's reduce over ranks, given with each self.log call

    def new_batch(self, batch: Any) -> None:
        """Remember the current batch; its size is inferred only if a mean needs it."""
        self.batch = batch
        self._batch_size = None

    def _infer_batch_size(self) -> int:
        if self._batch_size is None:
            from flashtrain.core.utilities.apply import first_tensor_length

            self._batch_size = first_tensor_length(self.batch) or 1
        return self._batch_size

    def log(
        self,
        hook: str | None,
        name: str,
        value: Any,
        prog_bar: bool,
        logger: bool,
        on_step: bool | None,
        on_epoch: bool | None,
        reduce_fx: Any,
        sync_dist: bool,
        batch_size: int | None,
        reduce: Any,
        add_dataloader_idx: bool = True,
    ) -> None:
        """Record one ``self.log`` call made from ``hook`` (see ``Module.log`` for the options)."""
        entry = self.entries.get(name)
        if entry is None:
            if add_dataloader_idx and isinstance(name, str) and "/dataloader_idx_" in name:
                # Lightning's message (its tests match on it).
                raise MisconfigurationException(
                    f"You called `self.log` with the key `{name}` but it should not contain information about "
                    "`dataloader_idx` when `add_dataloader_idx=True`"
                )
            entry = self._new_entry(hook, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx, sync_dist)
            entry.add_dataloader_idx = bool(add_dataloader_idx)
            entry.hook, entry.arguments = hook, (prog_bar, logger, on_step, on_epoch, reduce_fx, sync_dist)
            self.entries[name] = entry
        elif hook == entry.hook and entry.arguments != (prog_bar, logger, on_step, on_epoch, reduce_fx, sync_dist):
            self._check_same_arguments(entry, hook, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx)
        if entry.metric is not None:
            if value is not entry.metric:
                raise ValueError(f"self.log({name!r}) was given a different metric object than before in this epoch.")
            cached = getattr(value, "_forward_cache", None)
            if cached is not None:
                entry.step_value = cached.detach()
            return
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise MisconfigurationException(
                    f"`self.log({name}, {value})` was called, but the tensor must have a single element: got shape "
                    f"{tuple(value.shape)}. Reduce it first (e.g. value.mean()) or log a torchmetrics Metric."
                )
            value = value.detach()
            if value.ndim:
                value = value.reshape(())
            if not value.is_floating_point():
                value = value.float()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = torch.tensor(float(value))
        else:
            # Lightning's wording (its tests match on it); a TypeError and a ValueError both catch it.
            raise MisconfigurationTypeError(
                f"`self.log({name}, {value})` was called, but `{type(value).__name__}` values cannot be logged. "
                "Allowed: a scalar torch.Tensor, a Python int or float, or a torchmetrics Metric."
            )
        self.reduce = reduce
        if not entry.on_epoch:
            entry.step_value = reduce(value, entry.reduce_fx) if sync_dist and self.stage == "train" else value
            return
        entry.add(value, batch_size if batch_size is not None else self._infer_batch_size())
        # Step values sync only in training, where every rank runs the same number of steps; epoch values
        # sync once, at the epoch's end (evaluation shards may differ by a batch between ranks).
        if sync_dist and entry.on_step and self.stage == "train":
            entry.step_value = reduce(value, entry.reduce_fx)

    def _check_same_arguments(self, entry, hook, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx) -> None:
        """The same name logged again in the same hook must mean the same thing (Lightning's message)."""
        again = self._new_entry(hook, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx, entry.sync_dist)
        options = ("on_step", "on_epoch", "prog_bar", "logger", "reduce_fx")
        if any(getattr(again, option) != getattr(entry, option) for option in options):
            raise MisconfigurationException(
                f"You called `self.log({name}, ...)` twice in `{hook}` with different arguments. This is not allowed"
            )

    def _new_entry(self, hook, name, value, prog_bar, logger, on_step, on_epoch, reduce_fx, sync_dist) -> _Entry:
        if not isinstance(name, str) or not name:
            raise ValueError(f"self.log needs a non-empty string name, got {name!r}.")
        if hook not in LOGGING_DEFAULTS:
            allowed = ", ".join(sorted(LOGGING_DEFAULTS))
            where = hook or "outside a hook"
            if self.stage == "predict" or (hook is not None and "predict" in hook):
                raise MisconfigurationException(  # Lightning's words
                    f"You are trying to `self.log({name!r})` but the loop's result collection is not registered yet: "
                    f"`{where}` runs in `predict`, and prediction doesn't support logging."
                )
            raise MisconfigurationException(  # Lightning's opening words (a ValueError, as flashtrain raised)
                f"You can't `self.log({name!r})` inside `{where}`: logging is not supported there. Allowed in: "
                f"{allowed}."
            )
        default_step, default_epoch = LOGGING_DEFAULTS[hook]
        on_step = default_step if on_step is None else bool(on_step)
        on_epoch = default_epoch if on_epoch is None else bool(on_epoch)
        if on_step and hook in _EPOCH_ONLY_HOOKS:
            raise ValueError(f"self.log({name!r}, on_step=True) is not allowed in {hook}: there is no step there.")
        if not (on_step or on_epoch):
            raise MisconfigurationException(
                f"`self.log({name!r}, on_step=False, on_epoch=False)` is not useful: it would record nothing. Set "
                "on_step=True, on_epoch=True or both."
            )
        metric = value if is_torchmetric(value) else None
        return _Entry(
            name,
            on_step,
            on_epoch,
            bool(prog_bar),
            bool(logger),
            _reduce_fx_name(reduce_fx),
            bool(sync_dist),
            metric=metric,
        )

    # -- reading results --------------------------------------------------------------------------------
    def step_metrics(
        self, suffix: str = ""
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(callback, logger, progress-bar) metrics for the step just finished; ``suffix`` names a dataloader."""
        callback, logged, bar = {}, {}, {}
        for entry in self.entries.values():
            if not entry.on_step or entry.step_value is None:
                continue
            value = entry.step_value
            key = f"{entry.name}_step" if entry.on_epoch else entry.name
            if suffix and entry.add_dataloader_idx:
                key += suffix
            callback[entry.name] = value
            callback[key] = value
            if entry.logger:
                logged[key] = value
            if entry.prog_bar:
                bar[key] = value
        return callback, logged, bar

    def epoch_metrics(
        self, suffix: str = ""
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(callback, logger, progress-bar) metrics reduced over the epoch; ``suffix`` names a dataloader."""
        callback, logged, bar = {}, {}, {}
        for entry in self.entries.values():
            if not entry.on_epoch:
                continue
            value = entry.epoch_value(self.reduce)
            if value is None:
                continue
            key = f"{entry.name}_epoch" if entry.on_step else entry.name
            tail = suffix if entry.add_dataloader_idx else ""
            callback[entry.name + tail] = value
            callback[key + tail] = value
            if entry.logger:
                logged[key + tail] = value
            if entry.prog_bar:
                bar[key + tail] = value
        return callback, logged, bar

    def reset(self) -> None:
        for entry in self.entries.values():
            entry.reset()
        self.entries.clear()

    def state_dict(self, reduce: Any = None) -> dict[str, Any]:
        """Each entry's options and partial epoch reduction (tensors and numbers only); ``sync_dist`` entries
        hold every rank's values when ``reduce`` (over ranks) is given."""
        return {
            name: entry.state_dict(reduce)
            for name, entry in self.entries.items()
            if entry.metric is None and entry.on_epoch
        }

    def load_state_dict(self, state: dict[str, Any], global_rank: int = 0) -> None:
        """Rebuild the entries of a part-finished epoch from a checkpoint. ``sync_dist`` entries hold every
        rank's values, so only rank 0 takes them and the other ranks start from empty."""
        self.entries = {name: _Entry(**saved) for name, saved in state.items()}
        if global_rank != 0:
            for entry in self.entries.values():
                if entry.sync_dist:
                    entry.partial, entry.partial_size = None, 0.0
