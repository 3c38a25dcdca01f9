"""``HookDispatcher``: every hook of a run goes through here — the callbacks' first, in ``trainer.callbacks``
order, then the module's — so one place decides the order and records which hook is running (``self.log``
reads ``current_hook`` for its on_step/on_epoch defaults)."""

from __future__ import annotations

from typing import Any

from flashtrain.core.callbacks.base import Callback, overrides
from flashtrain.core.module import Module

# The hooks a Callback can have (besides the checkpoint and exception hooks, called directly where they belong).
CALLBACK_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_") or name in ("setup", "teardown"))


class HookDispatcher:
    """Calls hooks on the callbacks and then the module. Only hooks that someone overrides are listed in the
    table, so a hook nobody defines costs one dict lookup per call."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer  # passed to every callback hook, as in Lightning
        self.module: Module | None = None
        self.callbacks: list[Callback] = []
        self.current_hook: str | None = None
        self._table: dict[str, tuple[list[Callback], Any]] = {}

    def bind(self, module: Module, callbacks: list[Callback]) -> None:
        """Use these callbacks (in this order) and this module for the hooks of the run starting now."""
        self.module, self.callbacks = module, callbacks
        self._table = {}
        for callback in callbacks:
            # As Lightning: ``self.log`` / ``self.log_dict`` inside a callback hook log through the module, with
            # that hook's on_step/on_epoch defaults (the dispatcher records which hook is running).
            callback.log = module.log  # type: ignore[attr-defined]
            callback.log_dict = module.log_dict  # type: ignore[attr-defined]
        for name in CALLBACK_HOOKS:
            listed = [cb for cb in callbacks if overrides(cb, Callback, name)]
            on_module = hasattr(Module, name) and overrides(module, Module, name)
            if listed or on_module:
                self._table[name] = (listed, getattr(module, name) if on_module else None)

    def call(self, name: str, *args: Any, runs_last: bool | None = None, module: bool = True) -> Any:
        """Run hook ``name`` on the callbacks (only those with ``runs_last`` as given, or all), then the module;
        returns the module's result."""
        entry = self._table.get(name)
        if entry is None:
            return None
        callbacks, module_hook = entry
        self.current_hook = name
        for callback in callbacks:
            if runs_last is None or callback.runs_last == runs_last:
                getattr(callback, name)(self.trainer, self.module, *args)
        if module and module_hook is not None:
            self.current_hook = name
            return module_hook(*args)
        return None

    def call_module(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run one of the module's own methods that the trainer drives (optimizer_step, backward, ...)."""
        self.current_hook = name
        return getattr(self.module, name)(*args, **kwargs)

    def call_on_callbacks(self, name: str, *args: Any) -> None:
        """A callback-only hook (on_save_checkpoint, on_load_checkpoint, on_exception), on every callback."""
        for callback in self.callbacks:
            getattr(callback, name)(self.trainer, self.module, *args)

    def module_overrides(self, name: str) -> bool:
        """Whether the module defines ``name`` itself (the trainer skips work for hooks nobody defines)."""
        module = self.module
        return (
            module is not None
            and callable(getattr(type(module), name, None))
            and overrides(module, Module, name)
            and module.__dict__.get(name, ...) is not None  # `model.validation_step = None` switches it off
        )
