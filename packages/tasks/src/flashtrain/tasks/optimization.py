"""Optimizers and learning-rate schedules chosen by name, in the forms Lightning Flash accepted.

Optimizers: any ``torch.optim`` class by name, case-insensitive (``"adamw"``, ``"SGD"``), the class itself, a
function ``(params, lr) -> optimizer``, or ``(name, {kwargs})``.

Schedules: any ``torch.optim.lr_scheduler`` class by name (``"StepLR"``, ``"onecyclelr"``), the Hugging Face
``transformers`` schedules (``"cosine_schedule_with_warmup"``, ``"linear_schedule_with_warmup"``, ...), the
shorthands ``"onecycle"``, ``"cosine"``, ``"step"``, ``"linear_warmup"``, a function ``(optimizer) -> scheduler``,
and the tuple forms ``(name, {kwargs})`` and ``(name, {kwargs}, {"interval": "step", ...})``. Arguments that
depend on the run length (``total_steps``, ``T_max``, ``num_training_steps``) are filled in from the trainer;
a float ``num_warmup_steps`` below 1 is a fraction of the run.

Everything is checked when the task is built (unknown names, unknown or missing arguments), never silently
replaced by another schedule.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

# Flash's historical default: SGD means SGD with momentum unless the user says otherwise.
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {"sgd": {"momentum": 0.9}}
# Names a user may spell that are not torch classes.
SCHEDULER_SHORTHANDS = ("onecycle", "cosine", "step", "linear_warmup")
# Arguments that only the run knows, per scheduler: filled from the trainer's estimated step count.
_RUN_LENGTH_ARGUMENTS = {"total_steps", "T_max", "num_training_steps", "total_iters"}
# Schedules stepped per optimizer step rather than per epoch (Lightning's default interval is "epoch").
_PER_STEP = {"onecyclelr", "cycliclr"}
_SCHEDULER_CONFIG_KEYS = {"interval", "frequency", "monitor", "strict", "name"}
_NOT_BUILDABLE = {"lrscheduler", "sequentiallr", "chainedscheduler", "lambdalr", "multiplicativelr"}


def _torch_optimizers() -> dict[str, type]:
    found = {}
    for name, value in vars(torch.optim).items():
        if inspect.isclass(value) and issubclass(value, torch.optim.Optimizer) and value is not torch.optim.Optimizer:
            found[name.lower()] = value
    found.pop("lbfgs", None)  # needs a closure per step; the task's training loop does not provide one
    found.pop("sparseadam", None)  # sparse gradients only
    return found


def _torch_schedulers() -> dict[str, type]:
    module = torch.optim.lr_scheduler
    found: dict[str, type] = {}
    for name, value in vars(module).items():
        if not inspect.isclass(value) or name.startswith("_") or name.lower() in _NOT_BUILDABLE:
            continue
        # ReduceLROnPlateau is not an LRScheduler before torch 2.2
        if issubclass(value, (module.LRScheduler, module.ReduceLROnPlateau)):
            found[name.lower()] = value
    return found


def _transformers_schedules() -> dict[str, Callable]:
    """``get_<name>`` functions of ``transformers.optimization`` that build a schedule, keyed by ``<name>``."""
    try:
        import transformers.optimization as optimization
    except ImportError:  # pragma: no cover - transformers is a dependency of flashtrain-tasks
        return {}
    names = {}
    for name in dir(optimization):
        if name.startswith("get_") and "schedule" in name and name != "get_scheduler":
            names[name[len("get_") :]] = getattr(optimization, name)
    return names


def available_optimizers() -> list[str]:
    """Optimizer names accepted by ``optimizer=`` (lower case; any capitalisation works)."""
    return sorted(_torch_optimizers())


def available_lr_schedulers() -> list[str]:
    """Schedule names accepted by ``lr_scheduler=``: the shorthands, torch's and transformers' schedules."""
    from flashtrain.tasks.flash_registry import LR_SCHEDULERS

    names = set(SCHEDULER_SHORTHANDS) | set(_torch_schedulers()) | set(_transformers_schedules())
    return sorted(names | set(LR_SCHEDULERS.available_keys()))


def _split_choice(choice: Any, what: str, max_parts: int) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``name`` | ``(name, kwargs)`` | ``(name, kwargs, config)`` | ``{"name": ..., **kwargs}`` -> parts."""
    if isinstance(choice, dict):
        if "name" not in choice:
            raise ValueError(f"{what} as a dict needs a 'name' key, e.g. {{'name': 'StepLR', 'step_size': 10}}.")
        rest = dict(choice)
        return rest.pop("name"), rest, {}
    if isinstance(choice, (tuple, list)):
        if not 1 <= len(choice) <= max_parts:
            forms = "(name, {kwargs})" + (" or (name, {kwargs}, {'interval': 'step'})" if max_parts == 3 else "")
            raise ValueError(f"{what}={choice!r}: a tuple must be {forms}.")
        name, kwargs, config = (list(choice) + [{}, {}])[:3]
        for part, label in ((kwargs, "arguments"), (config, "scheduler config")):
            if not isinstance(part, dict):
                raise TypeError(f"{what}={choice!r}: the {label} must be a dict, got {type(part).__name__}.")
        return name, dict(kwargs), dict(config)
    return choice, {}, {}


