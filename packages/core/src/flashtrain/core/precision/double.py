"""float64 everywhere ("64-true"): for numerics tests and gradient checks."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.precision.base import Precision
from flashtrain.core.utilities.apply import apply_to_tensors


def _to_double(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.double() if tensor.is_floating_point() else tensor


class DoublePrecision(Precision):
    precision = "64-true"

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.double()

    def convert_input(self, batch: Any) -> Any:
        return apply_to_tensors(batch, _to_double)
