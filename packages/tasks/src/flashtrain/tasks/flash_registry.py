"""Lightning Flash's registry spellings on our tasks: ``@ImageClassifier.backbones(name=...)``,
``@Task.lr_schedulers_registry`` and the ``available_*`` class methods Flash users call.

One registry each, shared by every task (Flash kept one per class; a name registered on one task class is usable
from the others here, which no Flash program can tell apart). Registered backbones are functions returning
``(module, num_features)`` (Flash's contract), called with ``pretrained=`` and the ``backbone_kwargs``;
registered schedules are functions ``(optimizer) -> scheduler``. A registered name shadows nothing: registering a
name that already exists is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FINETUNING_STRATEGIES = ["no_freeze", "freeze", "freeze_unfreeze", "unfreeze_milestones"]


class FunctionRegistry:
    """Flash's ``FlashRegistry`` call forms: ``@registry``, ``@registry(name=...)``, ``registry(fn, name=...)``,
    plus ``get(name)`` and ``available_keys()``."""

    def __init__(self, what: str, taken: Callable[[str], bool] = lambda name: False) -> None:
        self.what = what
        self.functions: dict[str, Callable[..., Any]] = {}
        self.taken = taken

    def __call__(self, fn: Callable[..., Any] | None = None, name: str | None = None, **metadata: Any) -> Any:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            key = name or function.__name__
            if key in self.functions or self.taken(key):
                raise ValueError(f"{self.what} {key!r} is already registered; pick another name.")
            self.functions[key] = function
            return function

        return register(fn) if fn is not None else register

    def get(self, name: str) -> Callable[..., Any]:
        return self.functions[name]

    def __contains__(self, name: object) -> bool:
        return name in self.functions

    def available_keys(self) -> list[str]:
        return sorted(self.functions)


IMAGE_BACKBONES = FunctionRegistry("image backbone")
LR_SCHEDULERS = FunctionRegistry("lr_scheduler")


class FlashRegistries:
    """Mixed into :class:`flashtrain.tasks.task.Task`: the registry names and ``available_*`` of Flash's Task."""

    lr_schedulers_registry = LR_SCHEDULERS

    @classmethod
    def available_finetuning_strategies(cls) -> list[str]:
        """The ``strategy=`` names of ``trainer.finetune`` (the last two take a tuple, see its doc)."""
        return list(FINETUNING_STRATEGIES)
