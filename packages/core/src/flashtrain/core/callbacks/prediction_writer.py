"""``BasePredictionWriter``: write predictions as they are made, batch by batch or once per predict pass."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException

WRITE_INTERVALS = ("batch", "epoch", "batch_and_epoch")


class BasePredictionWriter(Callback):
    """Subclass and implement ``write_on_batch_end`` and/or ``write_on_epoch_end`` (Lightning 2's interface).

    Args:
        write_interval: ``"batch"`` (after each batch), ``"epoch"`` (once, with everything) or ``"batch_and_epoch"``.

    ``batch_indices`` are the dataset indices of each batch's samples, for loaders whose order is fixed (a
    sequential sampler, or a distributed one without shuffling); None for a shuffled loader, whose order the
    writer cannot know without changing the loader.

    Example::

        class Writer(BasePredictionWriter):
            def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
                torch.save(predictions, f"predictions_{trainer.global_rank}.pt")

        trainer = Trainer(callbacks=[Writer("epoch")])
        trainer.predict(model, dataloaders=loader, return_predictions=False)
    """

    def __init__(self, write_interval: str = "batch") -> None:
        if write_interval not in WRITE_INTERVALS:
            raise MisconfigurationException(
                f"`write_interval` should be one of {list(WRITE_INTERVALS)}, got {write_interval!r}."
            )
        self.interval = write_interval
        self.predictions: list[list[Any]] = []  # per loader, each batch's output (for write_on_epoch_end)
        self.batch_indices: list[list[Any]] = []  # per loader, each batch's sample indices
        self._index_iterators: list[Iterator[Any] | None] = []

    @property
    def on_batch(self) -> bool:
        return self.interval in ("batch", "batch_and_epoch")

    @property
    def on_epoch(self) -> bool:
        return self.interval in ("epoch", "batch_and_epoch")

    def write_on_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Write one batch's prediction (called after each batch with ``write_interval`` "batch"...)."""
        raise NotImplementedError

    def write_on_epoch_end(
        self, trainer: Any, pl_module: Any, predictions: Sequence[Any], batch_indices: Sequence[Any]
    ) -> None:
        """Write all predictions, one list per loader (called once with ``write_interval`` "epoch"...)."""
        raise NotImplementedError

    def on_predict_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        loaders = trainer.predict_dataloaders
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        self._index_iterators = [_fixed_order_batches(loader) for loader in loaders]
        self.predictions = [[] for _ in loaders]
        self.batch_indices = [[] for _ in loaders]

    def on_predict_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        source = self._index_iterators[dataloader_idx] if dataloader_idx < len(self._index_iterators) else None
        indices = next(source, None) if source is not None else None
        if self.on_epoch:
            self.predictions[dataloader_idx].append(outputs)
            self.batch_indices[dataloader_idx].append(indices)
        if self.on_batch:
            self.write_on_batch_end(trainer, pl_module, outputs, indices, batch, batch_idx, dataloader_idx)

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.on_epoch:
            self.write_on_epoch_end(trainer, pl_module, self.predictions, self.batch_indices)
        self.predictions, self.batch_indices, self._index_iterators = [], [], []


def _fixed_order_batches(loader: Any) -> Iterator[Any] | None:
    """The loader's batches of sample indices, when its order does not change from one pass to the next."""
    import torch.utils.data as data

    batch_sampler = getattr(loader, "batch_sampler", None)
    sampler = getattr(batch_sampler, "sampler", None)
    fixed = isinstance(sampler, data.SequentialSampler) or (
        isinstance(sampler, data.distributed.DistributedSampler) and not sampler.shuffle
    )
    return (list(batch) for batch in batch_sampler) if fixed and batch_sampler is not None else None
