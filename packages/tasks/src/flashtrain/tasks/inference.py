"""Predicting from a checkpoint alone, one batch at a time: the task named in the checkpoint, its own eval
preprocessing (image transform, tokenizer, fitted tabular preprocessing), one forward, formatted outputs.

``export``, ``serve`` and ``flash-train predict`` build on this, so that an input is prepared by one function
whatever the route. Each task's predictor lives in its own folder (``image/predictor.py``, ...) and is found
through :mod:`flashtrain.tasks.registry`: a :class:`Predictor` turns raw inputs (image bytes, texts, table rows as
dicts) into samples (``prepare``, which validates), samples into model inputs (``collate``), and model inputs into
predictions (``predict_batch``). Preparing is per request and collating per batch, so a server can check each
request on its own and still run several requests in one forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from flashtrain.tasks import registry


@dataclass(frozen=True)
class TaskCheckpoint:
    """A task checkpoint read once: the task it names and what rebuilds its model, so that a caller can look at
    the task (to read its inputs, say) before building the model, without reading the file a second time.

    ``spec`` is None when the checkpoint names no registered task (``task`` says what it names)."""

    source: str
    task: Any
    spec: registry.TaskSpec | None
    checkpoint: dict[str, Any] | None  # None: a save_pretrained folder or hf:// name, read by from_pretrained

    def model(self) -> Any:
        """The task model, on the CPU, in eval mode (a ValueError naming the supported tasks when there is none)."""
        if self.checkpoint is None:  # from_pretrained checks the folder and names what is wrong with it
            from flashtrain.tasks.pretrained import from_pretrained

            return from_pretrained(self.source)
        if self.spec is None:
            raise ValueError(
                f"{self.source} was not written by a flash-train task run (task: {self.task!r}); "
                f"supported: {', '.join(registry.names())} checkpoints."
            )
        from flashtrain.core.checkpoint import module_from_checkpoint

        return module_from_checkpoint(self.spec.load("model"), self.checkpoint, self.source, map_location="cpu")


def read_task_checkpoint(source: str) -> TaskCheckpoint:
    """Read a task checkpoint (a ``.ckpt``, a save_pretrained folder or ``hf://user/name``) once."""
    from flashtrain.tasks.pretrained import is_pretrained_reference, stored_task

    if is_pretrained_reference(source):
        task = stored_task(source)
        return TaskCheckpoint(source, task, registry.find(task), None)
    from flashtrain.core.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(source)
    task = checkpoint.get("task")
    return TaskCheckpoint(source, task, registry.find(task), checkpoint)


def load_task(checkpoint_path: str) -> Any:
    """The task model stored in ``checkpoint_path`` (its class read from the checkpoint, which is read once), on
    the CPU, in eval mode; also a save_pretrained folder or ``hf://user/name``."""
    return read_task_checkpoint(checkpoint_path).model()


class Predictor:
    """Raw inputs -> predictions for one task model; subclasses know the task's inputs."""

    input_help = ""  # what one input is, for error messages

    def __init__(self, model: Any) -> None:
        self.model = model
        self.task_name: str = model.task_name
        self.outputs: tuple[str, ...] = tuple(model.outputs)
        self.default_output = model.output if getattr(model, "output", None) is not None else self.outputs[0]

    def prepare(self, inputs: Sequence[Any], where: str = "the request") -> list[Any]:
        """One sample per input, checked; a bad input is a ValueError naming its position (in ``where``) and what
        is expected."""
        raise NotImplementedError

    def collate(self, samples: list[Any]) -> Any:
        """Model inputs for a batch of prepared samples."""
        raise NotImplementedError

    def forward(self, samples: list[Any]) -> torch.Tensor:
        """Model outputs for a batch: logits for classifiers, values in the original units for regressors."""
        with torch.inference_mode():
            return self.model.predict_step((self.collate(samples),), 0)

    def format(self, outputs: torch.Tensor, output: Any = None) -> list[Any]:
        output = output or self.default_output
        if isinstance(output, str) and output not in self.outputs:
            raise ValueError(
                f"Unknown output {output!r} for a {self.task_name} model. Allowed: {', '.join(self.outputs)}."
            )
        return self.model.format_predictions([outputs], output)

    def predict(self, inputs: Sequence[Any], output: str | None = None, where: str = "the request") -> list[Any]:
        """One prediction per input, in order (``where``: what the inputs are, for error messages)."""
        if not inputs:
            return []
        return self.format(self.forward(self.prepare(inputs, where)), output)

    def save_preprocessing_files(self, folder: str) -> None:
        """Files an export needs besides the model to preprocess inputs (text: the tokenizer); none by default."""

    def describe(self) -> dict[str, Any]:
        """What a client needs to know: the task, the outputs it can ask for, the labels or targets."""
        names = getattr(self.model, "labels", None) or getattr(self.model, "target_names", [])
        return {"task": self.task_name, "outputs": list(self.outputs), "labels": list(names), "input": self.input_help}


def task_predictor(model: Any) -> Predictor | None:
    """The :class:`Predictor` of a registered task's model; None for any other module (an embedder, your own)."""
    spec = registry.find(getattr(model, "task_name", None))
    return spec.load("predictor")(model) if spec is not None else None


class PreparedInputs(Dataset):
    """Raw inputs (files, rows, texts) prepared by a :class:`Predictor` a batch at a time: what ``trainer.predict``
    reads from a task's predict-stage data (see ``TaskDataModule.prepared_predict_inputs``), through the same
    ``prepare`` and ``collate`` as ``flash-train predict`` and serve. The DataLoader hands ``__getitems__`` a
    batch's indices; ``collate`` is its ``collate_fn``."""

    def __init__(self, predictor: Predictor, inputs: Sequence[Any], where: str) -> None:
        self.predictor = predictor
        self.inputs = list(inputs)
        self.where = where

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitems__(self, indices: list[int]) -> list[Any]:
        # One prepare per batch, as serve does per request: a table is preprocessed a frame at a time.
        return self.predictor.prepare([self.inputs[index] for index in indices], self.where)

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def collate(self, samples: list[Any]) -> tuple[Any]:
        """The batch as a task's ``predict_step`` takes it (as :meth:`Predictor.forward` passes it)."""
        return (self.predictor.collate(samples),)


def predictor_for(model_or_checkpoint: Any) -> Predictor:
    """A :class:`Predictor` for a task model, or for the model in a checkpoint file."""
    model = load_task(model_or_checkpoint) if isinstance(model_or_checkpoint, str) else model_or_checkpoint.eval()
    predictor = task_predictor(model)
    if predictor is None:
        raise TypeError(f"{type(model).__name__} is not a flashtrain task model; pass a checkpoint or a task model.")
    return predictor


# Where the task predictors lived before they moved into their task's folder (kept importable).
_MOVED = {
    "ImagePredictor": "flashtrain.tasks.image.predictor",
    "TextPredictor": "flashtrain.tasks.text.predictor",
    "TabularPredictor": "flashtrain.tasks.tabular.predictor",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
