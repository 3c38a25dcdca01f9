"""``DataConnector``: finds each stage's dataloaders (passed in, or from the datamodule) and adapts them to the
strategy (each rank's share, ordered by the run's base seed)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from flashtrain.core.datamodule import DataModule
from flashtrain.core.seed import current_seed
from flashtrain.core.strategies import Strategy
from flashtrain.core.trainer.data import has_len
from flashtrain.core.trainer.limits import LoopLimits
from flashtrain.core.trainer.progress import FitProgress

_STAGE_METHODS = {"validate": "val_dataloader", "test": "test_dataloader", "predict": "predict_dataloader"}


def as_loader_list(loaders: Any) -> list[Any]:
    """One loader, a list/tuple of loaders, or a dict of them -> a list."""
    if loaders is None:
        return []
    if isinstance(loaders, Mapping):
        return list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        return list(loaders)
    return [loaders]


class DataConnector:
    """The run's data: ``trainer.datamodule``, the fit's training and validation loaders, and their lengths."""

    def __init__(self, strategy: Strategy, limits: LoopLimits, progress: FitProgress) -> None:
        self.strategy = strategy
        self.limits = limits
        self.progress = progress
        self.datamodule: Any = None
        self.module: Any = None  # its own *_dataloader() methods serve when no datamodule provides one
        self.train_dataloader: Any = None  # this rank's share of the fit's training loader
        self.val_dataloaders: list[Any] = []  # this rank's share of the fit's validation loaders
        self.num_val_batches: list[int | float] = []

    def choose_base_seed(self) -> None:
        """The seed every epoch's data order derives from: the global seed if one was set, the same on all ranks."""
        seed = current_seed()
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.progress.base_seed = int(self.strategy.broadcast(seed))  # every rank orders data by rank 0's seed

    def shard(self, loader: Any, training: bool) -> Any:
        """This rank's share of a loader (unchanged on one process or with use_distributed_sampler=False)."""
        return self.strategy.setup_dataloader(
            loader, training=training, seed=self.progress.base_seed, shard=self.limits.use_distributed_sampler
        )

    def find_loader(self, method: str) -> Any:
        """``method`` (e.g. "train_dataloader") of the datamodule, else of the module (as Lightning), else None."""
        datamodule = self.datamodule
        if datamodule is not None and DataModule.defines(datamodule, method):
            return getattr(datamodule, method)()
        own = getattr(self.module, method, None)
        return own() if callable(own) else None

    def stage_loaders(self, stage: str, given: Any) -> list[Any]:
        """The loaders of ``trainer.validate/test/predict``: those given, else the datamodule's."""
        if given is not None:
            return as_loader_list(given)
        method = _STAGE_METHODS[stage]
        found = self.find_loader(method)
        if found is None:
            raise ValueError(
                f"trainer.{stage} needs data: pass dataloaders=..., a datamodule with {method}(), or define "
                f"{method}() on the module."
            )
        return as_loader_list(found)

    def set_fit_validation(self, loaders: list[Any]) -> None:
        self.val_dataloaders = [self.shard(loader, training=False) for loader in loaders]
        self.num_val_batches = [
            self.limited_length(dl, self.limits.limit_val_batches, "val") for dl in self.val_dataloaders
        ]

    @staticmethod
    def limited_length(loader: Any, limit: int | float, name: str) -> int | float:
        """How many batches of ``loader`` a stage uses under ``limit_<name>_batches``."""
        length = len(loader) if has_len(loader) else math.inf
        if isinstance(limit, int) and not isinstance(limit, bool):
            return min(length, limit)
        if math.isinf(length):
            if limit not in (0.0, 1.0):
                raise ValueError(
                    f"limit_{name}_batches={limit} is a fraction, but the {name} dataloader has no length "
                    f"(an IterableDataset); pass an int number of batches instead."
                )
            return 0 if limit == 0.0 else length
        return int(length * limit) if limit < 1.0 else length
