"""Tabular preprocessing: fitted on the training split once, applied to whole frames at once (pandas/numpy, never
per row), and stored as plain numbers and strings so that it travels in a checkpoint.

- Categorical columns: a vocabulary of the training values; index 0 means missing, 1 means a value not seen in
  training, 2.. the known values. Numbers in a categorical column are compared as text (``3`` and ``3.0`` agree).
- Numerical columns: missing values take the training median, and columns that had missing values in training
  get a 0/1 missing-indicator input; then standardised with the training mean and standard deviation.
- Regression targets: standardised for training; the model turns its outputs back into the original units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from flashtrain.tasks.data import check_frame_columns
from flashtrain.tasks.targets import Targets

MISSING, UNKNOWN = 0, 1  # reserved indices of every category vocabulary
RESERVED = 2
TASKS = ("classification", "regression")


@dataclass
class TabularTensors:
    categorical: torch.Tensor  # (rows, categorical fields) int64
    numerical: torch.Tensor  # (rows, numerical fields + missing indicators) float32
    targets: torch.Tensor | None  # class indices (rows,) or standardised values (rows, targets)


@dataclass
class TabularPreprocessing:
    task: str
    categorical_fields: list[str]
    numerical_fields: list[str]
    target_fields: list[str]
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    fill_values: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    indicator_fields: list[str] = field(default_factory=list)
    labels: list[Any] | None = None  # classification: class names, index = class id
    target_means: list[float] | None = None  # regression
    target_stds: list[float] | None = None

    # -- fitting --------------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        task: str,
        categorical_fields: list[str],
        numerical_fields: list[str],
        target_fields: list[str],
        where: str,
    ) -> TabularPreprocessing:
        check_fields(categorical_fields, numerical_fields, target_fields, task)
        check_columns(frame, [*categorical_fields, *numerical_fields, *target_fields], where)
        if len(frame) == 0:
            raise ValueError(f"{where} has no rows; training needs at least one.")
        fitted = cls(task, list(categorical_fields), list(numerical_fields), list(target_fields))
        for name in categorical_fields:
            values = category_strings(frame[name]).dropna()
            fitted.vocabularies[name] = sorted(pd.unique(values).tolist())
        for name in numerical_fields:
            values = to_numbers(frame[name], name, where)
            observed = values.dropna()
            fitted.fill_values[name] = float(observed.median()) if len(observed) else 0.0
            fitted.means[name] = float(observed.mean()) if len(observed) else 0.0
            std = float(observed.std(ddof=0)) if len(observed) else 0.0
            fitted.stds[name] = std if std > 1e-12 else 1.0
            if values.isna().any():
                fitted.indicator_fields.append(name)
        fitted._fit_targets(frame, where)
        return fitted

    def _fit_targets(self, frame: pd.DataFrame, where: str) -> None:
        check_targets_present(frame, self.target_fields, where)
        if self.task == "classification":
            (name,) = self.target_fields
            seen = pd.unique(frame[name]).tolist()
            if len(seen) < 2:
                raise ValueError(
                    f"{where}: target column {name!r} has a single class ({seen[0]!r}); a classifier needs at least "
                    "two. Check target_fields, or use more of the data."
                )
            # the one reading of classification targets (refuses a continuous column: use a regressor)
            self.labels = Targets.infer(frame[name], where=f"{where}: target column {name!r}", delimiter=None).labels
            return
        columns = np.stack(
            [to_numbers(frame[name], name, where).to_numpy(np.float64) for name in self.target_fields], 1
        )
        stds = columns.std(axis=0)
        self.target_means = columns.mean(axis=0).tolist()
        self.target_stds = [float(s) if s > 1e-12 else 1.0 for s in stds]

    # -- applying -------------------------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, where: str, with_targets: bool) -> TabularTensors:
        """Tensors for the whole frame; unseen categories and missing values go to their buckets, never an error."""
        check_columns(frame, [*self.categorical_fields, *self.numerical_fields], where)
        rows = len(frame)
        categorical = np.zeros((rows, len(self.categorical_fields)), dtype=np.int64)
        for column, name in enumerate(self.categorical_fields):
            text = category_strings(frame[name])
            codes = pd.Index(self.vocabularies[name]).get_indexer(text)  # -1: unseen or missing
            categorical[:, column] = np.where(codes >= 0, codes + RESERVED, np.where(text.isna(), MISSING, UNKNOWN))
        width = len(self.numerical_fields) + len(self.indicator_fields)
        numerical = np.zeros((rows, width), dtype=np.float32)
        for column, name in enumerate(self.numerical_fields):
            values = to_numbers(frame[name], name, where).to_numpy(np.float64)
            missing = np.isnan(values)
            values = np.where(missing, self.fill_values[name], values)
            numerical[:, column] = (values - self.means[name]) / self.stds[name]
            if name in self.indicator_fields:
                numerical[:, len(self.numerical_fields) + self.indicator_fields.index(name)] = missing
        targets = self._transform_targets(frame, where) if with_targets else None
        return TabularTensors(torch.from_numpy(categorical), torch.from_numpy(numerical), targets)

    def _transform_targets(self, frame: pd.DataFrame, where: str) -> torch.Tensor:
        check_columns(frame, self.target_fields, where)
        check_targets_present(frame, self.target_fields, where)
        if self.task == "classification":
            assert self.labels is not None
            (name,) = self.target_fields
            codes = pd.Index(self.labels).get_indexer(frame[name])
            if (codes < 0).any():
                unseen = sorted({str(v) for v in frame[name][codes < 0]})
                raise ValueError(
                    f"{where}: target column {name!r} has classes not in the training data: {unseen[:5]}. "
                    f"Known classes: {self.labels[:20]}."
                )
            return torch.from_numpy(codes.astype(np.int64))
        assert self.target_means is not None and self.target_stds is not None
        columns = np.stack(
            [to_numbers(frame[name], name, where).to_numpy(np.float64) for name in self.target_fields], 1
        )
        scaled = (columns - np.asarray(self.target_means)) / np.asarray(self.target_stds)
        return torch.from_numpy(scaled.astype(np.float32))

    # -- what a model needs ---------------------------------------------------------------------------------
    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows per categorical field (known values plus the missing and unknown buckets)."""
        return [len(self.vocabularies[name]) + RESERVED for name in self.categorical_fields]

    @property
    def num_numerical_inputs(self) -> int:
        return len(self.numerical_fields) + len(self.indicator_fields)

    @property
    def num_outputs(self) -> int:
        return len(self.labels or []) if self.task == "classification" else len(self.target_fields)

    def state_dict(self) -> dict[str, Any]:
        """Plain lists, dicts, strings and numbers (checkpoints load with ``weights_only=True``)."""
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TabularPreprocessing:
        if not isinstance(state, dict) or state.get("task") not in TASKS:
            raise ValueError(
                "parameters must be the fitted preprocessing of a tabular data module (datamodule.parameters) "
                f"or of a trained model (model.hparams['parameters']); got {type(state).__name__}."
            )
        return cls(**state)


