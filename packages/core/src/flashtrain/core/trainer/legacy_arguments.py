"""Lightning 1.x ``Trainer`` arguments: each is translated into its 2.x spelling with one ``FutureWarning`` that names
that spelling, or refused with an error naming what to use where no meaning carries over.

``Trainer.__init__`` is wrapped by :func:`accept_lightning_1x_arguments` (its one hook-in), so the Trainer keeps only
its 2.x signature. What a 1.x argument asks of ``fit`` itself (resume from a checkpoint, tune the learning rate or
batch size first, manual optimization) is kept in a :class:`Lightning1xFit` on ``trainer.lightning_1x``.
"""

from __future__ import annotations

import difflib
import functools
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

_Init = TypeVar("_Init", bound=Callable[..., None])

# 1.x strategy names that 2.x (and flashtrain) no longer has, and what to use instead.
_GONE_STRATEGIES = {
    "dp": "DataParallel is gone in 2.x (it was slower than DDP on one machine); use strategy='ddp'",
    "ddp2": "ddp2 is gone in 2.x; use strategy='ddp'",
    "ddp_cpu": "ddp_cpu is gone in 2.x; use accelerator='cpu', strategy='ddp', devices=N",
    "horovod": "Horovod is not supported; use strategy='ddp' (torchrun launches it on several machines)",
    "ddp_sharded": "sharded DDP is gone in 2.x; use strategy='fsdp'",
    "deepspeed": "DeepSpeed is not supported by flashtrain; use strategy='fsdp' to shard a large model",
}
# 1.x ``accelerator=`` values that named a strategy (Lightning 1.0-1.4).
_STRATEGY_AS_ACCELERATOR = ("ddp", "ddp_spawn", "dp", "ddp2", "ddp_cpu", "horovod")


