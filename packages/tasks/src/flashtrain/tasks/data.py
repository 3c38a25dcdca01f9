"""What every task's data class shares: labels, targets, a stratified validation split and the dataloaders."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from flashtrain.core import DataModule
from flashtrain.tasks.loading import resolve_num_workers, resolve_pin_memory
from flashtrain.tasks.targets import Targets, dataset_targets

__all__ = ["STAGES", "Targets", "TaskDataModule", "frame_targets", "read_table", "stratified_split"]

STAGES = ("train", "val", "test", "predict")


def read_table(path: str, argument: str, file_format: str = "csv") -> Any:
    """A pandas DataFrame from a CSV, Parquet or JSON (records or JSON lines) file; errors name the argument.

    The frame remembers where it came from (``attrs``): ``source`` for messages, ``root`` (the file's folder) for
    relative paths inside it, and ``csv`` so that row numbers in errors can be given as file lines.
    """
    import pandas as pd

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}={path!r}: no such file.")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{argument}={path!r} is empty: expected a header row and data rows.")
    try:
        if file_format == "csv":
            frame = pd.read_csv(path)
        elif file_format == "parquet":
            frame = pd.read_parquet(path)
        elif file_format == "json":
            frame = _read_json_records(path)
        else:
            raise ValueError(f"unknown file format {file_format!r}")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{argument}={path!r} is empty: expected a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{argument}={path!r} is not a readable {file_format} file: {first_line}") from None
    frame.attrs.update(source=f"{argument} {path}", root=os.path.dirname(os.path.abspath(path)))
    frame.attrs["csv"] = file_format == "csv"
    return frame


def _read_json_records(path: str) -> Any:
    """A JSON file holding a list of records, or JSON lines (one record per line) whatever its extension."""
    import pandas as pd

    lines = path.endswith((".jsonl", ".ndjson"))
    try:
        return pd.read_json(path, lines=lines)
    except ValueError:
        if lines:
            raise
        return pd.read_json(path, lines=True)  # ".json" files often hold JSON lines ("Trailing data" above)


def check_frame_columns(frame: Any, needed: Sequence[str], where: str, hint: str) -> None:
    """An error naming the missing columns and the ones the table has."""
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(f"{where} has no column(s) {missing}; its columns are {list(frame.columns)[:30]}. {hint}")


def frame_targets(frame: Any, columns: Sequence[str], delimiter: str | None) -> Any:
    """Targets from a table: several 0/1 columns (a multi-hot array), one column of ``delimiter``-separated labels
    (a list of labels per row), or one label column. A row without a target is an error: ``str(nan)`` would
    otherwise become a class named "nan"."""
    missing = frame[list(columns)].isna().to_numpy().any(axis=1)  # file lines here; Targets checks other forms
    if missing.any():
        rows = [int(row) for row in missing.nonzero()[0][:5]]
        lines = f" (file lines {[row + 2 for row in rows]})" if frame.attrs.get("csv") else ""
        raise ValueError(
            f"{frame.attrs.get('source', 'the table')}: {int(missing.sum())} row(s) have no value in the target "
            f"column(s) {list(columns)}: rows {rows}{lines}. Fill in their labels or drop those rows."
        )
    if len(columns) > 1:
        return frame[list(columns)].to_numpy()
    if delimiter not in (None, "auto"):  # "auto": Targets.infer decides for the whole column
        return [[v.strip() for v in str(value).split(delimiter) if v.strip()] for value in frame[columns[0]]]
    return frame[columns[0]].tolist()


def stratified_split(targets: torch.Tensor, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) indices with each class split in the same proportion (a plain random split if multi-label)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_split must be a float between 0 and 1 (e.g. 0.2), got {fraction!r}.")
    generator = torch.Generator().manual_seed(seed)
    if targets.ndim > 1:  # multi-label: no single class to stratify on
        order = torch.randperm(len(targets), generator=generator).tolist()
        cut = max(1, round(len(order) * fraction))
        return sorted(order[cut:]), sorted(order[:cut])
    train: list[int] = []
    val: list[int] = []
    for cls in torch.unique(targets).tolist():
        found = torch.nonzero(targets == cls).flatten()
        members: list[int] = found[torch.randperm(len(found), generator=generator)].tolist()
        cut = round(len(members) * fraction) if len(members) > 1 else 0
        val += members[:cut]
        train += members[cut:]
    return sorted(train), sorted(val)


def grouped_split(
    targets: torch.Tensor, groups: Sequence[Any], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """(train, val) indices with no group on both sides, stratified by class where the groups allow."""
    from flashtrain.tasks.data_check import group_split

    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"val_split with val_split_by must be in (0, 0.5], got {fraction!r}.")
    if len(groups) != len(targets):
        raise ValueError(f"val_split_by: {len(groups)} group values for {len(targets)} training rows.")
    missing = [row for row, group in enumerate(groups) if group is None or group != group]  # None or NaN
    if missing:
        raise ValueError(
            f"val_split_by: {len(missing)} training row(s) have no group: rows {missing[:10]}. Fill in their group."
        )
    labels = targets.tolist() if targets.ndim == 1 else None  # multi-label: groups only
    train, val = group_split(groups, labels, fraction, seed)
    return sorted(int(i) for i in train), sorted(int(i) for i in val)


class StageDataset(Dataset):
    """A task dataset that holds its encoded ``targets`` (None without) and takes a subset of its rows itself
    (cheaper than torch's ``Subset``: a text dataset selects rows of its Arrow table, a tabular one of its tensors).
    """

    def subset(self, indices: list[int]) -> StageDataset:
        raise NotImplementedError


def build_stages(
    inputs: Mapping[str, Any],
    make: Callable[[str, Any], Dataset],
    val_split: float | None = None,
    seed: int = 0,
    val_view: Dataset | None = None,
    groups: Sequence[Any] | None = None,
) -> dict[str, Dataset | None]:
    """The one stage builder of the task data classes: ``make(stage, raw)`` builds the dataset of each stage given
    in ``inputs`` (train, val, test, predict; its own checks and messages), then ``val_split`` holds out a
    stratified fraction of the training rows (see :func:`split_validation`)."""
    datasets = {stage: make(stage, inputs[stage]) if inputs.get(stage) is not None else None for stage in STAGES}
    return split_validation(datasets, val_split, seed, val_view, groups)


def group_column(frame: Any, column: str | None, val_split: float | None, where: str) -> list[Any] | None:
    """The training frame's ``val_split_by`` column as one group per row (None without one), checked."""
    if column is None:
        return None
    if frame is None:
        raise ValueError("val_split_by needs training data (a training table holding the group column).")
    if val_split is None:
        raise ValueError(f"val_split_by={column!r} needs val_split, the fraction to hold out (e.g. val_split=0.2).")
    if column not in frame.columns:
        raise ValueError(f"val_split_by={column!r}: {where} has no such column; its columns: {list(frame.columns)}.")
    return frame[column].tolist()


def split_validation(
    datasets: dict[str, Dataset | None],
    val_split: float | None,
    seed: int,
    val_view: Dataset | None = None,
    groups: Sequence[Any] | None = None,
) -> dict[str, Dataset | None]:
    """``val_split`` of the training rows become the validation data, stratified by class (a plain random split
    for multi-label). ``val_view``: the training rows as validation should see them (image data: without
    augmentation), if not the training dataset itself. ``groups``: one group per training row (``val_split_by``'s
    column); every group then lands on one side only (see :func:`~flashtrain.tasks.data_check.group_split`)."""
    if val_split is None:
        return datasets
    train = datasets.get("train")
    encoded = dataset_targets(train) if train is not None else None
    if train is None or encoded is None:
        raise ValueError("val_split needs training data to split.")
    if datasets.get("val") is not None:
        raise ValueError("Pass either val_split or validation data, not both.")
    if groups is not None:
        train_rows, val_rows = grouped_split(encoded, groups, val_split, seed)
    else:
        train_rows, val_rows = stratified_split(encoded, val_split, seed)
    source = train if val_view is None else val_view
    return {**datasets, "train": _rows(train, train_rows), "val": _rows(source, val_rows)}


def _rows(dataset: Dataset, indices: list[int]) -> Dataset:
    return dataset.subset(indices) if isinstance(dataset, StageDataset) else Subset(dataset, indices)


class TaskDataModule(DataModule):
    """Datasets per stage plus what a model needs to know about them (labels, multi-label).

    ``collate_fn`` (class attribute) is handed to every DataLoader: a task whose dataset returns whole batches
    (``__getitems__``) or needs padding sets its own.
    """

    collate_fn: Callable[[Any], Any] | None = None
    # Resuming from a checkpoint of other training data: a warning (False) or an error (True, --strict-resume).
    strict_resume: bool = False

    def __init__(
        self,
        datasets: dict[str, Dataset | None],
        targets: Targets | None,
        batch_size: int = 32,
        num_workers: int | str = 0,
        seed: int = 0,
        sampler: Any = None,
        pin_memory: bool | str = False,
    ) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        # "auto" here means data held in memory (text, tables): no workers. A task whose data reads files (image)
        # resolves "auto" itself before it gets here.
        num_workers = resolve_num_workers(num_workers, 0, reads_files=False)
        self.datasets = datasets
        self.targets = targets
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        if sampler is not None and not (isinstance(sampler, torch.utils.data.Sampler) or callable(sampler)):
            raise TypeError(
                "sampler must be a torch Sampler or a function (train dataset) -> Sampler, got "
                f"{type(sampler).__name__}."
            )
        self.sampler = sampler
        resolve_pin_memory(pin_memory, None)  # checks the value; "auto" is resolved when a loader is made
        self.pin_memory = pin_memory

    def adopt_model(self, model: Any, stage: str) -> None:
        """The model<->data handshake: a task model calls this from its ``setup(stage)`` (and an embedder with
        ``"predict"``), so that the data can agree with it before any batch is made (the image data settles the
        preprocessing, the text data tokenizes with the model's tokenizer). Nothing to agree on by default."""

    def check(self, strict: bool = False) -> Any:
        """Opt-in data check of the splits this holds: the same item in two splits (file bytes, normalised text,
        prepared row), near-identical images and texts across splits, the same item with two labels, class counts.
        A warning names the problems found (``strict=True``: a ValueError); returns the ``DataReport``. Cheap:
        hashes, no training. The CLI runs the same check before every fit (see ``flash-train check``)."""
        from flashtrain.tasks.datamodule_check import check_datamodule

        return check_datamodule(self, strict)

    def predict_inputs(self) -> tuple[list[Any], str] | None:
        """The predict stage's raw inputs as a task's Predictor reads them (image file paths, table rows as dicts,
        texts) and what to call them in messages; None when the stage holds what only this data class can read
        (tensors, a user's dataset, or its own ``predict_transform``). None by default."""
        return None

    def prepared_predict_inputs(self) -> Any:
        """While ``trainer.predict`` runs a task model: the predict stage's raw inputs prepared batch by batch by
        the model's Predictor, the function ``flash-train predict``, serve and export prepare inputs with (so that
        a file gives the same prediction whatever the route, and a table is prepared by the model's fitted
        preprocessing, not this data's). None otherwise: then the stage's own dataset is used."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "predict":
            return None
        from flashtrain.tasks.inference import PreparedInputs, task_predictor

        inputs = self.predict_inputs()
        predictor = task_predictor(trainer.lightning_module) if inputs is not None else None
        return PreparedInputs(predictor, *inputs) if predictor is not None and inputs is not None else None

    def class_counts(self) -> tuple[torch.Tensor, int] | None:
        """(samples per class, or positives per label for multi-label; number of samples) in the training data."""
        dataset = self.datasets.get("train")
        encoded = dataset_targets(dataset) if dataset is not None else None
        if encoded is None or self.targets is None:
            return None
        if encoded.ndim > 1:
            return encoded.float().sum(dim=0), len(encoded)
        return torch.bincount(encoded.long(), minlength=len(self.targets.labels)), len(encoded)

    @property
    def labels(self) -> list[Any] | None:
        return self.targets.labels if self.targets is not None else None

    @property
    def num_classes(self) -> int | None:
        return len(self.targets.labels) if self.targets is not None else None

    @property
    def multi_label(self) -> bool:
        return bool(self.targets is not None and self.targets.multi_label)

    @staticmethod
    def split_off_validation(
        dataset: Dataset, encoded: torch.Tensor, val_split: float | None, seed: int
    ) -> tuple[Dataset, Dataset | None]:
        if val_split is None:
            return dataset, None
        train_idx, val_idx = stratified_split(encoded, val_split, seed)
        return Subset(dataset, train_idx), Subset(dataset, val_idx)

    def _loader(self, stage: str) -> DataLoader:
        dataset = self.datasets.get(stage)
        if dataset is None:
            raise ValueError(f"{type(self).__name__} has no {stage} data: pass {stage}_* to the from_* constructor.")
        prepared = self.prepared_predict_inputs() if stage == "predict" else None
        dataset = prepared if prepared is not None else dataset
        training = stage == "train"
        # A last training batch of one sample breaks BatchNorm ("Expected more than 1 value per channel"): drop it.
        size = len(dataset)  # type: ignore[arg-type]  # our datasets are all sized
        drop_last = training and size > self.batch_size and size % self.batch_size == 1
        sampler = self.train_sampler(dataset) if training else None
        return DataLoader(
            self.loader_dataset(stage, dataset),
            batch_size=self.batch_size,
            shuffle=training and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=drop_last,
            collate_fn=prepared.collate if prepared is not None else self.collate_fn,
            pin_memory=resolve_pin_memory(self.pin_memory, self.trainer),
            # Two batches ready ahead per worker (torch's default, said here on purpose): with N workers 2N batches
            # wait in shared memory (224 px float batches of 64 are 38 MB each), enough to hide a slow file.
            prefetch_factor=2 if self.num_workers > 0 else None,
        )

    def loader_dataset(self, stage: str, dataset: Dataset) -> Dataset:
        """What the ``stage`` DataLoader reads: the stage's dataset, unless a task serves it otherwise (the image
        data's training batches decoded on the GPU)."""
        return dataset

    def train_sampler(self, dataset: Dataset) -> Any:
        """The training sampler: the user's ``sampler=`` (a Sampler, or a function of the training dataset), else
        None (shuffle). A sampler with a ``generator`` attribute gets the trainer's, so its order replays exactly
        on resume."""
        if self.sampler is None:
            return None
        return self.sampler if isinstance(self.sampler, torch.utils.data.Sampler) else self.sampler(dataset)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader | None:
        return self._loader("val") if self.datasets.get("val") is not None else None

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict")

    def state_dict(self) -> dict[str, Any]:
        fingerprint = self.fingerprint()
        state = {"fingerprint": fingerprint} if fingerprint is not None else {}
        if self.targets is None:
            return state
        return {
            **state,
            "labels": [label if isinstance(label, (int, str)) else str(label) for label in self.targets.labels],
            "multi_label": self.targets.multi_label,
        }

    def fingerprint(self) -> dict[str, Any] | None:
        """The training data's fingerprint (:mod:`flashtrain.tasks.fingerprint`), or None without training data.
        Computed once: the datasets do not change after construction, and checkpoints are written often."""
        train = self.datasets.get("train")
        if train is None:
            return None
        if getattr(self, "_fingerprint", None) is None:
            from flashtrain.tasks.fingerprint import data_fingerprint

            self._fingerprint = data_fingerprint(train, self.labels)
        return self._fingerprint

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resuming: the checkpoint's training data against this data; a difference is a warning, or an error
        with ``strict_resume``."""
        saved, current = state_dict.get("fingerprint"), self.fingerprint()
        if not isinstance(saved, dict) or current is None:
            return
        from flashtrain.tasks.fingerprint import differences

        if saved.get("labels") != current.get("labels") and saved.get("labels") and current.get("labels"):
            # not a matter of strictness: class i of the weights would be read as another class, or not fit at all
            raise ValueError(
                f"the checkpoint's labels {saved['labels'][:10]} are not this data's {current['labels'][:10]}: its "
                "weights answer for other classes. Resume with the data it was trained on, or start a new run."
            )
        found = differences(saved, current)
        if not found:
            return
        message = (
            f"the checkpoint was trained on other data than this run's: {'; '.join(found)}. Resuming continues "
            "from weights fitted to that data"
        )
        if self.strict_resume:
            raise ValueError(f"{message}; refused (strict_resume / --strict-resume). Resume with the same data.")
        warnings.warn(f"{message} (strict_resume=True / --strict-resume refuses this).", UserWarning, stacklevel=2)
