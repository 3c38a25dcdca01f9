"""Accelerators by name. ``resolve_accelerator("auto")`` picks the best hardware present."""

from __future__ import annotations

from flashtrain.core.accelerators.base import Accelerator
from flashtrain.core.accelerators.cpu import CPUAccelerator
from flashtrain.core.accelerators.cuda import CUDAAccelerator
from flashtrain.core.accelerators.mps import MPSAccelerator
from flashtrain.core.accelerators.xla import XLAAccelerator
from flashtrain.core.exceptions import MisconfigurationRuntimeError

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
        raise ValueError(  # Lightning's opening words (its tests match on them)
            f"You selected an invalid accelerator name: `accelerator={name!r}`. Allowed: "
            f"{', '.join(repr(n) for n in ACCELERATOR_NAMES)}, or an Accelerator instance."
        )
    key = name.lower()
    if key in ("auto", "gpu"):
        for candidate in (CUDAAccelerator, MPSAccelerator):  # "gpu" is CUDA, else Apple's MPS (as Lightning)
            if candidate.is_available():
                return candidate()
        if key == "gpu":
            raise MisconfigurationRuntimeError(
                f"No supported gpu backend found! accelerator={name!r} was requested but is not available: "
                f"{CUDAAccelerator().unavailable_hint()}."
            )
        return CPUAccelerator()
    accelerator = ACCELERATORS[key]()
    if not accelerator.is_available():
        raise MisconfigurationRuntimeError(
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
