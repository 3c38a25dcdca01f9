"""Every task once: its name, where its parts live (``"module:Class"`` strings), and its declared recipe defaults.

    from flashtrain.tasks import registry
    spec = registry.get("image_classification")
    model_class = registry.load(spec.model)

Strings only, and no import of torch or of any task: ``flash-train --help`` reads this module to build its commands
and show their defaults. Every table that used to spell a task name (prediction, export, the CLI's commands, its
recipe defaults) asks here, so adding a task touches this registry and the task's own folder only; a task that lives
elsewhere (a plugin, a test) is added with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class TaskSpec:
    """What the rest of flashtrain needs to know about one task.

    Args:
        name: The task's name: the CLI command, and what checkpoints record (``checkpoint["task"]``).
        kind: ``"classification"`` or ``"regression"`` (predict's default output, how results are reported).
        model, data, predictor: ``"module:Class"`` of the task model, its data class and its :class:`Predictor`.
        command: The module of its ``flash-train`` command (``add_parser(subparsers, spec)`` and ``run(options)``).
        export_graph: ``"module:function"`` that builds the export graph from a predictor (None: not exportable).
        backbones: ``"module:function"`` listing the backbone names, ``function(filter=None)`` (None: any name of an
            open family, e.g. a Hugging Face model, is accepted and there is no list).
        inputs: What ``flash-train predict`` reads for it: ``"files"`` (``--files``), ``"table"`` (``--file``) or
            ``"texts"`` (``--text`` / ``--file``).
        help: The command's one-line help.
        flash_zero_names: Other names Flash Zero gave its command (``flash tabular_classifier``), accepted as aliases.
        defaults: The task's recipe as the model and data classes declare it (the classes read their defaults from
            here): ``backbone``, ``optimizer``, ``lr_scheduler``, ``learning_rate``, ``max_epochs``, ``batch_size``
            and any task-specific ones. The CLI shows them in ``--help`` and leaves flags not given to them.
    """

    name: str
    kind: str
    model: str
    data: str
    predictor: str
    command: str
    export_graph: str | None = None
    backbones: str | None = None
    inputs: str = "files"
    help: str = ""
    flash_zero_names: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"TaskSpec {self.name!r}: kind={self.kind!r} is not one of {KINDS}.")
        if self.inputs not in INPUTS:
            raise ValueError(f"TaskSpec {self.name!r}: inputs={self.inputs!r} is not one of {INPUTS}.")
        for part in ("model", "data", "predictor"):
            if ":" not in getattr(self, part):
                raise ValueError(f"TaskSpec {self.name!r}: {part} must be 'module:Class', got {getattr(self, part)!r}.")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def load(self, part: str) -> Any:
        """The object a part names (``"model"``, ``"data"``, ``"predictor"``, ``"export_graph"``, ``"backbones"``),
        imported now."""
        target = getattr(self, part)
        if target is None:
            raise ValueError(f"the {self.name} task has no {part}.")
        return load(target)


KINDS = ("classification", "regression")
INPUTS = ("files", "table", "texts")

_TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Add a task (``replace=True`` to redefine one already registered)."""
    if spec.name in _TASKS and not replace:
        raise ValueError(f"a task named {spec.name!r} is already registered; pass replace=True to redefine it.")
    _TASKS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _TASKS.pop(name, None)


def get(name: str) -> TaskSpec:
    """The task called ``name``; a ValueError naming the known tasks if there is none."""
    spec = _TASKS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"no task named {name!r}; known tasks: {', '.join(_TASKS)}.")
    return spec


def find(name: Any) -> TaskSpec | None:
    """The task called ``name``, or None."""
    return _TASKS.get(name) if isinstance(name, str) else None


def names() -> list[str]:
    """The registered task names, in registration order (the order of ``flash-train --help``)."""
    return list(_TASKS)


def tasks() -> list[TaskSpec]:
    return list(_TASKS.values())


def defaults(name: str) -> Mapping[str, Any]:
    """The declared recipe defaults of the task called ``name``."""
    return get(name).defaults


