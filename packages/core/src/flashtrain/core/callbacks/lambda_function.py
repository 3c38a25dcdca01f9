"""``LambdaCallback``: a callback built from plain functions, one per hook (Lightning's ``LambdaCallback``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flashtrain.core.callbacks.base import Callback

# Every hook a callback can receive: the public methods of Callback except the state and identity ones.
HOOKS = tuple(
    name
    for name in vars(Callback)
    if not name.startswith("_") and callable(vars(Callback)[name]) and name not in ("state_dict", "load_state_dict")
)


class LambdaCallback(Callback):
    """``LambdaCallback(on_train_start=fn, on_train_batch_end=fn2, ...)``: each function is called with the
    hook's arguments (``trainer, pl_module, ...``). An unknown hook name is a ``TypeError``.
    """

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        unknown = sorted(set(hooks) - set(HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {unknown}; the hooks are: {', '.join(HOOKS)}.")
        for name, function in hooks.items():
            if function is not None:
                # An instance attribute shadows the class's no-op method: the trainer calls exactly these hooks.
                setattr(self, name, function)
