"""Reading ``configure_optimizers`` (every Lightning return form) and wrapping optimizers for the trainer."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from flashtrain.core.exceptions import (
    MisconfigurationException,
    MisconfigurationRuntimeError,
    MisconfigurationTypeError,
)

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
    # Stepped with the monitored value: a ReduceLROnPlateau, or a scheduler of another kind marked so in its dict.
    reduce_on_plateau: bool = False
    given_keys: tuple[str, ...] = field(default=(), compare=False, repr=False)  # the user's lr_scheduler dict keys

    def __post_init__(self) -> None:
        self.reduce_on_plateau = bool(self.reduce_on_plateau) or isinstance(self.scheduler, ReduceLROnPlateau)


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
        if "scheduler" not in value:
            raise MisconfigurationException(
                'The lr scheduler dict must have the key "scheduler" with its item being an lr scheduler; got keys '
                f"{sorted(value)}."
            )
        if unknown:  # Lightning warns and ignores them; a misspelt "monitor" would then be lost silently
            raise MisconfigurationException(
                f"Found unsupported keys in the lr scheduler dict: {sorted(unknown)}. It may have scheduler, "
                "interval, frequency, monitor, strict, name."
            )
        config = LRSchedulerConfig(
            scheduler=value["scheduler"],
            interval=value.get("interval", "epoch"),
            frequency=value.get("frequency", 1),
            monitor=value.get("monitor", default_monitor),
            strict=value.get("strict", True),
            name=value.get("name"),
            reduce_on_plateau=value.get("reduce_on_plateau", False),
            given_keys=tuple(value),
        )
    else:
        config = LRSchedulerConfig(scheduler=value, monitor=default_monitor)
    if config.interval not in _INTERVALS:
        raise MisconfigurationException(
            f'The "interval" key in lr scheduler dict must be "step" or "epoch" but is "{config.interval}"'
        )
    if not isinstance(config.frequency, int) or config.frequency < 1:
        raise ValueError(f"lr_scheduler frequency must be a positive int, got {config.frequency!r}.")
    return config


# In manual optimization the user steps schedulers; these keys only steer the trainer's stepping (Lightning's list).
_AUTOMATIC_ONLY_KEYS = ("reduce_on_plateau", "monitor", "strict")


def check_schedulers(configs: list[LRSchedulerConfig], automatic: bool, custom_step: bool) -> None:
    """What the trainer needs of each scheduler: state to checkpoint always; in automatic optimization a torch
    scheduler (or an ``lr_scheduler_step`` override to step another kind) and a monitor for ReduceLROnPlateau.
    In manual optimization the trainer steps nothing, so it drops (and warns about) the keys that would steer
    it, as Lightning does."""
    for config in configs:
        name = type(config.scheduler).__name__
        if not (
            callable(getattr(config.scheduler, "state_dict", None)) and hasattr(config.scheduler, "load_state_dict")
        ):
            raise MisconfigurationTypeError(
                f"The provided lr scheduler `{name}` is invalid: it needs state_dict() and load_state_dict() so "
                "checkpoints can hold it."
            )
        if not automatic:
            ignored = [key for key in config.given_keys if key in _AUTOMATIC_ONLY_KEYS]
            if ignored:
                warnings.warn(
                    f"The lr scheduler dict contains the key(s) {ignored}, but the keys will be ignored. You need to "
                    "call `lr_scheduler.step()` manually in manual optimization.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            config.monitor, config.strict = None, True
            continue
        is_torch = isinstance(config.scheduler, (torch.optim.lr_scheduler.LRScheduler, ReduceLROnPlateau))
        if not is_torch and not custom_step:
            raise MisconfigurationException(
                f"The provided lr scheduler `{name}` doesn't follow PyTorch's LRScheduler API. You should override "
                "the `LightningModule.lr_scheduler_step` hook with your own logic if you are using a custom LR "
                "scheduler."
            )
        if config.reduce_on_plateau and config.monitor is None:
            raise MisconfigurationException(
                "`configure_optimizers` must include a monitor when a `ReduceLROnPlateau` scheduler is used. For "
                "example: {'optimizer': opt, 'lr_scheduler': {'scheduler': sched, 'monitor': 'val_loss'}}."
            )


class NoOptimizer(torch.optim.Optimizer):
    """What a fit steps when ``configure_optimizers`` returned ``None`` (Lightning's documented "fit will run
    without any optimizer"): ``step`` only evaluates the closure, so the loop, its hooks and the logging run
    unchanged and no weight moves. Our own class because torch has no such optimizer."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(1)], {})  # torch refuses an empty parameter list

    def step(self, closure: Any = None) -> Any:
        return closure() if closure is not None else None

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return "No Optimizer"


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
            raise MisconfigurationException(
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
            raise MisconfigurationTypeError(
                "Unknown configuration for model optimizers. configure_optimizers must return an optimizer, a list "
                "of optimizers, (optimizers, schedulers), or a dict with 'optimizer' and optional 'lr_scheduler'; "
                f"found {type(optimizer).__name__} where an optimizer was expected."
            )
    for config in schedulers:
        attached = getattr(config.scheduler, "optimizer", None)
        if attached is not None and not any(attached is optimizer for optimizer in optimizers):
            raise MisconfigurationException(
                "Some schedulers are attached with an optimizer that wasn't returned from `configure_optimizers`: "
                f"{type(config.scheduler).__name__} steps an optimizer configure_optimizers did not return."
            )
    return optimizers, schedulers


def refuse_optimizer_idx(module: Any) -> None:
    """Lightning 1.x's ``training_step(batch, batch_idx, optimizer_idx)`` (one call per optimizer) is gone in 2.x:
    refused with Lightning's message rather than called with a missing argument."""
    import inspect

    try:
        parameters = inspect.signature(module.training_step).parameters
    except (TypeError, ValueError):  # a builtin or an object inspect cannot read: nothing to check
        return
    if "optimizer_idx" in parameters:
        raise MisconfigurationRuntimeError(
            "Training with multiple optimizers is only supported with manual optimization. Remove the "
            "`optimizer_idx` argument from `training_step`, set `self.automatic_optimization = False` and access "
            "your optimizers in `training_step` with `opt1, opt2, ... = self.optimizers()`."
        )


class ManagedOptimizer:
    """An optimizer as the module sees it (Lightning's ``LightningOptimizer``): ``step`` goes through the precision
    plugin. In manual optimization each ``step`` counts as a global step at once; in automatic optimization the
    loop counts it after the module's ``optimizer_step`` returns (so ``trainer.global_step`` read inside it is
    Lightning's). Built from an optimizer alone (``ManagedOptimizer(opt)``) it steps it directly.

    As with Lightning's wrapper, the object is also an instance of the wrapped optimizer's class (``isinstance(w,
    torch.optim.Adam)``; its repr reads ``LightningAdam (...)``) and every attribute it does not define itself
    (``state``, ``param_groups``, ``defaults``...) is read from the wrapped optimizer, the one owner of that state."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        precision: Any = None,
        progress: Any = None,
        counts_steps: bool = False,
        hooks: Any = None,
    ) -> None:
        self.optimizer = optimizer
        self._precision = precision
        self._progress = progress
        self._counts_steps = counts_steps
        self._hooks = hooks  # manual optimization: on_before_optimizer_step runs inside step, after the closure
        self.__class__ = _wrapper_class(type(optimizer))

    def step(self, closure: Any = None, **kwargs: Any) -> Any:
        """Step through the precision plugin; ``kwargs`` go to the optimizer's own ``step`` (Lightning's form).

        In manual optimization, as Lightning's ``LightningOptimizer.step``: the closure (if any) runs first, then
        the gradients are unscaled (mixed precision) and ``on_before_optimizer_step`` runs, then the update."""
        if self._hooks is not None:
            closure = self._closure_then_hook(closure)
        if self._precision is None:  # built by hand around an optimizer: a plain step
            return self.optimizer.step(closure=closure, **kwargs)
        result = self._precision.optimizer_step(self.optimizer, closure, **kwargs)
        if self._counts_steps:
            self._progress.optimizer_stepped()
        return result

    def _closure_then_hook(self, closure: Any) -> Any:
        def wrapped() -> Any:
            result = closure() if closure is not None else None
            self._precision.unscale_gradients(self.optimizer)
            self._hooks.call("on_before_optimizer_step", self)
            return result

        return wrapped

    def step_evaluated(self, loss: torch.Tensor | None) -> None:
        """Step after the trainer already ran the closure; no update when it returned None (a skipped batch)."""
        if loss is not None:
            self._precision.optimizer_step(self.optimizer, None)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def __reduce__(self) -> tuple[Any, ...]:
        # The per-optimizer class ("LightningSGD") is made at run time, so pickle cannot find it by name: pickle
        # the wrapped optimizer's class and this object's attributes, and make the class again when loading.
        return (_rebuild_managed_optimizer, (type(self.optimizer), dict(self.__dict__)))

    def __getattr__(self, name: str) -> Any:
        if name == "optimizer":  # not set yet (a copy or unpickling in progress): no recursion into itself
            raise AttributeError(name)
        return getattr(self.optimizer, name)


_WRAPPER_CLASSES: dict[type, type] = {}


def _rebuild_managed_optimizer(optimizer_class: type, attributes: dict[str, Any]) -> ManagedOptimizer:
    """The unpickled form of a :class:`ManagedOptimizer` (see its ``__reduce__``)."""
    wrapper: Any = object.__new__(_wrapper_class(optimizer_class))
    wrapper.__dict__.update(attributes)
    return cast(ManagedOptimizer, wrapper)


def _wrapper_class(optimizer_class: type) -> type:
    """``ManagedOptimizer`` that is also an ``optimizer_class`` (one class per optimizer class, made once)."""
    wrapper = _WRAPPER_CLASSES.get(optimizer_class)
    if wrapper is None:
        wrapper = type("Lightning" + optimizer_class.__name__, (ManagedOptimizer, optimizer_class), {})
        _WRAPPER_CLASSES[optimizer_class] = wrapper
    return wrapper


class Optimization:
    """The optimizers and LR schedulers of the run, as ``configure_optimizers`` returned them, and stepping the
    schedulers (``trainer.optimizers``, ``trainer.lr_scheduler_configs`` read from here)."""

    def __init__(self, strategy: Any, progress: Any) -> None:
        self.strategy = strategy
        self.progress = progress
        self.optimizers: list[torch.optim.Optimizer] = []
        self.lr_scheduler_configs: list[LRSchedulerConfig] = []
        self.managed: list[ManagedOptimizer] = []  # what the module's self.optimizers() returns
        self.clips_gradients = False

    def configure(self, module: Any, hooks: Any, accumulate_grad_batches: int, gradient_clip_val: float | None) -> None:
        """Call ``configure_optimizers`` and check its result against the optimization mode."""
        returned = hooks.call_module("configure_optimizers")
        if returned is None:  # Lightning's documented return for "no optimizer": said loudly, then honoured
            from flashtrain.core.utilities.rank_zero import rank_zero_warn

            rank_zero_warn(
                f"`{type(module).__name__}.configure_optimizers` returned `None`, this fit will run with no optimizer "
                "(no weight is updated). Return an optimizer if that was not the intent.",
                stacklevel=2,
            )
            returned = NoOptimizer()
        optimizers, schedulers = parse_optimizers(returned)
        automatic = module.automatic_optimization
        if automatic:
            refuse_optimizer_idx(module)
        check_schedulers(schedulers, automatic, hooks.module_overrides("lr_scheduler_step"))
        if automatic:
            if not optimizers:
                raise ValueError(
                    f"{type(module).__name__}.configure_optimizers() returned no optimizer; automatic "
                    "optimization needs one."
                )
            if len(optimizers) > 1:
                raise MisconfigurationRuntimeError(  # Lightning's words, then ours
                    "Training with multiple optimizers is only supported with manual optimization: "
                    f"configure_optimizers returned {len(optimizers)} optimizers. Automatic optimization uses one; "
                    "for several (e.g. GANs) set self.automatic_optimization = False and step them in training_step "
                    "(`opt1, opt2, ... = self.optimizers()`)."
                )
        self.optimizers = optimizers
        self.lr_scheduler_configs = schedulers
        precision = self.strategy.precision
        manual_hooks = None if automatic else hooks
        self.managed = [
            ManagedOptimizer(opt, precision, self.progress, not automatic, manual_hooks) for opt in optimizers
        ]
        self.clips_gradients = bool(gradient_clip_val) or hooks.module_overrides("configure_gradient_clipping")

    def replace_schedulers(self, schedulers: list[Any], interval: str = "epoch") -> None:
        """Use these schedulers instead of the module's from now on (e.g. SWALR for stochastic weight averaging)."""
        self.lr_scheduler_configs[:] = [LRSchedulerConfig(scheduler=s, interval=interval) for s in schedulers]

    def for_module(self, wrapped: bool) -> list[Any]:
        return self.managed if wrapped else self.optimizers

    def step_schedulers(
        self, interval: str, hooks: Any, metrics: dict[str, torch.Tensor], plateau: bool | None = None
    ) -> None:
        """Step the schedulers of ``interval`` ("step" or "epoch") that are due, through ``lr_scheduler_step``
        (only the ReduceLROnPlateau ones with ``plateau=True``, only the others with ``plateau=False``)."""
        progress = self.progress
        for config in self.lr_scheduler_configs:
            if config.interval != interval or (plateau is not None and config.reduce_on_plateau != plateau):
                continue
            count = progress.batches_that_stepped if interval == "step" else progress.current_epoch + 1  # just counted
            if count % config.frequency != 0:
                continue
            value: float | None = None
            if config.reduce_on_plateau:
                logged = metrics.get(config.monitor) if config.monitor is not None else None
                if logged is None:
                    if config.strict:
                        raise MisconfigurationException(
                            f"ReduceLROnPlateau conditioned on metric {config.monitor} which is not available. "
                            f"Available metrics are: {sorted(metrics)}. Log it with self.log({config.monitor!r}, "
                            "...) or set strict=False in the lr_scheduler dict."
                        )
                    warnings.warn(  # Lightning's words
                        f"ReduceLROnPlateau conditioned on metric {config.monitor} which is not available but strict "
                        "is set to `False`. Skipping learning rate update.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
                value = float(logged)
            hooks.call_module("lr_scheduler_step", config.scheduler, value)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint's ``optimizer_states`` and ``lr_schedulers``."""
        return {
            "optimizer_states": [self.strategy.optimizer_state_dict(opt) for opt in self.optimizers],
            "lr_schedulers": [config.scheduler.state_dict() for config in self.lr_scheduler_configs],
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        for optimizer, state in zip(self.optimizers, checkpoint["optimizer_states"]):
            self.strategy.load_optimizer_state_dict(optimizer, state)
        for config, state in zip(self.lr_scheduler_configs, checkpoint.get("lr_schedulers", [])):
            config.scheduler.load_state_dict(state)
