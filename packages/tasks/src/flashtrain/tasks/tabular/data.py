"""``TabularClassificationData`` and ``TabularRegressionData``: tables in, preprocessed tensors out.

Preprocessing (``preprocessing.py``) is fitted on the training split and applied to each whole table once, so the
datasets hold ready tensors and hand the DataLoader whole batches (``__getitems__``: one indexing operation per
tensor and batch, no per-row Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pandas as pd
import torch
from torch.utils.data import Dataset

from flashtrain.tasks.data import (
    STAGES,
    StageDataset,
    Targets,
    TaskDataModule,
    build_stages,
    group_column,
    read_table,
)
from flashtrain.tasks.tabular.preprocessing import TabularPreprocessing, TabularTensors

Fields = str | Sequence[str] | None


class TabularDataset(StageDataset):
    """Items are ``((categorical, numerical), target)``, or ``((categorical, numerical),)`` without targets."""

    def __init__(self, tensors: TabularTensors) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors.categorical)

    def __getitem__(self, index: int) -> tuple:
        return self._select(index)

    def __getitems__(self, indices: list[int]) -> tuple:
        """A whole batch at once (the DataLoader calls this instead of ``__getitem__`` per row)."""
        return self._select(torch.as_tensor(indices, dtype=torch.long))

    def _select(self, index: Any) -> tuple:
        inputs = (self.tensors.categorical[index], self.tensors.numerical[index])
        return (inputs,) if self.tensors.targets is None else (inputs, self.tensors.targets[index])

    @property
    def targets(self) -> torch.Tensor | None:
        return self.tensors.targets

    def subset(self, indices: list[int]) -> TabularDataset:
        index = torch.as_tensor(indices, dtype=torch.long)
        t = self.tensors
        return TabularDataset(
            TabularTensors(t.categorical[index], t.numerical[index], None if t.targets is None else t.targets[index])
        )


DEFAULT_BATCH_SIZE = 64
MIN_STEPS_PER_EPOCH = 16
MAX_STEPS_PER_EPOCH = 64
MAX_BATCH_SIZE = 512
# Data without training rows (predict or test tables) is read in batches of this many rows: each batch is prepared
# by the model's fitted preprocessing (pandas, ~5 ms fixed per batch), which at 64 rows was ~90% of predicting
# 4,000 rows (benchmarks/tabular_vs_sklearn.py, 20k tables); evaluation's results do not depend on the batch.
EVALUATION_BATCH_SIZE = 2048


def default_batch_size(train_rows: int) -> int:
    """64 rows a batch, smaller on small tables so that an epoch still has about ``MIN_STEPS_PER_EPOCH`` optimizer
    steps (at least 8 rows): at 64, a 100-row table trains 2 steps an epoch and its 30 epochs end undertrained.
    Larger on large tables (from 4,096 rows: an epoch of about ``MAX_STEPS_PER_EPOCH`` steps, at most 512 rows a
    batch): on a CPU the cost of a step of these small models is mostly fixed, so the time of a large table's
    30 epochs follows the number of steps; 30 x 64 steps still train it (benchmarks/tabular_vs_sklearn.py)."""
    if train_rows >= DEFAULT_BATCH_SIZE * MAX_STEPS_PER_EPOCH:
        return min(MAX_BATCH_SIZE, train_rows // MAX_STEPS_PER_EPOCH)
    return max(8, min(DEFAULT_BATCH_SIZE, train_rows // MIN_STEPS_PER_EPOCH))


def whole_batch(batch: Any) -> Any:
    """The collate function for :class:`TabularDataset`: its ``__getitems__`` already returns the batch."""
    return batch


class TabularData(TaskDataModule):
    """Shared by the classification and regression data classes; build one with a ``from_*`` constructor."""

    task: ClassVar[str]
    collate_fn = staticmethod(whole_batch)

    def __init__(
        self,
        datasets: dict[str, Dataset | None],
        preprocessing: TabularPreprocessing,
        predict_frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> None:
        labels = preprocessing.labels
        super().__init__(datasets, Targets(labels, multi_label=False) if labels is not None else None, **kwargs)
        self.preprocessing = preprocessing
        self.predict_frame = predict_frame  # the raw rows: a trained model prepares them with its own preprocessing

    def predict_inputs(self) -> tuple[list[Any], str] | None:
        frame = self.predict_frame
        if frame is None:
            return None
        return frame.to_dict("records"), frame.attrs.get("source", "predict_data_frame")

    @property
    def data_parameters(self) -> dict[str, Any]:
        """Flash's name for :attr:`parameters`."""
        return self.parameters

    @property
    def parameters(self) -> dict[str, Any]:
        """The fitted preprocessing as plain data: pass it to ``from_*(parameters=...)`` to prepare new data the
        same way, or to ``TabularClassifier`` / ``TabularRegressor`` (``from_data`` does that)."""
        return self.preprocessing.state_dict()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "parameters": self.parameters}

    # -- constructors ---------------------------------------------------------------------------------------
    @classmethod
    def from_data_frame(
        cls,
        categorical_fields: Fields = None,
        numerical_fields: Fields = None,
        target_fields: Fields = None,
        train_data_frame: pd.DataFrame | None = None,
        val_data_frame: pd.DataFrame | None = None,
        test_data_frame: pd.DataFrame | None = None,
        predict_data_frame: pd.DataFrame | None = None,
        parameters: dict[str, Any] | None = None,
        val_split: float | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        sampler: Any = None,
        pin_memory: bool = False,
        target_field: Fields = None,
        val_split_by: str | None = None,
    ) -> TabularData:
        """pandas DataFrames per stage. Preprocessing is fitted on ``train_data_frame``, or taken from
        ``parameters`` (``datamodule.parameters``, or a trained model's ``hparams["parameters"]``) to prepare new
        data exactly as the training data was. ``val_split`` holds out a fraction of the training rows
        (stratified by class for classification). ``target_field`` is accepted for ``target_fields`` (Flash's
        tabular data used both spellings); ``sampler`` and ``pin_memory`` go to the training DataLoader.
        ``val_split_by``: a column of the training table naming each row's group (a patient, a user, a site):
        ``val_split`` then holds out whole groups, stratified by class where the groups allow, so that no group is
        both trained and validated on.
        ``batch_size`` None: :func:`default_batch_size` of the training rows (without them: ``EVALUATION_BATCH_SIZE``
        rows)."""
        if target_field is not None:
            if target_fields is not None:
                raise ValueError("Pass target_fields or target_field (the same thing), not both.")
            target_fields = target_field
        frames = {"train": train_data_frame, "val": val_data_frame, "test": test_data_frame}
        frames["predict"] = predict_data_frame
        for stage, frame in frames.items():
            if frame is not None and not isinstance(frame, pd.DataFrame):
                raise TypeError(f"{stage}_data_frame must be a pandas DataFrame, got {type(frame).__name__}.")
        fields = (_as_list(categorical_fields), _as_list(numerical_fields), _as_list(target_fields))
        preprocessing = cls._preprocessing(frames["train"], fields, parameters)

        def make(stage: str, frame: pd.DataFrame) -> Dataset:
            where = frame.attrs.get("source", f"{stage}_data_frame")
            if len(frame) == 0 and stage != "predict":
                raise ValueError(f"{where} has no rows.")
            return TabularDataset(preprocessing.transform(frame, where, with_targets=stage != "predict"))

        train_frame = frames["train"]
        where = train_frame.attrs.get("source", "train_data_frame") if train_frame is not None else "train_data_frame"
        groups = group_column(train_frame, val_split_by, val_split, where)
        datasets = build_stages(frames, make, val_split, seed, groups=groups)
        if batch_size is None:
            train = datasets["train"]
            batch_size = default_batch_size(len(train)) if train is not None else EVALUATION_BATCH_SIZE  # type: ignore[arg-type]
        return cls(
            datasets,
            preprocessing,
            frames["predict"],
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            sampler=sampler,
            pin_memory=pin_memory,
        )

    @classmethod
    def _preprocessing(
        cls, train: pd.DataFrame | None, fields: tuple[list[str], list[str], list[str]], parameters: Any
    ) -> TabularPreprocessing:
        categorical, numerical, targets = fields
        if parameters is None:
            if train is None:
                raise ValueError(
                    "Without training data, pass parameters=... (datamodule.parameters of the training data, or "
                    "model.hparams['parameters'] of a trained model) so that new data is prepared as in training."
                )
            where = train.attrs.get("source", "train_data_frame")
            return TabularPreprocessing.fit(train, cls.task, categorical, numerical, targets, where)
        preprocessing = TabularPreprocessing.from_state_dict(parameters)
        if preprocessing.task != cls.task:
            raise ValueError(f"parameters were fitted for {preprocessing.task}; {cls.__name__} does {cls.task}.")
        for given, fitted, name in zip(
            fields,
            (preprocessing.categorical_fields, preprocessing.numerical_fields, preprocessing.target_fields),
            ("categorical_fields", "numerical_fields", "target_fields"),
        ):
            if given and given != fitted:
                raise ValueError(f"{name}={given} differs from the {fitted} that parameters were fitted on.")
        return preprocessing

    @classmethod
    def from_csv(
        cls,
        categorical_fields: Fields = None,
        numerical_fields: Fields = None,
        target_fields: Fields = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        **kwargs: Any,
    ) -> TabularData:
        """CSV files with a header row; ``kwargs`` as for :meth:`from_data_frame` (parameters, val_split, ...)."""
        paths = (train_file, val_file, test_file, predict_file)
        return cls._from_files("csv", categorical_fields, numerical_fields, target_fields, paths, kwargs)

    @classmethod
    def from_parquet(
        cls,
        categorical_fields: Fields = None,
        numerical_fields: Fields = None,
        target_fields: Fields = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        **kwargs: Any,
    ) -> TabularData:
        """Parquet files; ``kwargs`` as for :meth:`from_data_frame`."""
        paths = (train_file, val_file, test_file, predict_file)
        return cls._from_files("parquet", categorical_fields, numerical_fields, target_fields, paths, kwargs)

    @classmethod
    def _from_files(
        cls, file_format: str, categorical: Fields, numerical: Fields, targets: Fields, paths: tuple, kwargs: dict
    ) -> TabularData:
        frames: dict[str, Any] = {
            f"{stage}_data_frame": read_table(path, f"{stage}_file", file_format) if path is not None else None
            for stage, path in zip(STAGES, paths)
        }
        return cls.from_data_frame(categorical, numerical, targets, **frames, **kwargs)

    @classmethod
    def from_dicts(
        cls,
        categorical_fields: Fields = None,
        numerical_fields: Fields = None,
        target_fields: Fields = None,
        train_dicts: Sequence[dict[str, Any]] | None = None,
        val_dicts: Sequence[dict[str, Any]] | None = None,
        test_dicts: Sequence[dict[str, Any]] | None = None,
        predict_dicts: Sequence[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> TabularData:
        """Rows as dicts (``{"age": 31, "sex": "f"}``); a missing key or ``None`` is a missing value."""
        frames: dict[str, Any] = {}
        for stage, rows in zip(STAGES, (train_dicts, val_dicts, test_dicts, predict_dicts)):
            if rows is not None and not all(isinstance(row, dict) for row in rows):
                raise TypeError(f"{stage}_dicts must be a list of dicts, one per row (column name -> value).")
            frames[f"{stage}_data_frame"] = pd.DataFrame.from_records(list(rows)) if rows is not None else None
            if rows is not None:
                frames[f"{stage}_data_frame"].attrs["source"] = f"{stage}_dicts"
        return cls.from_data_frame(categorical_fields, numerical_fields, target_fields, **frames, **kwargs)


class TabularClassificationData(TabularData):
    """Classification tables: one target column of class names (or numbers); binary or multi-class."""

    task = "classification"


class TabularRegressionData(TabularData):
    """Regression tables: one or more numerical target columns (standardised for training; the model returns
    predictions in the original units)."""

    task = "regression"


def _as_list(fields: Fields) -> list[str]:
    if fields is None:
        return []
    if isinstance(fields, str):
        return [fields]
    return list(fields)
