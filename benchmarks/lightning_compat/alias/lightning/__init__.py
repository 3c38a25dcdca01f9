"""Import alias for the Lightning compatibility harness: ``lightning.pytorch.*`` names resolved to flashtrain.

Only the harness puts this folder on ``sys.path``; nothing in flashtrain imports it. Every module below
``lightning`` is built on first import from the table in ``_table.py`` (one line per public Lightning name
and the flashtrain object it maps to), so the table *is* the mapping a porting user relies on. A Lightning
module or name that flashtrain has no equivalent for raises ``ImportError`` naming it, which the harness
reports as the cause of the failure.

``lightning.pytorch.demos`` is Lightning's own demo code, read unchanged from the checkout named by the
``LIGHTNING_SRC`` environment variable (the harness runner sets it): it is never copied into this repository.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

from lightning import _adapters, _table


class _AliasModule(types.ModuleType):
    """A module whose attributes are looked up in the table on first access."""

    def __getattr__(self, name: str) -> Any:
        specs = _table.MODULES.get(self.__name__, {})
        if name in specs:
            value = _table.resolve(specs[name], f"{self.__name__}.{name}")
            setattr(self, name, value)
            return value
        submodule = f"{self.__name__}.{name}"
        if submodule in _table.MODULES or submodule in _table.DEMOS:
            return importlib.import_module(submodule)
        if name.startswith("__"):
            raise AttributeError(name)
        # A name flashtrain lacks still imports, so one gap fails only the tests that use it: a private name
        # (or any name of a Lightning-internal module) as an internal stand-in, a public one as a counted gap.
        qualified = f"{self.__name__}.{name}"
        if _adapters.ENVIRONMENT_FLAG.match(name):  # _X_AVAILABLE, _TORCH_GREATER_EQUAL_2_6: facts, not internals
            value = _adapters.environment_flag(name)
        elif name.startswith("_") or _table.is_internal_module(self.__name__):
            value = _table.resolve(_table.INTERNAL, qualified)
        else:
            value = _table.missing(qualified, "no entry in the alias table")
        setattr(self, name, value)
        return value


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == "lightning" or not fullname.startswith("lightning.") or fullname.startswith("lightning._"):
            return None  # this package and its own files (_table, _adapters)
        if fullname in _table.MODULES:
            # every alias module is a package: Lightning's test files import submodules the table may not list
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        parent, _, name = fullname.rpartition(".")
        if name in _table.MODULES.get(parent, {}):
            # a name of its parent, not a module: ``mock.patch("lightning...rich_progress.Progress.update")``
            # tries to import ``...Progress`` first, and must then find the class on its parent
            return None
        if fullname.startswith("lightning.pytorch.demos."):
            return None  # found on the demos package's __path__ (the checkout)
        if any(character.isupper() for character in fullname.rpartition(".")[2]):
            # A class, not a module (Lightning's modules are lower-case): ``mock.patch("lightning.pytorch.loggers.
            # TensorBoardLogger.log_metrics")`` tries to import the class path first and must fall back to getattr,
            # so it patches the class a porting user gets, not a stray module of that name.
            return None
        # A Lightning module flashtrain has no table for: its names import as stand-ins (see _AliasModule).
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _AliasModule(spec.name)
        if spec.submodule_search_locations is not None:
            module.__path__ = []
        if spec.name == "lightning.pytorch.demos":
            source = os.environ.get("LIGHTNING_SRC")
            if source:
                module.__path__ = [os.path.join(source, "src", "lightning", "pytorch", "demos")]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ == "lightning.pytorch":
            # Importing (or reloading) lightning.pytorch reads POSSIBLE_USER_WARNINGS, as importing flashtrain.core
            # does: the same flashtrain function, run again when a test reloads the package.
            from flashtrain.core.exceptions import apply_warning_settings_from_environment

            apply_warning_settings_from_environment()
        if module.__name__ == "lightning.pytorch.demos":
            # Lightning's demos/__init__ re-exports these; resolve them lazily from the demo files.
            for name, submodule in _table.DEMOS_EXPORTS.items():
                _table.MODULES.setdefault("lightning.pytorch.demos", {})[name] = f"{submodule}:{name}"


sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name: str) -> Any:
    specs = _table.MODULES.get("lightning", {})
    if name in specs:
        return _table.resolve(specs[name], f"lightning.{name}")
    if f"lightning.{name}" in _table.MODULES:
        return importlib.import_module(f"lightning.{name}")
    raise AttributeError(f"lightning alias: flashtrain has no equivalent of lightning.{name}")
