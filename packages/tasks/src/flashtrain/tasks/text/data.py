"""``TextClassificationData``: texts and their labels from lists, tables, JSON, Parquet or Hugging Face datasets.

The texts are tokenized when a model meets the data (``TextClassifier`` hands over its tokenizer at setup): once
per dataset and tokenizer, batched through ``datasets.map``, and cached on disk as Arrow files keyed by the texts,
the tokenizer and ``max_length``, so the next run with the same data starts training without tokenizing. Batches
are padded to their own longest text (dynamic padding), not to ``max_length``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from flashtrain.tasks import registry
from flashtrain.tasks.data import (
    STAGES,
    StageDataset,
    Targets,
    TaskDataModule,
    build_stages,
    check_frame_columns,
    frame_targets,
    group_column,
    read_table,
)

CACHE_ENV = "FLASHTRAIN_CACHE"
DEFAULT_BATCH_SIZE = registry.defaults("text_classification")["batch_size"]  # declared in the task registry


def cache_folder() -> str:
    """Where tokenized datasets are kept: ``$FLASHTRAIN_CACHE/tokenized`` or ``~/.cache/flashtrain/tokenized``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "flashtrain")
    return os.path.join(root, "tokenized")


def check_texts(values: Sequence[Any], where: str) -> list[str]:
    """The inputs as a list of non-empty strings; anything else is an error naming the row."""
    texts = list(values)
    for row, value in enumerate(texts):
        if isinstance(value, str):
            if not value.strip():
                empty = sum(1 for v in texts if isinstance(v, str) and not v.strip())
                raise ValueError(f"{where} has an empty text in row {row} ({empty} empty); remove or fill those rows.")
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"{where} has a missing text in row {row}; remove or fill those rows.")
        raise TypeError(
            f"{where} holds {value!r} ({type(value).__name__}) in row {row}, not text. Inputs must be strings; "
            "check input_field."
        )
    return texts


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """What decides the token ids: the tokenizer's model, normaliser and special tokens. Its truncation and padding
    state is left out (calling the tokenizer changes it; ``max_length`` is part of the cache key anyway)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        settings = json.loads(backend.to_str())
        settings.pop("truncation", None)
        settings.pop("padding", None)
        described = json.dumps(settings, sort_keys=True)
    else:
        described = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    identity = f"{type(tokenizer).__name__}|{described}|{tokenizer.padding_side}"
    return hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()


class TextDataset(StageDataset):
    """Texts (a Hugging Face ``datasets.Dataset`` with a ``text`` column) and encoded targets; once tokenized,
    ``__getitems__`` returns a batch of token id lists for the padding collate function."""

    def __init__(self, texts: Any, targets: torch.Tensor | None) -> None:
        self.texts = texts
        self.targets = targets
        self.tokenized: Any = None
        self.tokenized_with: str | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> TextDataset:
        return TextDataset(self.texts.select(indices), None if self.targets is None else self.targets[indices])

    def tokenize(self, tokenizer: Any, max_length: int, cache_dir: str | None = None) -> bool:
        """Tokenize all texts once (``datasets.map``, batched); reuse the on-disk cache when it has them.
        Returns True when the cache was used."""
        import transformers

        key = hashlib.blake2b(digest_size=16)
        key.update(f"{tokenizer_fingerprint(tokenizer)}|{max_length}|{transformers.__version__}".encode())
        for chunk in self.texts.iter(batch_size=10_000):
            key.update("\x1f".join(chunk["text"]).encode())
        digest = key.hexdigest()
        if self.tokenized is not None and self.tokenized_with == digest:
            return True
        import datasets

        folder = cache_dir or cache_folder()
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{digest}.arrow")
        hit = os.path.isfile(path)
        if hit:
            self.tokenized = datasets.Dataset.from_file(path)
        else:
            names = [n for n in tokenizer.model_input_names if n != "attention_mask"]

            def encode(batch: dict[str, list]) -> dict[str, list]:
                encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
                return {name: encoded[name] for name in names if name in encoded}

            partial = f"{path}.{os.getpid()}.partial"  # written whole, then renamed: a killed run leaves no bad cache
            self.texts.map(
                encode, batched=True, remove_columns=self.texts.column_names, cache_file_name=partial, desc="tokenizing"
            )
            os.replace(partial, path)
            self.tokenized = datasets.Dataset.from_file(path)
        self.tokenized_with = digest
        return hit

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.tokenized["input_ids"]]

    def __getitem__(self, index: int) -> tuple:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> tuple:
        if self.tokenized is None:
            raise RuntimeError(
                "These texts are not tokenized yet: a TextClassifier tokenizes its data when training, validation, "
                "testing or prediction starts (or call datamodule.use_tokenizer(tokenizer, max_length))."
            )
        features = self.tokenized[list(indices)]
        return (features,) if self.targets is None else (features, self.targets[indices])


class PadToLongest:
    """Collate function: pads a batch from :class:`TextDataset` to its longest text and makes tensors."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: tuple) -> tuple:
        features = batch[0]
        rows = features["input_ids"]
        width = max(len(row) for row in rows)
        inputs: dict[str, torch.Tensor] = {}
        for name, values in features.items():
            pad = self.pad_token_id if name == "input_ids" else 0
            inputs[name] = torch.tensor([list(row) + [pad] * (width - len(row)) for row in values], dtype=torch.long)
        inputs["attention_mask"] = torch.tensor(
            [[1] * len(row) + [0] * (width - len(row)) for row in rows], dtype=torch.long
        )
        return (inputs,) if len(batch) == 1 else (inputs, batch[1])


