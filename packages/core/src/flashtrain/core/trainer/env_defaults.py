"""Trainer arguments from the environment: ``PL_TRAINER_<ARGUMENT>=value`` (Lightning's documented variables, so a
cluster script written for Lightning configures flashtrain the same way).

An argument passed in code wins over the variable. Values are read as Python literals (``"7"`` is 7, ``"False"``
is False); anything else stays a string (``PL_TRAINER_ACCELERATOR=cpu``).
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

_Init = TypeVar("_Init", bound=Callable[..., None])


def arguments_from_environment(cls: type, names: list[str]) -> dict[str, Any]:
    """``{argument: value}`` for each of ``names`` set as ``PL_<CLASS>_<ARGUMENT>`` in the environment."""
    found: dict[str, Any] = {}
    for name in names:
        raw = os.environ.get(f"PL_{cls.__name__.upper()}_{name.upper()}")
        if raw is None or raw == "":
            continue
        try:
            found[name] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            found[name] = raw
    return found


def defaults_from_environment(init: _Init) -> _Init:
    """Wrap ``Trainer.__init__`` so that ``PL_TRAINER_*`` variables fill in the arguments not passed."""
    names = [name for name in inspect.signature(init).parameters if name != "self"]

    @functools.wraps(init)
    def __init__(trainer: Any, *args: Any, **kwargs: Any) -> None:
        init(trainer, *args, **{**arguments_from_environment(type(trainer), names), **kwargs})

    return __init__  # type: ignore[return-value]
