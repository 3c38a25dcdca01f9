"""Resolving the Trainer's hardware flags (accelerator, devices, strategy, precision), determinism, and the
default loggers and callbacks: done once when the Trainer is built, the way Fabric's connector does it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from flashtrain.core.accelerators import Accelerator, resolve_accelerator
from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import (
    MisconfigurationException,
    MisconfigurationRuntimeError,
    MisconfigurationTypeError,
)
from flashtrain.core.precision import build_precision
from flashtrain.core.strategies import Strategy, build_strategy
from flashtrain.core.strategies.cluster import detect_environment
from flashtrain.core.utilities import checks
from flashtrain.core.utilities.model_helpers import is_overridden


@dataclass
class Hardware:
    accelerator: Accelerator
    strategy: Strategy
    num_devices: int
    num_nodes: int


def resolve_hardware(
    accelerator: str,
    strategy: str | Strategy,
    devices: Any,
    num_nodes: int,
    precision: str | int,
    gpus: int | None,
    plugins: Any = None,
    sync_batchnorm: bool = False,
) -> Hardware:
    """The accelerator and the strategy (with its precision, checkpoint-IO and cluster-environment plugins) for the
    hardware flags."""
    from flashtrain.core.plugins import sort_plugins
    from flashtrain.core.strategies.parallel import ParallelStrategy

    given = sort_plugins(plugins)
    from flashtrain.core.strategies.layer_sync import choose_layer_sync

    layer_sync = choose_layer_sync(sync_batchnorm, given.layer_sync)
    from_strategy = getattr(strategy, "precision_plugin", None) if isinstance(strategy, Strategy) else None
    if given.precision is not None and from_strategy is not None:
        raise ValueError(
            f"Received a precision plugin twice: `plugins=[{given.precision}]` and "
            f"`{type(strategy).__name__}(precision_plugin={from_strategy})`. Choose one."
        )
    given.precision = given.precision or from_strategy
    if given.precision is not None and precision not in ("32-true", "32", 32):
        raise ValueError(  # Lightning's words
            f"Received both `precision={precision}` and `plugins={given.precision}`. Choose one."
        )
    if gpus is not None:
        if accelerator not in ("auto", "gpu", "cuda") or devices != "auto":
            raise MisconfigurationException(
                f"gpus={gpus!r} is shorthand for accelerator='gpu', devices={gpus!r}; do not combine it with "
                f"accelerator={accelerator!r} or devices={devices!r}."
            )
        accelerator, devices = ("gpu", gpus) if gpus else ("cpu", "auto")
    if isinstance(devices, (int, str, list, tuple)) and not isinstance(devices, bool) and devices in (0, "0", []):
        raise MisconfigurationException(
            f"`Trainer(devices={devices!r})` value is not a valid input using {accelerator} accelerator: devices "
            "must be a positive int, a list of indices, -1 or 'auto' (accelerator='cpu' for CPU training)."
        )
    accelerator = _accelerator_of_given_devices(strategy, accelerator)
    resolved = resolve_accelerator(accelerator)
    num_nodes = checks.check_positive_int("num_nodes", num_nodes)
    num_devices, indices = _parse_devices(devices, resolved, num_nodes)
    if isinstance(strategy, Strategy):
        chosen = strategy
        if isinstance(chosen, ParallelStrategy):  # a parallel strategy from the user: the Trainer's flags lay it out
            chosen.num_nodes = num_nodes
            if chosen.given_devices is None:  # unless it was given its devices
                chosen.processes_per_node = num_devices
    else:
        chosen = build_strategy(strategy, resolved, num_devices, num_nodes, indices)
    chosen.accelerator = resolved
    if given.precision is not None:
        chosen.precision = given.precision
    else:
        chosen.precision = build_precision(precision, resolved.name, resolved.autocast_device_type)
    if given.checkpoint_io is not None:
        chosen.checkpoint_io = given.checkpoint_io
    if isinstance(chosen, ParallelStrategy) and (given.cluster_environment or chosen.cluster_environment is None):
        from flashtrain.core.strategies.environments import select_environment

        chosen.environment_given = chosen.environment_given or given.cluster_environment is not None
        chosen.cluster_environment = given.cluster_environment or select_environment()
    if isinstance(chosen, ParallelStrategy) and layer_sync is not None:
        chosen.layer_sync = layer_sync  # one process (no ParallelStrategy) has nothing to synchronise with
    return Hardware(resolved, chosen, num_devices, num_nodes)


def _accelerator_of_given_devices(strategy: Any, accelerator: Any) -> Any:
    """``DDPStrategy(parallel_devices=[...])`` names the hardware: the accelerator flag must agree (Lightning's
    words), and ``"auto"`` becomes their kind."""
    from flashtrain.core.strategies.parallel import ParallelStrategy

    devices = getattr(strategy, "given_devices", None) if isinstance(strategy, ParallelStrategy) else None
    if not devices or not isinstance(accelerator, str):
        return accelerator
    kind = devices[0].type
    compatible = {"cpu": ("auto", "cpu"), "cuda": ("auto", "cuda", "gpu"), "mps": ("auto", "mps", "gpu")}
    if accelerator.lower() not in compatible.get(kind, ("auto", kind)):
        raise MisconfigurationException(
            f"{kind.upper()} parallel_devices set through {type(strategy).__name__} class, but accelerator set to "
            f"{accelerator}, please choose one device type"
        )
    return kind if accelerator.lower() == "auto" else accelerator


def _parse_devices(devices: Any, accelerator: Accelerator, num_nodes: int) -> tuple[int, list[int] | None]:
    available = accelerator.device_count()
    if devices == "auto":
        launched = detect_environment()  # under torchrun / srun: one device per started process
        return (launched.world_size // num_nodes if launched is not None else 1), None
    if isinstance(devices, str):  # "-1" from a command line or config is -1
        try:
            devices = [int(d) for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
        except ValueError:
            raise MisconfigurationException(
                f"devices={devices!r}: expected an int, a list of indices, -1 or 'auto'."
            ) from None
    if devices == -1:
        return max(available, 1), None
    if isinstance(devices, (list, tuple)):
        bad = [d for d in devices if not isinstance(d, int) or d < 0 or d >= max(available, 1)]
        if bad or not devices:
            raise MisconfigurationException(
                f"devices={list(devices)!r}: indices must be in 0..{available - 1} on "
                f"{accelerator.name} ({available} visible)."
            )
        return len(devices), list(devices)
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise MisconfigurationException(
            f"devices must be a positive int, a list of indices, -1 or 'auto', got {devices!r}."
        )
    if accelerator.name != "cpu" and devices > available:
        raise MisconfigurationException(
            f"devices={devices} but only {available} {accelerator.name} device(s) are visible."
        )
    return devices, None


def set_determinism(deterministic: Any, benchmark: Any) -> None:
    if deterministic is not None:
        checks.check_choice("deterministic", deterministic, (True, False, "warn"))
        torch.use_deterministic_algorithms(bool(deterministic), warn_only=deterministic == "warn")
        if deterministic:
            # cuBLAS needs this to be deterministic; it is read when the first CUDA handle is created.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if benchmark is not None or deterministic:
        torch.backends.cudnn.benchmark = bool(benchmark) and not deterministic
    if deterministic:
        torch.backends.cudnn.deterministic = True


def build_loggers(logger: Any, default_root_dir: str, fast_dev_run: int) -> list[Any]:
    if logger is False:
        return []
    if fast_dev_run:
        from flashtrain.core.loggers import DummyLogger

        return [DummyLogger()]  # nothing written, logged_metrics kept (Lightning's fast_dev_run)
    if logger is None or logger is True:
        from flashtrain.core.loggers import default_logger

        return [default_logger(default_root_dir)]  # TensorBoard if installed, else CSV
    chosen = list(logger) if isinstance(logger, Iterable) and not isinstance(logger, (str, bytes)) else [logger]
    for item in chosen:
        if isinstance(item, (str, bytes, bool)):
            # A string is iterable: without this check "tensorboard" became one logger per character.
            raise MisconfigurationTypeError(
                f"logger must be a Logger instance, a list of them, True (the default logger) or False, got "
                f"{item!r}. Build the logger yourself, e.g. logger=CSVLogger('logs')."
            )
    return chosen


def build_callbacks(
    callbacks: Any, checkpointing: bool | None, progress_bar: bool | None, summary: bool | None, fast_dev_run: int
) -> list[Callback]:
    """The user's callbacks plus the defaults (ModelCheckpoint, ProgressBar, ModelSummary) the flags ask for."""
    from flashtrain.core.callbacks import ModelCheckpoint, ModelSummary, ProgressBar

    chosen = [callbacks] if isinstance(callbacks, Callback) else list(callbacks or [])
    for item in chosen:
        if not isinstance(item, Callback):
            raise MisconfigurationTypeError(f"callbacks must be Callback instances, got {type(item).__name__}.")
    check_unique_state_keys(chosen)
    has_checkpoint = any(isinstance(c, ModelCheckpoint) for c in chosen)
    if checkpointing is False and has_checkpoint:
        raise MisconfigurationException(
            "Trainer was configured with `enable_checkpointing=False` but found `ModelCheckpoint` in callbacks "
            "list; remove one."
        )
    if checkpointing is not False and not fast_dev_run and not has_checkpoint:
        chosen.append(ModelCheckpoint())
    bars = [c for c in chosen if isinstance(c, ProgressBar)]
    if len(bars) > 1:
        raise MisconfigurationException(
            "You added multiple progress bar callbacks to the Trainer, but currently only one progress bar is "
            "supported."
        )
    if progress_bar is False and bars:
        name = "TQDMProgressBar" if type(bars[0]) is ProgressBar else type(bars[0]).__name__  # Lightning's name
        raise MisconfigurationException(
            f"Trainer was configured with `enable_progress_bar=False` but found `{name}` in callbacks list."
        )
    if progress_bar is not False and not bars:
        chosen.append(ProgressBar())
    if summary is not False and not any(isinstance(c, ModelSummary) for c in chosen) and not fast_dev_run:
        chosen.append(bars[0].default_model_summary() if bars and progress_bar is not False else ModelSummary())
    return run_order(chosen)  # already in run order when built, as Lightning: checkpoint writers last


