"""Seeding every random number generator a training run touches."""

from __future__ import annotations

import os
import random

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
