"""``ToyPredictor``: rows with a number ``x``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from flashtrain.tasks.inference import Predictor


class ToyPredictor(Predictor):
    input_help = "a row with a number in column x"

    def prepare(self, inputs: Sequence[Any], where: str = "the request") -> list[Any]:
        return [torch.tensor([float(row["x"])]) for row in inputs]

    def collate(self, samples: list[Any]) -> Any:
        return torch.stack(samples)
