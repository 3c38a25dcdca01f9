"""Sharding a user's DataLoader over the ranks of a distributed run.

Training: every rank gets an equal share (padded by repeating samples when the dataset does not divide),
shuffled by the same permutation a single process would use for that (base seed, epoch), so N processes
with batch b see exactly the samples one process with batch N*b sees. Evaluation: every sample exactly
once, no padding, so metrics synced with ``sync_dist=True`` equal the single-process values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Sized
from typing import Any, cast

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from flashtrain.core.utilities.dataloaders import derive_seed, rebuild_dataloader


class ReplayableDistributedSampler(DistributedSampler):
    """DistributedSampler whose shuffle is ``torch.randperm`` seeded by ``derive_seed(seed, epoch)``: the same
    order the trainer gives a single process's RandomSampler, so the ranks' shares make up its batches.
    ``permutation_seed`` (set by the trainer each epoch, the same on every rank) replaces that derived seed, as the
    seed a single process's RandomSampler draws from the global RNG."""

    permutation_seed: int | None = None

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator()
            seed = self.permutation_seed
            generator.manual_seed(derive_seed(self.seed, self.epoch) if seed is None else seed)
            indices = torch.randperm(_length(self.dataset), generator=generator).tolist()
        else:
            indices = list(range(_length(self.dataset)))
        return iter(_share(indices, self.rank, self.num_replicas, self.total_size, self.drop_last))


class ShardedSampler(Sampler):
    """Any other sampler (weighted, custom) split over the ranks: each rank takes every N-th index it yields."""

    def __init__(self, sampler: Iterable[int], rank: int, num_replicas: int) -> None:
        self.sampler = sampler
        self.rank = rank
        self.num_replicas = num_replicas

    @property
    def generator(self) -> Any:  # the trainer seeds the wrapped sampler's generator each epoch
        return getattr(self.sampler, "generator", None)

    @generator.setter
    def generator(self, value: Any) -> None:
        if hasattr(self.sampler, "generator"):
            self.sampler.generator = value

    def __len__(self) -> int:
        return math.ceil(_length(self.sampler) / self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        indices = list(self.sampler)
        return iter(_share(indices, self.rank, self.num_replicas, len(self) * self.num_replicas, False))

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


class UnrepeatedSampler(Sampler):
    """Indices ``rank, rank + N, ...``: every sample on exactly one rank (shares may differ by one)."""

    def __init__(self, length: int, rank: int, num_replicas: int) -> None:
        self.indices = range(rank, length, num_replicas)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)


def _length(sized: object) -> int:
    # A map-style dataset or a sampler handed to these samplers has a length; torch's Dataset type declares none.
    return len(cast(Sized, sized))


def _share(indices: list[int], rank: int, num_replicas: int, total_size: int, drop_last: bool) -> list[int]:
    if drop_last:
        indices = indices[:total_size]
    elif len(indices) < total_size:
        padding = total_size - len(indices)
        indices += (indices * math.ceil(padding / len(indices)))[:padding]
    return indices[rank:total_size:num_replicas]


def shard_dataloader(loader: Any, rank: int, num_replicas: int, *, training: bool, seed: int) -> Any:
    """``loader`` with a sampler that gives this rank its share (unchanged if it is sharded already)."""
    if type(loader) is not DataLoader or isinstance(loader.dataset, IterableDataset):
        if isinstance(loader, DataLoader) or hasattr(loader, "__iter__"):
            warnings.warn(
                f"A {type(loader).__name__} over {type(getattr(loader, 'dataset', loader)).__name__} cannot be "
                "sharded over the ranks automatically; every rank iterates all of it. Shard it yourself (e.g. by "
                "trainer.global_rank) or pass Trainer(use_distributed_sampler=False) to silence this.",
                stacklevel=4,
            )
        return loader
    batch_sampler = loader.batch_sampler
    if batch_sampler is not None and type(batch_sampler) is not BatchSampler:
        return loader  # a custom batch sampler we must not break up (it need not even wrap a sampler)
    sampler = loader.sampler if batch_sampler is None else batch_sampler.sampler
    if isinstance(sampler, DistributedSampler):
        return loader  # already sharded by the user
    if not training:
        return rebuild_dataloader(loader, sampler=UnrepeatedSampler(_length(loader.dataset), rank, num_replicas))
    if isinstance(sampler, (RandomSampler, SequentialSampler)) and not getattr(sampler, "replacement", False):
        shuffle = isinstance(sampler, RandomSampler)
        sharded: Sampler = ReplayableDistributedSampler(
            loader.dataset, num_replicas, rank, shuffle=shuffle, seed=seed, drop_last=loader.drop_last
        )
    else:
        sharded = ShardedSampler(sampler, rank, num_replicas)
    return rebuild_dataloader(loader, sampler=sharded)
