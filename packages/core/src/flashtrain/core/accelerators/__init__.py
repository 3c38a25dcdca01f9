"""Accelerators by name. ``resolve_accelerator("auto")`` picks the best hardware present."""

from __future__ import annotations

from flashtrain.core.accelerators.base import Accelerator
from flashtrain.core.accelerators.cpu import CPUAccelerator
from flashtrain.core.accelerators.cuda import CUDAAccelerator
from flashtrain.core.accelerators.mps import MPSAccelerator
from flashtrain.core.accelerators.xla import XLAAccelerator

ACCELERATORS: dict[str, type[Accelerator]] = {
    "cpu": CPUAccelerator,
    "cuda": CUDAAccelerator,
    "gpu": CUDAAccelerator,
    "mps": MPSAccelerator,
    "xla": XLAAccelerator,
    "tpu": XLAAccelerator,
}
ACCELERATOR_NAMES = ("auto", *ACCELERATORS)


def resolve_accelerator(name: str | Accelerator) -> Accelerator:
    """Turn a name (or an instance) into an available accelerator, with a clear error otherwise."""
    if isinstance(name, Accelerator):
        return name
    if not isinstance(name, str) or name.lower() not in ACCELERATOR_NAMES:
        raise ValueError(
            f"Unknown accelerator {name!r}. Allowed: {', '.join(repr(n) for n in ACCELERATOR_NAMES)}, "
            "or an Accelerator instance."
        )
    key = name.lower()
    if key == "auto":
        for candidate in (CUDAAccelerator, MPSAccelerator):
            if candidate.is_available():
                return candidate()
        return CPUAccelerator()
    accelerator = ACCELERATORS[key]()
    if not accelerator.is_available():
        raise RuntimeError(
            f"accelerator={name!r} was requested but is not available: {accelerator.unavailable_hint()}."
        )
    return accelerator


__all__ = [
    "ACCELERATORS",
    "Accelerator",
    "CPUAccelerator",
    "CUDAAccelerator",
    "MPSAccelerator",
    "XLAAccelerator",
    "resolve_accelerator",
]
