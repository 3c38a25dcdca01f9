"""Classification heads by name, as in Flash: ``head="linear"`` (default), ``"mlp"``, a function
``(num_features, num_outputs) -> nn.Module``, or a module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def _linear(num_features: int, num_outputs: int) -> nn.Module:
    return nn.Linear(num_features, num_outputs)


def _mlp(num_features: int, num_outputs: int) -> nn.Module:
    hidden = max(32, min(1024, num_features))
    return nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, num_outputs))


HEADS: dict[str, Callable[[int, int], nn.Module]] = {"linear": _linear, "mlp": _mlp}


def available_heads() -> list[str]:
    return sorted(HEADS)


def build_head(head: Any, num_features: int, num_outputs: int) -> nn.Module:
    """The head for ``num_features`` -> ``num_outputs``; a function is called with those two numbers."""
    if head is None:
        head = "linear"
    if isinstance(head, str):
        if head not in HEADS:
            raise ValueError(
                f"Unknown head {head!r}. Allowed: {', '.join(available_heads())}, a function (num_features, "
                "num_classes) -> nn.Module, or an nn.Module."
            )
        return HEADS[head](num_features, num_outputs)
    if isinstance(head, nn.Module):
        return head
    if callable(head):
        built = head(num_features, num_outputs)
        if not isinstance(built, nn.Module):
            raise TypeError(f"head function returned {type(built).__name__}; it must return an nn.Module.")
        return built
    raise TypeError(f"head must be a name, a function or an nn.Module, got {type(head).__name__}.")


def check_head_output(head: nn.Module, num_features: int, num_outputs: int) -> None:
    """A head that does not map (batch, num_features) to (batch, num_outputs) is an error now, not mid-training."""
    try:
        with torch.no_grad():
            out = head(torch.zeros(2, num_features))
    except RuntimeError as error:
        raise ValueError(
            f"The head does not accept backbone features of width {num_features}: {str(error).splitlines()[0]}"
        ) from None
    if tuple(out.shape) != (2, num_outputs):
        raise ValueError(f"The head maps features to shape {tuple(out.shape)[1:]}, expected ({num_outputs},).")
