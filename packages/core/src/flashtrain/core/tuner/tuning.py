"""``Tuner``: the learning-rate finder and the batch-size finder, as in Lightning 2.x."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import math
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.tuner.lr_finder import MODES, LRFinder, LRSearchCallback
from flashtrain.core.tuner.search import check_can_tune, restored, trial_trainer
from flashtrain.core.utilities.rank_zero import rank_zero_warn

log = logging.getLogger(__name__)

_LR_NAMES = ("lr", "learning_rate")
_SCALE_MODES = ("power", "binsearch")
_METHODS = ("fit", "validate", "test", "predict")


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
    ) -> LRFinder | None:
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
            The :class:`LRFinder` with ``results``, ``suggestion()`` and ``plot()``; None under ``fast_dev_run``,
            which skips the search (as Lightning).

        Raises:
            ValueError: a bad argument, or a trainer that already trained or runs several processes.
            AttributeError: ``update_attr`` and the model has no such attribute (as in Lightning).
        """
        _check_method(method)
        _check_no_finder_callback(self._trainer, "LearningRateFinder")
        train_dataloaders = dataloaders if train_dataloaders is None else train_dataloaders
        return self.run_lr_search(
            model,
            train_dataloaders,
            datamodule,
            min_lr,
            max_lr,
            num_training,
            mode,
            early_stop_threshold,
            update_attr,
            attr_name,
        )

    def run_lr_search(
        self,
        model: Any,
        train_dataloaders: Any = None,
        datamodule: Any = None,
        min_lr: float = 1e-8,
        max_lr: float = 1.0,
        num_training: int = 100,
        mode: str = "exponential",
        early_stop_threshold: float | None = 4.0,
        update_attr: bool = True,
        attr_name: str = "",
    ) -> LRFinder | None:
        """The search behind :meth:`lr_find` (also run by the ``LearningRateFinder`` callback as a fit starts)."""
        if self._trainer.fast_dev_run:
            rank_zero_warn("Skipping learning rate finder since `fast_dev_run` is enabled.")
            return None
        rates = (min_lr, max_lr)
        if not all(isinstance(rate, (int, float)) and 0 < rate < math.inf for rate in rates):
            raise ValueError(
                f"lr_find needs positive finite min_lr and max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}."
            )
        if min_lr >= max_lr:  # as Lightning, the rates go from min_lr to max_lr: here downward
            rank_zero_warn(
                f"lr_find: min_lr={min_lr!r} is not below max_lr={max_lr!r}, so the rates tried go down from min_lr "
                "to max_lr. Swap them for the usual increasing sweep."
            )
        if isinstance(num_training, bool) or not isinstance(num_training, int) or num_training < 1:
            raise ValueError(f"lr_find num_training must be an int >= 1 (optimizer steps), got {num_training!r}.")
        if mode not in MODES:
            raise ValueError(f"lr_find mode must be one of {list(MODES)}, got {mode!r}.")
        name = _lr_attribute(model, attr_name) if update_attr else ""
        check_can_tune(self._trainer, "lr_find")
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
        margin: float = 0.05,
        max_val: int = 8192,
    ) -> int | None:
        """Find the largest batch size that fits in memory, and set it on the model or datamodule.

        ``"power"`` doubles the batch size after each trial that fits, until one runs out of memory (the last size
        that fit is kept), the batch size reaches the dataset's length, ``max_val`` or ``max_trials``.
        ``"binsearch"`` doubles likewise, then bisects between the last size that fit and the first that did not,
        and finally takes ``margin`` off the size found (a safety buffer). Each trial runs ``steps_per_trial``
        batches of ``method`` (training steps and as many validation batches for ``"fit"``).

        Args:
            model: The Module; its weights are unchanged afterwards.
            train_dataloaders: Must be None: the data has to be rebuilt at each size (see ``datamodule``).
            val_dataloaders: Must be None, likewise.
            dataloaders: Must be None, likewise.
            datamodule: Where ``batch_arg_name`` lives if not on the model; its loaders read it when built.
            method: The stage whose data is sized: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
            mode: ``"power"`` or ``"binsearch"``.
            steps_per_trial: Batches per trial.
            init_val: First batch size tried.
            max_trials: Most successful trials (0: none; the batch size stays ``init_val``).
            batch_arg_name: Attribute (or hparams key) holding the batch size.
            margin: Fraction taken off the size ``"binsearch"`` found, in [0, 1).
            max_val: Largest batch size to try.

        Returns:
            The batch size found (also set on the model / datamodule); None under ``fast_dev_run``.

        Raises:
            MisconfigurationException: loaders were passed directly, several loaders to size, or no
                ``batch_arg_name`` to set.
            ValueError: a bad argument.
        """
        _check_tuner_method(method, train_dataloaders, val_dataloaders, dataloaders)
        _check_no_finder_callback(self._trainer, "BatchSizeFinder")
        if any(loader is not None for loader in (train_dataloaders, val_dataloaders, dataloaders)):
            raise MisconfigurationException(
                "The Batch size finder cannot be used with dataloaders passed directly to `.fit()`. Please disable the"
                " feature or incorporate the dataloader into your LightningModule or LightningDataModule (it must be "
                f"rebuilt from the {batch_arg_name!r} attribute at each size)."
            )
        return self.run_batch_size_search(
            model, datamodule, method, mode, steps_per_trial, init_val, max_trials, batch_arg_name, margin, max_val
        )

    def run_batch_size_search(
        self,
        model: Any,
        datamodule: Any = None,
        method: str = "fit",
        mode: str = "power",
        steps_per_trial: int = 3,
        init_val: int = 2,
        max_trials: int = 25,
        batch_arg_name: str = "batch_size",
        margin: float = 0.05,
        max_val: int = 8192,
    ) -> int | None:
        """The search behind :meth:`scale_batch_size` (also run by the ``BatchSizeFinder`` callback)."""
        if mode not in _SCALE_MODES:
            raise ValueError(f"`mode` should be either of {_SCALE_MODES}, got {mode!r}.")
        for label, value, least in (
            ("steps_per_trial", steps_per_trial, 1),
            ("init_val", init_val, 1),
            ("max_trials", max_trials, 0),
            ("max_val", max_val, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"scale_batch_size {label} must be an int >= {least}, got {value!r}.")
        if not (isinstance(margin, (int, float)) and 0.0 <= margin < 1.0):
            raise ValueError(f"scale_batch_size margin must be a number in [0, 1), got {margin!r}.")
        check_can_tune(self._trainer, "scale_batch_size")
        try:
            holders = _batch_size_holders(model, datamodule, batch_arg_name)
        except MisconfigurationException:
            _refuse_several_loaders(model, datamodule, method)  # the more basic problem is reported first (Lightning)
            raise
        if self._trainer.fast_dev_run:
            rank_zero_warn("Skipping batch size scaler since `fast_dev_run` is enabled.")
            return None
        search = _BatchSizeSearch(
            lambda size: self._try_batch_size(model, datamodule, method, steps_per_trial, size),
            holders,
            batch_arg_name,
            max_val,
        )
        with restored(model, self._trainer, datamodule):
            if mode == "power":
                size = search.power(init_val, max_trials)
            else:
                size = search.binsearch(init_val, max_trials, margin)
        search.set(size)
        _attach_tuned_data(self._trainer, model, datamodule, method)
        log.info(f"Finished batch size finder, will continue with full run using batch size {size}")
        return size

    def _try_batch_size(self, model: Any, datamodule: Any, method: str, steps: int, size: int) -> _Trial:
        """Run one trial of ``method``: whether it fitted in memory, and the length of the dataset it ran on."""
        seen = _DatasetLength(method)
        trial = trial_trainer(self._trainer, [seen], max_steps=steps, limit_val_batches=steps)
        trial.limit_test_batches = trial.limit_predict_batches = steps
        try:
            if method == "fit":
                trial.fit(model, datamodule=datamodule)
            elif method == "predict":
                trial.predict(model, datamodule=datamodule, return_predictions=False)
            else:
                getattr(trial, method)(model, datamodule=datamodule, verbose=False)
        except BaseException as error:  # noqa: BLE001 - only out-of-memory errors are handled, others re-raised
            if not _is_out_of_memory(error):
                raise
            del trial
            _free_memory()
            return _Trial(fitted=False, dataset_length=seen.length)
        return _Trial(fitted=True, dataset_length=seen.length)


def _attach_tuned_data(trainer: Any, model: Any, datamodule: Any, method: str) -> None:
    """Leave ``trainer`` as Lightning's tuner does: ``trainer.datamodule`` set and the stage's loaders built at the
    tuned size (``trainer.train_dataloader.batch_size`` reads it). The next ``fit`` requests its loaders afresh."""
    connector = trainer.data_connector
    connector.module = model
    if datamodule is not None:
        connector.datamodule = datamodule
    if method != "fit":
        connector.stage_loaders(method, None)
        return
    connector.train_dataloader = connector.shard(connector.find_loader("train_dataloader"), training=True)
    validation = connector.find_loader("val_dataloader")
    if validation is not None:  # one process (the tuner refuses more): no per-rank share to take
        connector.stage_loaders("validate", validation)


@dataclasses.dataclass
class _Trial:
    fitted: bool
    dataset_length: int | None  # None: the data has no length


class _DatasetLength(Callback):
    """Reads the length of the dataset a trial runs on (refusing several loaders, which cannot all be sized)."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.length: int | None = None

    def _read(self, loaders: Any, prefix: str) -> None:
        if isinstance(loaders, (list, tuple)):
            if len(loaders) > 1:
                raise MisconfigurationException(
                    f"The Batch size finder cannot be used with multiple {prefix} dataloaders."
                )
            loaders = loaders[0] if loaders else None
        dataset = getattr(loaders, "dataset", None)
        try:
            self.length = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            self.length = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._read(trainer.train_dataloader, "train")

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if self.method == "validate":
            self._read(trainer.val_dataloaders, "val")

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._read(trainer.test_dataloaders, "test")

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._read(trainer.predict_dataloaders, "predict")


class _BatchSizeSearch:
    """The two searches of Lightning 2's batch-size finder, over a ``trial(size) -> _Trial`` function.

    Kept apart from the Tuner so the arithmetic (when to double, bisect, stop) reads in one place and is tested
    without training.
    """

    def __init__(self, trial: Any, holders: list[Any], name: str, max_val: int) -> None:
        self.trial, self.holders, self.name, self.max_val = trial, holders, name, max_val

    def set(self, size: int) -> None:
        _set_on(self.holders, self.name, size)

    def _next(self, size: int, wanted: int, outcome: str) -> int:
        if wanted > self.max_val:
            log.info(f"Batch size {wanted} exceeds max_val limit {self.max_val}, capping at {self.max_val}")
            wanted = self.max_val
        if wanted < 1:
            raise RuntimeError(
                "scale_batch_size: every batch size tried ran out of memory (down to 1). Use a smaller model or "
                "input size, or a lower precision."
            )
        log.info(f"Batch size {size} {outcome}, trying batch size {wanted}")
        self.set(wanted)
        return wanted

    def _holds_dataset(self, size: int, trial: _Trial) -> bool:
        if trial.dataset_length is not None and size >= trial.dataset_length:
            log.info(
                f"The batch size {size} is greater or equal than the length of your dataset: {trial.dataset_length}."
            )
            return True
        return False

    def _too_large(self, size: int) -> bool:
        if size >= self.max_val:
            log.info(f"Reached the maximum batch size limit of {self.max_val}. Stopping search.")
            return True
        return False

    def power(self, size: int, max_trials: int) -> int:
        """Double after each fitting trial; after a failure keep half the failed size."""
        self.set(size)
        any_fitted = False
        for attempt in range(max_trials):
            if self._too_large(size):
                break
            trial = self.trial(size)
            if not trial.fitted:
                size = self._next(size, size // 2, "failed")
                if any_fitted:
                    break
                continue
            if attempt + 1 >= max_trials or self._holds_dataset(size, trial):
                break
            wanted = self._next(size, size * 2, "succeeded")
            if wanted == size:
                break
            size, any_fitted = wanted, True
        return size

    def binsearch(self, size: int, max_trials: int, margin: float) -> int:
        """Double until a trial fails, then bisect between the last size that fitted and the first that failed."""
        self.set(size)
        low, high, fitted = 1, 0, 0
        while not self._too_large(size):
            trial = self.trial(size)
            if trial.fitted:
                fitted += 1
                if fitted >= max_trials:
                    break
                low = size
                if high and high - low <= 1:
                    break
                if self._holds_dataset(size, trial):
                    break
                wanted = self._next(size, (high + low) // 2 if high else size * 2, "succeeded")
                if wanted == size:
                    break
                size = wanted
            else:
                high = size
                size = self._next(size, (high + low) // 2, "failed")
                if high - low <= 1:
                    break
        if margin > 0 and max(1, int(size * (1 - margin))) != size:
            reduced = max(1, int(size * (1 - margin)))
            log.info(f"Applying margin of {margin:.1%}, reducing batch size from {size} to {reduced}")
            size = reduced
        return size


def _check_no_finder_callback(trainer: Any, name: str) -> None:
    # The finder callbacks name the search they run (read here without importing them: they import the Tuner).
    if any(getattr(callback, "tuner_search", None) == name for callback in trainer.callbacks):
        raise ValueError(
            f"Trainer is already configured with a `{name}` callback. Please remove it if you want to use the Tuner."
        )


def _check_tuner_method(method: str, train_dataloaders: Any, val_dataloaders: Any, dataloaders: Any) -> None:
    if method not in _METHODS:
        raise ValueError(f"method {method!r} is invalid. Should be one of {_METHODS}.")
    if method == "fit" and dataloaders is not None:
        raise MisconfigurationException(
            f"In tuner with method={method!r}, `dataloaders` argument should be None,"
            " please consider setting `train_dataloaders` and `val_dataloaders` instead."
        )
    if method != "fit" and (train_dataloaders is not None or val_dataloaders is not None):
        raise MisconfigurationException(
            f"In tuner with `method`={method!r}, `train_dataloaders` and `val_dataloaders`"
            " arguments should be None, please consider setting `dataloaders` instead."
        )


def _check_method(method: str) -> None:
    if method != "fit":
        raise MisconfigurationException(
            f"method='fit' is the only valid configuration to run lr finder (the learning rate is only used by "
            f"training), got {method!r}."
        )


def _lr_attribute(model: Any, attr_name: str) -> str:
    names = (attr_name,) if attr_name else _LR_NAMES
    for name in names:
        if hasattr(model, name) or name in getattr(model, "hparams", {}):
            return name
    if attr_name:
        raise AttributeError(f"lr_find(attr_name={attr_name!r}): the model has no attribute or hparam {attr_name!r}.")
    raise AttributeError(
        f"lr_find with update_attr=True: the model should have one of these fields: {list(_LR_NAMES)} (an attribute "
        "or hparam read by configure_optimizers); pass attr_name=... or update_attr=False."
    )


def _set_attribute(model: Any, name: str, value: Any) -> None:
    if hasattr(model, name):
        setattr(model, name, value)
    hparams = getattr(model, "hparams", None)
    if hparams is not None and name in hparams:
        hparams[name] = value


def _refuse_several_loaders(model: Any, datamodule: Any, method: str) -> None:
    """Raise Lightning's error when the evaluation stage being sized has several loaders (each would need its own
    size); nothing for ``fit`` or when the loaders cannot be built yet."""
    from flashtrain.core.datamodule import DataModule
    from flashtrain.core.utilities.model_helpers import is_overridden

    prefix = {"validate": "val", "test": "test", "predict": "predict"}.get(method)
    if prefix is None:
        return
    name = f"{prefix}_dataloader"
    owner = datamodule if datamodule is not None and is_overridden(name, datamodule, DataModule) else model
    try:
        loaders = getattr(owner, name)()
    except Exception:  # noqa: BLE001 - not buildable before setup: the trial reports it
        return
    if isinstance(loaders, (list, tuple, dict)) and len(loaders) > 1:
        raise MisconfigurationException(f"The Batch size finder cannot be used with multiple {prefix} dataloaders.")


def _batch_size_holders(model: Any, datamodule: Any, name: str) -> list[Any]:
    """Every place holding the batch size: the model's attribute and hparams, then the datamodule's (all are set)."""
    holders: list[Any] = []
    for owner in (model, datamodule):
        if owner is None:
            continue
        hparams = getattr(owner, "hparams", None)
        in_hparams = hparams is not None and name in hparams
        if hasattr(owner, name):
            holders.append(owner)
            if in_hparams and owner is model:
                rank_zero_warn(
                    f"Field `model.{name}` and `model.hparams.{name}` are mutually exclusive! `model.{name}` will be"
                    " used as the initial batch size for scaling. If this is not the intended behavior, please remove"
                    " either one."
                )
        if in_hparams:
            holders.append(hparams)
    if not holders:
        raise MisconfigurationException(
            f"Field {name} not found in `model`, `datamodule`, nor their `hparams` attributes. Add that attribute "
            "(read when the dataloaders are built) or pass batch_arg_name=..."
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
