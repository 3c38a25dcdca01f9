"""An IterableDataset's claimed length is used, with Lightning's notice that workers may make it wrong."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from flashtrain.core.strategies import SingleDeviceStrategy
from flashtrain.core.utilities.data import has_iterable_dataset, has_len_all_ranks


class Stream(IterableDataset):
    def __iter__(self):
        return iter(torch.arange(6.0))


class CountedStream(Stream):
    def __len__(self):
        return 6


def test_an_iterable_dataset_with_a_length_is_sized_but_warned_about():
    loader = DataLoader(CountedStream(), batch_size=2)
    assert has_iterable_dataset(loader) and not has_iterable_dataset(DataLoader(torch.arange(2.0)))
    with pytest.warns(UserWarning, match="Your `IterableDataset` has `__len__` defined"):
        assert has_len_all_ranks(loader, SingleDeviceStrategy())
    assert not has_len_all_ranks(DataLoader(Stream(), batch_size=2), SingleDeviceStrategy())
