"""Predicting from a checkpoint alone, one batch at a time: the task named in the checkpoint, its own eval
preprocessing (image transform, tokenizer, fitted tabular preprocessing), one forward, formatted outputs.

``export`` and ``serve`` build on this: a :class:`Predictor` turns raw inputs (image bytes, texts, table rows as
dicts) into samples (``prepare``, which validates), samples into model inputs (``collate``), and model inputs into
predictions (``predict_batch``). Preparing is per request and collating per batch, so a server can check each
request on its own and still run several requests in one forward.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import io
from collections.abc import Sequence
from typing import Any

import torch

TASK_CLASSES = {
    "image_classification": ("flashtrain.tasks.image.model", "ImageClassifier"),
    "text_classification": ("flashtrain.tasks.text.model", "TextClassifier"),
    "tabular_classification": ("flashtrain.tasks.tabular.model", "TabularClassifier"),
    "tabular_regression": ("flashtrain.tasks.tabular.model", "TabularRegressor"),
}


def load_task(checkpoint_path: str) -> Any:
    """The task model stored in ``checkpoint_path`` (its class read from the checkpoint), on the CPU, in eval mode;
    also a save_pretrained folder or ``hf://user/name``."""
    from flashtrain.core.checkpoint import load_checkpoint
    from flashtrain.tasks.pretrained import from_pretrained, is_pretrained_reference

    if is_pretrained_reference(checkpoint_path):  # a save_pretrained folder, or hf://user/name
        return from_pretrained(checkpoint_path)
    task = load_checkpoint(checkpoint_path).get("task")
    if task not in TASK_CLASSES:
        raise ValueError(
            f"{checkpoint_path} was not written by a flash-train task run (task: {task!r}); "
            f"supported: {', '.join(TASK_CLASSES)} checkpoints."
        )
    module, name = TASK_CLASSES[task]
    model_class = getattr(importlib.import_module(module), name)
    return model_class.load_from_checkpoint(checkpoint_path, map_location="cpu").eval()


class Predictor:
    """Raw inputs -> predictions for one task model; subclasses know the task's inputs."""

    input_help = ""  # what one input is, for error messages

    def __init__(self, model: Any) -> None:
        self.model = model
        self.task_name: str = model.task_name
        self.outputs: tuple[str, ...] = tuple(model.outputs)
        self.default_output = self.outputs[0]

    def prepare(self, inputs: Sequence[Any]) -> list[Any]:
        """One sample per input, checked; a bad input is a ValueError naming its position and what is expected."""
        raise NotImplementedError

    def collate(self, samples: list[Any]) -> Any:
        """Model inputs for a batch of prepared samples."""
        raise NotImplementedError

    def forward(self, samples: list[Any]) -> torch.Tensor:
        """Model outputs for a batch: logits for classifiers, values in the original units for regressors."""
        with torch.inference_mode():
            return self.model.predict_step((self.collate(samples),), 0)

    def format(self, outputs: torch.Tensor, output: str | None = None) -> list[Any]:
        output = output or self.default_output
        if output not in self.outputs:
            raise ValueError(
                f"Unknown output {output!r} for a {self.task_name} model. Allowed: {', '.join(self.outputs)}."
            )
        return self.model.format_predictions([outputs], output)

    def predict(self, inputs: Sequence[Any], output: str | None = None) -> list[Any]:
        """One prediction per input, in order."""
        if not inputs:
            return []
        return self.format(self.forward(self.prepare(inputs)), output)

    def describe(self) -> dict[str, Any]:
        """What a client needs to know: the task, the outputs it can ask for, the labels or targets."""
        names = getattr(self.model, "labels", None) or getattr(self.model, "target_names", [])
        return {"task": self.task_name, "outputs": list(self.outputs), "labels": list(names), "input": self.input_help}


class ImagePredictor(Predictor):
    input_help = "an image file (PNG, JPEG, ...) as a base64 string, raw bytes, a PIL image or a file path"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        from flashtrain.tasks.image.transforms import build_eval_transform

        self.transform = build_eval_transform(model.image_config)

    def prepare(self, inputs: Sequence[Any]) -> list[Any]:
        import numpy as np

        samples = []
        for index, item in enumerate(inputs):
            image = _open_image(item, index, self.input_help)
            # The same path as training and `flash-train predict`: a uint8 (C, H, W) tensor, then the transform.
            samples.append(self.transform(torch.from_numpy(np.array(image)).permute(2, 0, 1)))
        return samples

    def collate(self, samples: list[Any]) -> Any:
        return torch.stack(samples)


def _open_image(item: Any, index: int, expected: str) -> Any:
    import os

    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    source: Any
    if isinstance(item, (bytes, bytearray)):
        source = io.BytesIO(item)
    elif isinstance(item, str) and os.path.isfile(item):
        source = item
    elif isinstance(item, str):
        try:
            source = io.BytesIO(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"input {index} is not valid base64 (nor a file path); expected {expected}.") from None
    else:
        raise ValueError(f"input {index} is a {type(item).__name__}; expected {expected}.")
    try:
        with Image.open(source) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"input {index} is not a readable image ({error}); expected {expected}.") from None


class TextPredictor(Predictor):
    input_help = "a non-empty string"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_length)
        self.input_names = [n for n in self.tokenizer.model_input_names if n != "attention_mask"] + ["attention_mask"]

    def prepare(self, inputs: Sequence[Any]) -> list[Any]:
        for index, text in enumerate(inputs):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"input {index} is {text!r}; expected {self.input_help}.")
        encoded = self.tokenizer(list(inputs), truncation=True, max_length=self.max_length)
        names = [name for name in self.input_names if name in encoded]
        return [{name: encoded[name][i] for name in names} for i in range(len(inputs))]

    def collate(self, samples: list[Any]) -> Any:
        # Padding to the longest text of the batch, with the tokenizer's pad id, as in training (right padding).
        return dict(self.tokenizer.pad(samples, padding=True, return_tensors="pt"))


class TabularPredictor(Predictor):
    input_help = "a row as an object of column name -> value"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.preprocessing = model.preprocessing

    @property
    def input_fields(self) -> list[str]:
        return [*self.preprocessing.categorical_fields, *self.preprocessing.numerical_fields]

    def prepare(self, inputs: Sequence[Any]) -> list[Any]:
        import pandas as pd

        for index, row in enumerate(inputs):
            if not isinstance(row, dict):
                raise ValueError(f"input {index} is a {type(row).__name__}; expected {self.input_help}.")
        # One frame per request: the fitted preprocessing works on whole columns (and names missing columns).
        tensors = self.preprocessing.transform(pd.DataFrame(list(inputs)), "the request", with_targets=False)
        return list(zip(tensors.categorical, tensors.numerical))

    def collate(self, samples: list[Any]) -> Any:
        categorical, numerical = zip(*samples)
        return torch.stack(categorical), torch.stack(numerical)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "fields": self.input_fields}


PREDICTORS: dict[str, type[Predictor]] = {
    "image_classification": ImagePredictor,
    "text_classification": TextPredictor,
    "tabular_classification": TabularPredictor,
    "tabular_regression": TabularPredictor,
}


def predictor_for(model_or_checkpoint: Any) -> Predictor:
    """A :class:`Predictor` for a task model, or for the model in a checkpoint file."""
    model = load_task(model_or_checkpoint) if isinstance(model_or_checkpoint, str) else model_or_checkpoint.eval()
    predictor = PREDICTORS.get(getattr(model, "task_name", None) or "")
    if predictor is None:
        raise TypeError(f"{type(model).__name__} is not a flashtrain task model; pass a checkpoint or a task model.")
    return predictor(model)
