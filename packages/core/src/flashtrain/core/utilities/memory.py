"""Freeing what a tensor collection holds on to."""

from __future__ import annotations

from typing import Any

from flashtrain.core.utilities.apply import apply_to_tensors


def recursive_detach(in_dict: Any, to_cpu: bool = False) -> Any:
    """A copy of a (nested) collection with every tensor detached from its graph, and moved to the CPU if
    ``to_cpu``; the input is unchanged (Lightning's ``recursive_detach``, used to keep step outputs without
    keeping their autograd graphs alive)."""

    def detach(tensor: Any) -> Any:
        tensor = tensor.detach()
        return tensor.cpu() if to_cpu else tensor

    return apply_to_tensors(in_dict, detach)


__all__ = ["recursive_detach"]
