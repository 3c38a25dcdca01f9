"""``CombinedLoader``: several iterables (a dict, list, tuple or named tuple of them, nested) read together.

Modes (Lightning 2's): ``min_size`` stops with the shortest; ``max_size_cycle`` runs to the longest, restarting
the shorter ones; ``max_size`` runs to the longest, giving ``None`` for the exhausted ones; ``sequential`` reads
one after the other. Iterating gives ``(batch, batch_idx, dataloader_idx)``: the batch has the collection's shape
(one item per iterable) except in ``sequential`` mode, where it is one iterable's item and ``dataloader_idx`` says
whose. Written here because torch has no equivalent; the trainer reads it through ``batches()``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

MODES = ("min_size", "max_size_cycle", "max_size", "sequential")


_PRIMITIVES = (int, float, complex, bool, str, bytes, type(None))


def _is_leaf(tree: Any) -> bool:
    """An iterable of the collection: anything but a dict/list/tuple, or one holding only plain values (``[0, 1]``
    is one iterable of two items, as in Lightning)."""
    if not isinstance(tree, (Mapping, list, tuple)):
        return True
    values = tree.values() if isinstance(tree, Mapping) else tree
    return all(isinstance(value, _PRIMITIVES) for value in values)


def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """The iterables of a nested dict/list/tuple/named tuple (leaves, depth first) and the shape to rebuild it."""
    if _is_leaf(tree):
        return [tree], None
    if isinstance(tree, Mapping):
        parts = [_flatten(value) for value in tree.values()]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), list(tree), [s for _, s in parts])
    if isinstance(tree, (list, tuple)):
        parts = [_flatten(value) for value in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), None, [s for _, s in parts])
    return [tree], None


def _unflatten(leaves: list[Any], shape: Any) -> Any:
    """The inverse of :func:`_flatten`: ``leaves`` (any values, in order) put back in the collection's shape."""
    remaining = iter(leaves)

    def build(node: Any) -> Any:
        if node is None:
            return next(remaining)
        kind, keys, children = node
        values = [build(child) for child in children]
        if keys is not None:
            return kind(zip(keys, values))
        if hasattr(kind, "_fields"):  # a named tuple takes its fields as arguments
            return kind(*values)
        return kind(values)

    return build(shape)


def _length(iterable: Any) -> float:
    try:
        return len(iterable)
    except (TypeError, NotImplementedError):
        return math.inf


class CombinedLoader:
    """Read the iterables in ``iterables`` together under ``mode`` (see the module docstring)."""

    def __init__(self, iterables: Any, mode: str = "min_size") -> None:
        if mode not in MODES:
            raise ValueError(f"Unsupported mode {mode!r}, please select one of: {list(MODES)}.")
        self._iterables = iterables
        self._flattened, self._shape = _flatten(iterables)
        self.mode = mode
        self._limits: list[int | float] | None = None
        self._iterator: Iterator[tuple[Any, int, int]] | None = None

    @property
    def iterables(self) -> Any:
        """The collection as given (or as set through :attr:`flattened`)."""
        return self._iterables

    @property
    def flattened(self) -> list[Any]:
        """The iterables as one flat list, in the collection's order."""
        return self._flattened

    @flattened.setter
    def flattened(self, flattened: list[Any]) -> None:
        if len(flattened) != len(self._flattened):
            raise ValueError(
                f"Mismatch in flattened length ({len(flattened)}) and existing length ({len(self._flattened)})"
            )
        self._flattened = list(flattened)
        self._iterables = _unflatten(self._flattened, self._shape)

    @property
    def sampler(self) -> Any:
        """Each iterable's ``sampler`` (``None`` where it has none), in the collection's shape."""
        return _unflatten([getattr(it, "sampler", None) for it in self._flattened], self._shape)

    @property
    def batch_sampler(self) -> Any:
        return _unflatten([getattr(it, "batch_sampler", None) for it in self._flattened], self._shape)

    @property
    def limits(self) -> list[int | float] | None:
        """At most this many items of each iterable (one number for all, or one per iterable)."""
        return self._limits

    @limits.setter
    def limits(self, limits: int | float | list[int | float] | None) -> None:
        if isinstance(limits, (int, float)):
            limits = [limits] * len(self._flattened)
        elif limits is not None and len(limits) != len(self._flattened):
            raise ValueError(
                f"Mismatch in number of limits ({len(limits)}) and number of iterables ({len(self._flattened)})"
            )
        self._limits = limits

    def lengths(self) -> list[float]:
        """Each iterable's number of items under the limits (``inf`` for one without a length)."""
        lengths = [_length(it) for it in self._flattened]
        if self._limits is not None:
            lengths = [min(length, limit) for length, limit in zip(lengths, self._limits)]
        return lengths

    def num_batches(self) -> float:
        """How many items one pass gives, under the mode (``inf`` if that depends on an iterable without length)."""
        lengths = self.lengths()
        if not lengths:
            return 0
        if self.mode == "sequential":
            return sum(lengths)
        return min(lengths) if self.mode == "min_size" else max(lengths)

    def __len__(self) -> int:
        if self._iterator is None:
            raise RuntimeError("Please call `iter(combined_loader)` first.")
        return int(self.num_batches())

    def __iter__(self) -> CombinedLoader:
        self._iterator = self._sequential() if self.mode == "sequential" else self._together()
        return self

    def __next__(self) -> tuple[Any, int, int]:
        if self._iterator is None:
            iter(self)
        assert self._iterator is not None
        return next(self._iterator)

    def reset(self) -> None:
        """Forget the pass in progress (the next ``iter`` starts over)."""
        self._iterator = None

    def batches(self) -> Iterator[Any]:
        """Only the batches of one pass (what a loop steps through)."""
        for batch, _, _ in iter(self):
            yield batch

    # -- the modes: each starts its iterables' iterators when the pass starts (DataLoader workers start then) ----
    def _limited(self, index: int) -> Iterator[Any]:
        iterator = iter(self._flattened[index])
        limit = self._limits[index] if self._limits is not None else math.inf
        return iterator if math.isinf(limit) else itertools.islice(iterator, int(limit))

    def _sequential(self) -> Iterator[tuple[Any, int, int]]:
        first = self._limited(0) if self._flattened else iter(())

        def run() -> Iterator[tuple[Any, int, int]]:
            for dataloader_idx in range(len(self._flattened)):
                iterator = first if dataloader_idx == 0 else self._limited(dataloader_idx)
                for batch_idx, batch in enumerate(iterator):
                    yield batch, batch_idx, dataloader_idx

        return run()

    def _together(self) -> Iterator[tuple[Any, int, int]]:
        count = len(self._flattened)
        iterators = [self._limited(i) for i in range(count)]

        def run() -> Iterator[tuple[Any, int, int]]:
            finished = [False] * count
            batch_idx = 0
            while count:
                items = []
                for i in range(count):
                    try:
                        items.append(next(iterators[i]))
                        continue
                    except StopIteration:
                        finished[i] = True
                    if self.mode == "min_size" or all(finished):
                        return
                    if self.mode == "max_size":
                        items.append(None)
                    else:  # max_size_cycle: the shorter ones start over until the longest is done
                        iterators[i] = self._limited(i)
                        items.append(next(iterators[i]))
                yield _unflatten(items, self._shape), batch_idx, 0
                batch_idx += 1

        return run()
