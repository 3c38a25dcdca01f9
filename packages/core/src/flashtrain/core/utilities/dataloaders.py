"""DataLoader helpers shared by the trainer (replayable order) and the distributed strategies (sharding)."""

from __future__ import annotations

import hashlib
from typing import Any

from torch.utils.data import DataLoader


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and Python versions."""
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def has_len(loader: Any) -> bool:
    try:
        len(loader)
    except (TypeError, NotImplementedError):
        return False
    return True


def shutdown_persistent_workers(loader: Any) -> None:
    """Stop the worker processes a ``DataLoader(persistent_workers=True)`` keeps between epochs (as Lightning does
    at the end of each trainer call). torch keeps them for the loader's whole life and has no public call to stop
    them, so this reaches the loader's iterator the way Lightning's own reset does."""
    iterator = getattr(loader, "_iterator", None) if isinstance(loader, DataLoader) else None
    if iterator is None:
        return
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if callable(shutdown):
        shutdown()
    loader._iterator = None


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on the loader's sampler and on its batch sampler's sampler, each once, where they
    have one (``DistributedSampler`` orders each epoch by it; Lightning calls it on every loader at each epoch)."""
    samplers = {}
    for sampler in (getattr(loader, "sampler", None), getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if sampler is not None:
            samplers[id(sampler)] = sampler  # by identity: samplers need not be hashable
    for sampler in samplers.values():
        set_epoch = getattr(sampler, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)


def rebuild_dataloader(loader: DataLoader, **overrides: Any) -> DataLoader:
    """A new DataLoader with ``loader``'s settings, some replaced (``dataset``, ``sampler``, ``batch_sampler``...).

    Passing ``sampler`` keeps the batch size and ``drop_last``; passing ``batch_sampler`` replaces batching.
    """
    kwargs: dict[str, Any] = {
        "dataset": loader.dataset,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context,
        "generator": loader.generator,
        "persistent_workers": loader.persistent_workers,
    }
    if loader.num_workers > 0:
        kwargs["prefetch_factor"] = loader.prefetch_factor
    if "batch_sampler" not in overrides:
        if loader.batch_size is None and loader.batch_sampler is None:
            kwargs.update(batch_size=None, sampler=loader.sampler)
        elif "sampler" in overrides or "shuffle" in overrides:
            kwargs.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
        else:
            kwargs["batch_sampler"] = loader.batch_sampler
    kwargs.update(overrides)
    return DataLoader(**kwargs)
