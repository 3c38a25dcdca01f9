"""What a prediction comes out as: our output names, and Lightning Flash's ``Output`` objects and aliases.

``model.output = "probabilities"``, ``model.output = ProbabilitiesOutput()``, ``trainer.predict(model,
output=...)``, ``model.serve(output=...)`` and the Predictor behind serve/export all resolve their choice here, so
the same spelling means the same thing wherever predictions come out.

Flash's names map as follows: ``"classes"`` (``ClassesOutput``) -> class indices, ``"labels"`` (``LabelsOutput``)
-> label names (``LabelsOutput(["no", "yes"])`` renames them in the output only), ``"probabilities"``,
``"logits"``, ``"preds"`` (``PredsOutput``: the model's raw outputs, logits for a classifier, values for a
regressor). ``LabelsOutput`` / ``ClassesOutput`` take Flash's ``multi_label`` and ``threshold`` arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputChoice:
    """A resolved output: one of the task's output names, plus Flash's per-output options."""

    name: str
    labels: tuple[Any, ...] | None = None  # names shown instead of the model's labels ("labels" output)
    threshold: float = 0.5  # multi-label: a label is predicted when its probability exceeds this


class Output:
    """Base of Flash's output objects (``flash.core.data.io.output.Output``): pick how predictions come out."""

    name = ""

    def choice(self) -> OutputChoice:
        return OutputChoice(self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LogitsOutput(Output):
    name = "logits"


class ProbabilitiesOutput(Output):
    name = "probabilities"

    def __init__(self, multi_label: bool = False) -> None:
        self.multi_label = multi_label  # accepted for Flash's signature; the model knows whether it is multi-label


class PredsOutput(Output):
    name = "preds"


class ClassesOutput(Output):
    name = "classes"

    def __init__(self, multi_label: bool = False, threshold: float = 0.5) -> None:
        self.multi_label = multi_label
        self.threshold = threshold

    def choice(self) -> OutputChoice:
        return OutputChoice(self.name, threshold=self.threshold)


class LabelsOutput(ClassesOutput):
    name = "labels"

    def __init__(self, labels: Sequence[Any] | None = None, multi_label: bool = False, threshold: float = 0.5) -> None:
        super().__init__(multi_label, threshold)
        self.labels = None if labels is None else tuple(labels)

    def choice(self) -> OutputChoice:
        return OutputChoice(self.name, self.labels, self.threshold)

    def __repr__(self) -> str:
        return f"LabelsOutput({list(self.labels) if self.labels is not None else None})"


def resolve_output(value: Any, allowed: Sequence[str], owner: str) -> OutputChoice:
    """``value`` (a name or an :class:`Output`) as an :class:`OutputChoice` among ``allowed``; else a ValueError."""
    if isinstance(value, OutputChoice):
        choice = value
    elif isinstance(value, Output):
        choice = value.choice()
    elif isinstance(value, str):
        choice = OutputChoice(value)
    else:
        raise TypeError(
            f"output must be a name ({', '.join(allowed)}) or a Flash Output object (e.g. ProbabilitiesOutput()), "
            f"got {type(value).__name__}."
        )
    if choice.name not in allowed:
        raise ValueError(f"Unknown output {value!r} for {owner}. Allowed: {', '.join(allowed)}.")
    if choice.labels is not None and len(choice.labels) == 0:
        raise ValueError("LabelsOutput(labels=[]) names no labels; pass one name per class, or None.")
    return choice
