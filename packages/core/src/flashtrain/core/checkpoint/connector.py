"""``CheckpointConnector``: what goes into a checkpoint and how a run continues from one.

Each owner writes its own part (progress -> ``epoch``/``global_step``/``loop``, optimization ->
``optimizer_states``/``lr_schedulers``, metrics store -> ``loop.results``/``loop.callback_metrics``, each callback
-> ``callbacks``); the strategy turns module and optimizer state into something one file can hold (gathered,
for sharded strategies) and writes it.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from flashtrain.core.checkpoint.io import FORMAT_VERSION, check_weights_only, safe_hyperparameters, safe_value
from flashtrain.core.checkpoint.lightning_format import (
    LIGHTNING_FORMAT_VERSION,
    lightning_loops,
    with_flashtrain_position,
)
from flashtrain.core.checkpoint.rng import capture_rng_states, restore_rng_states
from flashtrain.core.datamodule import DataModule
from flashtrain.core.utilities.compiled import strip_compile_prefix
from flashtrain.core.utilities.model_helpers import is_overridden
from flashtrain.core.version import __version__


class CheckpointConnector:
    """Dumps and restores the trainer's state through its owners (``trainer.checkpoint_connector``)."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.last_saved_path: str | None = None  # the newest checkpoint written in this process (NaN messages)
        self.resumed_from: str | None = None
        self.loaded_path: str | None = None  # the checkpoint the latest run loaded
        self.user_managed = False  # the user set ``trainer.ckpt_path``: every run loads it until a call passes one
        self._pending_rng: dict[str, Any] | None = None

    # -- writing ----------------------------------------------------------------------------------------------
    def dump(self, weights_only: bool = False) -> dict[str, Any]:
        trainer = self.trainer
        module, strategy, progress = trainer.lightning_module, trainer.strategy, trainer.progress
        position = progress.state_dict()
        checkpoint: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "flashtrain_version": __version__,
            "epoch": position["epoch"],
            "global_step": position["global_step"],
            "state_dict": strategy.module_state_dict(module),
        }
        checkpoint.update(_hyperparameter_entries(module))
        checkpoint["pytorch-lightning_version"] = LIGHTNING_FORMAT_VERSION  # Lightning refuses files without it
        if not weights_only:
            loop = {**position["loop"], **trainer.metrics_store.training_state()}
            # Lightning's own loop counters, so lightning.pytorch.Trainer can resume this file too.
            checkpoint["loops"] = _lightning_loops(trainer, position, loop)
            # Stateful training iterables (state_dict/load_state_dict), where Lightning keeps them.
            if states := trainer.data_connector.training_states():
                checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] = [
                    safe_value(state, "train dataloader state_dict()") for state in states
                ]
            checkpoint.update(trainer.optimization.state_dict())
            checkpoint.update(
                {
                    "precision": strategy.precision.state_dict(),
                    "loop": loop,
                    "rng": capture_rng_states(),
                    "callbacks": _callback_states(trainer.callbacks),
                    "logger": {"version": trainer.logger.version} if trainer.logger is not None else {},
                }
            )
            datamodule = trainer.datamodule
            if datamodule is not None and datamodule.hparams:  # DataModule.load_from_checkpoint rebuilds it
                checkpoint.update(_hyperparameter_entries(datamodule))
            if datamodule is not None:
                checkpoint["datamodule"] = safe_value(
                    trainer.hooks.call_datamodule(datamodule, "state_dict"), "datamodule.state_dict()"
                )
                if is_overridden("on_save_checkpoint", datamodule, DataModule):  # a flashtrain extra; not Lightning 2
                    datamodule.on_save_checkpoint(checkpoint)
            trainer.hooks.call_on_callbacks("on_save_checkpoint", checkpoint)
        module.on_save_checkpoint(checkpoint)
        return checkpoint

    def save(self, path: str, weights_only: bool = False) -> None:
        checkpoint = self.dump(weights_only)
        self.trainer.strategy.save_checkpoint(checkpoint, path)
        self.last_saved_path = path

    def save_interrupted(self) -> str:
        """``last.ckpt`` beside the regular checkpoints, for a run stopped by a signal; returns its path."""
        from flashtrain.core.callbacks.model_checkpoint import interrupt_checkpoint_path

        path = interrupt_checkpoint_path(self.trainer)
        self.save(path)
        return path

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def ckpt_path(self) -> str | None:
        """``trainer.ckpt_path``: the checkpoint the latest run loaded, or the one set to load (Lightning 2)."""
        return self.loaded_path

    @ckpt_path.setter
    def ckpt_path(self, path: str | os.PathLike | None) -> None:
        self.loaded_path = None if path is None else os.fspath(path)
        self.user_managed = bool(path)

    def select(self, fn: str, ckpt_path: str | os.PathLike | None, model_provided: bool) -> str | None:
        """The checkpoint a ``fit``/``validate``/``test``/``predict`` call loads, as Lightning picks it.

        A path set with ``trainer.ckpt_path = ...`` is used until a call passes its own. Without a model and
        without a path, evaluation uses the best checkpoint of the previous fit (with a notice)."""
        if self.user_managed:
            if not ckpt_path or os.fspath(ckpt_path) == self.loaded_path:  # (a spawned rank passes it on)
                return self.loaded_path
            warnings.warn(
                f"`trainer.ckpt_path = {self.loaded_path!r}` was called but then you passed "
                f"`trainer.{fn}(ckpt_path={ckpt_path!r})`. The latter will be loaded.",
                stacklevel=4,
            )
            self.loaded_path, self.user_managed = None, False
        if ckpt_path is None:
            if model_provided or self.trainer.lightning_module is None:
                return None
            ckpt_path = "best"
            warnings.warn(
                f"`.{fn}(ckpt_path=None)` was called without a model. The best model of the previous `fit` call "
                f"will be used. You can pass `.{fn}(ckpt_path='best')` to use the best model or "
                f"`.{fn}(ckpt_path='last')` to use the last model. If you pass a value, this warning will be silenced.",
                stacklevel=4,
            )
        return self.resolve(fn, ckpt_path)

    def resolve(self, fn: str, ckpt_path: str | os.PathLike) -> str | None:
        """A file path for ``ckpt_path``: "best" and "last" name the files this trainer's callbacks wrote."""
        trainer = self.trainer
        if ckpt_path == "best":
            callbacks = trainer.checkpoint_callbacks
            if len(callbacks) > 1:
                warnings.warn(
                    f'`.{fn}(ckpt_path="best")` is called with Trainer configured with multiple `ModelCheckpoint` '
                    "callbacks. It will use the best checkpoint path from first checkpoint callback.",
                    stacklevel=5,
                )
            if not callbacks:
                raise ValueError(
                    f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured. Add a '
                    "ModelCheckpoint callback (or enable_checkpointing=True), or pass a file path."
                )
            if not callbacks[0].best_model_path:
                if trainer.fast_dev_run:
                    raise ValueError(
                        f'You cannot execute `.{fn}(ckpt_path="best")` with `fast_dev_run=True`. Please pass an exact '
                        f"checkpoint path to `.{fn}(ckpt_path=...)`"
                    )
                raise ValueError(
                    f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured to save the best '
                    "model (none saved yet: run fit first, with save_top_k != 0), or pass a file path."
                )
            return callbacks[0].best_model_path
        if ckpt_path == "last":
            from flashtrain.core.callbacks.model_checkpoint import find_last_checkpoint

            found = find_last_checkpoint(trainer)
            if found is None:
                warnings.warn(
                    f'.{fn}(ckpt_path="last") is set, but there is no last checkpoint available. No checkpoint will '
                    "be loaded. HINT: Set `ModelCheckpoint(..., save_last=True)`.",
                    stacklevel=5,
                )
            return found
        return os.fspath(ckpt_path)

    @staticmethod
    def check_weights_only(weights_only: Any) -> None:
        """Lightning 2.6's ``fit/validate/test/predict(weights_only=...)``: see :func:`check_weights_only`."""
        check_weights_only(weights_only)

    def read(self, path: str | None, stage: str) -> dict[str, Any] | None:
        """Load ``path`` (from :meth:`select`) for this run; ``None`` loads nothing."""
        self.loaded_path = path
        if path is None:
            return None
        checkpoint = with_flashtrain_position(self.trainer.strategy.load_checkpoint(path))
        version = checkpoint.get("logger", {}).get("version")
        logger = self.trainer.logger
        if stage == "fit" and version is not None and hasattr(logger, "use_version"):
            logger.use_version(version)  # the resumed run appends to the same log folder
        self.resumed_from = path
        return checkpoint

    def restore_weights(self, checkpoint: dict[str, Any] | None) -> None:
        if checkpoint is None:
            return
        module = self.trainer.lightning_module
        module.on_load_checkpoint(checkpoint)
        state_dict = strip_compile_prefix(checkpoint["state_dict"])
        self.trainer.strategy.load_module_state_dict(module, state_dict, strict=module.strict_loading)

    def restore_weights_and_callbacks(self, checkpoint: dict[str, Any]) -> None:
        """Weights, callback and datamodule state: what ``on_fit_start`` may rely on."""
        if "optimizer_states" not in checkpoint:
            raise ValueError(
                f"{self.resumed_from} holds weights only (saved with weights_only=True) and cannot resume "
                "training; load it with Module.load_from_checkpoint and call fit without ckpt_path."
            )
        trainer = self.trainer
        # The datamodule first (Lightning restores it after the weights): data that can say "this checkpoint was
        # trained on other data" should say so before weights of another label set fail to fit the model.
        datamodule = trainer.datamodule
        if datamodule is not None and "datamodule" in checkpoint:
            trainer.hooks.call_datamodule(datamodule, "load_state_dict", checkpoint["datamodule"])
            if is_overridden("on_load_checkpoint", datamodule, DataModule):
                datamodule.on_load_checkpoint(checkpoint)
        self.restore_weights(checkpoint)
        trainer.hooks.call_on_callbacks("on_load_checkpoint", checkpoint)  # then their state, as Lightning
        states = checkpoint.get("callbacks", {})
        missing = [key for key in states if key not in {callback.state_key for callback in trainer.callbacks}]
        if missing:  # their state would be dropped silently (Lightning's warning)
            warnings.warn(
                "Be aware that when using `ckpt_path`, callbacks used to create the checkpoint need to be provided "
                f"during `Trainer` instantiation. Please add the following callbacks: {missing}.",
                UserWarning,
                stacklevel=2,
            )
        for callback in trainer.callbacks:
            if callback.state_key in states:
                callback.load_state_dict(states[callback.state_key])

    def restore_training_state(self, checkpoint: dict[str, Any]) -> None:
        """Optimizers, schedulers, grad scaler, loop position, metrics and RNG: fit continues exactly there."""
        trainer = self.trainer
        trainer.optimization.load_state_dict(checkpoint)
        trainer.strategy.precision.load_state_dict(checkpoint.get("precision", {}))
        trainer.progress.load_state_dict(checkpoint)
        fit_loop = (checkpoint.get("loops") or {}).get("fit_loop") or {}
        trainer.data_connector.restore_training_states(fit_loop.get("state_dict", {}).get("combined_loader", []))
        loop = checkpoint.get("loop", {})
        trainer.metrics_store.load_training_state(loop, loop.get("epoch_finished", True), trainer.global_rank)
        self._pending_rng = checkpoint.get("rng")

    def restore_rng_if_resuming(self) -> None:
        """RNG states go back right before the first resumed batch, after anything that may draw from them."""
        if self._pending_rng is not None:
            restore_rng_states(self._pending_rng)
            self._pending_rng = None


