"""Steps that fetch their own batches: a ``*_step`` with a parameter named ``dataloader_iter`` (Lightning's
experimental flavour, kept here with the same public behaviour).

Such a step is called with an iterator of ``(batch, batch_idx, dataloader_idx)`` instead of one batch and calls
``next()`` on it as often as it likes (prefetching, several micro-batches per step). The loop calls the step again
until the data runs out (a step's own ``StopIteration`` also ends it), and the hooks around the step see the last
batch fetched: ``on_*_batch_start`` the one the previous step ended on (``None`` before the first), and
``on_*_batch_end`` the one this step ended on. Batches are not moved to the device: the step does that, as in
Lightning.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Iterable, Iterator
from typing import Any

from flashtrain.core.utilities.rank_zero import rank_zero_warn


def takes_dataloader_iter(step: Any) -> bool:
    """Whether a step method declares a parameter named ``dataloader_iter`` (by name, as Lightning decides)."""
    try:
        return "dataloader_iter" in inspect.signature(inspect.unwrap(step)).parameters
    except (TypeError, ValueError):  # a builtin or C callable
        return False


def fetches_own_batches(module: Any, step_name: str) -> bool:
    """Whether ``module.<step_name>`` takes ``dataloader_iter``; says once per run that this flavour is
    experimental, as Lightning does."""
    step = getattr(module, step_name, None)
    if step is None or not takes_dataloader_iter(step):
        return False
    rank_zero_warn(
        f"Found `dataloader_iter` argument in the `{step_name}`. Note that the support for this signature is "
        "experimental and the behavior is subject to change."
    )
    return True


class DataLoaderIter(Iterator):
    """The iterator a ``dataloader_iter`` step receives, and what the loop reads back after the step: the last
    ``batch`` / ``batch_idx`` / ``dataloader_idx`` fetched, and whether the data is ``done``."""

    def __init__(self, items: Iterator[tuple[Any, int, int]], length: int | None) -> None:
        self._items = items
        self.length = length  # None: the data has no length, and is done once it raises StopIteration
        self.fetched = 0
        self.done = length == 0
        self.batch: Any = None
        self.batch_idx = 0
        self.dataloader_idx = 0

    @classmethod
    def over_loaders(cls, loaders: list[Iterable], limits: list[int | float]) -> DataLoaderIter:
        """One loader after the other (an evaluation's loaders), each under its batch limit."""

        def items() -> Iterator[tuple[Any, int, int]]:
            for dataloader_idx, (loader, limit) in enumerate(zip(loaders, limits)):
                count = None if math.isinf(limit) else int(limit)
                for batch_idx, batch in enumerate(itertools.islice(iter(loader), count)):
                    yield batch, batch_idx, dataloader_idx

        sized = not any(math.isinf(limit) for limit in limits)
        return cls(items(), int(sum(limits)) if sized else None)

    @classmethod
    def over_batches(cls, batches: Iterable, first_batch_idx: int, length: int | None) -> DataLoaderIter:
        """An epoch's training batches (one loader, or the combined batches of several: dataloader_idx 0)."""
        items = ((batch, batch_idx, 0) for batch_idx, batch in enumerate(batches, start=first_batch_idx))
        return cls(items, length)

    def __next__(self) -> tuple[Any, int, int]:
        if self.done:
            raise StopIteration
        try:
            item = next(self._items)
        except StopIteration:
            self.done = True
            raise
        self.fetched += 1
        if self.length is not None:
            self.done = self.fetched >= self.length
        self.batch, self.batch_idx, self.dataloader_idx = item
        return item

    def steps(self) -> Iterator[DataLoaderIter]:
        """The loop's side: this iterator, once per step, until the data is done."""
        while not self.done:
            yield self


class StopAwareStep:
    """A training step taking ``dataloader_iter`` whose own ``next()`` may raise ``StopIteration``: returns None
    then and records it (``stopped``), so the loop ends the epoch there, as Lightning does."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.stopped = False

    def __call__(self, *args: Any) -> Any:
        try:
            return self.step(*args)
        except StopIteration:
            self.stopped = True
            return None
