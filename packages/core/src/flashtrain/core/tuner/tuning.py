"""``Tuner``: the learning-rate finder and the batch-size finder, as in Lightning 2.x."""

from __future__ import annotations

import contextlib
import gc
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.tuner.lr_finder import MODES, LRFinder, LRSearchCallback
from flashtrain.core.tuner.search import check_can_tune, restored, trial_trainer

_LR_NAMES = ("lr", "learning_rate")
_SCALE_MODES = ("power", "binsearch")


class Tuner:
    """Tune a model's learning rate or batch size with short trial fits of ``trainer``.

    The trials run on a copy of ``trainer`` (no loggers, checkpoints or progress bar); afterwards the model's
    weights, the random number generators and ``trainer`` itself are as they were, so the following
    ``trainer.fit`` trains exactly as if no tuning had run, only with the tuned value.
    """

    def __init__(self, trainer: Any) -> None:
        self._trainer = trainer

    def lr_find(
        self,
        model: Any,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        dataloaders: Any = None,
        datamodule: Any = None,
        method: str = "fit",
        min_lr: float = 1e-8,
        max_lr: float = 1.0,
        num_training: int = 100,
        mode: str = "exponential",
        early_stop_threshold: float | None = 4.0,
        update_attr: bool = True,
        attr_name: str = "",
    ) -> LRFinder:  # always a finder (Lightning returns None under fast_dev_run; here it is a short search)
        """Run the learning-rate range test and (with ``update_attr``) set the model's rate to the suggestion.

        Args:
            model: The Module to tune; its weights are unchanged afterwards.
            train_dataloaders: Training data (or a DataModule), as for ``Trainer.fit``.
            val_dataloaders: Accepted for Lightning compatibility; the search does not validate.
            dataloaders: Lightning's name for the data of ``method``; only ``"fit"`` is supported.
            datamodule: A DataModule instead of loaders.
            method: ``"fit"``.
            min_lr: Rate of the first step.
            max_lr: Rate of the last step.
            num_training: Optimizer steps of the search.
            mode: ``"exponential"`` (rates spaced evenly in log scale) or ``"linear"``.
            early_stop_threshold: Stop once the smoothed loss exceeds this multiple of the best so far (None: never).
            update_attr: Set the suggestion as the model's ``lr`` / ``learning_rate`` (attribute and hparams).
            attr_name: The attribute to set, if not ``lr`` or ``learning_rate``.

        Returns:
            The :class:`LRFinder` with ``results``, ``suggestion()`` and ``plot()``.

        Raises:
            ValueError: a bad argument, or a trainer that already trained or runs several processes.
            AttributeError: ``update_attr`` and the model has no such attribute (as in Lightning).
        """
        _check_method(method)
        if not (isinstance(min_lr, (int, float)) and isinstance(max_lr, (int, float)) and 0 < min_lr < max_lr):
            raise ValueError(f"lr_find needs 0 < min_lr < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}.")
        if isinstance(num_training, bool) or not isinstance(num_training, int) or num_training < 2:
            raise ValueError(f"lr_find num_training must be an int >= 2 (optimizer steps), got {num_training!r}.")
        if mode not in MODES:
            raise ValueError(f"lr_find mode must be one of {list(MODES)}, got {mode!r}.")
        name = _lr_attribute(model, attr_name) if update_attr else ""
        check_can_tune(self._trainer, "lr_find")
        train_dataloaders = dataloaders if train_dataloaders is None else train_dataloaders
        finder = LRFinder(mode, float(min_lr), float(max_lr), num_training)
        search = LRSearchCallback(finder, early_stop_threshold)
        with restored(model, self._trainer, datamodule):
            trial = trial_trainer(self._trainer, [search], max_steps=num_training, limit_val_batches=0)
            # A loss that became inf/NaN at a high rate ends the search there, as a diverging one does.
            with contextlib.suppress(FloatingPointError):
                trial.fit(model, train_dataloaders, datamodule=datamodule)
        if update_attr:
            suggested = finder.suggestion()
            if suggested is not None:
                _set_attribute(model, name, suggested)
        return finder

    def scale_batch_size(
        self,
        model: Any,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        dataloaders: Any = None,
        datamodule: Any = None,
        method: str = "fit",
        mode: str = "power",
        steps_per_trial: int = 3,
        init_val: int = 2,
        max_trials: int = 25,
        batch_arg_name: str = "batch_size",
    ) -> int | None:
        """Find the largest batch size that fits in memory, and set it on the model or datamodule.

        ``"power"`` doubles the batch size until a trial runs out of memory (or one batch holds the whole
        training set) and keeps the last size that fit; ``"binsearch"`` then bisects between that size and the
        one that failed. Each trial is ``steps_per_trial`` training steps (and as many validation batches).

        Args:
            model: The Module; its weights are unchanged afterwards.
            train_dataloaders: Must be None: the data has to be rebuilt at each size (see ``datamodule``).
            val_dataloaders: Must be None, likewise.
            dataloaders: Must be None, likewise.
            datamodule: Where ``batch_arg_name`` lives if not on the model; its loaders read it when built.
            method: ``"fit"``.
            mode: ``"power"`` or ``"binsearch"``.
            steps_per_trial: Training steps per trial.
            init_val: First batch size tried.
            max_trials: Most trials to run.
            batch_arg_name: Attribute (or hparams key) holding the batch size.

        Returns:
            The batch size found (also set on the model / datamodule).

        Raises:
            ValueError: loaders were passed directly, a bad argument, or no ``batch_arg_name`` to set.
        """
        _check_method(method)
        if any(loader is not None for loader in (train_dataloaders, val_dataloaders, dataloaders)):
            raise ValueError(
                "scale_batch_size cannot resize dataloaders passed directly. Give the batch size as an attribute "
                f"{batch_arg_name!r} of a datamodule (or of the model, with its own *_dataloader methods) that "
                "builds its loaders from it, and pass datamodule=... instead."
            )
        if mode not in _SCALE_MODES:
            raise ValueError(f"scale_batch_size mode must be one of {list(_SCALE_MODES)}, got {mode!r}.")
        for label, value in (("steps_per_trial", steps_per_trial), ("init_val", init_val), ("max_trials", max_trials)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"scale_batch_size {label} must be an int >= 1, got {value!r}.")
        holders = _batch_size_holders(model, datamodule, batch_arg_name)
        check_can_tune(self._trainer, "scale_batch_size")
        size = init_val
        fits = fails = 0  # the largest size that fitted, the smallest that ran out of memory (0: none yet)
        with restored(model, self._trainer, datamodule):
            for _ in range(max_trials):
                _set_on(holders, batch_arg_name, size)
                batches = self._try_batch_size(model, datamodule, steps_per_trial)
                if batches is None:
                    fails = size
                else:
                    fits = size
                    if batches <= 1 and not fails:
                        break  # one batch already holds the whole training set: larger sizes change nothing
                if not fails:
                    size *= 2
                elif fits == 0:
                    if fails == 1:
                        break
                    size = fails // 2  # even the first size failed: halve until one fits
                elif mode == "power" or fails - fits <= 1:
                    break
                else:
                    size = (fits + fails) // 2
        if fits == 0:
            raise RuntimeError(
                f"scale_batch_size: every batch size tried ran out of memory (down to {fails}). Use a smaller "
                "model or input size, or a lower precision."
            )
        _set_on(holders, batch_arg_name, fits)
        return fits

    def _try_batch_size(self, model: Any, datamodule: Any, steps: int) -> float | None:
        """Run one trial; the number of training batches per epoch, or None when it ran out of memory."""
        seen = _BatchesPerEpoch()
        trial = trial_trainer(self._trainer, [seen], max_steps=steps, limit_val_batches=steps)
        try:
            trial.fit(model, datamodule=datamodule)
        except BaseException as error:  # noqa: BLE001 - only out-of-memory errors are handled, others re-raised
            if not _is_out_of_memory(error):
                raise
            del trial
            _free_memory()
            return None
        return seen.batches


