"""``HookDispatcher``: every hook of a run goes through here — the callbacks' first, in ``trainer.callbacks``
order, then the module's — so one place decides the order and records which hook is running (``self.log``
reads ``current_hook`` for its on_step/on_epoch defaults)."""

from __future__ import annotations

import inspect
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.module import Module
from flashtrain.core.profilers.base import PassThroughProfiler, Profiler
from flashtrain.core.trainer.dataloader_iter import takes_dataloader_iter
from flashtrain.core.utilities.model_helpers import is_overridden
from flashtrain.core.utilities.rank_zero import WarningCache

# The hooks a Callback can have (besides the checkpoint and exception hooks, called directly where they belong).
CALLBACK_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_") or name in ("setup", "teardown"))
_STEPS = ("training_step", "validation_step", "test_step", "predict_step")
_warning_cache = WarningCache()
_TRANSFER_HOOKS = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")


def answers_dynamically(callback: Callback, name: str) -> bool:
    """A callback whose class lacks the hook but whose instance answers it (a ``Mock(spec=Callback)``, a proxy):
    Lightning calls every hook on every callback, so such an object gets them all, as there."""
    return getattr(type(callback), name, None) is None and callable(getattr(callback, name, None))


class HookDispatcher:
    """Calls hooks on the callbacks and then the module. Only hooks that someone overrides are listed in the
    table, so a hook nobody defines costs one dict lookup per call."""

    def __init__(self, trainer: Any, profiler: Profiler | None = None) -> None:
        self.trainer = trainer  # passed to every callback hook, as in Lightning
        self.profiler: Profiler = profiler if profiler is not None else PassThroughProfiler()
        # The pass-through profiler records nothing: skip its context manager on every hook.
        self._profiling = not isinstance(self.profiler, PassThroughProfiler)
        self.module: Module | None = None
        self.callbacks: list[Callback] = []
        self.current_hook: str | None = None
        self._table: dict[str, tuple[list[Callback], Any]] = {}
        self._custom_transfer = False
        self._transfer_owners: dict[str, Any] = {}  # a transfer hook the DataModule serves (not the module)
        self._steps_without_batch_idx: set[str] = set()

    def bind(self, module: Module, callbacks: list[Callback], datamodule: Any = None) -> None:
        """Use these callbacks (in this order) and this module (and datamodule, for the batch-transfer hooks it
        defines) for the hooks of the run starting now."""
        self.module, self.callbacks = module, callbacks
        self._table = {}
        for callback in callbacks:
            # As Lightning: ``self.log`` / ``self.log_dict`` inside a callback hook log through the module, with
            # that hook's on_step/on_epoch defaults (the dispatcher records which hook is running).
            callback.log = module.log  # type: ignore[attr-defined]
            callback.log_dict = module.log_dict  # type: ignore[attr-defined]
        # A profiled run times every hook, the base class's empty ones too (Lightning's report lists each callback's
        # and the module's hooks); otherwise only the hooks someone defines are called (no per-step cost for the rest).
        every = self._profiling
        for name in CALLBACK_HOOKS:
            listed = [
                cb
                for cb in callbacks
                if is_overridden(name, cb, Callback)
                or answers_dynamically(cb, name)
                or (every and callable(getattr(cb, name, None)))
            ]
            on_module = hasattr(Module, name) and (
                is_overridden(name, module, Module) or (every and callable(getattr(module, name, None)))
            )
            if listed or on_module:
                self._table[name] = (listed, getattr(module, name) if on_module else None)
        self._transfer_owners = _datamodule_transfer_hooks(module, datamodule)
        self._custom_transfer = bool(self._transfer_owners) or any(
            is_overridden(name, module, Module) for name in _TRANSFER_HOOKS
        )
        # As Lightning: a step declared as ``validation_step(self, batch)`` is called without batch_idx, and one
        # taking ``dataloader_iter`` with that iterator only.
        self._steps_without_batch_idx = {
            name
            for name in _STEPS
            if callable(getattr(module, name, None))
            and (not takes_batch_idx(getattr(module, name)) or takes_dataloader_iter(getattr(module, name)))
        }

    def call(self, name: str, *args: Any, runs_last: bool | None = None, module: bool = True, **kwargs: Any) -> Any:
        """Run hook ``name`` on the callbacks (only those with ``runs_last`` as given, or all), then the module;
        returns the module's result."""
        entry = self._table.get(name)
        if entry is None:
            return None
        callbacks, module_hook = entry
        self.current_hook = name
        for callback in callbacks:
            if runs_last is None or callback.runs_last == runs_last:
                if self._profiling:
                    with self.profiler.profile(f"[Callback]{callback.state_key}.{name}"):
                        getattr(callback, name)(self.trainer, self.module, *args, **kwargs)
                else:
                    getattr(callback, name)(self.trainer, self.module, *args, **kwargs)
        if module and module_hook is not None:
            self.current_hook = name
            if self._profiling:
                with self.profiler.profile(self._module_action(name)):
                    return module_hook(*args, **kwargs)
            return module_hook(*args, **kwargs)
        return None

    def call_module(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run one of the module's own methods that the trainer drives (optimizer_step, backward, ...)."""
        self.current_hook = name
        if self._profiling:
            with self.profiler.profile(self._module_action(name)):
                return getattr(self.module, name)(*args, **kwargs)
        return getattr(self.module, name)(*args, **kwargs)

    def call_datamodule(self, datamodule: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run one of the datamodule's methods (prepare_data, setup, teardown, state_dict, load_state_dict)."""
        if self._profiling:
            with self.profiler.profile(f"[LightningDataModule]{type(datamodule).__name__}.{name}"):
                return getattr(datamodule, name)(*args, **kwargs)
        return getattr(datamodule, name)(*args, **kwargs)

    @property
    def profiling(self) -> bool:
        """Whether a profiler records this run (not the pass-through default)."""
        return self._profiling

    def run_step(self, name: str, step: Any, *args: Any) -> Any:
        """Run a ``*_step`` (``self.log`` inside gets its defaults), timed as Lightning names it when profiling."""
        self.current_hook = name
        if name in self._steps_without_batch_idx:
            args = args[:1] + args[2:]
        if self._profiling:
            with self.profiler.profile(f"[Strategy]{type(self.trainer.strategy).__name__}.{name}"):
                return step(*args)
        return step(*args)

    def _module_action(self, name: str) -> str:
        return f"[LightningModule]{type(self.module).__name__}.{name}"  # Lightning's action names

    def profile(self, action_name: str) -> Any:
        """Time a block that is not a hook (a step, a loop) under ``action_name`` with the run's profiler."""
        return self.profiler.profile(action_name)

    def transfer_batch(self, batch: Any, dataloader_idx: int = 0) -> Any:
        """A loader's batch on the device: ``on_before_batch_transfer``, ``transfer_batch_to_device``,
        ``on_after_batch_transfer`` (module hooks, as in Lightning), then the precision's input cast."""
        strategy = self.trainer.strategy
        if not self._custom_transfer:
            if self._profiling:
                with self.profiler.profile(self._module_action("transfer_batch_to_device")):
                    return strategy.batch_to_device(batch)
            return strategy.batch_to_device(batch)
        running = self.current_hook
        batch = self._call_transfer_hook("on_before_batch_transfer", batch, dataloader_idx)
        batch = self._call_transfer_hook("transfer_batch_to_device", batch, strategy.root_device, dataloader_idx)
        batch = self._call_transfer_hook("on_after_batch_transfer", batch, dataloader_idx)
        self.current_hook = running
        return strategy.precision.convert_input(batch)

    def _call_transfer_hook(self, name: str, *args: Any) -> Any:
        datamodule = self._transfer_owners.get(name)
        if datamodule is None:
            return self.call_module(name, *args)
        self.current_hook = name
        return self.call_datamodule(datamodule, name, *args)

    def call_on_exception(
        self, exception: BaseException, datamodule: Any, callbacks: list[Callback] | None = None
    ) -> None:
        """A run failed: every callback's ``on_exception``, then the datamodule's (Lightning's order). ``callbacks``:
        the trainer's, where no run bound them here (the process that started ddp_spawn ranks)."""
        self.current_hook = "on_exception"  # self.log in it is refused as being there, as Lightning refuses it
        for callback in self.callbacks if callbacks is None else callbacks:
            callback.on_exception(self.trainer, self.module, exception)
        if callable(getattr(datamodule, "on_exception", None)):  # None, or a duck-typed datamodule without it
            self.call_datamodule(datamodule, "on_exception", exception)

    def call_on_callbacks(self, name: str, *args: Any) -> None:
        """A callback-only hook (on_save_checkpoint, on_load_checkpoint, on_exception), on every callback."""
        self.current_hook = name  # self.log in it is refused as being there (not taken for the hook before)
        for callback in self.callbacks:
            getattr(callback, name)(self.trainer, self.module, *args)

    def defines(self, name: str) -> bool:
        """Whether a callback or the module of this run defines hook ``name`` (else calling it does nothing), so the
        caller can skip preparing its arguments; fixed from ``bind`` to the end of the run."""
        return name in self._table

    def defined_hooks(self) -> frozenset[str]:
        """The hooks a callback or the module of this run defines (fixed from ``bind`` to the end of the run): the
        per-step code tests membership once per hook instead of calling one that does nothing."""
        return frozenset(self._table)

    def module_overrides(self, name: str) -> bool:
        """Whether the module defines ``name`` itself (the trainer skips work for hooks nobody defines)."""
        return is_overridden(name, self.module, Module)  # `model.validation_step = None` switches it off


def _datamodule_transfer_hooks(module: Module, datamodule: Any) -> dict[str, Any]:
    """The batch-transfer hooks the DataModule serves: those it defines and the module does not (Lightning's rule;
    defined in both, the module's runs, with Lightning's warning)."""
    from flashtrain.core.datamodule import DataModule

    owners: dict[str, Any] = {}
    if not isinstance(datamodule, DataModule):
        return owners
    for name in _TRANSFER_HOOKS:
        if not is_overridden(name, datamodule, DataModule):
            continue
        if is_overridden(name, module, Module):
            _warning_cache.warn(
                f"You have overridden `{name}` in both `LightningModule` and `LightningDataModule`. It will use the "
                "implementation from `LightningModule` instance."
            )
        else:
            owners[name] = datamodule
    return owners


def takes_batch_idx(step: Any) -> bool:
    """Whether a step method takes ``batch_idx``: by name, through ``*args``, or as a second positional parameter."""
    try:
        parameters = list(inspect.signature(inspect.unwrap(step)).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: assume Lightning's full signature
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return (
        any(p.name == "batch_idx" for p in parameters)
        or any(p.kind == p.VAR_POSITIONAL for p in parameters)
        or len(positional) >= 2
    )


def check_dataloader_idx(module: Any, hooks: tuple[str, ...], several: bool, prefix: str) -> None:
    """Refuse, before the first batch, a hook that cannot be called right (as Lightning): one that requires
    ``dataloader_idx`` with a single loader, or one that cannot take it with several."""
    for name in hooks:
        hook = getattr(module, name, None)
        if hook is None or not is_overridden(name, module, Module):
            continue
        try:
            parameters = inspect.signature(inspect.unwrap(hook)).parameters
        except (TypeError, ValueError):
            continue
        parameter = parameters.get("dataloader_idx")
        if several:
            if parameter is None and not any(p.kind == p.VAR_POSITIONAL for p in parameters.values()):
                raise RuntimeError(
                    f"You provided multiple `{prefix}_dataloader`, but no `dataloader_idx` argument in "
                    f"`{type(module).__name__}.{name}()`. Try adding `dataloader_idx=0` to its signature."
                )
        elif parameter is not None and parameter.default is inspect.Parameter.empty:
            raise RuntimeError(
                f"You provided only a single `{prefix}_dataloader`, but have included `dataloader_idx` in "
                f"`{type(module).__name__}.{name}()`. Either remove the argument or give it a default value i.e. "
                "`dataloader_idx=0`."
            )