class LengthGroupedSampler(Sampler[int]):
    """Shuffled order in which each batch holds texts of similar length, so padding wastes little: a random
    permutation is cut into groups of ``group_batches`` batches, each group sorted by length, and the order of
    the full batches shuffled (a last, partial batch stays last so that batches stay aligned)."""

    def __init__(self, lengths: list[int], batch_size: int, group_batches: int = 50) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.group_batches = group_batches
        self.generator: torch.Generator | None = None  # the trainer sets its own: exact replay on resume

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Any:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        group = self.batch_size * self.group_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), group):
            chunk = sorted(order[start : start + group], key=lambda i: -self.lengths[i])
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        partial = [batches.pop()] if batches and len(batches[-1]) < self.batch_size else []
        for index in torch.randperm(len(batches), generator=self.generator).tolist() + [-1] * len(partial):
            yield from batches[index] if index >= 0 else partial[0]


class TextClassificationData(TaskDataModule):
    """Data for :class:`~flashtrain.tasks.TextClassifier`; build it with a ``from_*`` constructor.

    Targets: one label per text; for multi-label, several 0/1 columns (``target_fields=[...]``), lists of labels,
    or one column of ``target_delimiter``-separated labels.
    """

    def __init__(
        self, datasets: dict[str, Dataset | None], targets: Targets | None, group_by_length: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(datasets, targets, **kwargs)
        self.group_by_length = group_by_length
        self.collate_fn: Any = None
        self.tokenizer_name: str | None = None
        self.max_length: int | None = None

    def adopt_model(self, model: Any, stage: str) -> None:
        """The handshake at ``setup`` (see :meth:`TaskDataModule.adopt_model`): the texts are tokenized with the
        model's tokenizer and length (once; cached on disk). The predict texts of ``trainer.predict`` are left to the
        model's Predictor (see :meth:`TaskDataModule.prepared_predict_inputs`)."""
        by_predictor = self.prepared_predict_inputs() is not None
        stages = [stage for stage in STAGES if stage != "predict"] if by_predictor else STAGES
        self.use_tokenizer(model.tokenizer, model.max_length, stages)

    def predict_inputs(self) -> tuple[list[Any], str] | None:
        dataset = self.datasets.get("predict")
        return (list(dataset.texts["text"]), "the predict texts") if isinstance(dataset, TextDataset) else None

    def use_tokenizer(self, tokenizer: Any, max_length: int, stages: Sequence[str] = STAGES) -> dict[str, bool]:
        """Tokenize each stage's texts (cached on disk); returns, per stage, whether the cache had them."""
        hits = {}
        for stage in stages:
            dataset = self.datasets.get(stage)
            if isinstance(dataset, TextDataset):
                hits[stage] = dataset.tokenize(tokenizer, max_length)
        self.collate_fn = PadToLongest(tokenizer.pad_token_id)
        self.tokenizer_name = getattr(tokenizer, "name_or_path", None)
        self.max_length = max_length
        return hits

    def train_sampler(self, dataset: Dataset) -> Any:
        if not self.group_by_length or not isinstance(dataset, TextDataset) or dataset.tokenized is None:
            return super().train_sampler(dataset)
        return LengthGroupedSampler(dataset.lengths(), self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "tokenizer": self.tokenizer_name, "max_length": self.max_length}

    # -- constructors ---------------------------------------------------------------------------------------
    @classmethod
    def from_lists(
        cls,
        train_data: Sequence[str] | None = None,
        train_targets: Any = None,
        val_data: Sequence[str] | None = None,
        val_targets: Any = None,
        test_data: Sequence[str] | None = None,
        test_targets: Any = None,
        predict_data: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        num_workers: int = 0,
        seed: int = 0,
        group_by_length: bool = False,
        sampler: Any = None,
        pin_memory: bool = False,
    ) -> TextClassificationData:
        """Texts and targets as Python lists (targets: a label each, a list of labels each, or multi-hot rows).
        ``group_by_length``: training batches of texts of similar length (less padding; still shuffled).
        ``sampler``: a training Sampler, or a function (train dataset) -> Sampler; ``pin_memory`` for CUDA."""
        texts = {"train": train_data, "val": val_data, "test": test_data, "predict": predict_data}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        where = {stage: f"{stage}_data" for stage in STAGES}
        loader = {"sampler": sampler, "pin_memory": pin_memory}
        return cls._build(
            texts, targets, where, labels, val_split, batch_size, num_workers, seed, group_by_length, loader
        )

    @classmethod
    def _build(
        cls,
        texts: dict[str, Any],
        raw_targets: dict[str, Any],
        where: dict[str, str],
        labels: Sequence[Any] | None,
        val_split: float | None,
        batch_size: int,
        num_workers: int,
        seed: int,
        group_by_length: bool = False,
        loader: dict[str, Any] | None = None,
        target_delimiter: str | None = "auto",
        groups: Sequence[Any] | None = None,
    ) -> TextClassificationData:
        import datasets as hf

        first = next((raw_targets[s] for s in ("train", "val", "test") if raw_targets.get(s) is not None), None)
        where_trained = "the training data" if raw_targets.get("train") is not None else None
        targets = Targets.infer(first, labels, where_trained, delimiter=target_delimiter) if first is not None else None

        def make(stage: str, column: Any) -> Dataset:
            if not isinstance(column, hf.Dataset):
                column = hf.Dataset.from_dict({"text": check_texts(column, where[stage])})
            stage_targets = raw_targets.get(stage)
            if stage != "predict" and stage_targets is None:
                raise ValueError(f"{where[stage]} was given without targets: pass {stage}_targets / target_fields.")
            if len(column) == 0:
                raise ValueError(f"{where[stage]} has no texts.")
            encoded = None
            if stage_targets is not None:
                assert targets is not None
                encoded = targets.encode(stage_targets, f"{where[stage]} targets")
                if len(encoded) != len(column):
                    raise ValueError(f"{where[stage]} has {len(column)} texts but {len(encoded)} targets.")
            return TextDataset(column, encoded)

        built = build_stages(texts, make, val_split, seed, groups=groups)
        return cls(
            built, targets, group_by_length, batch_size=batch_size, num_workers=num_workers, seed=seed, **(loader or {})
        )

    @classmethod
    def from_data_frame(
        cls,
        input_field: str,
        target_fields: str | Sequence[str] | None = None,
        train_data_frame: Any = None,
        val_data_frame: Any = None,
        test_data_frame: Any = None,
        predict_data_frame: Any = None,
        target_delimiter: str | None = "auto",
        **kwargs: Any,
    ) -> TextClassificationData:
        """pandas DataFrames with a text column and targets: one label column, one column of
        ``target_delimiter``-separated labels, or several 0/1 columns (multi-label; the column names are the labels).
        ``kwargs``: labels, val_split, batch_size, num_workers, seed, group_by_length, and ``val_split_by``: a column
        of the training table naming each row's group (an author, a product): ``val_split`` then holds out whole
        groups, stratified by class where the groups allow."""
        frames = dict(zip(STAGES, (train_data_frame, val_data_frame, test_data_frame, predict_data_frame)))
        train = frames["train"]
        where_train = train.attrs.get("source", "train_data_frame") if train is not None else "train_data_frame"
        groups = group_column(train, kwargs.pop("val_split_by", None), kwargs.get("val_split"), where_train)
        columns = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        texts: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        where: dict[str, str] = {}
        for stage, frame in frames.items():
            if frame is None:
                continue
            where[stage] = frame.attrs.get("source", f"{stage}_data_frame")
            needed = [input_field] + (columns if stage != "predict" else [])
            check_frame_columns(frame, needed, where[stage], "Check input_field / target_fields.")
            if stage != "predict" and not columns:
                raise ValueError("target_fields is needed for training, validation and test data.")
            texts[stage] = check_texts(frame[input_field].tolist(), f"{where[stage]} column {input_field!r}")
            if stage == "predict":
                continue
            targets[stage] = frame_targets(frame, columns, target_delimiter)
            if len(columns) > 1:
                kwargs.setdefault("labels", columns)
        return cls._from_parts(texts, targets, where, {**kwargs, "target_delimiter": target_delimiter}, groups)

    @classmethod
    def _from_parts(
        cls,
        texts: dict[str, Any],
        targets: dict[str, Any],
        where: dict[str, str],
        kwargs: dict[str, Any],
        groups: Sequence[Any] | None = None,
    ) -> TextClassificationData:
        options: dict[str, Any] = {
            "labels": None,
            "val_split": None,
            "batch_size": DEFAULT_BATCH_SIZE,
            "num_workers": 0,
            "seed": 0,
        }
        options["group_by_length"] = False
        options["target_delimiter"] = "auto"
        loader: dict[str, Any] = {"sampler": None, "pin_memory": False}
        unknown = sorted(set(kwargs) - set(options) - set(loader))
        if unknown:
            raise TypeError(f"unexpected argument(s) {unknown}; allowed: {', '.join([*options, *loader])}.")
        for key, value in kwargs.items():
            (loader if key in loader else options)[key] = value
        where = {stage: where.get(stage, f"{stage}_data") for stage in STAGES}
        return cls._build(texts, targets, where, loader=loader, groups=groups, **options)

    @classmethod
    def from_csv(
        cls,
        input_field: str,
        target_fields: str | Sequence[str] | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        **kwargs: Any,
    ) -> TextClassificationData:
        """CSV files with a header row; ``kwargs`` as for :meth:`from_data_frame`."""
        paths = (train_file, val_file, test_file, predict_file)
        return cls._from_files("csv", input_field, target_fields, paths, kwargs)

    @classmethod
    def from_parquet(
        cls,
        input_field: str,
        target_fields: str | Sequence[str] | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        **kwargs: Any,
    ) -> TextClassificationData:
        """Parquet files; ``kwargs`` as for :meth:`from_data_frame`."""
        paths = (train_file, val_file, test_file, predict_file)
        return cls._from_files("parquet", input_field, target_fields, paths, kwargs)

    @classmethod
    def from_json(
        cls,
        input_field: str,
        target_fields: str | Sequence[str] | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        field: str | None = None,
        **kwargs: Any,
    ) -> TextClassificationData:
        """JSON files: a list of records, JSON lines (one record per line), or, with ``field``, an object whose
        ``field`` holds the records (``{"data": [{"text": ..., "label": ...}, ...]}``)."""
        paths = (train_file, val_file, test_file, predict_file)
        return cls._from_files("json", input_field, target_fields, paths, {**kwargs, "_field": field})

    @classmethod
    def _from_files(
        cls, file_format: str, input_field: str, target_fields: Any, paths: tuple, kwargs: dict[str, Any]
    ) -> TextClassificationData:
        field = kwargs.pop("_field", None)
        frames = {}
        for stage, path in zip(STAGES, paths):
            if path is None:
                continue
            frames[f"{stage}_data_frame"] = (
                _read_json_field(path, f"{stage}_file", field)
                if field is not None
                else read_table(path, f"{stage}_file", file_format)
            )
        return cls.from_data_frame(input_field, target_fields, **frames, **kwargs)

    @classmethod
    def from_hf_datasets(
        cls,
        input_field: str = "text",
        target_fields: str | Sequence[str] | None = "label",
        train_hf_dataset: Any = None,
        val_hf_dataset: Any = None,
        test_hf_dataset: Any = None,
        predict_hf_dataset: Any = None,
        **kwargs: Any,
    ) -> TextClassificationData:
        """Hugging Face ``datasets.Dataset`` objects. A ``ClassLabel`` target column keeps its label names."""
        import datasets as hf

        given = dict(zip(STAGES, (train_hf_dataset, val_hf_dataset, test_hf_dataset, predict_hf_dataset)))
        columns = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        texts: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for stage, dataset in given.items():
            if dataset is None:
                continue
            if not isinstance(dataset, hf.Dataset):
                raise TypeError(f"{stage}_hf_dataset must be a datasets.Dataset, got {type(dataset).__name__}.")
            needed = [input_field] + (columns if stage != "predict" else [])
            missing = [c for c in needed if c not in dataset.column_names]
            if missing:
                raise ValueError(
                    f"{stage}_hf_dataset has no column(s) {missing}; its columns are {dataset.column_names}."
                )
            check_texts(dataset[input_field], f"{stage}_hf_dataset column {input_field!r}")
            texts[stage] = dataset.select_columns([input_field])
            if input_field != "text":
                texts[stage] = texts[stage].rename_column(input_field, "text")
            if stage == "predict":
                continue
            if len(columns) > 1:
                targets[stage] = torch.tensor([dataset[c] for c in columns]).T.numpy()
                kwargs.setdefault("labels", columns)
                continue
            feature = dataset.features[columns[0]]
            values = dataset[columns[0]]
            names = getattr(feature, "names", None)
            targets[stage] = [names[v] for v in values] if names else values
            if names:
                kwargs.setdefault("labels", names)
        return cls._from_parts(texts, targets, {s: f"{s}_hf_dataset" for s in STAGES}, kwargs)


def _read_json_field(path: str, argument: str, field: str) -> Any:
    import pandas as pd

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}={path!r}: no such file.")
    try:
        with open(path) as handle:
            document = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{argument}={path!r} is not a readable json file: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get(field), list):
        raise ValueError(f"{argument}={path!r} has no list of records under the key {field!r}.")
    frame = pd.DataFrame.from_records(document[field])
    frame.attrs["source"] = f"{argument} {path}"
    return frame