class _BatchesPerEpoch(Callback):
    def __init__(self) -> None:
        self.batches: float = 0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.batches = trainer.num_training_batches


def _check_method(method: str) -> None:
    if method != "fit":
        raise ValueError(
            f"Tuner method must be 'fit' (tuning for validate/test/predict is not supported), got {method!r}."
        )


def _lr_attribute(model: Any, attr_name: str) -> str:
    names = (attr_name,) if attr_name else _LR_NAMES
    for name in names:
        if hasattr(model, name) or name in getattr(model, "hparams", {}):
            return name
    if attr_name:
        raise AttributeError(f"lr_find(attr_name={attr_name!r}): the model has no attribute or hparam {attr_name!r}.")
    raise AttributeError(
        "lr_find with update_attr=True needs the model to have an attribute or hparam `lr` or `learning_rate` "
        "(read by configure_optimizers); pass attr_name=... or update_attr=False."
    )


def _set_attribute(model: Any, name: str, value: Any) -> None:
    if hasattr(model, name):
        setattr(model, name, value)
    hparams = getattr(model, "hparams", None)
    if hparams is not None and name in hparams:
        hparams[name] = value


def _batch_size_holders(model: Any, datamodule: Any, name: str) -> list[Any]:
    holders = [h for h in (model, datamodule) if h is not None and hasattr(h, name)]
    hparams = getattr(model, "hparams", None)
    if hparams is not None and name in hparams:
        holders.append(hparams)
    if not holders:
        raise ValueError(
            f"scale_batch_size found no {name!r} to change on the model, its hparams or the datamodule. Add that "
            "attribute (read when the dataloaders are built) or pass batch_arg_name=..."
        )
    return holders


def _set_on(holders: list[Any], name: str, value: int) -> None:
    for holder in holders:
        if isinstance(holder, dict):
            holder[name] = value
        else:
            setattr(holder, name, value)


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and (
        ("CUDA" in message and "out of memory" in message)
        or "CUDNN_STATUS_NOT_SUPPORTED" in message
        or "DefaultCPUAllocator: can't allocate memory" in message
        or "MPS backend out of memory" in message
    )


def _free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
