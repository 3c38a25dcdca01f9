"""Questions about a dataloader the trainer asks before a stage runs (Lightning's ``utilities.data`` names)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import IterableDataset

from flashtrain.core.utilities.dataloaders import has_len
from flashtrain.core.utilities.rank_zero import rank_zero_warn


def has_iterable_dataset(dataloader: Any) -> bool:
    """Whether ``dataloader`` reads an ``IterableDataset`` (its length, if any, is the dataset's own claim)."""
    return isinstance(getattr(dataloader, "dataset", None), IterableDataset)


def has_len_all_ranks(
    dataloader: Any, strategy: Any, allow_zero_length_dataloader_with_multiple_devices: bool = False
) -> bool:
    """Whether ``dataloader`` has a length (on every rank: lengths are summed over the strategy's processes).

    Warns when the total is zero, and when an ``IterableDataset`` defines ``__len__`` (with several workers that
    length is only right if each worker reads its own share); a rank with no batch while others have some is an
    error unless ``allow_zero_length_dataloader_with_multiple_devices``.
    """
    if not has_len(dataloader):
        return False
    local = len(dataloader)
    total = int(strategy.reduce(torch.tensor(local, device=strategy.root_device), "sum").item())
    name = type(dataloader).__name__
    if total == 0:
        rank_zero_warn(f"Total length of `{name}` across ranks is zero. Please make sure this was your intention.")
    elif local == 0:
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
            "num_workers > 1), `__len__` could be inaccurate if each worker is not configured independently to avoid "
            "having duplicate data."
        )
    return True
