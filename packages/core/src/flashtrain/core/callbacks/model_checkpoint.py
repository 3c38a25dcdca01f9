"""``ModelCheckpoint``: save checkpoints on a schedule, keep the best k by a monitored metric (Lightning 2.6 rules).

When it saves (all decided here, from the trainer's public state):

* every ``every_n_train_steps`` optimizer steps, or once ``train_time_interval`` has passed, at a batch's end;
  a monitored metric that only validation logs defers that save to the end of the next validation;
* every ``every_n_epochs`` epochs: at the train epoch's end when :meth:`saves_on_train_epoch_end` (no validation,
  or validation once per epoch), otherwise after each validation (so with ``val_check_interval < 1`` after
  every mid-epoch validation);
* never twice at one global step, never before the first step, never in a sanity check, a ``fast_dev_run`` or
  outside ``fit``; on an exception with ``save_on_exception``.
"""

# No ``from __future__ import annotations`` here: the constructor's annotations stay real types, so argument
# parsers (jsonargparse, LightningCLI) can read ``save_last: bool | Literal["link"] | None`` from the signature.
import copy
import datetime
import logging
import math
import os
import re
import shutil
import time
import warnings
from typing import Any, Literal

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers.base import VersionedFolderLogger
from flashtrain.core.utilities import disk, fs

log = logging.getLogger(__name__)

_TEMPLATE_KEY = re.compile(r"\{([^{}:]+)(:[^{}]*)?\}")


