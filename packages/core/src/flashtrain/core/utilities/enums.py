"""Lightning's enumerations of accepted option values, as string enums that compare equal to their values."""

from __future__ import annotations

from enum import Enum


class GradClipAlgorithmType(str, Enum):
    """The ``gradient_clip_algorithm`` values: ``"value"`` (clip each element) and ``"norm"`` (rescale the total
    norm). Members equal their strings: ``GradClipAlgorithmType.NORM == "norm"``."""

    VALUE = "value"
    NORM = "norm"

    @staticmethod
    def supported_type(val: str) -> bool:
        """Whether ``val`` names an algorithm (any letter case)."""
        return str(val).lower() in _ALGORITHMS  # called every step (clip_gradients): a set lookup, not an enum walk

    @staticmethod
    def supported_types() -> list[str]:
        """The accepted values, in Lightning's order."""
        return [member.value for member in GradClipAlgorithmType]


_ALGORITHMS = frozenset(member.value for member in GradClipAlgorithmType)

__all__ = ["GradClipAlgorithmType"]
