"""Training data with a replayable order: each epoch's shuffle and worker seeds come from one base seed.

That is what makes resume exact: a resumed run rebuilds the epoch's order from (base seed, epoch) and
skips the batches already consumed by slicing the *indices*, without loading those samples.
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections.abc import Iterator, Sized
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, Sampler, SequentialSampler

from flashtrain.core.exceptions import PossibleUserWarning
from flashtrain.core.strategies.samplers import ReplayableDistributedSampler
from flashtrain.core.utilities.dataloaders import derive_seed, has_len, rebuild_dataloader, set_sampler_epoch

__all__ = ["ReplayableLoader", "derive_seed", "has_len", "without_shuffle"]


class _SkipBatchSampler(Sampler):
    """Yields a batch sampler's index lists from position ``skip`` on."""

    def __init__(self, batch_sampler: Any, skip: int) -> None:
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.batch_sampler) - self.skip, 0)


class _BatchSeededDataset(torch.utils.data.Dataset):
    """Reseeds the worker's generators before fetching each batch, from the epoch's seed and the batch's first
    index, so random augmentation in workers does not depend on which worker got the batch or what it did
    before (true of a resumed run too)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> Any:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            seed = derive_seed(info.seed - info.id, int(indices[0]))
            torch.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
        getitems = getattr(self.dataset, "__getitems__", None)
        return getitems(indices) if getitems is not None else [self.dataset[i] for i in indices]


class ReplayableLoader:
    """A user's training DataLoader, iterated epoch by epoch in an order fixed by (base seed, epoch)."""

    def __init__(self, loader: Any, base_seed: int) -> None:
        self.loader = loader
        self.base_seed = base_seed
        # Two generators, so a sampler's permutation is the first draw of the epoch's seed whatever the loader
        # draws for its workers: N ranks' shares then make up exactly the batches of one process.
        self.generator = torch.Generator()  # the sampler's order
        self.worker_generator = torch.Generator()  # the workers' base seeds
        self.replayable = False
        self._seeded_loader = loader
        # What a plain DataLoader draws from the global torch RNG when an epoch's iterator starts (as under
        # Lightning): its workers' base seed unless it has its own generator, then its random sampler's seed
        # unless that has its own generator. ``draw_epoch_seeds`` makes the same draws and uses them instead.
        self._draws_worker_seed = getattr(loader, "generator", None) is None
        self._draws_sampler_seed = False
        self._distributed = False
        if type(loader) is DataLoader and not isinstance(loader.dataset, IterableDataset):
            sampler = loader.sampler
            if isinstance(sampler, SequentialSampler):
                self.replayable = True
            elif hasattr(sampler, "generator"):  # RandomSampler, WeightedRandomSampler, SubsetRandomSampler
                self._draws_sampler_seed = sampler.generator is None
                sampler.generator = self.generator
                self.replayable = True
            else:  # DistributedSampler orders by (seed, epoch); anything else we cannot vouch for
                self.replayable = hasattr(sampler, "set_epoch")
                if isinstance(sampler, ReplayableDistributedSampler):
                    sampler.seed = base_seed  # the run's seed, restored from the checkpoint when resuming
                    self._distributed = True
                    self._draws_sampler_seed = sampler.shuffle  # the user's loader shuffled: the same draw
            # Worker base seeds are drawn from loader.generator at each epoch's iterator start.
            loader.generator = self.worker_generator
            if loader.num_workers > 0:
                self._seeded_loader = self._rebuild(loader.batch_sampler, _BatchSeededDataset(loader.dataset))

    def __len__(self) -> int:
        return len(self.loader)

    def _rebuild(self, batch_sampler: Any, dataset: Any) -> DataLoader:
        if self.loader.batch_size is None and self.loader.batch_sampler is None:
            return rebuild_dataloader(self.loader, dataset=dataset, generator=self.worker_generator)
        return rebuild_dataloader(
            self.loader, dataset=dataset, batch_sampler=batch_sampler, generator=self.worker_generator
        )

    def draw_epoch_seeds(self) -> list[int]:
        """The epoch's seeds, drawn from the global torch RNG as a plain DataLoader (and so Lightning) draws them
        at the start of an epoch: the same seed gives the same data order and leaves the same random stream to
        the model. The loop stores them in its progress, so a run resumed mid-epoch replays this order."""
        draw = [self._draws_worker_seed, self._draws_sampler_seed]
        return [int(torch.empty((), dtype=torch.int64).random_().item()) if drawn else -1 for drawn in draw]

    def epoch(self, epoch: int, skip: int = 0, seeds: list[int] | None = None) -> Iterator[Any]:
        """Batches of ``epoch``, starting after the first ``skip`` (skipped without loading when possible).

        ``seeds`` come from :meth:`draw_epoch_seeds` (-1: not drawn); without them (an epoch begun before
        flashtrain drew them, in an older checkpoint) the order derives from the base seed, as it did then.
        Under a distributed strategy the seeds are rank 0's, so every rank orders alike."""
        worker_seed, sampler_seed = seeds if seeds is not None else (-1, -1)
        self.generator.manual_seed(derive_seed(self.base_seed, epoch) if sampler_seed < 0 else sampler_seed)
        self.worker_generator.manual_seed(derive_seed(self.base_seed, epoch, 1) if worker_seed < 0 else worker_seed)
        sampler = getattr(self.loader, "sampler", None)
        if self._distributed and sampler is not None:
            sampler.permutation_seed = None if sampler_seed < 0 else sampler_seed
        set_sampler_epoch(self.loader, epoch)  # DistributedSampler and friends (also a batch sampler's sampler)
        if skip == 0:
            return iter(self._seeded_loader)
        if self.replayable and self.loader.batch_sampler is not None:
            dataset = self._seeded_loader.dataset
            return iter(self._rebuild(_SkipBatchSampler(self.loader.batch_sampler, skip), dataset))
        if self._has_state():  # as Lightning, no notice for an iterable that has state (none was saved for it)
            return itertools.islice(iter(self._seeded_loader), skip, None)
        warnings.warn(  # Lightning's words first (it restarts such an iterable; flashtrain replays it)
            "You're resuming from a checkpoint that ended before the epoch ended and your dataloader is not "
            "resumable: it has no `state_dict` / `load_state_dict`, and its order cannot be replayed from its indices "
            f"(a {type(self.loader).__name__}, sampler {type(sampler).__name__}); the {skip} batches already used "
            "this epoch are loaded and discarded, so the rest of the epoch matches the interrupted run only if the "
            "data comes in the same order again. Consider using an end-of-epoch checkpoint or make your dataloader "
            "resumable by implementing the `state_dict` / `load_state_dict` interface.",
            PossibleUserWarning,
            stacklevel=3,
        )
        return itertools.islice(iter(self._seeded_loader), skip, None)

    def _has_state(self) -> bool:
        """Whether every iterable of the training data (one, or a CombinedLoader's) has ``state_dict``."""
        combined = getattr(self.loader, "combined", None)
        members = combined.flattened if combined is not None else [self.loader]
        return all(callable(getattr(member, "state_dict", None)) for member in members)


def without_shuffle(loader: Any, prefix: str = "train") -> Any:
    """The same DataLoader in sequential order (for ``overfit_batches``: the same batches every epoch); ``prefix``
    names the loader in the notice ("train", "val")."""
    if type(loader) is not DataLoader or isinstance(loader.sampler, SequentialSampler) or loader.batch_size is None:
        return loader
    if isinstance(loader.dataset, IterableDataset):
        return loader
    warnings.warn(  # Lightning's words: any sampler but a sequential one is replaced, so the batches repeat
        f"You requested to overfit but enabled {prefix} dataloader shuffling. We are turning off the {prefix} "
        f"dataloader shuffling for you (overfit_batches: every epoch sees the same batches).",
        stacklevel=3,
    )
    # a map-style dataset (not iterable, checked above) has a length; torch's Dataset type declares none
    return rebuild_dataloader(loader, sampler=SequentialSampler(cast(Sized, loader.dataset)))
