"""Flags whose default is the task's own recipe (optimizer, weight decay, schedule, learning rate, epochs, backbone,
...): left out of the command line, the flag is "not given" and the task class's default applies, so the CLI can
never train a different recipe than ``ImageClassifier(...)`` with the same arguments.

A flag that is not given holds a :class:`TaskDefault`. ``--help`` shows its value, which is read from the task
class's source (the ``__init__`` signature and class attributes) with ``ast`` instead of importing the class: a task
imports torch, and ``--help`` must stay instant (tests/cli/test_recipe.py checks that what is read here is what the
imported class has). Once the model is built, :func:`record_recipe` replaces each ``TaskDefault`` with the value the
run used, which is what ``config.yaml`` records.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

# Task classes by command, as (module file under flashtrain/tasks, class name).
TASK_CLASSES = {
    "image_classification": ("image/model.py", "ImageClassifier"),
    "text_classification": ("text/model.py", "TextClassifier"),
    "tabular_classification": ("tabular/model.py", "TabularClassifier"),
    "tabular_regression": ("tabular/model.py", "TabularRegressor"),
}
# Flags read from the class attribute of the same meaning rather than an ``__init__`` argument.
CLASS_ATTRIBUTES = {"max_epochs": "default_max_epochs"}


@dataclass(frozen=True)
class TaskDefault:
    """ "Not given": stands for the default of ``name`` in the task class of ``command``. ``part`` picks the name
    (``"name"``) or the weight decay (``"weight_decay"``) out of an optimizer default such as
    ``("adamw", {"weight_decay": 0.05})``."""

    command: str
    name: str
    part: str | None = None

    def raw(self) -> Any:
        """The default as the class declares it (e.g. the whole optimizer tuple)."""
        module, class_name = TASK_CLASSES[self.command]
        return class_defaults(module, class_name)[CLASS_ATTRIBUTES.get(self.name, self.name)]

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


def given(args: argparse.Namespace, name: str) -> bool:
    """Whether ``--name`` was given (on the command line or in a --config file) rather than left to the task."""
    return not isinstance(getattr(args, name, None), TaskDefault)


def model_options(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The task arguments among ``names`` that were given: those not given are left to the task's defaults."""
    return {name: getattr(args, name) for name in names if given(args, name)}


def optimization_options(args: argparse.Namespace) -> dict[str, Any]:
    """``optimizer=``, ``lr_scheduler=``, ``learning_rate=`` for the task, each only if its flags were given.

    ``--weight-decay`` not given keeps the task's weight decay when the optimizer is the task's (also when
    ``--optimizer`` names it), and otherwise the chosen optimizer's own default: 0.05 tuned for AdamW is not
    carried over to SGD."""
    options = model_options(args, "learning_rate")
    if given(args, "lr_scheduler"):
        options["lr_scheduler"] = None if str(args.lr_scheduler).lower() == "none" else args.lr_scheduler
    if given(args, "optimizer") or given(args, "weight_decay"):
        default_name, default_kwargs = optimizer_parts(task_default(args.task, "optimizer").raw())
        name = args.optimizer if given(args, "optimizer") else default_name
        kwargs = dict(default_kwargs) if name.lower() == default_name.lower() else {}
        if given(args, "weight_decay"):
            kwargs["weight_decay"] = args.weight_decay
        options["optimizer"] = (name, kwargs) if kwargs else name
    return options


def record_recipe(args: argparse.Namespace, model: Any) -> None:
    """Every flag left to the task now holds the value the run uses (config.yaml records them): the optimizer,
    weight decay, schedule and learning rate as the model resolved them, the others from the task's defaults."""
    optimizer = model.optimizer_choice
    if optimizer.name is not None:
        args.optimizer = optimizer.name
        args.weight_decay = optimizer.argument("weight_decay")
    scheduler = model.scheduler_choice
    args.lr_scheduler = "none" if scheduler is None else scheduler.name or args.lr_scheduler
    args.learning_rate = model.learning_rate
    resolve_defaults(args)


def resolve_defaults(args: argparse.Namespace) -> None:
    """Each flag still left to the task takes the task's default value."""
    for name, value in vars(args).items():
        if isinstance(value, TaskDefault):
            setattr(args, name, value.value())


@functools.cache
def class_defaults(module: str, class_name: str) -> dict[str, Any]:
    """The literal defaults of ``class_name``'s ``__init__`` arguments and class attributes in
    ``flashtrain/tasks/<module>``, including those of its base classes defined in the same file."""
    spec = importlib.util.find_spec("flashtrain.tasks")  # finds the package without importing it (or torch)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("flashtrain-tasks is not installed: pip install -e packages/tasks")
    path = os.path.join(list(spec.submodule_search_locations)[0], module)
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    if class_name not in classes:
        raise LookupError(f"{path} defines no class {class_name}")
    return _defaults(classes[class_name], classes)


def _defaults(node: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for base in reversed(node.bases):  # the first base wins, as in the class's method resolution order
        if isinstance(base, ast.Name) and base.id in classes:
            found.update(_defaults(classes[base.id], classes))
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        elif isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            arguments = statement.args
            positional = arguments.posonlyargs + arguments.args
            pairs = list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults))
            pairs += [(arg, default) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default]
            for argument, default in pairs:
                _add_literal(found, argument.arg, default)
            continue
        else:
            continue
        if isinstance(target, ast.Name):
            _add_literal(found, target.id, value)
    return found


def _add_literal(found: dict[str, Any], name: str, node: ast.expr) -> None:
    try:
        found[name] = ast.literal_eval(node)
    except ValueError:  # not a literal (a constant's name, a call): not a default the CLI shows
        found.pop(name, None)
