"""Flags whose default is the task's own recipe (optimizer, weight decay, schedule, learning rate, epochs, backbone,
...): left out of the command line, the flag is "not given" and the task class's default applies, so the CLI can
never train a different recipe than ``ImageClassifier(...)`` with the same arguments.

A flag that is not given holds a :class:`TaskDefault` while argparse parses. ``--help`` shows its value, which is
the task's declared default in :mod:`flashtrain.tasks.registry` (the task classes read their defaults from there;
the registry imports neither torch nor the task, so ``--help`` stays instant). :class:`~flashtrain.cli.options.
RunOptions` resolves each to its value once, remembering which options were given; once the model is built,
:func:`record_recipe` returns the options with the recipe the model resolved, which is what ``config.yaml`` records.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from flashtrain.tasks import registry

# Task classes by command, as (module, class name): a view of the registry, not a table of its own.
TASK_CLASSES = {spec.name: tuple(spec.model.split(":")) for spec in registry.tasks()}


@dataclass(frozen=True)
class TaskDefault:
    """ "Not given": stands for the default of ``name`` in the task class of ``command``. ``part`` picks the name
    (``"name"``) or the weight decay (``"weight_decay"``) out of an optimizer default such as
    ``("adamw", {"weight_decay": 0.05})``."""

    command: str
    name: str
    part: str | None = None

    def raw(self) -> Any:
        """The default as the task declares it (e.g. the whole optimizer tuple)."""
        return registry.defaults(self.command)[self.name]

    def value(self) -> Any:
        """The default in the flag's terms: an optimizer name, a number, None for "the optimizer's own"."""
        value = self.raw()
        if self.part == "name":
            return optimizer_parts(value)[0]
        if self.part == "weight_decay":
            return optimizer_parts(value)[1].get("weight_decay")
        return value

    def __str__(self) -> str:  # what --help prints after "default:"
        value = self.value()
        if value is None:
            return "the optimizer's own" if self.part == "weight_decay" else "none"
        return str(value)


def optimizer_parts(value: Any) -> tuple[str, dict[str, Any]]:
    """``"adamw"`` -> ("adamw", {}); ``("adamw", {"weight_decay": 0.05})`` -> ("adamw", {"weight_decay": 0.05})."""
    if isinstance(value, str):
        return value, {}
    name, kwargs = (list(value) + [{}])[:2]
    return str(name), dict(kwargs)


def task_default(command: str, name: str, part: str | None = None) -> TaskDefault:
    return TaskDefault(command, name, part)


def given(options: Any, name: str) -> bool:
    """Whether ``--name`` was given (on the command line or in a --config file) rather than left to the task; for
    :class:`~flashtrain.cli.options.RunOptions` or argparse's namespace."""
    if isinstance(options, argparse.Namespace):
        return not isinstance(getattr(options, name, None), TaskDefault)
    return bool(options.given(name))


def model_options(options: Any, *names: str) -> dict[str, Any]:
    """The task arguments among ``names`` that were given: those not given are left to the task's defaults."""
    return {name: _value(options, name) for name in names if given(options, name)}


def _value(options: Any, name: str) -> Any:
    value = getattr(options, name)
    return value.value() if isinstance(value, TaskDefault) else value


def optimization_options(options: Any) -> dict[str, Any]:
    """``optimizer=``, ``lr_scheduler=``, ``learning_rate=`` for the task, each only if its flags were given.

    ``--weight-decay`` not given keeps the task's weight decay when the optimizer is the task's (also when
    ``--optimizer`` names it), and otherwise the chosen optimizer's own default: 0.05 tuned for AdamW is not
    carried over to SGD."""
    chosen = model_options(options, "learning_rate")
    if given(options, "lr_scheduler"):
        chosen["lr_scheduler"] = None if str(options.lr_scheduler).lower() == "none" else options.lr_scheduler
    if given(options, "optimizer") or given(options, "weight_decay"):
        default_name, default_kwargs = optimizer_parts(task_default(options.task, "optimizer").raw())
        name = options.optimizer if given(options, "optimizer") else default_name
        kwargs = dict(default_kwargs) if name.lower() == default_name.lower() else {}
        if given(options, "weight_decay"):
            kwargs["weight_decay"] = options.weight_decay
        chosen["optimizer"] = (name, kwargs) if kwargs else name
    return chosen


def record_recipe(options: Any, model: Any) -> Any:
    """The options (:class:`~flashtrain.cli.options.RunOptions`) with the recipe as the model resolved it, which
    config.yaml records: the optimizer, weight decay, schedule and learning rate."""
    recorded: dict[str, Any] = {"learning_rate": model.learning_rate}
    optimizer = model.optimizer_choice
    if optimizer.name is not None:
        recorded["optimizer"] = optimizer.name
        recorded["weight_decay"] = optimizer.argument("weight_decay")
    scheduler = model.scheduler_choice
    recorded["lr_scheduler"] = "none" if scheduler is None else scheduler.name or options.lr_scheduler
    return options.replace(**recorded)
