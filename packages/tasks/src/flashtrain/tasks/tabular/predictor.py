"""Predicting with a tabular model from raw rows (dicts of column -> value): the fitted preprocessing kept in the
checkpoint prepares them as in training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from flashtrain.tasks.inference import Predictor


class TabularPredictor(Predictor):
    input_help = "a row as an object of column name -> value"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.preprocessing = model.preprocessing

    @property
    def input_fields(self) -> list[str]:
        return [*self.preprocessing.categorical_fields, *self.preprocessing.numerical_fields]

    def prepare(self, inputs: Sequence[Any], where: str = "the request") -> list[Any]:
        import pandas as pd

        for index, row in enumerate(inputs):
            if not isinstance(row, dict):
                raise ValueError(f"input {index} is a {type(row).__name__}; expected {self.input_help}.")
        # One frame per request: the fitted preprocessing works on whole columns (and names missing columns).
        tensors = self.preprocessing.transform(pd.DataFrame(list(inputs)), where, with_targets=False)
        return list(zip(tensors.categorical, tensors.numerical))

    def collate(self, samples: list[Any]) -> Any:
        categorical, numerical = zip(*samples)
        return torch.stack(categorical), torch.stack(numerical)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "fields": self.input_fields}
