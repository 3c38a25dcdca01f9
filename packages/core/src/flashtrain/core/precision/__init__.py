"""Precision plugins by their Lightning names."""

from __future__ import annotations

from flashtrain.core.precision.base import Precision
from flashtrain.core.precision.double import DoublePrecision
from flashtrain.core.precision.mixed import MixedPrecision

PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed")
_ALIASES = {
    "32": "32-true",
    32: "32-true",
    "64": "64-true",
    64: "64-true",
    "16": "16-mixed",
    16: "16-mixed",
    "bf16": "bf16-mixed",
}


def auto_precision(accelerator_name: str) -> str:
    """What ``precision="auto"`` means on an accelerator: ``bf16-mixed`` on a CUDA GPU that supports bfloat16
    (Ampere and later: float32's range, no gradient scaling), ``16-mixed`` with gradient scaling on older CUDA GPUs,
    ``32-true`` elsewhere (CPU autocast is slower than float32 for most models)."""
    if accelerator_name == "cuda":
        import torch

        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def canonical_precision(value: str | int) -> str:
    """Map a precision flag (``"16-mixed"``, ``16``, ``"bf16"``, ...) to its canonical name; ``"auto"`` stays."""
    if value == "auto":
        return "auto"
    name = _ALIASES.get(value, value)
    if name not in PRECISIONS:
        raise ValueError(
            f"Precision {value!r} is invalid. Allowed: {', '.join(repr(p) for p in PRECISIONS)}, 'auto' "
            "(aliases 32, 64, 16, 'bf16')."
        )
    return str(name)


def build_precision(value: str | int, accelerator_name: str, autocast_device_type: str) -> Precision:
    """Create the plugin for a precision flag on an accelerator, refusing pairs that cannot work."""
    name = canonical_precision(value)
    if name == "auto":
        name = auto_precision(accelerator_name)
    if name == "32-true":
        return Precision()
    if name == "64-true":
        if accelerator_name == "mps":
            raise ValueError("precision='64-true' is not supported on MPS (no float64 kernels); use '32-true'.")
        return DoublePrecision()
    if name == "16-mixed" and accelerator_name == "cpu":
        # Lightning 2.6's rule: float16 autocast with gradient scaling is a GPU recipe; on a CPU it trains in
        # bfloat16 autocast instead (float32's range, no scaler), and says so.
        from flashtrain.core.utilities.rank_zero import rank_zero_warn

        rank_zero_warn(
            "You passed `Trainer(accelerator='cpu', precision='16-mixed')` but AMP with fp16 is not supported on "
            "CPU. Using `precision='bf16-mixed'` instead."
        )
        name = "bf16-mixed"
    return MixedPrecision(name, autocast_device_type)


__all__ = [
    "PRECISIONS",
    "auto_precision",
    "DoublePrecision",
    "MixedPrecision",
    "Precision",
    "build_precision",
    "canonical_precision",
]
