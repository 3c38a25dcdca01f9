"""Questions about batches and loaders that Lightning answers in ``lightning.pytorch.utilities.data``: the size of a
batch of unknown structure, and whether a loader has a length on every rank."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.utilities.dataloaders import has_len
from flashtrain.core.utilities.rank_zero import WarningCache, rank_zero_warn

# The ambiguous-batch warning is given once per message; ``warning_cache.clear()`` lets it be given again.
warning_cache = WarningCache()


def _sizes(batch: Any) -> Iterator[int | None]:
    """The leading size of every tensor in ``batch``, depth first; None for each leaf that is not a tensor."""
    if isinstance(batch, torch.Tensor):
        yield int(batch.size(0)) if batch.ndim else 1
    elif isinstance(batch, (Iterable, Mapping)) and not isinstance(batch, str):
        for value in batch.values() if isinstance(batch, Mapping) else batch:
            yield from _sizes(value)
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for field in dataclasses.fields(batch):
            yield from _sizes(getattr(batch, field.name))
    else:
        yield None


def extract_batch_size(batch: Any) -> int:
    """The batch size of a (nested) batch: the leading size of its first tensor.

    Warns when tensors disagree (the first one's size is used) and raises ``MisconfigurationException`` when the
    batch holds no tensor; either way ``self.log(..., batch_size=...)`` says it directly.
    """
    message = (
        "We could not infer the batch_size from the batch. Either simplify its structure or provide the batch_size "
        "as `self.log(..., batch_size=batch_size)`."
    )
    batch_size = None
    try:
        for size in _sizes(batch):
            if batch_size is None:
                batch_size = size
            elif size is not None and size != batch_size:
                warning_cache.warn(
                    "Trying to infer the `batch_size` from an ambiguous collection. The batch size we found is "
                    f"{batch_size}. To avoid any miscalculations, use `self.log(..., batch_size=batch_size)`."
                )
                break
    except RecursionError as error:  # a self-referencing structure
        raise MisconfigurationException(message) from error
    if batch_size is None:
        raise MisconfigurationException(message)
    return batch_size


def has_iterable_dataset(dataloader: Any) -> bool:
    """Whether ``dataloader`` reads an ``IterableDataset`` (its length, if any, is the dataset's own claim)."""
    return isinstance(getattr(dataloader, "dataset", None), torch.utils.data.IterableDataset)


def has_len_all_ranks(
    dataloader: Any, strategy: Any, allow_zero_length_dataloader_with_multiple_devices: bool = False
) -> bool:
    """Whether ``dataloader`` has a length (on every rank: the lengths are summed over the strategy's processes).

    Warns when the total is zero; raises ``RuntimeError`` when only this rank's loader is empty unless
    ``allow_zero_length_dataloader_with_multiple_devices``.
    """
    if not has_len(dataloader):
        return False
    local_length = len(dataloader)
    total_length = int(strategy.reduce(torch.tensor(local_length, device=strategy.root_device), "sum"))
    name = type(dataloader).__name__
    if total_length == 0:
        rank_zero_warn(f"Total length of `{name}` across ranks is zero. Please make sure this was your intention.")
    elif local_length == 0:
        if not allow_zero_length_dataloader_with_multiple_devices:
            raise RuntimeError(
                f"`{name}` within local rank has zero length. Please make sure that it returns at least 1 batch."
            )
        rank_zero_warn(
            f"Total length of `{name}` across ranks is zero, but local rank has zero length. Please be cautious of "
            "uneven batch length."
        )
    if has_iterable_dataset(dataloader):
        rank_zero_warn(
            "Your `IterableDataset` has `__len__` defined. In combination with multi-process data loading (when "
            "num_workers > 1), `__len__` could be inaccurate if each worker is not configured independently to "
            "avoid having duplicate data."
        )
    return True


__all__ = ["extract_batch_size", "has_iterable_dataset", "has_len_all_ranks", "warning_cache"]
