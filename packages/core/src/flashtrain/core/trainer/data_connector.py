"""``DataConnector``: finds each stage's dataloaders (passed in, or from the datamodule) and adapts them to the
strategy (each rank's share, ordered by the run's base seed)."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from flashtrain.core.datamodule import DataModule
from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError, PossibleUserWarning
from flashtrain.core.module import Module
from flashtrain.core.seed import current_seed
from flashtrain.core.strategies import Strategy
from flashtrain.core.trainer.limits import LoopLimits
from flashtrain.core.trainer.progress import FitProgress
from flashtrain.core.utilities.combined_loader import CombinedLoader
from flashtrain.core.utilities.data import has_len_all_ranks
from flashtrain.core.utilities.model_helpers import is_overridden

_STAGE_METHODS = {"validate": "val_dataloader", "test": "test_dataloader", "predict": "predict_dataloader"}


class CombinedBatches:
    """A non-sequential :class:`CombinedLoader` as one loader of combined batches (its length under its mode)."""

    def __init__(self, combined: CombinedLoader) -> None:
        self.combined = combined

    def __iter__(self) -> Iterator[Any]:
        return self.combined.batches()

    def __len__(self) -> int:
        length = self.combined.num_batches()
        if math.isinf(length):
            raise TypeError("a CombinedLoader over an iterable without length has no length")
        return int(length)


def warn_if_workers_respawn(loader: Any, name: str) -> None:
    """Lightning's notice: with the "spawn" start method (a ddp_spawn rank, macOS, Windows) each epoch starts every
    worker process anew, importing everything again, unless the loader keeps them (``persistent_workers``)."""
    if not isinstance(loader, DataLoader) or loader.num_workers == 0 or loader.persistent_workers:
        return
    import multiprocessing

    context = loader.multiprocessing_context
    start_method = context.get_start_method() if context is not None else multiprocessing.get_start_method()
    if start_method == "spawn":
        from flashtrain.core.utilities.rank_zero import rank_zero_warn

        rank_zero_warn(
            f"Consider setting `persistent_workers=True` in '{name}' to speed up the dataloader worker initialization."
        )


def as_loader_list(loaders: Any) -> list[Any]:
    """One loader, a list/tuple of loaders, a dict of them, or a CombinedLoader -> a list (a sequential
    CombinedLoader is its loaders, one dataloader_idx each; another mode is one loader of combined batches)."""
    if loaders is None:
        return []
    if isinstance(loaders, CombinedLoader):
        return list(loaders.flattened) if loaders.mode == "sequential" else [CombinedBatches(loaders)]
    if isinstance(loaders, Mapping):
        return list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        return list(loaders)
    return [loaders]


def _holds_loaders(value: Any) -> bool:
    """Whether ``value`` is a list/tuple/dict of loaders (possibly nested), not an iterable of batches: a plain list
    of ``(x, y)`` tuples or tensors stays a list of batches."""
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return False
    return bool(items) and all(_holds_loaders(item) or _is_loader(item) for item in items)


def _is_loader(value: Any) -> bool:
    """A DataLoader, a CombinedLoader, or another iterable that is not itself batch-like data."""
    if isinstance(value, (DataLoader, CombinedLoader)):
        return True
    batch_like = (torch.Tensor, list, tuple, Mapping, str, bytes)
    array = hasattr(value, "shape")  # a NumPy or other array batch
    return not isinstance(value, batch_like) and not array and hasattr(value, "__iter__")


def _members(iterable: Any) -> list[Any]:
    """The iterables the fit's training data is made of (one, or a CombinedLoader's)."""
    if iterable is None:
        return []
    return list(iterable.combined.flattened) if isinstance(iterable, CombinedBatches) else [iterable]


def _stateful(iterable: Any) -> list[Any]:
    return [
        member
        for member in _members(iterable)
        if callable(getattr(member, "state_dict", None)) and callable(getattr(member, "load_state_dict", None))
    ]


class DataConnector:
    """The run's data: ``trainer.datamodule``, the fit's training and validation loaders, and their lengths."""

    def __init__(self, strategy: Strategy, limits: LoopLimits, progress: FitProgress) -> None:
        self.strategy = strategy
        self.limits = limits
        self.progress = progress
        self.datamodule: Any = None
        self.module: Any = None  # its own *_dataloader() methods serve when no datamodule provides one
        self.train_dataloader: Any = None  # this rank's share of the fit's training loader (or collection of them)
        self._train_iterable: Any = None  # what the fit loop iterates: that loader, or their combined batches
        self.val_dataloaders: list[Any] = []  # this rank's share of the fit's validation loaders
        self.num_val_batches: list[int | float] = []
        self.test_dataloaders: list[Any] = []  # what the last trainer.test ran on
        self.predict_dataloaders: list[Any] = []  # what the last trainer.predict ran on
        self.validating = False  # whether the fit validates (a validation_step, limit_val_batches > 0)
        self._fit_given: tuple[Any, Any] = (None, None)  # the loaders passed to fit (train, val), if any
        self._train_loaded_epoch: int | None = None  # the epoch each loader was last requested in
        self._val_loaded_epoch: int | float | None = None  # -inf: by a sanity check that does not count
        self._pending_states: list[dict[str, Any]] = []  # training iterables' states from the checkpoint
        self._resumes_from_state = False  # those states were loaded: the resumed epoch goes on from them

    # -- fit: loaders are requested when first needed, in Lightning's order (validation's for the sanity check
    # before training's), and again every reload_dataloaders_every_n_epochs epochs ---------------------------
    def start_fit(self, train: Any, val: Any, validates: bool) -> None:
        """Remember what ``fit`` was given; nothing is requested yet."""
        self._fit_given = (train, val)
        self.validating = validates and self.limits.limit_val_batches != 0
        self.train_dataloader, self.val_dataloaders, self.num_val_batches = None, [], []
        self._train_iterable = None
        self._train_loaded_epoch = self._val_loaded_epoch = None
        self._pending_states, self._resumes_from_state = [], False

    def _due(self, loaded_epoch: int | float | None) -> bool:
        every = self.limits.reload_dataloaders_every_n_epochs
        if loaded_epoch is None:
            return True
        return bool(every) and self.progress.current_epoch - loaded_epoch >= every

    def train_reload_due(self) -> bool:
        """Whether the training loader is requested (again) at the start of this epoch."""
        return self._due(self._train_loaded_epoch)

    def load_fit_train(self) -> Any:
        """This rank's share of the fit's training data, requested now if due; fixes the epoch length.

        Returns what the loop iterates: the loader, or for several loaders (a list, a dict, a CombinedLoader) one
        combined batch from each per step (Lightning's ``max_size_cycle`` unless the CombinedLoader says
        otherwise); ``train_dataloader`` is then the collection, each loader prepared."""
        if self._train_iterable is not None and not self.train_reload_due():
            return self._train_iterable
        given = self._fit_given[0]
        loader = given if given is not None else self.find_loader("train_dataloader")
        self.check_iterable(loader, "fit", "train_dataloader", given is not None)
        # a dict is always several loaders: iterating it would give its keys, never batches (as Lightning)
        if isinstance(loader, (CombinedLoader, Mapping)) or _holds_loaders(loader):
            combined = loader if isinstance(loader, CombinedLoader) else CombinedLoader(loader, "max_size_cycle")
            if combined.mode == "sequential":
                # the length is still what trainer.num_training_batches reports (as Lightning)
                self.progress.configure(
                    self.limited_length(CombinedBatches(combined), self.limits.limit_train_batches, "train")
                )
                raise ValueError(
                    '`FitLoop` does not support the `CombinedLoader(mode="sequential")` mode. The available modes '
                    "are: min_size, max_size_cycle, max_size (training takes one batch of every loader per step)."
                )
            combined.flattened = [self._prepare_train(one) for one in combined.flattened]
            self.train_dataloader, self._train_iterable = combined.iterables, CombinedBatches(combined)
        else:
            self.train_dataloader = self._train_iterable = self._prepare_train(loader)
        self._train_loaded_epoch = self.progress.current_epoch
        self.progress.configure(self.limited_length(self._train_iterable, self.limits.limit_train_batches, "train"))
        self._load_pending_states()
        return self._train_iterable

    def shutdown_workers(self) -> None:
        """At the end of a trainer call: stop the persistent workers of every loader this run used."""
        from flashtrain.core.utilities.dataloaders import shutdown_persistent_workers

        loaders = [*_members(self._train_iterable), *self.val_dataloaders, *self.test_dataloaders]
        for loader in [*loaders, *self.predict_dataloaders]:
            for member in _members(loader):
                shutdown_persistent_workers(member)

    # -- stateful training iterables: an iterable with ``state_dict`` / ``load_state_dict`` (torchdata's
    # StatefulDataLoader, a user's own) is saved in the checkpoint where Lightning saves it and resumes from it --
    def training_states(self) -> list[dict[str, Any]]:
        """The state of each stateful training iterable of this fit, in order (empty: none)."""
        return [iterable.state_dict() for iterable in _stateful(self._train_iterable)]

    def restore_training_states(self, states: list[dict[str, Any]]) -> None:
        """States read from a checkpoint, loaded into the training iterables when the fit requests them."""
        self._pending_states = list(states)

    def resumes_from_state(self) -> bool:
        """Whether the training iterables were just given their saved state (asked once, at the resumed epoch's
        start): they go on from it, so the batches already used are not skipped again."""
        resumes, self._resumes_from_state = self._resumes_from_state, False
        return resumes

    def _load_pending_states(self) -> None:
        if not self._pending_states:
            return
        stateful = _stateful(self._train_iterable)
        if len(stateful) != len(self._pending_states):
            raise RuntimeError(
                f"The CombinedLoader has {len(stateful)} stateful loaders, but found {len(self._pending_states)} "
                "states in the checkpoint. Please make sure you define the same dataloaders that were used when "
                "saving the checkpoint."
            )
        for iterable, state in zip(stateful, self._pending_states):
            iterable.load_state_dict(state)
        self._pending_states = []
        self._resumes_from_state = True
        if self.progress.batches_done and len(stateful) < len(_members(self._train_iterable)):
            warnings.warn(  # Lightning's words: the iterables without a state start the epoch again
                "You're resuming from a checkpoint that ended before the epoch ended and your dataloader is not "
                "resumable. This can cause unreliable results if further training is done. Consider using an "
                "end-of-epoch checkpoint or make your dataloader resumable by implementing the `state_dict` / "
                "`load_state_dict` interface (here only some of the training iterables have it: the others start "
                "the epoch again).",
                PossibleUserWarning,
                stacklevel=2,
            )

    def _prepare_train(self, loader: Any) -> Any:
        """One training loader as the fit uses it: unshuffled for overfit_batches, this rank's share."""
        from flashtrain.core.trainer.data import without_shuffle

        if self.limits.overfit_batches:
            loader = without_shuffle(loader)
        return self.shard(loader, training=True)

    def load_fit_validation(self, sanity: bool = False) -> list[Any]:
        """This rank's share of the fit's validation loaders, requested now if due (none if the fit does not
        validate). As Lightning, a request by the sanity check counts for reloading only if this epoch validates:
        otherwise the first validation requests them again when reload_dataloaders_every_n_epochs is set."""
        if not self.validating or (self._val_loaded_epoch is not None and not self._due(self._val_loaded_epoch)):
            return self.val_dataloaders
        val = self._fit_given[1]
        if val is None:
            val = self.find_loader("val_dataloader")
            if val is not None:
                self.check_iterable(val, "fit", "val_dataloader", given=False)
        else:
            self.check_iterable(val, "fit", "val_dataloader", given=True)
        if val is None and self.limits.overfit_batches:
            val = self.load_fit_train()
        loaders = as_loader_list(val)
        if self.limits.overfit_batches:
            from flashtrain.core.trainer.data import without_shuffle

            loaders = [without_shuffle(loader, "val") for loader in loaders]
        self.set_fit_validation(loaders)
        counts = not sanity or self.progress.validates_this_epoch()
        self._val_loaded_epoch = self.progress.current_epoch if counts else -math.inf
        return self.val_dataloaders

    def choose_base_seed(self) -> None:
        """The seed every epoch's data order derives from: the global seed if one was set, the same on all ranks."""
        seed = current_seed()
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.progress.base_seed = int(self.strategy.broadcast(seed))  # every rank orders data by rank 0's seed

    def shard(self, loader: Any, training: bool) -> Any:
        """This rank's share of a loader (unchanged on one process or with use_distributed_sampler=False)."""
        warn_if_workers_respawn(loader, "train_dataloader" if training else "val_dataloader")
        return self.strategy.setup_dataloader(
            loader, training=training, seed=self.progress.base_seed, shard=self.limits.use_distributed_sampler
        )

    def find_loader(self, method: str) -> Any:
        """``method`` (e.g. "train_dataloader") of the datamodule, else of the module (as Lightning), else None."""
        owner = self._provider(method)
        return None if owner is None else getattr(owner, method)()

    def validation_enabled(self) -> bool:
        """Whether a fit would validate: validation loaders to come from somewhere, a ``validation_step``, and
        ``limit_val_batches`` > 0 (Lightning's ``trainer.enable_validation``)."""
        return (
            self.has_source("val_dataloader", self._fit_given[1])
            and is_overridden("validation_step", self.module, Module)
            and self.limits.limit_val_batches > 0
        )

    def has_source(self, method: str, given: Any) -> bool:
        """Whether a stage's loaders come from somewhere: given to the entry point, or a ``method`` to call."""
        return given is not None or self._provider(method) is not None

    def _provider(self, method: str) -> Any:
        """The datamodule or the module whose ``method`` serves the loaders (the datamodule first), or None."""
        if is_overridden(method, self.datamodule, DataModule):
            return self.datamodule
        if is_overridden(method, self.module, Module):
            return self.module
        return None

    def check_iterable(self, loaders: Any, stage: str, method: str, given: bool) -> None:
        """Refuse a stage's data that is missing or that cannot be iterated, naming where it came from (Lightning's
        "An invalid dataloader was passed to/returned from ..." messages)."""
        argument = {"train_dataloader": "train_dataloaders", "val_dataloader": "val_dataloaders"}.get(method)
        call = f"`Trainer.{stage}({argument if stage == 'fit' else 'dataloaders'}=...)`"
        provider = None if given else self._provider(method)
        if loaders is None and provider is None:
            raise MisconfigurationTypeError(
                f"An invalid dataloader was passed to {call}. Found None. Either pass the dataloader to the "
                f"`.{stage}()` method OR implement `def {method}(self):` in your LightningModule/LightningDataModule."
            )
        for loader in [None] if loaders is None else as_loader_list(loaders):
            if isinstance(loader, DataLoader):
                continue  # always iterable; iter() would start its workers
            try:
                iter(loader)  # type: ignore[arg-type]
            except TypeError:
                where = f"passed to {call}" if given else f"returned from `{type(provider).__name__}.{method}()`"
                raise MisconfigurationTypeError(
                    f"An invalid dataloader was {where}. Found {loaders}. Pass a DataLoader or any iterable of "
                    "batches (a list, tuple or dict of them for several)."
                ) from None

    def stage_loaders(self, stage: str, given: Any) -> list[Any]:
        """The loaders of ``trainer.validate/test/predict``: those given, else the datamodule's."""
        method = _STAGE_METHODS[stage]
        found = given if given is not None else self.find_loader(method)
        self.check_iterable(found, stage, method, given is not None)
        loaders = as_loader_list(found)
        if stage == "test":
            self.test_dataloaders = loaders
        elif stage == "predict":
            self.predict_dataloaders = loaders
        else:
            self.val_dataloaders = loaders
        return loaders

    def set_fit_validation(self, loaders: list[Any]) -> None:
        self.val_dataloaders = [self.shard(loader, training=False) for loader in loaders]
        self.num_val_batches = [
            self.limited_length(dl, self.limits.limit_val_batches, "val") for dl in self.val_dataloaders
        ]

    def limited_length(self, loader: Any, limit: int | float, name: str) -> int | float:
        """How many batches of ``loader`` a stage uses under ``limit_<name>_batches``."""
        # every rank's length counts; a rank without batches while others have some is warned about, not refused
        sized = has_len_all_ranks(loader, self.strategy, allow_zero_length_dataloader_with_multiple_devices=True)
        length = len(loader) if sized else math.inf
        if isinstance(limit, int) and not isinstance(limit, bool):
            return min(length, limit)
        if math.isinf(length):
            if limit not in (0.0, 1.0):
                raise MisconfigurationException(
                    f"When using an `IterableDataset`, `Trainer(limit_{name}_batches)` must be `1.0` or an int. An "
                    f"int specifies `num_{name}_batches` to use: limit_{name}_batches={limit} is a fraction of a "
                    f"{name} dataloader without a length."
                )
            return 0 if limit == 0.0 else length
        batches = int(length * limit) if limit < 1.0 else length
        if batches == 0 and limit > 0.0 and length > 0:
            raise MisconfigurationException(
                f"You requested to check {limit} of the `{name}_dataloader` but {limit} * {length} < 1. Please "
                f"increase the `limit_{name}_batches` argument. Try at least `limit_{name}_batches={1.0 / length}`"
            )
        return batches
