"""Helpers over constructor arguments and hyper-parameter dicts, with Lightning's names
(``lightning.pytorch.utilities.parsing``): picklability, an ``__init__``'s special parameter names, and the
arguments each ``__init__`` on the call stack received."""

from __future__ import annotations

import inspect
import pickle
import types
from collections.abc import MutableMapping
from typing import Any

from flashtrain.core.utilities.rank_zero import rank_zero_warn


def is_picklable(obj: object) -> bool:
    """Whether ``pickle.dumps(obj)`` works (a checkpoint or a spawned process can carry it)."""
    try:
        pickle.dumps(obj)
    except (pickle.PickleError, AttributeError, RuntimeError, TypeError):
        return False
    return True


def clean_namespace(hparams: MutableMapping) -> None:
    """Remove the entries that cannot be pickled from ``hparams``, warning for each one."""
    for key in [key for key, value in hparams.items() if not is_picklable(value)]:
        rank_zero_warn(
            f"Attribute '{key}' removed from hparams because it cannot be pickled. You can suppress this warning by "
            f"setting `self.save_hyperparameters(ignore=['{key}'])`."
        )
        del hparams[key]


def parse_class_init_keys(cls: type) -> tuple[str, str | None, str | None]:
    """The names ``cls.__init__`` gives ``self``, ``*args`` and ``**kwargs`` (None for the ones it lacks)."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())  # type: ignore[misc]

    def first_of(kind: Any) -> str | None:
        return next((parameter.name for parameter in parameters if parameter.kind == kind), None)

    return parameters[0].name, first_of(inspect.Parameter.VAR_POSITIONAL), first_of(inspect.Parameter.VAR_KEYWORD)


def _init_arguments(frame: types.FrameType) -> dict[str, Any]:
    """The named arguments of an ``__init__`` frame, without ``self``, ``*args``, with ``**kwargs`` spread out."""
    info = inspect.getargvalues(frame)
    arguments = {name: info.locals[name] for name in info.args[1:] if name in info.locals}
    if info.keywords:
        arguments.update(info.locals.get(info.keywords) or {})
    return arguments


def collect_init_args(
    frame: types.FrameType, path_args: list[dict[str, Any]], inside: bool = False, classes: tuple[type, ...] = ()
) -> list[dict[str, Any]]:
    """Append to ``path_args`` the arguments of each ``__init__`` in the chain of constructor calls found walking
    out from ``frame`` (a base class's first, the most specific class's last), and return it. ``classes`` limits
    the chain to instances of those classes; ``inside`` says ``frame`` is already within the chain."""
    current: types.FrameType | None = frame
    while current is not None and current.f_back is not None:
        info = inspect.getargvalues(current)
        owner = info.locals.get(info.args[0]) if current.f_code.co_name == "__init__" and info.args else None
        if owner is not None and (not classes or isinstance(owner, classes)):
            path_args.append(_init_arguments(current))
            inside = True
        elif inside:
            break
        current = current.f_back
    return path_args


def _attribute_holders(model: Any, attribute: str) -> list[Any]:
    """Where ``attribute`` lives, in Lightning's order: the module, its ``hparams``, the trainer's datamodule (or
    the datamodule's ``hparams``)."""
    holders: list[Any] = []
    if hasattr(model, attribute):
        holders.append(model)
    hparams = getattr(model, "hparams", None)
    if hparams is not None and attribute in hparams:
        holders.append(hparams)
    try:
        datamodule = model.trainer.datamodule
    except RuntimeError:  # not attached to a Trainer
        datamodule = None
    if datamodule is not None:
        if hasattr(datamodule, attribute):
            holders.append(datamodule)
        elif getattr(datamodule, "hparams", None) is not None and attribute in datamodule.hparams:
            holders.append(datamodule.hparams)
    return holders


def _missing(attribute: str) -> AttributeError:
    return AttributeError(
        f"{attribute} is neither stored in the model namespace nor the `hparams` namespace/dict, nor the datamodule."
    )


def lightning_hasattr(model: Any, attribute: str) -> bool:
    """Whether ``attribute`` is on the module, in its ``hparams``, or on the trainer's datamodule (or its hparams)."""
    return bool(_attribute_holders(model, attribute))


def lightning_getattr(model: Any, attribute: str) -> Any:
    """``attribute`` from the last of the places :func:`lightning_hasattr` looks (the datamodule wins)."""
    holders = _attribute_holders(model, attribute)
    if not holders:
        raise _missing(attribute)
    holder = holders[-1]
    return holder[attribute] if isinstance(holder, dict) else getattr(holder, attribute)


def lightning_setattr(model: Any, attribute: str, value: Any) -> None:
    """Set ``attribute`` everywhere :func:`lightning_hasattr` finds it (what the batch-size and LR finders do)."""
    holders = _attribute_holders(model, attribute)
    if not holders:
        raise _missing(attribute)
    for holder in holders:
        if isinstance(holder, dict):
            holder[attribute] = value
        else:
            setattr(holder, attribute, value)


__all__ = [
    "clean_namespace",
    "collect_init_args",
    "is_picklable",
    "lightning_getattr",
    "lightning_hasattr",
    "lightning_setattr",
    "parse_class_init_keys",
]