class ModelCheckpoint(Callback):
    """Save checkpoints to ``dirpath`` (default ``<log_dir>/checkpoints``), Lightning 2.x semantics.

    Args:
        dirpath: Folder for the files (``~`` is expanded).
        filename: Template such as ``"{epoch}-{val_loss:.3f}"``; fields are ``epoch``, ``step`` and any
            logged metric (a missing one renders as 0). With ``auto_insert_metric_name`` a field renders as
            ``name=value``.
        monitor: Metric deciding which files are best; None keeps the most recent file (``save_top_k`` 1) or all.
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        save_top_k: Files to keep (-1: all, 0: none but the last). Without ``monitor`` only -1, 0 or 1.
        save_last: Also write ``last.ckpt`` whenever a checkpoint is saved; ``"link"``: a symbolic link to it.
        save_on_exception: Save a checkpoint when fit raises.
        every_n_train_steps / every_n_epochs / train_time_interval: When to save (at most one of them); none
            given: every epoch.
        save_on_train_epoch_end: Save at the train epoch's end (True) or after validation (False); None decides
            from the trainer (see :meth:`saves_on_train_epoch_end`).
        enable_version_counter: A file name already on disk gets ``-v1``, ``-v2``... instead of overwriting it.
        save_weights_only: Leave out optimizer, scheduler, loop and RNG state.
    """

    runs_last = True
    CHECKPOINT_JOIN_CHAR = "-"
    CHECKPOINT_EQUALS_CHAR = "="
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = ".ckpt"
    STARTING_VERSION = 1

    def __init__(
        self,
        dirpath: str | os.PathLike | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool | Literal["link"] | None = None,
        save_top_k: int = 1,
        save_on_exception: bool = False,
        save_weights_only: bool = False,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        train_time_interval: datetime.timedelta | None = None,
        every_n_epochs: int | None = None,
        save_on_train_epoch_end: bool | None = None,
        enable_version_counter: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise MisconfigurationException(f"`mode` can be min, max but got {mode}")
        if save_last not in (None, True, False, "link"):
            raise MisconfigurationException(f"save_last must be a bool or 'link', got {save_last!r}.")
        if not isinstance(save_top_k, int) or save_top_k < -1:
            raise MisconfigurationException(f"Invalid value for save_top_k={save_top_k}. Must be >= -1")
        if every_n_train_steps is None and every_n_epochs is None and train_time_interval is None:
            every_n_epochs = 1  # the default: once per epoch
        for name, value in (("every_n_train_steps", every_n_train_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise MisconfigurationException(f"Invalid value for {name}={value}. Must be >= 0")
        triggers = [bool(every_n_train_steps), bool(every_n_epochs), train_time_interval is not None]
        if sum(triggers) > 1:
            raise MisconfigurationException(
                f"Combination of parameters every_n_train_steps={every_n_train_steps or 0}, "
                f"every_n_epochs={every_n_epochs or 0} and train_time_interval={train_time_interval} "
                "should be mutually exclusive."
            )
        if monitor is None and save_top_k not in (-1, 0, 1):
            raise MisconfigurationException(
                f"ModelCheckpoint(save_top_k={save_top_k}, monitor=None) is not a valid configuration. "
                "No quantity for top_k to track."
            )
        if dirpath is not None and not fs.is_remote(os.fspath(dirpath)):
            dirpath = os.path.realpath(os.path.expanduser(os.fspath(dirpath)))
        self.dirpath = os.fspath(dirpath) if dirpath is not None else None
        self.filename = filename
        self.monitor = monitor
        self.verbose = verbose
        self.save_last = save_last
        self.save_top_k = save_top_k
        self.save_on_exception = save_on_exception
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.auto_insert_metric_name = auto_insert_metric_name
        self.every_n_train_steps: int = every_n_train_steps or 0
        self.every_n_epochs: int = every_n_epochs or 0
        self.train_time_interval = train_time_interval
        self.save_on_train_epoch_end = save_on_train_epoch_end
        self.enable_version_counter = enable_version_counter
        self.best_k_models: dict[str, torch.Tensor] = {}
        self.best_model_path = ""
        self.best_model_score: torch.Tensor | None = None
        self.current_score: torch.Tensor | None = None
        self.kth_best_model_path = ""
        self.kth_value = torch.tensor(math.inf if mode == "min" else -math.inf)
        self.last_model_path = ""
        self.last_global_step_saved = 0  # nothing to save before the first step
        self.last_checkpoint_saved = ""  # the newest file written (what save_last="link" points at)
        self.deferred_to_validation = False  # a step/time save waiting for a validation-only metric
        self.time_last_checked: float | None = None

    @property
    def state_key(self) -> str:
        return (
            f"ModelCheckpoint{{'monitor': {self.monitor!r}, 'mode': {self.mode!r}, "
            f"'every_n_train_steps': {self.every_n_train_steps}, 'every_n_epochs': {self.every_n_epochs}, "
            f"'train_time_interval': {self.train_time_interval!r}}}"
        )

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "best_model_score": self.best_model_score,
            "best_model_path": self.best_model_path,
            "current_score": self.current_score,
            "dirpath": self.dirpath,
            "best_k_models": dict(self.best_k_models),
            "kth_best_model_path": self.kth_best_model_path,
            "kth_value": self.kth_value,
            "last_model_path": self.last_model_path,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_dir = state_dict.get("dirpath", self.dirpath)
        if self.dirpath is None or saved_dir == self.dirpath:
            self.dirpath = saved_dir
            self.best_model_score = _as_tensor(state_dict.get("best_model_score"))
            self.kth_best_model_path = state_dict.get("kth_best_model_path", self.kth_best_model_path)
            self.kth_value = _as_tensor(state_dict.get("kth_value", self.kth_value))
            self.best_k_models = {
                path: _as_tensor(score) for path, score in state_dict.get("best_k_models", {}).items()
            }
            self.last_model_path = state_dict.get("last_model_path", self.last_model_path)
        else:
            warnings.warn(
                f"The dirpath has changed from {saved_dir!r} to {self.dirpath!r}, therefore `best_model_score`, "
                "`kth_best_model_path`, `kth_value`, `last_model_path` and `best_k_models` won't be reloaded. "
                "Only `best_model_path` will be reloaded.",
                stacklevel=2,
            )
        self.best_model_path = state_dict.get("best_model_path", "")

    # -- hooks ---------------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = default_checkpoint_dir(trainer)
        self.dirpath = trainer.strategy.broadcast(self.dirpath)
        if self.save_last == "link" and fs.is_remote(self.dirpath):
            raise ValueError(
                f"`ModelCheckpoint(save_last='link')` is only supported for local file paths, got "
                f"`dirpath={self.dirpath}`."
            )
        if stage == "fit" and trainer.is_global_zero and self.save_top_k != 0 and _non_empty_dir(self.dirpath):
            warnings.warn(f"Checkpoint directory {self.dirpath} exists and is not empty.", stacklevel=2)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.time_last_checked = time.monotonic()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step_due = self.every_n_train_steps >= 1 and trainer.global_step % self.every_n_train_steps == 0
        time_due = False
        if self.train_time_interval is not None and self.time_last_checked is not None:
            now = time.monotonic()
            time_due = now - self.time_last_checked >= self.train_time_interval.total_seconds()
            time_due = trainer.strategy.broadcast(time_due)  # ranks agree (their clocks differ)
            if time_due:
                self.time_last_checked = now
        if not (step_due or time_due):
            return
        candidates = self.monitor_candidates(trainer)
        if self.monitor is not None and self.monitor not in candidates:
            self.deferred_to_validation = True  # a validation-only metric: save once validation logged it
            return
        if self.monitor is not None and not self.saves_on_train_epoch_end(trainer) and _validates_next(trainer):
            self.deferred_to_validation = True  # the metric present is stale: validation runs right after
            return
        if self._skips(trainer):
            return
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._skips(trainer) and self.saves_on_train_epoch_end(trainer):
            self._save_on_schedule(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self._skips(trainer) or self.saves_on_train_epoch_end(trainer):
            return
        if self.deferred_to_validation:
            candidates = self.monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
            self.deferred_to_validation = False
            return
        self._save_on_schedule(trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if not self.save_on_exception or trainer.fast_dev_run or trainer.sanity_checking:
            return
        if self.last_global_step_saved == trainer.global_step:
            return
        candidates = self.monitor_candidates(trainer)
        path = self.format_checkpoint_name(candidates)
        self._write(trainer, path)
        self._save_last_checkpoint(trainer, candidates)
        if trainer.is_global_zero:
            log.info(f"An {type(exception).__name__} was raised with message: {exception}, saved checkpoint to {path}")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.save_last and not self.last_checkpoint_saved and not trainer.fast_dev_run:
            self._save_last_checkpoint(trainer, self.monitor_candidates(trainer))

    # -- when ---------------------------------------------------------------------------------------------------
    def saves_on_train_epoch_end(self, trainer: Any) -> bool:
        """True: the epoch's save happens at the train epoch's end; False: after validation."""
        if self.save_on_train_epoch_end is not None:
            return self.save_on_train_epoch_end
        if trainer.limits.val_check_time is not None:  # validation by the clock: save after it
            return False
        if trainer.check_val_every_n_epoch != 1:  # which epoch validates is not this epoch's business
            return False
        if sum(trainer.num_val_batches) == 0:
            return True
        return trainer.val_check_interval == 1.0  # several validations per epoch: save after each

    def _skips(self, trainer: Any) -> bool:
        return (
            bool(trainer.fast_dev_run)
            or trainer.state.fn != "fit"
            or trainer.sanity_checking
            or self.last_global_step_saved == trainer.global_step
        )

    def _save_on_schedule(self, trainer: Any) -> None:
        candidates = self.monitor_candidates(trainer)
        if self.every_n_epochs >= 1 and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._save_topk_checkpoint(trainer, candidates)
        # Unlike Lightning 2.6 (last only when a top-k file was written at this step), last.ckpt is the newest
        # state at every point the schedule runs: resuming from "last" continues from where the fit got to, not from
        # the last improvement (docs/lightning-differences.md).
        self._save_last_checkpoint(trainer, candidates)

    # -- what ---------------------------------------------------------------------------------------------------
    def monitor_candidates(self, trainer: Any) -> dict[str, torch.Tensor]:
        """The logged metrics with ``epoch`` and ``step`` (ints) added: the values a file name and monitor see."""
        candidates = copy.deepcopy(dict(trainer.callback_metrics))
        epoch, step = candidates.get("epoch"), candidates.get("step")
        candidates["epoch"] = epoch.int() if isinstance(epoch, torch.Tensor) else torch.tensor(trainer.current_epoch)
        candidates["step"] = step.int() if isinstance(step, torch.Tensor) else torch.tensor(trainer.global_step)
        return candidates

    def _save_topk_checkpoint(self, trainer: Any, candidates: dict[str, torch.Tensor]) -> None:
        if self.save_top_k == 0:
            return
        if self.monitor is None:
            self._save_newest(trainer, candidates)
            return
        if self.monitor not in candidates:
            message = (
                f"`ModelCheckpoint(monitor={self.monitor!r})` could not find the monitored key in the returned "
                f"metrics: {list(candidates)}. HINT: Did you call `log({self.monitor!r}, value)` in the "
                "`LightningModule`?"
            )
            # Validation ran and did not log it, or this fit never validates: it cannot appear, refuse (Lightning
            # only warns in the second case and saves nothing). Before a first validation: a warning.
            if trainer.metrics_store.evaluation_metric_names or not _has_validation(trainer):
                raise MisconfigurationException(message)
            warnings.warn(message, stacklevel=2)
            return
        current = candidates[self.monitor]
        if self.check_monitor_top_k(trainer, current):
            self._update_best_and_save(current, trainer, candidates)
        elif self.verbose and trainer.is_global_zero:
            log.info(
                f"Epoch {int(candidates['epoch']):d}, global step {int(candidates['step']):d}: "
                f"{self.monitor!r} was not in top {self.save_top_k}"
            )

    def check_monitor_top_k(self, trainer: Any, current: torch.Tensor | None = None) -> bool:
        """Whether ``current`` earns a place among the kept files."""
        if current is None:
            return False
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        worst = self.best_k_models[self.kth_best_model_path]
        better = bool(current < worst) if self.mode == "min" else bool(current > worst)
        return trainer.strategy.reduce_boolean_decision(better)

    def _save_newest(self, trainer: Any, candidates: dict[str, torch.Tensor]) -> None:
        """No monitor: the newest file is the best; with save_top_k=1 it replaces the previous one."""
        path = self._versioned_name(candidates, trainer, replacing=self.best_model_path)
        previous, self.best_model_path = self.best_model_path, path
        self._write(trainer, path)
        if self.save_top_k == 1 and previous and self._may_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _update_best_and_save(self, current: torch.Tensor, trainer: Any, candidates: dict[str, torch.Tensor]) -> None:
        k = len(self.best_k_models) + 1 if self.save_top_k == -1 else self.save_top_k
        replaced = None
        if len(self.best_k_models) == k and k > 0:
            replaced = self.kth_best_model_path
            self.best_k_models.pop(replaced)
        current = torch.as_tensor(current).detach().cpu()
        if torch.isnan(current):  # NaN is never the best: it ranks as the worst possible score
            current = torch.tensor(math.inf if self.mode == "min" else -math.inf)
        path = self._versioned_name(candidates, trainer, replacing=replaced)
        self.current_score = current
        self.best_k_models[path] = current
        worst, best = (max, min) if self.mode == "min" else (min, max)
        if len(self.best_k_models) == k:
            self.kth_best_model_path = worst(self.best_k_models, key=lambda p: float(self.best_k_models[p]))
            self.kth_value = self.best_k_models[self.kth_best_model_path]
        self.best_model_path = best(self.best_k_models, key=lambda p: float(self.best_k_models[p]))
        self.best_model_score = self.best_k_models[self.best_model_path]
        if self.verbose and trainer.is_global_zero:
            log.info(
                f"Epoch {int(candidates['epoch']):d}, global step {int(candidates['step']):d}: {self.monitor!r} "
                f"reached {float(current):0.5f} (best {float(self.best_model_score):0.5f}), saving model to "
                f"{path!r} as top {k}"
            )
        self._write(trainer, path)
        if replaced and self._may_remove(trainer, replaced, path):
            self._remove(trainer, replaced)

    def _save_last_checkpoint(self, trainer: Any, candidates: dict[str, torch.Tensor]) -> None:
        if not self.save_last:
            return
        path = self.format_checkpoint_name(candidates, self.CHECKPOINT_NAME_LAST)
        if self.enable_version_counter:
            version = self.STARTING_VERSION
            while self.file_exists(path, trainer) and path != self.last_model_path:
                path = self.format_checkpoint_name(candidates, self.CHECKPOINT_NAME_LAST, ver=version)
                version += 1
        previous, self.last_model_path = self.last_model_path, path
        if self.save_last == "link" and self.last_checkpoint_saved and self.save_top_k != 0:
            self._link(trainer, self.last_checkpoint_saved, path)
        else:
            self._write(trainer, path)
        if previous and self._may_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _write(self, trainer: Any, path: str) -> None:
        trainer.save_checkpoint(path, self.save_weights_only)
        self.last_global_step_saved = trainer.global_step
        self.last_checkpoint_saved = path
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(self)

    @staticmethod
    def _link(trainer: Any, target: str, link: str) -> None:
        """``link`` becomes a relative symbolic link to ``target`` (a copy where links are not allowed)."""
        if trainer.is_global_zero and os.path.abspath(target) != os.path.abspath(link):
            if os.path.islink(link) or os.path.isfile(link):
                os.remove(link)
            elif os.path.isdir(link):
                shutil.rmtree(link)
            try:
                os.symlink(os.path.relpath(target, os.path.dirname(link)), link)
            except OSError:  # e.g. Windows without the symlink privilege
                shutil.copy(target, link)
        trainer.strategy.barrier()

    def _may_remove(self, trainer: Any, previous: str, current: str) -> bool:
        """Only files this callback's folder holds are deleted: never the file just written, never the checkpoint
        this fit resumed from, never a file elsewhere."""
        if previous == current:
            return False
        if fs.is_remote(previous):
            return True
        resumed = trainer.checkpoint_connector.resumed_from
        if resumed is not None and not fs.is_remote(resumed) and os.path.abspath(resumed) == os.path.abspath(previous):
            return False
        folder = os.path.abspath(self.dirpath or ".")
        return os.path.abspath(previous).startswith(folder + os.sep)

    def _remove(self, trainer: Any, path: str) -> None:
        if trainer.is_global_zero and (os.path.islink(path) or fs.exists(path)):
            fs.remove(path)  # a file, a link, or a folder (sharded checkpoints)

    def file_exists(self, filepath: str, trainer: Any) -> bool:
        """Whether rank 0 sees ``filepath``; every rank gets rank 0's answer."""
        return bool(trainer.strategy.broadcast(fs.exists(filepath) if trainer.is_global_zero else False))

    def to_yaml(self, filepath: str | os.PathLike | None = None) -> None:
        """Write ``best_k_models`` (path -> score) as YAML, by default to ``<dirpath>/best_k_models.yaml``."""
        import yaml

        target = os.fspath(filepath) if filepath is not None else fs.join(self.dirpath or ".", "best_k_models.yaml")
        with disk.writing(target), fs.open_file(target, "w") as handle:
            yaml.dump({path: float(score) for path, score in self.best_k_models.items()}, handle)

    # -- names --------------------------------------------------------------------------------------------------
    def _versioned_name(self, candidates: dict[str, Any], trainer: Any, replacing: str | None) -> str:
        """The file name; with the version counter, ``-v1``, ``-v2``... while the name is taken on disk."""
        path = self.format_checkpoint_name(candidates)
        if self.enable_version_counter:
            version = self.STARTING_VERSION
            while self.file_exists(path, trainer) and path != replacing:
                path = self.format_checkpoint_name(candidates, ver=version)
                version += 1
        return path

    def format_checkpoint_name(
        self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None, prefix: str | None = None
    ) -> str:
        """The path for a checkpoint with these metrics: ``filename`` (default: this callback's template)
        rendered, ``prefix-`` before it and ``-v{ver}`` after it when given."""
        name = self._render(filename or self.filename or "{epoch}" + self.CHECKPOINT_JOIN_CHAR + "{step}", metrics)
        if prefix is not None:
            name = self.CHECKPOINT_JOIN_CHAR.join([prefix, name])
        if ver is not None:
            name = self.CHECKPOINT_JOIN_CHAR.join([name, f"v{ver}"])
        name += self.FILE_EXTENSION
        return fs.join(self.dirpath, name) if self.dirpath else name

    def _render(self, template: str, metrics: dict[str, Any]) -> str:
        def render(match: re.Match) -> str:
            key, spec = match.group(1), match.group(2) or ""
            value = metrics.get(key, 0)
            if isinstance(value, torch.Tensor):
                value = value.item()
            text = format(value, spec[1:]) if spec else str(value)
            return f"{key}{self.CHECKPOINT_EQUALS_CHAR}{text}" if self.auto_insert_metric_name else text

        return _TEMPLATE_KEY.sub(render, template)

    def format_checkpoint_path(self, epoch: int, step: int, metrics: dict[str, Any]) -> str:
        """The file path for a checkpoint at (epoch, step) with these metrics."""
        return self.format_checkpoint_name({**metrics, "epoch": epoch, "step": step})


def _as_tensor(value: Any) -> Any:
    """Scores are tensors (as Lightning's); older flashtrain checkpoints stored floats."""
    return torch.tensor(value) if isinstance(value, (int, float)) else value


def _non_empty_dir(path: str) -> bool:
    return not fs.is_remote(path) and os.path.isdir(path) and len(os.listdir(path)) > 0


def _has_validation(trainer: Any) -> bool:
    return trainer.val_dataloaders is not None and sum(trainer.num_val_batches) > 0


def _validates_next(trainer: Any) -> bool:
    """Whether validation runs right after this (the epoch's last) batch."""
    if not trainer.is_last_batch or not _has_validation(trainer):
        return False
    every = trainer.check_val_every_n_epoch
    return every is None or (trainer.current_epoch + 1) % every == 0


def default_checkpoint_dir(trainer: Any) -> str:
    """Lightning's rule: ``<save_dir>/<name>/<version>/checkpoints`` of the first logger (``save_dir`` None: the
    trainer's ``default_root_dir``; an int version as ``version_N``), ``<default_root_dir>/checkpoints`` without
    one. Read from those three public properties, so any logger works, and a TensorBoard ``sub_dir`` stays out."""
    logger = trainer.logger
    if logger is None:
        return fs.join(trainer.default_root_dir, "checkpoints")
    save_dir = logger.save_dir if logger.save_dir is not None else trainer.default_root_dir
    version = logger.version
    version = version if isinstance(version, str) else f"version_{version}"
    return fs.join(os.fspath(save_dir), str(logger.name), version, "checkpoints")


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
