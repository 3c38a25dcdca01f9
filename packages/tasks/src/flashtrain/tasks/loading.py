"""DataLoader settings that depend on the machine: worker processes and pinned memory, both ``"auto"`` by default
for data read from files.

- ``num_workers="auto"``: the cores this process may use (``os.sched_getaffinity``, shared out over the processes
  of one machine under torchrun's ``LOCAL_WORLD_SIZE``) minus one for the training loop, at most
  :data:`MAX_AUTO_WORKERS`; 0 where workers cannot help: data already in memory as tensors (indexing is cheaper
  than sending the batch between processes) or fewer than :data:`MIN_SAMPLES_FOR_WORKERS` samples (starting the
  workers would cost more than they save).
- ``pin_memory="auto"``: pinned (page-locked) batches when the trainer trains on CUDA, so that the copy to the GPU
  is asynchronous (the core copies with ``non_blocking=True``); never on CPU, where pinning only costs.

Random augmentation does not depend on how many workers there are (the core reseeds each batch from the epoch
seed and the batch's first index), but it differs between no workers and some: the same seed on a one-core
machine and on a many-core machine trains on different crops. Pass ``num_workers=`` to fix it.
"""

from __future__ import annotations

import os
from typing import Any

MAX_AUTO_WORKERS = 8  # past this, decoding 224 px images outruns one GPU's resnet-sized model anyway
MIN_SAMPLES_FOR_WORKERS = 256


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def auto_num_workers(samples: int, reads_files: bool) -> int:
    """The number of DataLoader workers ``"auto"`` means for a dataset of ``samples`` items."""
    if not reads_files or samples < MIN_SAMPLES_FOR_WORKERS:
        return 0
    processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(0, min(usable_cores() // processes - 1, MAX_AUTO_WORKERS))


def resolve_num_workers(value: Any, samples: int, reads_files: bool) -> int:
    """``value`` as a worker count: ``"auto"`` resolved, else an int >= 0 (an error names what was given)."""
    if value == "auto":
        return auto_num_workers(samples, reads_files)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"num_workers must be an int >= 0 or 'auto', got {value!r}.")
    return value


def resolve_pin_memory(value: Any, trainer: Any) -> bool:
    """``pin_memory="auto"``: pin when the trainer's device is a CUDA GPU; True/False as given."""
    if value == "auto":
        strategy = getattr(trainer, "strategy", None)
        device = getattr(strategy, "root_device", None)
        return getattr(device, "type", None) == "cuda"
    if not isinstance(value, bool):
        raise ValueError(f"pin_memory must be True, False or 'auto', got {value!r}.")
    return value