def check_fields(categorical: list[str], numerical: list[str], targets: list[str], task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"Unknown tabular task {task!r}; allowed: {TASKS}.")
    if not categorical and not numerical:
        raise ValueError("No input columns: give categorical_fields and/or numerical_fields (lists of column names).")
    if not targets:
        raise ValueError("target_fields is needed for training data: the column(s) to predict.")
    both = sorted(set(categorical) & set(numerical))
    if both:
        raise ValueError(f"Columns {both} are listed as both categorical_fields and numerical_fields; pick one.")
    inputs_as_targets = sorted(set(targets) & (set(categorical) | set(numerical)))
    if inputs_as_targets:
        raise ValueError(
            f"Target column(s) {inputs_as_targets} are also listed as inputs; a target cannot be an input."
        )
    if task == "classification" and len(targets) != 1:
        raise ValueError(
            f"A tabular classifier predicts one target column; got target_fields={targets}. "
            "Train one classifier per column."
        )


def check_columns(frame: pd.DataFrame, needed: list[str], where: str) -> None:
    check_frame_columns(frame, needed, where, "Check categorical_fields / numerical_fields / target_fields.")


def check_targets_present(frame: pd.DataFrame, target_fields: list[str], where: str) -> None:
    for name in target_fields:
        missing = frame[name].isna().to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)[:5].tolist()
            raise ValueError(
                f"{where}: target column {name!r} has {int(missing.sum())} missing value(s) (rows {rows}); "
                "drop or fill those rows."
            )


def category_strings(column: pd.Series) -> pd.Series:
    """Values as text, missing kept as missing; whole numbers without ``.0`` so that ``3`` and ``3.0`` agree
    (a column of integers read with a missing value becomes float)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.astype("float64")
        whole = numbers.notna() & np.isfinite(numbers) & (numbers % 1 == 0)
        text = numbers.astype(str).astype(object)
        text[whole] = numbers[whole].astype("int64").astype(str)
    else:
        text = column.astype(str).astype(object)
    return text.where(column.notna(), None)


def to_numbers(column: pd.Series, name: str, where: str) -> pd.Series:
    """Floats with NaN for missing; text that is not a number, or an infinite value, is an error naming the column
    and a row."""
    if pd.api.types.is_numeric_dtype(column):
        numbers = column.astype("float64")
    else:
        numbers = pd.to_numeric(column, errors="coerce")
        bad = numbers.isna().to_numpy() & column.notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            line = frame_line(column, row)
            raise ValueError(
                f"{where}: numerical column {name!r} has a value that is not a number: {column.iloc[row]!r} in row "
                f"{row}{line} ({int(bad.sum())} such row(s)). Fix the data, or list {name!r} under categorical_fields."
            )
    infinite = np.isinf(numbers.to_numpy(np.float64))
    if infinite.any():
        # Left in, one inf turns the standardisation and then every loss into NaN, blamed on the learning rate.
        row = int(np.flatnonzero(infinite)[0])
        raise ValueError(
            f"{where}: numerical column {name!r} has an infinite value ({numbers.iloc[row]}) in row {row}"
            f"{frame_line(column, row)} ({int(infinite.sum())} such row(s)). Replace it with a finite number, or leave "
            "the cell empty to have it treated as missing."
        )
    return numbers.astype("float64")


def frame_line(column: pd.Series, row: int) -> str:
    """`` (line N of the file)`` when the data came from a CSV file with a header, else nothing."""
    return f" (line {row + 2} of the file)" if column.attrs.get("csv") else ""
