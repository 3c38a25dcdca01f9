"""Package names imported on first use (PEP 562), so ``import flashtrain.core`` loads only what a plain fit needs.

A package lists ``name -> "module:attribute"`` and gets a module ``__getattr__`` and ``__dir__``; the same names
are imported under ``if TYPE_CHECKING:`` for type checkers. Written here (a dozen lines) rather than taken from a
library such as ``lazy_loader``: the core must not gain a dependency for this.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name in ``exports`` is imported from its
    ``"module:attribute"`` the first time it is read, then kept in the package."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, attribute = target.split(":")
        value = getattr(importlib.import_module(module_name), attribute)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
