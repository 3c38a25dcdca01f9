"""Walk nested batches (tensors inside tuples, lists, dicts, namedtuples) and map their tensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch


def apply_to_tensors(data: Any, function: Callable[[torch.Tensor], Any]) -> Any:
    """Return ``data`` with ``function`` applied to every tensor inside it; containers keep their type."""
    if isinstance(data, torch.Tensor):
        return function(data)
    if isinstance(data, Mapping):
        mapped = {key: apply_to_tensors(value, function) for key, value in data.items()}
        if type(data) is dict:
            return mapped
        try:  # OrderedDict, transformers' BatchEncoding, ...
            return type(data)(mapped)  # type: ignore[call-arg]  # mypy reads Mapping's type as abstract, no arguments
        except TypeError:  # e.g. defaultdict, whose constructor needs a factory first
            return mapped
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(apply_to_tensors(value, function) for value in data))
    if isinstance(data, (list, tuple)):
        return type(data)(apply_to_tensors(value, function) for value in data)
    return data


def move_to_device(data: Any, device: torch.device) -> Any:
    """Move every tensor of a batch to ``device`` (non-blocking where the source is pinned)."""
    if not isinstance(data, (torch.Tensor, Mapping, list, tuple)) and callable(getattr(data, "to", None)):
        return data.to(device)  # user batch objects that know how to move themselves
    return apply_to_tensors(data, lambda tensor: tensor.to(device, non_blocking=True))


def first_tensor_length(data: Any) -> int | None:
    """The leading dimension of the first tensor found in a batch, used as its batch size."""
    if isinstance(data, torch.Tensor):
        return int(data.shape[0]) if data.ndim else 1
    if isinstance(data, Mapping):
        values: Any = data.values()
    elif isinstance(data, (list, tuple)):
        values = data
    else:
        return None
    for value in values:
        size = first_tensor_length(value)
        if size is not None:
            return size
    return None