def _lightning_loops(trainer: Any, position: dict[str, Any], loop: dict[str, Any]) -> dict[str, Any]:
    """Lightning's ``loops`` counters for this position (written by an epoch's end hooks: that epoch processed)."""
    finished = bool(loop.get("epoch_finished"))
    batches = int(loop.get("batches_done", 0))
    automatic = trainer.lightning_module.automatic_optimization
    accumulate = max(int(trainer.accumulate_grad_batches), 1)
    steps_in_epoch = (math.ceil(batches / accumulate) if finished else batches // accumulate) if automatic else None
    configs = trainer.optimization.lr_scheduler_configs
    scheduler_total = sum(int(getattr(config.scheduler, "last_epoch", 0)) for config in configs)
    scheduler_now = sum(
        (int(finished) if config.interval == "epoch" else (steps_in_epoch or 0) // config.frequency)
        for config in configs
    )
    global_step = position["global_step"]
    return lightning_loops(
        epochs_completed=position["epoch"] + int(finished),
        batches_done_in_epoch=batches,
        global_step=global_step,
        batches_that_stepped=int(loop.get("batches_that_stepped", global_step)),
        manual_optimization=not automatic,
        at_epoch_end=finished,
        total_batches=int(loop.get("total_train_batches", loop.get("batches_that_stepped", global_step))),
        steps_in_epoch=steps_in_epoch,
        scheduler_steps=(scheduler_total, min(scheduler_now, scheduler_total)),
    )


def _callback_states(callbacks: list[Any]) -> dict[str, Any]:
    """Each callback's non-empty ``state_dict()`` (asked once per save), by state key."""
    states = {}
    for callback in callbacks:
        state = callback.state_dict()
        if state:
            states[callback.state_key] = safe_value(state, f"{callback.state_key}.state_dict()")
    return states


def _hyperparameter_entries(owner: Any) -> dict[str, Any]:
    """``owner``'s (module's, datamodule's) hyper-parameter entries, their values limited to what loads with
    ``weights_only=True`` (others left out with a warning)."""
    from flashtrain.core.hparams import hyperparameter_entries

    entries = hyperparameter_entries(owner)
    key = owner.CHECKPOINT_HYPER_PARAMS_KEY
    entries[key] = safe_hyperparameters(entries[key])
    return entries
