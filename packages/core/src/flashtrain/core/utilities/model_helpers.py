"""``is_overridden``: the one answer to "does this object define this hook itself?" (Lightning's name)."""

from __future__ import annotations

from typing import Any


def is_overridden(hook_name: str, obj: Any, parent: type) -> bool:
    """Whether ``obj`` has its own ``hook_name``: its class overrides ``parent``'s (or adds one ``parent`` lacks,
    like the 1.x ``training_epoch_end``), or the instance was given a callable.

    ``obj.hook = None`` on the instance switches a hook off, as with Lightning's ``is_overridden``. The trainer
    skips the work for hooks nobody defines.
    """
    if obj is None:
        return False
    own = getattr(obj, "__dict__", {}).get(hook_name, ...)
    if own is not ...:
        return callable(own)
    implementation = getattr(type(obj), hook_name, None)
    return callable(implementation) and implementation is not getattr(parent, hook_name, None)