@dataclass
class Lightning1xFit:
    """What 1.x arguments ask of ``fit``: a checkpoint to resume from, tuning before the first fit, and the
    module's ``automatic_optimization``."""

    resume_from_checkpoint: str | None = None
    auto_lr_find: bool | str = False
    auto_scale_batch_size: bool | str = False
    automatic_optimization: bool | None = None
    tuned: bool = False

    def before_fit(
        self, trainer: Any, model: Any, train_dataloaders: Any, val_dataloaders: Any, datamodule: Any, ckpt_path: Any
    ) -> Any:
        """Apply the 1.x arguments to this fit; returns the ``ckpt_path`` to use (``fit``'s own wins)."""
        if self.automatic_optimization is not None:
            model.automatic_optimization = self.automatic_optimization
        if not self.tuned and (self.auto_lr_find or self.auto_scale_batch_size):
            self.tune(trainer, model, train_dataloaders, val_dataloaders, datamodule)
        return ckpt_path if ckpt_path is not None else self.resume_from_checkpoint

    def tune(
        self,
        trainer: Any,
        model: Any,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: Any = None,
        scale_batch_size_kwargs: dict[str, Any] | None = None,
        lr_find_kwargs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """1.x ``trainer.tune``: the batch-size search, then the learning-rate search, as the flags ask."""
        from flashtrain.core.tuner.tuning import Tuner

        self.tuned = True
        tuner = Tuner(trainer)
        result: dict[str, Any] = {"scale_batch_size": None, "lr_find": None}
        data = {"train_dataloaders": train_dataloaders, "val_dataloaders": val_dataloaders, "datamodule": datamodule}
        if self.auto_scale_batch_size:
            mode = self.auto_scale_batch_size if isinstance(self.auto_scale_batch_size, str) else "power"
            result["scale_batch_size"] = tuner.scale_batch_size(
                model, **data, **{"mode": mode, **(scale_batch_size_kwargs or {})}
            )
        if self.auto_lr_find:
            attr_name = self.auto_lr_find if isinstance(self.auto_lr_find, str) else ""
            result["lr_find"] = tuner.lr_find(model, **data, **{"attr_name": attr_name, **(lr_find_kwargs or {})})
        return result


def accept_lightning_1x_arguments(init: _Init) -> _Init:
    """Wrap ``Trainer.__init__``: 1.x arguments become 2.x ones (one FutureWarning each); an unknown argument is a
    TypeError that suggests the closest known name."""
    import inspect

    known = set(inspect.signature(init).parameters) - {"self"}

    @functools.wraps(init)
    def __init__(trainer: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(
                f"Trainer() takes keyword arguments only, got {len(args)} positional; e.g. Trainer(max_epochs=3)."
            )
        old = {name: kwargs.pop(name) for name in list(kwargs) if name not in known}
        strategy_names_in_plugins(kwargs)
        strategy_as_accelerator = kwargs.get("accelerator") in _STRATEGY_AS_ACCELERATOR
        fit = translate(old, kwargs, sorted(known)) if old or strategy_as_accelerator else None
        init(trainer, **kwargs)
        trainer.lightning_1x = fit
        if fit is not None and "flush_logs_every_n_steps" in old:
            for logger in trainer.loggers:
                if hasattr(logger, "flush_logs_every_n_steps"):
                    logger.flush_logs_every_n_steps = old["flush_logs_every_n_steps"]

    return __init__  # type: ignore[return-value]


def translate(old: dict[str, Any], flags: dict[str, Any], known: list[str]) -> Lightning1xFit:
    """Rewrite ``flags`` (the 2.x arguments given) with the 1.x arguments in ``old``; returns what fit must do.
    ``known``: the 2.x argument names, for the suggestion when a name is neither."""
    fit = Lightning1xFit()
    unknown = [name for name in old if name not in _HANDLERS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], [*known, *_HANDLERS], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise TypeError(f"Trainer.__init__() got an unexpected keyword argument {unknown[0]!r}{hint}")
    accelerator = flags.get("accelerator")
    if accelerator in _STRATEGY_AS_ACCELERATOR:  # Lightning 1.0-1.4 named the strategy accelerator=
        if accelerator in _GONE_STRATEGIES:
            raise ValueError(f"Trainer(accelerator={accelerator!r}): {_GONE_STRATEGIES[accelerator]}.")
        del flags["accelerator"]
        _set(flags, "strategy", accelerator, f"accelerator={accelerator!r}")
        _warn(f"accelerator={accelerator!r}", f"strategy={accelerator!r}")
    for name, value in old.items():
        _HANDLERS[name](value, flags, fit)
    return fit


def _warn(old: str, new: str, note: str = "flashtrain runs it that way") -> None:
    """One FutureWarning for one 1.x argument, pointing at the user's ``Trainer(...)`` line."""
    frame: FrameType | None = sys._getframe(1)
    level = 2  # stacklevel 2: the function that called _warn
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(f"Trainer({old}) is Lightning 1.x; in 2.x write {new}. {note}.", FutureWarning, stacklevel=level)


def _set(flags: dict[str, Any], name: str, value: Any, old: str) -> None:
    """Set a 2.x flag from a 1.x argument, refusing when the 2.x flag was also given a different value."""
    given = flags.get(name)
    if given not in (None, "auto") and given != value:
        raise ValueError(f"Trainer({old}) means {name}={value!r}, but {name}={given!r} was also given; keep one.")
    flags[name] = value


def _add_callback(flags: dict[str, Any], callback: Any) -> None:
    from flashtrain.core.callbacks.base import Callback

    given = flags.get("callbacks")
    listed = [given] if isinstance(given, Callback) else list(given or [])
    flags["callbacks"] = [*[c for c in listed if type(c) is not type(callback)], callback]


def _refuse(name: str, instead: str) -> Callable[[Any, dict[str, Any], Lightning1xFit], None]:
    def handler(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
        raise TypeError(f"Trainer({name}=...) was removed after Lightning 1.x and has no equivalent here: {instead}.")

    return handler


def _tpu_cores(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _set(flags, "accelerator", "tpu", f"tpu_cores={value!r}")
    _set(flags, "devices", value, f"tpu_cores={value!r}")
    _warn(f"tpu_cores={value!r}", f"accelerator='tpu', devices={value!r}")


def _num_processes(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _set(flags, "accelerator", "cpu", f"num_processes={value!r}")
    _set(flags, "devices", value, f"num_processes={value!r}")
    _warn(f"num_processes={value!r}", f"accelerator='cpu', devices={value!r}")


def _progress_bar_refresh_rate(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if value is None:
        _warn("progress_bar_refresh_rate=None", "nothing (the default progress bar)")
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"progress_bar_refresh_rate must be an int >= 0 (0: no bar), got {value!r}.")
    if value == 0:
        _set(flags, "enable_progress_bar", False, "progress_bar_refresh_rate=0")
        _warn("progress_bar_refresh_rate=0", "enable_progress_bar=False")
        return
    from flashtrain.core.callbacks.progress import ProgressBar

    _warn(f"progress_bar_refresh_rate={value}", f"callbacks=[TQDMProgressBar(refresh_rate={value})]")
    _add_callback(flags, ProgressBar(refresh_rate=value))


def _checkpoint_callback(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    from flashtrain.core.callbacks.base import Callback

    if isinstance(value, Callback):
        _warn("checkpoint_callback=ModelCheckpoint(...)", "callbacks=[ModelCheckpoint(...)]")
        _add_callback(flags, value)
        return
    if not isinstance(value, bool):
        raise TypeError(f"checkpoint_callback must be True or False, got {value!r}.")
    _set(flags, "enable_checkpointing", value, f"checkpoint_callback={value}")
    _warn(f"checkpoint_callback={value}", f"enable_checkpointing={value}")


def _resume_from_checkpoint(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _warn(f"resume_from_checkpoint={value!r}", f"trainer.fit(model, ckpt_path={value!r})")
    fit.resume_from_checkpoint = None if value is None else str(value)


def _weights_summary(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if value is None:
        _set(flags, "enable_model_summary", False, "weights_summary=None")
        _warn("weights_summary=None", "enable_model_summary=False")
        return
    depths = {"top": 1, "full": -1}
    if value not in depths:
        raise ValueError(f"weights_summary must be 'top', 'full' or None, got {value!r}.")
    from flashtrain.core.callbacks.model_summary import ModelSummary

    _warn(f"weights_summary={value!r}", f"callbacks=[ModelSummary(max_depth={depths[value]})]")
    _add_callback(flags, ModelSummary(max_depth=depths[value]))


def _flush_logs_every_n_steps(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"flush_logs_every_n_steps must be an int >= 1, got {value!r}.")
    # Applied to the trainer's loggers once they exist (accept_lightning_1x_arguments).
    _warn(f"flush_logs_every_n_steps={value}", f"logger=CSVLogger(..., flush_logs_every_n_steps={value})")


def _distributed_backend(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if value is None:
        _warn("distributed_backend=None", "nothing (strategy='auto')")
        return
    if value in _GONE_STRATEGIES:
        raise ValueError(f"Trainer(distributed_backend={value!r}): {_GONE_STRATEGIES[value]}.")
    _set(flags, "strategy", value, f"distributed_backend={value!r}")
    _warn(f"distributed_backend={value!r}", f"strategy={value!r}")


def _auto_select_gpus(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    # No meaning to carry: flashtrain (like 2.x's devices=N) takes the first N visible GPUs.
    _warn(
        f"auto_select_gpus={value!r}",
        "devices=N",
        "flashtrain ignores it: the first N visible GPUs are used; choose which with CUDA_VISIBLE_DEVICES",
    )


def _auto_scale_batch_size(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if value not in (True, False, None, "power", "binsearch"):
        raise ValueError(f"auto_scale_batch_size must be True, False, 'power' or 'binsearch', got {value!r}.")
    mode = value if isinstance(value, str) else "power"
    _warn(f"auto_scale_batch_size={value!r}", f"Tuner(trainer).scale_batch_size(model, mode={mode!r}) before fit")
    fit.auto_scale_batch_size = value or False


def _auto_lr_find(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if not isinstance(value, (bool, str)) and value is not None:
        raise ValueError(f"auto_lr_find must be True, False or the name of the learning-rate attribute, got {value!r}.")
    attr = f", attr_name={value!r}" if isinstance(value, str) else ""
    _warn(f"auto_lr_find={value!r}", f"Tuner(trainer).lr_find(model{attr}) before fit")
    fit.auto_lr_find = value or False


def _amp_backend(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if value not in ("native", "apex"):
        raise ValueError(f"amp_backend must be 'native' or 'apex', got {value!r}.")
    # Ignored, with the reason: torch.amp ("native") is the only mixed precision; precision= chooses it.
    _warn(
        f"amp_backend={value!r}",
        "precision='16-mixed' or 'bf16-mixed' alone",
        "flashtrain ignores it: torch.amp ('native') is the only mixed-precision backend; apex is gone",
    )


def _amp_level(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _warn(
        f"amp_level={value!r}",
        "precision='16-mixed' alone",
        "flashtrain ignores it: apex's O1/O2 levels are gone; torch.amp autocast is closest to O1",
    )


def strategy_names_in_plugins(flags: dict[str, Any]) -> None:
    """Lightning 1.x named strategies in ``plugins`` (``plugins=["ddp_sharded"]``): each becomes ``strategy=`` with a
    FutureWarning (or an error naming what replaced a strategy that is gone); plugin objects stay in ``plugins``."""
    from flashtrain.core.strategies import STRATEGY_NAMES

    value = flags.get("plugins")
    plugins = list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]
    if not any(isinstance(plugin, str) for plugin in plugins):
        return
    for plugin in plugins:
        if isinstance(plugin, str) and plugin in STRATEGY_NAMES:
            _set(flags, "strategy", plugin, f"plugins=[{plugin!r}]")
            _warn(f"plugins=[{plugin!r}]", f"strategy={plugin!r}")
        elif isinstance(plugin, str) and plugin in _GONE_STRATEGIES:
            raise ValueError(f"Trainer(plugins=[{plugin!r}]): {_GONE_STRATEGIES[plugin]}.")
        elif isinstance(plugin, str):
            raise ValueError(f"Trainer(plugins=[{plugin!r}]) is not supported: not a strategy name.")
    flags["plugins"] = [plugin for plugin in plugins if not isinstance(plugin, str)]


def _automatic_optimization(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"automatic_optimization must be True or False, got {value!r}.")
    _warn(f"automatic_optimization={value}", f"self.automatic_optimization = {value} in your Module's __init__")
    fit.automatic_optimization = value


def _replace_sampler_ddp(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _warn(f"replace_sampler_ddp={value!r}", f"use_distributed_sampler={value!r}")
    flags["use_distributed_sampler"] = value


def _reload_dataloaders_every_epoch(value: Any, flags: dict[str, Any], fit: Lightning1xFit) -> None:
    _warn(f"reload_dataloaders_every_epoch={value!r}", f"reload_dataloaders_every_n_epochs={int(bool(value))}")
    flags["reload_dataloaders_every_n_epochs"] = int(bool(value))


_HANDLERS: dict[str, Callable[[Any, dict[str, Any], Lightning1xFit], None]] = {
    "tpu_cores": _tpu_cores,
    "num_processes": _num_processes,
    "progress_bar_refresh_rate": _progress_bar_refresh_rate,
    "checkpoint_callback": _checkpoint_callback,
    "resume_from_checkpoint": _resume_from_checkpoint,
    "weights_summary": _weights_summary,
    "flush_logs_every_n_steps": _flush_logs_every_n_steps,
    "distributed_backend": _distributed_backend,
    "auto_select_gpus": _auto_select_gpus,
    "auto_scale_batch_size": _auto_scale_batch_size,
    "auto_lr_find": _auto_lr_find,
    "amp_backend": _amp_backend,
    "amp_level": _amp_level,
    "automatic_optimization": _automatic_optimization,
    "replace_sampler_ddp": _replace_sampler_ddp,
    "reload_dataloaders_every_epoch": _reload_dataloaders_every_epoch,
    "track_grad_norm": _refuse(
        "track_grad_norm",
        "compute the gradient norm in the Module's on_before_optimizer_step and self.log it",
    ),
    "truncated_bptt_steps": _refuse(
        "truncated_bptt_steps", "split the sequence yourself in training_step with manual optimization"
    ),
    "ipus": _refuse("ipus", "Graphcore IPUs are not supported; use accelerator='gpu' or 'cpu'"),
}