def check_unique_state_keys(callbacks: list[Callback]) -> None:
    """Two stateful callbacks (their own ``state_dict``) under one ``state_key`` would overwrite each other's state
    in every checkpoint: refused up front (Lightning's words)."""
    seen: set[str] = set()
    for callback in callbacks:
        if not is_overridden("state_dict", callback, Callback):  # also a Mock(spec=Callback): no state of its own
            continue
        key = callback.state_key
        if key in seen:
            name = type(callback).__name__
            raise MisconfigurationRuntimeError(
                f"Found more than one stateful callback of type `{name}`. In the current configuration, this callback "
                "does not support being saved alongside other instances of the same type. Please consult the "
                f"documentation of `{name}` regarding valid settings for the callback state to be checkpointable. "
                "HINT: The `callback.state_key` must be unique among all callbacks in the Trainer."
            )
        seen.add(key)


def time_budget_callbacks(time_budget: Any) -> list[Callback]:
    """``[TimeBudget(time_budget)]`` for ``Trainer(time_budget="10m")``, else nothing."""
    if time_budget is None:
        return []
    from flashtrain.core.callbacks import TimeBudget

    return [TimeBudget(time_budget)]


def run_order(callbacks: list[Callback]) -> list[Callback]:
    """Callbacks in the order their hooks run (Lightning's): the tuning callbacks first (they rerun the fit's
    start), then the others in the order given, then the checkpoint writers, so a checkpoint holds the state every
    other callback reached at that point. ``runs_last`` callbacks keep their place: the dispatcher calls their
    ``on_train_epoch_end`` in a second pass, after the epoch's metrics are reduced."""
    from flashtrain.core.callbacks import BatchSizeFinder, LearningRateFinder, ModelCheckpoint

    def group(callback: Callback) -> int:
        if isinstance(callback, (BatchSizeFinder, LearningRateFinder)):
            return 0
        return 2 if isinstance(callback, ModelCheckpoint) else 1

    return sorted(callbacks, key=group)