def _check_arguments(target: Callable, kwargs: dict[str, Any], leading: int, filled: set[str], what: str) -> None:
    """Unknown or missing keyword arguments of ``target`` are an error now, not at the first training step."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return
    parameters = list(signature.parameters.values())[leading:]
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}
    unknown = sorted(set(kwargs) - names) if not accepts_any else []
    if unknown:
        raise TypeError(f"{what} has no argument(s) {unknown}; it takes {sorted(names)}.")
    required = [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and p.name not in kwargs
        and p.name not in filled
    ]
    if required:
        raise TypeError(f"{what} needs {required}: pass them as ({what.split()[0]!r}, {{{required[0]!r}: ...}}).")


@dataclass
class OptimizerChoice:
    """A resolved ``optimizer=`` argument: how to build the optimizer for given parameters and learning rate."""

    build: Callable[..., torch.optim.Optimizer]
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, choice: Any) -> OptimizerChoice:
        name, kwargs, _ = _split_choice(choice, "optimizer", 2)
        if isinstance(name, str):
            optimizers = _torch_optimizers()
            key = name.lower()
            if key not in optimizers:
                raise ValueError(
                    f"Unknown optimizer {name!r}. Allowed: {', '.join(available_optimizers())} (any capitalisation), "
                    "an optimizer class, a function (params, lr) -> optimizer, or (name, {kwargs})."
                )
            kwargs = {**OPTIMIZER_DEFAULTS.get(key, {}), **kwargs}
            _check_arguments(optimizers[key], kwargs, 1, {"lr"}, f"{name} optimizer")
            return cls(optimizers[key], kwargs)
        if inspect.isclass(name) and issubclass(name, torch.optim.Optimizer):
            _check_arguments(name, kwargs, 1, {"lr"}, f"{name.__name__} optimizer")
            return cls(name, kwargs)
        if callable(name):
            return cls(name, kwargs)
        raise TypeError(
            f"optimizer must be a name ({', '.join(available_optimizers()[:6])}, ...), an optimizer class, a function "
            f"(params, lr) -> optimizer, or (name, {{kwargs}}); got {type(name).__name__}."
        )

    def __call__(self, params: Any, lr: float) -> torch.optim.Optimizer:
        return self.build(params, lr=lr, **self.kwargs)

    @property
    def name(self) -> str | None:
        """The name ``optimizer=`` takes for this optimizer (``"adamw"``), or None when it is a function."""
        return self.build.__name__.lower() if inspect.isclass(self.build) else None

    def argument(self, name: str) -> Any:
        """The value the optimizer gets for its argument ``name``: the one chosen, else the optimizer's own
        default (None where there is neither, e.g. for a function)."""
        if name in self.kwargs:
            return self.kwargs[name]
        try:
            parameter = inspect.signature(self.build).parameters.get(name)
        except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
            return None
        return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


@dataclass
class SchedulerChoice:
    """A resolved ``lr_scheduler=`` argument; ``build`` makes Lightning's scheduler dict for an optimizer."""

    name: str | None
    factory: Callable[..., Any] | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, choice: Any) -> SchedulerChoice | None:
        if choice is None:
            return None
        name, kwargs, config = _split_choice(choice, "lr_scheduler", 3)
        unknown_config = sorted(set(config) - _SCHEDULER_CONFIG_KEYS)
        if unknown_config:
            raise ValueError(
                f"lr_scheduler config has unknown key(s) {unknown_config}; allowed: {sorted(_SCHEDULER_CONFIG_KEYS)}."
            )
        if config.get("interval", "epoch") not in ("epoch", "step"):
            raise ValueError(f"lr_scheduler interval must be 'epoch' or 'step', got {config['interval']!r}.")
        if isinstance(name, str):
            return cls._named(name, kwargs, config)
        if inspect.isclass(name):
            _check_arguments(name, kwargs, 1, _RUN_LENGTH_ARGUMENTS, f"{name.__name__} scheduler")
            return cls(name.__name__.lower(), name, kwargs, config).check_builds()
        if callable(name):
            return cls(None, name, kwargs, config)
        raise TypeError(
            "lr_scheduler must be None, a name (see available_lr_schedulers()), a scheduler class, a function "
            f"(optimizer) -> scheduler, or (name, {{kwargs}}[, {{config}}]); got {type(name).__name__}."
        )

    @classmethod
    def _named(cls, name: str, kwargs: dict[str, Any], config: dict[str, Any]) -> SchedulerChoice:
        from flashtrain.tasks.flash_registry import LR_SCHEDULERS

        if name in LR_SCHEDULERS:  # a recipe registered with @Task.lr_schedulers_registry
            return cls(name, LR_SCHEDULERS.get(name), kwargs, config).check_builds()
        key = name.lower()
        if key in SCHEDULER_SHORTHANDS:
            if kwargs:
                raise TypeError(f"lr_scheduler {name!r} takes no arguments; use its torch name to set them.")
            return cls(key, None, {}, config).check_builds()
        torch_schedulers = _torch_schedulers()
        if key in torch_schedulers:
            filled = _RUN_LENGTH_ARGUMENTS | ({"max_lr"} if key == "onecyclelr" else set())
            _check_arguments(torch_schedulers[key], kwargs, 1, filled, f"{name} scheduler")
            return cls(key, torch_schedulers[key], kwargs, config).check_builds()
        hf = _transformers_schedules()
        if key in hf:
            _check_arguments(hf[key], kwargs, 1, {"num_training_steps", "num_warmup_steps"}, f"{name} scheduler")
            return cls(key, hf[key], kwargs, config).check_builds()
        raise ValueError(
            f"Unknown lr_scheduler {name!r}. Allowed: {', '.join(available_lr_schedulers())} (any capitalisation), "
            "None, a scheduler class, a function (optimizer) -> scheduler, or (name, {kwargs}[, {config}])."
        )

    def build(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: float | None,
        total_epochs: int | None,
        monitor: tuple[str, str],
        budget: Any = None,
    ) -> dict[str, Any]:
        """Lightning's ``{"scheduler", "interval", ...}`` dict for ``optimizer`` over a run of ``total_steps``
        optimizer steps in ``total_epochs`` epochs (None before a trainer exists: schedules that need the run's
        length then say so); ``monitor`` is the task's (metric, mode) for plateau schedules.
        With a time ``budget`` (``Trainer(time_budget=...)``), a schedule whose length is the run's follows its plan."""
        if budget is not None and self.follows_run_length:
            from flashtrain.tasks.budget_schedule import REFERENCE_STEPS, budget_schedule

            def reference(stand_in: torch.optim.Optimizer) -> Any:
                return self.build(stand_in, REFERENCE_STEPS, REFERENCE_STEPS, monitor)["scheduler"]

            config = {**self.config, "interval": "step", "frequency": 1}
            return {"scheduler": budget_schedule(optimizer, reference, budget), **config}
        steps = max(1, int(total_steps)) if total_steps is not None else None
        interval = "step"
        if self.factory is None:
            scheduler = _shorthand(self.name or "", optimizer, self._run_length(steps))
        elif self.name in _transformers_schedules():
            kwargs = dict(self.kwargs)
            parameters = inspect.signature(self.factory).parameters
            warmup = kwargs.get("num_warmup_steps", 0)
            if isinstance(warmup, float) and 0.0 <= warmup < 1.0:  # Flash: a float is a fraction of the run
                kwargs["num_warmup_steps"] = int(round(warmup * self._run_length(steps)))
            if "num_warmup_steps" in parameters:  # get_constant_schedule takes none
                kwargs.setdefault("num_warmup_steps", 0)
            if "num_training_steps" in parameters and "num_training_steps" not in kwargs:
                kwargs["num_training_steps"] = self._run_length(steps)
            scheduler = self.factory(optimizer, **kwargs)
        elif self.name is not None and inspect.isclass(self.factory):
            kwargs = dict(self.kwargs)
            parameters = inspect.signature(self.factory).parameters
            if self.name == "onecyclelr":
                kwargs.setdefault("max_lr", [group["lr"] for group in optimizer.param_groups])
            if self.name == "reducelronplateau":
                kwargs.setdefault("mode", monitor[1])  # e.g. "max" for accuracy: torch's default "min" is wrong
            per_step = self.name in _PER_STEP or self.config.get("interval") == "step"
            for argument in _RUN_LENGTH_ARGUMENTS & set(parameters):
                if (
                    argument == "total_iters"
                    and "total_iters" not in kwargs
                    and self.name in ("linearlr", "constantlr")
                ):
                    continue  # these have a meaningful default of their own
                if argument not in kwargs:
                    steps = self._run_length(steps)
                    kwargs[argument] = steps if per_step else max(1, int(total_epochs or 1))
            build: Callable[..., Any] = self.factory  # isclass() narrowed it to a bare `type`
            scheduler = build(optimizer, **kwargs)
            interval = "step" if per_step else "epoch"
        else:
            scheduler = self.factory(optimizer, **self.kwargs)
            interval = "epoch"
        result = {"scheduler": scheduler, "interval": interval, **self.config}
        if self.name == "reducelronplateau":
            result.setdefault("monitor", monitor[0])
        return result

    def _run_length(self, steps: int | None) -> int:
        if steps is None:
            raise RuntimeError(
                f"lr_scheduler {self.name!r} is sized by the run's length, which is known once a Trainer runs: "
                "call configure_optimizers() through trainer.fit(model, ...), or give the length yourself "
                "(e.g. ('cosineannealinglr', {'T_max': 100}))."
            )
        return steps

    def check_builds(self) -> SchedulerChoice:
        """Build the schedule once on a throwaway optimizer, so a name that cannot work fails at construction
        (before, ``"constant_schedule"`` was accepted and then crashed at the first fit)."""
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        try:
            self.build(probe, 100, 10, ("val_loss", "min"))
        except Exception as error:  # any failure of the schedule's own constructor
            raise ValueError(f"lr_scheduler {self.name!r} cannot be built with {self.kwargs}: {error}") from None
        return self

    @property
    def follows_run_length(self) -> bool:
        """Whether the schedule's length is the run's (so a time budget can plan it): the shorthands, and torch or
        transformers schedules whose run-length argument is filled in from the trainer."""
        if self.factory is None:
            return True
        if self.name is None or self.name == "reducelronplateau":
            return False
        parameters = set(inspect.signature(self.factory).parameters)
        filled = (_RUN_LENGTH_ARGUMENTS & parameters) - set(self.kwargs)
        if self.name in ("linearlr", "constantlr"):
            filled.discard("total_iters")  # their default length is their own, not the run's
        return bool(filled)


def _shorthand(name: str, optimizer: torch.optim.Optimizer, steps: int) -> Any:
    schedulers = torch.optim.lr_scheduler
    if name == "onecycle":
        return schedulers.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=steps)
    if name == "cosine":
        return schedulers.CosineAnnealingLR(optimizer, T_max=steps)
    if name == "step":
        return schedulers.StepLR(optimizer, step_size=max(1, steps // 3), gamma=0.1)
    warmup = max(1, steps // 10)  # linear_warmup: 10% warm-up, then linear decay to zero
    return schedulers.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
