"""Seeding every random number generator a training run touches."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

_SEED_ENV = "FLASHTRAIN_GLOBAL_SEED"
_MAX_SEED = 2**32 - 1


def seed_everything(seed: int | None = None, workers: bool = False) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs) with one number.

    Args:
        seed: The seed. ``None`` reads ``FLASHTRAIN_GLOBAL_SEED`` or falls back to 0.
        workers: Accepted for Lightning compatibility. DataLoader workers are always seeded from the
            trainer's base seed, so each worker's stream is reproducible either way.

    Returns:
        The seed used.
    """
    if seed is None:
        env_value = os.environ.get(_SEED_ENV)
        seed = int(env_value) if env_value is not None else 0
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r} of type {type(seed).__name__}.")
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be between 0 and {_MAX_SEED}, got {seed}.")
    # The variable carries the seed to processes the trainer starts (DDP workers).
    os.environ[_SEED_ENV] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


def current_seed() -> int | None:
    """The seed last passed to :func:`seed_everything` in this process tree, if any."""
    value = os.environ.get(_SEED_ENV)
    return int(value) if value is not None else None


@contextlib.contextmanager
def isolate_rng(include_cuda: bool = True) -> Iterator[None]:
    """Run a block without touching the global random streams: Python's, NumPy's and torch's generators (and
    CUDA's, with ``include_cuda``; pass False in a forked process where CUDA must not start) are put back as they
    were on entry when the block ends, also when it raises (Lightning's ``isolate_rng``)."""
    from flashtrain.core.checkpoint.rng import capture_rng_states, restore_rng_states

    states = capture_rng_states()
    states.pop("cuda", None)  # CUDA's streams are handled below, as include_cuda says
    cuda_states = (torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []) if include_cuda else None
    try:
        yield
    finally:
        restore_rng_states(states)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
