"""Predicting with a text classifier from raw texts: the model's own tokenizer and length, padded per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flashtrain.tasks.inference import Predictor


class TextPredictor(Predictor):
    input_help = "a non-empty string"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_length)
        self.input_names = [n for n in self.tokenizer.model_input_names if n != "attention_mask"] + ["attention_mask"]

    def prepare(self, inputs: Sequence[Any], where: str = "the request") -> list[Any]:
        for index, text in enumerate(inputs):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"input {index} is {text!r}; expected {self.input_help}.")
        encoded = self.tokenizer(list(inputs), truncation=True, max_length=self.max_length)
        names = [name for name in self.input_names if name in encoded]
        return [{name: encoded[name][i] for name in names} for i in range(len(inputs))]

    def save_preprocessing_files(self, folder: str) -> None:
        import os

        from flashtrain.core.utilities.disk import writing

        with writing(os.path.join(folder, "tokenizer")):
            self.tokenizer.save_pretrained(os.path.join(folder, "tokenizer"))

    def collate(self, samples: list[Any]) -> Any:
        # Padding to the longest text of the batch, with the tokenizer's pad id, as in training (right padding).
        return dict(self.tokenizer.pad(samples, padding=True, return_tensors="pt"))
