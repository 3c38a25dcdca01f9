"""``ModelCheckpoint``: save checkpoints on a schedule, keep the best k by a monitored metric."""

from __future__ import annotations

import math
import os
import re
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers.base import VersionedFolderLogger
from flashtrain.core.utilities import fs

_TEMPLATE_FIELD = re.compile(r"\{([^{}:]+)(:[^{}]*)?\}")


class ModelCheckpoint(Callback):
    """Save checkpoints to ``dirpath`` (default ``<log_dir>/checkpoints``), Lightning 2.x semantics.

    Args:
        dirpath: Folder for the files.
        filename: Template such as ``"{epoch}-{val_loss:.3f}"``; fields are ``epoch``, ``step`` and any
            logged metric. With ``auto_insert_metric_name`` a field renders as ``name=value``.
        monitor: Metric deciding which files are best; None keeps the most recent ``save_top_k``.
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        save_top_k: Files to keep (-1: all, 0: none but ``last.ckpt``).
        save_last: Also write ``last.ckpt`` at every save.
        every_n_epochs: Save at the end of every n-th epoch (default 1 unless ``every_n_train_steps``).
        every_n_train_steps: Save every n optimizer steps.
        save_weights_only: Leave out optimizer, scheduler, loop and RNG state.
    """

    runs_last = True
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = ".ckpt"

    def __init__(
        self,
        dirpath: str | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool | None = None,
        save_top_k: int = 1,
        save_weights_only: bool = False,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        every_n_epochs: int | None = None,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ModelCheckpoint mode must be 'min' or 'max', got {mode!r}.")
        if not isinstance(save_top_k, int) or save_top_k < -1:
            raise ValueError(f"ModelCheckpoint save_top_k must be an int >= -1, got {save_top_k!r}.")
        for name, value in (("every_n_train_steps", every_n_train_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"ModelCheckpoint {name} must be an int >= 0 or None, got {value!r}.")
        self.dirpath = os.fspath(dirpath) if dirpath is not None else None
        self.filename = filename
        self.monitor = monitor
        self.verbose = verbose
        self.save_last = save_last
        self.save_top_k = save_top_k
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.auto_insert_metric_name = auto_insert_metric_name
        self.every_n_train_steps = every_n_train_steps or None
        self.every_n_epochs = every_n_epochs if every_n_epochs is not None else (None if every_n_train_steps else 1)
        self.best_k_models: dict[str, float] = {}
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self.last_model_path = ""
        self._last_saved_step = -1

    @property
    def state_key(self) -> str:
        return (
            f"ModelCheckpoint{{monitor={self.monitor!r}, mode={self.mode!r}, every_n_train_steps="
            f"{self.every_n_train_steps}, every_n_epochs={self.every_n_epochs}}}"
        )

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "dirpath": self.dirpath,
            "best_model_path": self.best_model_path,
            "best_model_score": self.best_model_score,
            "best_k_models": dict(self.best_k_models),
            "last_model_path": self.last_model_path,
            "last_saved_step": self._last_saved_step,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        same_folder = state_dict.get("dirpath") == self.dirpath or self.dirpath is None
        if self.dirpath is None:
            self.dirpath = state_dict.get("dirpath")
        if same_folder:
            self.best_k_models = {p: s for p, s in state_dict.get("best_k_models", {}).items() if fs.exists(p)}
            self.best_model_path = state_dict.get("best_model_path", "")
            self.best_model_score = state_dict.get("best_model_score")
            self.last_model_path = state_dict.get("last_model_path", "")
        self._last_saved_step = state_dict.get("last_saved_step", -1)

    # -- hooks ---------------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = default_checkpoint_dir(trainer)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        n = self.every_n_train_steps
        step = trainer.global_step
        if n and step > 0 and step % n == 0 and step != self._last_saved_step:
            self._save(trainer, require_monitor=False)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or self.every_n_train_steps or self.monitor is None:
            return
        if self.monitor in trainer.metrics_store.evaluation_metric_names and self._epoch_due(trainer):
            self._save(trainer, require_monitor=True)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.every_n_train_steps or not self._epoch_due(trainer) or trainer.global_step == self._last_saved_step:
            return
        self._save(trainer, require_monitor=True)

    def _epoch_due(self, trainer: Any) -> bool:
        return bool(self.every_n_epochs) and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    # -- saving -------------------------------------------------------------------------------------------------
    @property
    def kth_best_model_path(self) -> str:
        """The kept checkpoint that would be replaced next: the worst of the top ``save_top_k`` ("" before any)."""
        return self._worst_path() if self.best_k_models else ""

    @property
    def kth_value(self) -> float | None:
        """The monitored value of :attr:`kth_best_model_path` (None before any save)."""
        path = self.kth_best_model_path
        return self.best_k_models[path] if path else None

    def _save(self, trainer: Any, require_monitor: bool) -> None:
        metrics = trainer.callback_metrics
        # As Lightning, "epoch" and "step" can be monitored too.
        candidates = {"epoch": trainer.current_epoch, **metrics, "step": trainer.global_step}
        score = None
        if self.monitor is not None:
            if self.monitor not in candidates:
                if not require_monitor:
                    return
                raise MisconfigurationException(
                    f"ModelCheckpoint(monitor={self.monitor!r}) could not find {self.monitor!r} in the logged metrics: "
                    f"{sorted(candidates)}. Log it with self.log({self.monitor!r}, ...) or change monitor."
                )
            score = float(candidates[self.monitor])
        self._last_saved_step = trainer.global_step
        path = self.format_checkpoint_path(trainer.current_epoch, trainer.global_step, metrics)
        # Every rank takes rank 0's decision, so they all meet in the same save_checkpoint calls.
        score, path = trainer.strategy.broadcast((score, path))
        saved = False
        if self.save_top_k != 0 and self._keeps(score):
            trainer.save_checkpoint(path, weights_only=self.save_weights_only)
            saved = True
            self._update_best(trainer, path, score)
        if self.save_last:
            last = fs.join(self.dirpath or ".", self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
            trainer.save_checkpoint(last, weights_only=self.save_weights_only)
            self.last_model_path = last
        if saved and self.verbose and trainer.is_global_zero:
            print(f"Epoch {trainer.current_epoch}, step {trainer.global_step}: saved {path}")

    def _keeps(self, score: float | None) -> bool:
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k or score is None or self.monitor is None:
            return True
        worst = self._worst_path()
        return self._better(score, self.best_k_models[worst])

    def _better(self, score: float, than: float) -> bool:
        if math.isnan(score):
            return False
        if math.isnan(than):
            return True
        return score < than if self.mode == "min" else score > than

    def _worst_path(self) -> str:
        def badness(item: tuple[str, float]) -> float:
            value = item[1]
            if math.isnan(value):
                return math.inf
            return value if self.mode == "min" else -value

        return max(self.best_k_models.items(), key=badness)[0]

    def _update_best(self, trainer: Any, path: str, score: float | None) -> None:
        if self.monitor is None:
            # No metric: keep the most recent save_top_k files.
            self.best_k_models[path] = float(trainer.global_step)
            ordered = sorted(self.best_k_models, key=lambda p: self.best_k_models[p])
            stale = ordered[: -self.save_top_k] if self.save_top_k > 0 else []
            self.best_model_path = path
        else:
            self.best_k_models[path] = score if score is not None else math.nan
            stale = []
            if self.save_top_k != -1 and len(self.best_k_models) > self.save_top_k:
                stale = [self._worst_path()]
            best = min(
                self.best_k_models.items(),
                key=lambda item: (math.isnan(item[1]), item[1] if self.mode == "min" else -item[1]),
            )
            self.best_model_path, self.best_model_score = best[0], best[1]
        for old in stale:
            self.best_k_models.pop(old, None)
            if old != path and trainer.is_global_zero and fs.exists(old):
                fs.remove(old)  # a file, or a folder (sharded checkpoints)

    def format_checkpoint_path(self, epoch: int, step: int, metrics: dict[str, Any]) -> str:
        """The file path for a checkpoint at (epoch, step) with these metrics."""
        template = self.filename or "{epoch}-{step}"
        values: dict[str, Any] = {"epoch": epoch, "step": step}
        values.update({k: float(v) if isinstance(v, torch.Tensor) else v for k, v in metrics.items()})

        def render(match: re.Match) -> str:
            name, spec = match.group(1), match.group(2) or ""
            value = values.get(name, 0)
            text = format(value, spec[1:]) if spec else str(value)
            return f"{name}={text}" if self.auto_insert_metric_name else text

        name = _TEMPLATE_FIELD.sub(render, template).replace("/", "_")
        return fs.join(self.dirpath or ".", name + self.FILE_EXTENSION)


def default_checkpoint_dir(trainer: Any) -> str:
    """``<log_dir>/checkpoints`` with a logger, ``<default_root_dir>/checkpoints`` without."""
    if trainer.logger is not None and getattr(trainer.logger, "log_dir", None):
        return fs.join(trainer.logger.log_dir, "checkpoints")
    return fs.join(trainer.default_root_dir, "checkpoints")


def interrupt_checkpoint_path(trainer: Any) -> str:
    """Where a checkpoint forced by a signal goes: ``last.ckpt`` beside the regular checkpoints."""
    callback = trainer.checkpoint_callback
    folder = callback.dirpath if callback is not None and callback.dirpath else default_checkpoint_dir(trainer)
    return fs.join(folder, ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION)


def find_last_checkpoint(trainer: Any) -> str | None:
    """The newest checkpoint this trainer's setup would have written (its folders, every logger version)."""
    folders = [cb.dirpath for cb in trainer.checkpoint_callbacks if cb.dirpath]
    logger = trainer.logger
    # Only folder loggers number their runs version_N; asking MLflow or W&B for their name would create a run.
    if isinstance(logger, VersionedFolderLogger) and logger.save_dir:
        folders += fs.glob(fs.join(logger.save_dir, logger.name, "version_*", "checkpoints"))
    folders.append(fs.join(trainer.default_root_dir, "checkpoints"))
    files = [f for folder in folders for f in fs.glob(fs.join(folder, "*" + ModelCheckpoint.FILE_EXTENSION))]
    if not files:
        return None
    return max(files, key=lambda f: (fs.modified_ns(f), os.path.basename(f).startswith("last")))