def load(target: str) -> Any:
    """The object ``"package.module:Name"`` (or ``"package.module:Class.attribute"``) names."""
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module)
    for name in attribute.split(".") if attribute else ():
        found = getattr(found, name)
    return found


_TABULAR_DEFAULTS = {
    "backbone": "mlp",
    "optimizer": "adamw",
    "lr_scheduler": None,
    "learning_rate": 1e-3,
    "max_epochs": 30,  # tables are small and epochs short: 10 epochs underfit
    "batch_size": None,  # None: the data class sizes it from the training rows
}

register(
    TaskSpec(
        name="image_classification",
        kind="classification",
        model="flashtrain.tasks.image.model:ImageClassifier",
        data="flashtrain.tasks.image.data:ImageClassificationData",
        predictor="flashtrain.tasks.image.predictor:ImagePredictor",
        command="flashtrain.cli.commands.image_classification",
        export_graph="flashtrain.tasks.image.export:export_graph",
        backbones="flashtrain.tasks.image.backbones:available_backbones",
        inputs="files",
        help="train an image classifier (timm or torchvision backbone)",
        defaults={
            "backbone": "resnet18",
            "optimizer": ("adamw", {"weight_decay": 0.05}),
            "lr_scheduler": "onecycle",
            "learning_rate": 2e-3,
            "max_epochs": 10,
            "batch_size": 64,  # the batch the recipe was measured with
            "label_smoothing": 0.1,
            "mixup_alpha": 0.0,
            "cutmix_alpha": 0.0,
        },
    )
)
register(
    TaskSpec(
        name="text_classification",
        kind="classification",
        model="flashtrain.tasks.text.model:TextClassifier",
        data="flashtrain.tasks.text.data:TextClassificationData",
        predictor="flashtrain.tasks.text.predictor:TextPredictor",
        command="flashtrain.cli.commands.text_classification",
        export_graph="flashtrain.tasks.text.export:export_graph",
        inputs="texts",
        help="fine-tune a transformer to classify texts",
        defaults={
            "backbone": "prajjwal1/bert-tiny",
            "optimizer": "adamw",
            "lr_scheduler": None,
            "learning_rate": 1e-3,
            "max_epochs": 3,  # fine-tuning a pretrained encoder: a few epochs
            "batch_size": 32,
            "max_length": 128,
            "backbone_learning_rate": 5e-5,
            "pooling": "auto",
            "label_smoothing": 0.0,
        },
    )
)
register(
    TaskSpec(
        name="tabular_classification",
        kind="classification",
        flash_zero_names=("tabular_classifier",),  # Flash's tabular page spells its Flash Zero command so
        model="flashtrain.tasks.tabular.model:TabularClassifier",
        backbones="flashtrain.tasks.tabular.model:TabularClassifier.available_backbones",
        data="flashtrain.tasks.tabular.data:TabularClassificationData",
        predictor="flashtrain.tasks.tabular.predictor:TabularPredictor",
        command="flashtrain.cli.commands.tabular",
        export_graph="flashtrain.tasks.tabular.export:export_graph",
        inputs="table",
        help="train a classifier on a table (mlp, resnet, ft_transformer or tabnet)",
        defaults=_TABULAR_DEFAULTS,
    )
)
register(
    TaskSpec(
        name="tabular_regression",
        kind="regression",
        model="flashtrain.tasks.tabular.model:TabularRegressor",
        backbones="flashtrain.tasks.tabular.model:TabularRegressor.available_backbones",
        data="flashtrain.tasks.tabular.data:TabularRegressionData",
        predictor="flashtrain.tasks.tabular.predictor:TabularPredictor",
        command="flashtrain.cli.commands.tabular",
        export_graph="flashtrain.tasks.tabular.export:export_graph",
        inputs="table",
        help="train a regressor on a table (mlp, resnet, ft_transformer or tabnet)",
        defaults=_TABULAR_DEFAULTS,
    )
)
