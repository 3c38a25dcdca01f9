"""``ImageClassificationData``: image classification data from folders, files, NumPy arrays or tensors."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence, Sized
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset

from flashtrain.tasks import registry
from flashtrain.tasks.data import (
    Targets,
    TaskDataModule,
    build_stages,
    check_frame_columns,
    frame_targets,
    group_column,
    read_table,
)
from flashtrain.tasks.image.datasets import (
    DEFAULT_CACHE_BYTES,
    HFImageDataset,
    ImageFileDataset,
    ImageListDataset,
    TensorImageDataset,
    as_image_tensor,
    collate_images,
)
from flashtrain.tasks.image.files import check_files, files_under, scan_class_folders
from flashtrain.tasks.image.transforms import (
    ImageConfig,
    ImageTransforms,
    StageTransform,
    check_augmentation,
    is_deterministic,
)
from flashtrain.tasks.loading import resolve_num_workers

# The batch size the image recipe was measured with (benchmarks/image_recipe.py, the Quickstart demo), declared in the
# task registry, where the CLI's --batch-size default reads it too.
DEFAULT_BATCH_SIZE = registry.defaults("image_classification")["batch_size"]


def _dataset_labels(dataset: Any, argument: str) -> list[Any] | np.ndarray:
    """The targets of a user's dataset: its ``targets`` attribute (torchvision datasets have one), else read
    item by item (``(image, target)`` items)."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return _target_list(targets)
    values = []
    for index in range(len(dataset)):
        item = dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"{argument}[{index}] is not an (image, target) pair; training data needs targets.")
        values.append(item[1].item() if isinstance(item[1], torch.Tensor) and item[1].ndim == 0 else item[1])
    if values and isinstance(values[0], (np.ndarray, torch.Tensor)):
        return np.stack([np.asarray(v) for v in values])
    return values


def _hf_targets(dataset: Any, column: str) -> tuple[list[Any], list[Any] | None]:
    """The column's values, as ClassLabel names where the feature has them, and those names."""
    feature = dataset.features[column]
    values = dataset[column]
    names = getattr(feature, "names", None)
    if names is not None:
        return [names[v] for v in values], list(names)
    inner_names = getattr(getattr(feature, "feature", None), "names", None)
    if inner_names is not None:  # a list of ClassLabel: multi-label
        return [[inner_names[v] for v in row] for row in values], list(inner_names)
    return list(values), None


class ImageClassificationData(TaskDataModule):
    """Data for :class:`~flashtrain.tasks.ImageClassifier`; build it with a ``from_*`` constructor.

    Images are resized to ``image_size`` and normalised with ``mean``/``std``; unless given, these come from the
    model's backbone when training starts (224 px and ImageNet statistics before that). Grayscale images are
    repeated to three channels and alpha channels dropped.
    """

    collate_fn = staticmethod(collate_images)  # batches come from the datasets' __getitems__ (see datasets.py)

    def __init__(
        self,
        datasets: dict[str, Dataset | None],
        targets: Targets | None,
        transforms: ImageTransforms,
        config_fixed: bool,
        decode_on_device: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(datasets, targets, **kwargs)
        self.transforms = transforms
        self.config_fixed = config_fixed
        if not isinstance(decode_on_device, bool):
            raise TypeError(f"decode_on_device must be True or False, got {decode_on_device!r}.")
        self.decode_on_device = decode_on_device

    def loader_dataset(self, stage: str, dataset: Dataset) -> Dataset:
        """``decode_on_device=True``: the training loader hands out JPEG bytes, decoded and augmented on the CUDA
        device (see :mod:`~flashtrain.tasks.image.device_decode`); otherwise, and for the other stages, the
        dataset as it is."""
        if stage != "train" or not self.decode_on_device:
            return dataset
        from flashtrain.tasks.image.device_decode import EncodedBatches, encodable

        strategy = getattr(self.trainer, "strategy", None)
        device = getattr(strategy, "root_device", None)
        if getattr(device, "type", None) != "cuda":
            warnings.warn(
                f"decode_on_device=True: the trainer's device is {getattr(device, 'type', 'not known yet')}, not "
                "CUDA (nvjpeg): the training images are decoded on the CPU.",
                stacklevel=3,
            )
            return dataset
        if not encodable(dataset):
            warnings.warn(
                "decode_on_device=True applies to image files with targets (from_folders, from_files, from_csv, "
                "...): these training images are decoded on the CPU.",
                stacklevel=3,
            )
            return dataset
        return EncodedBatches(dataset)

    @property
    def image_config(self) -> ImageConfig:
        """The evaluation preprocessing (what a checkpoint of a model trained on this data stores)."""
        return self.transforms.eval_config()

    def adopt_model(self, model: Any, stage: str) -> None:
        """The handshake at ``setup`` (see :meth:`TaskDataModule.adopt_model`): fitting on data that fixed its own
        preprocessing, the model adopts that; otherwise this data takes the model's."""
        if stage == "fit" and self.config_fixed:
            model.adopt_image_config(self.image_config)
        else:
            self.use_model_config(model.image_config, force=stage != "fit")

    def predict_inputs(self) -> tuple[list[Any], str] | None:
        """Image files to predict, unless this data was given its own evaluation transform (it then prepares
        them itself, with that transform)."""
        dataset = self.datasets.get("predict")
        custom = self.transforms.custom_eval.get("predict") or self.transforms.custom_eval.get("val")
        if not isinstance(dataset, ImageFileDataset) or custom is not None:
            return None
        return list(dataset.files), "the predict files"

    def use_model_config(self, config: ImageConfig, force: bool = False) -> None:
        """Adopt the model's preprocessing, unless the user fixed ``image_size``/``mean``/``std`` or an
        evaluation transform (and ``force`` is False: evaluating or predicting with a trained model always uses
        the model's, unless this data was given its own ``predict_transform`` / ``val_transform``)."""
        if force or not self.config_fixed:
            self.transforms.set_config(config)

    def show_train_batch(self, path: str | None = None, num_images: int = 16) -> str:
        """Save a grid of the first training images as the model sees them (augmented, un-normalised for
        display), titled with their labels; returns the PNG path (default ``train_batch.png``)."""
        dataset = self.datasets.get("train")
        if dataset is None:
            raise ValueError("show_train_batch needs training data: pass train_* to the from_* constructor.")
        count = min(num_images, len(cast(Sized, dataset)))  # our datasets are map-style
        return self.show_images("train", range(count), path=path or "train_batch.png")

    def show_images(
        self, split: str, indices: Sequence[int], titles: Sequence[str] | None = None, path: str = "images.png"
    ) -> str:
        """Save a grid of the images of ``split`` ("train", "val", ...) at ``indices``, as the model sees them
        (un-normalised for display), titled with ``titles`` (default: their labels); returns the PNG path."""
        from flashtrain.tasks.image.visualize import save_image_grid

        dataset = self.datasets.get(split)
        if dataset is None:
            raise ValueError(
                f"show_images: this data has no {split!r} split (it has {[k for k, v in self.datasets.items() if v]})."
            )
        items = [dataset[i] for i in indices]
        images = torch.stack([item[0] for item in items])
        shown = list(titles) if titles is not None else [self._label_text(item[1]) for item in items]
        config = self.transforms.config
        return save_image_grid(images, shown, config.mean, config.std, path)

    def _label_text(self, target: Any) -> str:
        labels = self.labels or []
        if isinstance(target, torch.Tensor) and target.ndim == 1:
            return ",".join(str(labels[i]) for i in torch.nonzero(target > 0.5).flatten().tolist())
        return str(labels[int(target)]) if labels else str(target)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "image_config": self.image_config.as_dict()}

    # -- constructors ---------------------------------------------------------------------------------------
    @classmethod
    def _build(
        cls,
        make_dataset: Callable[[Any, torch.Tensor | None, StageTransform], Dataset],
        inputs: dict[str, Any],
        raw_targets: dict[str, Any],
        labels: Sequence[Any] | None,
        val_split: float | None,
        options: dict[str, Any],
        reads_files: bool = True,
        groups: Sequence[Any] | None = None,
    ) -> ImageClassificationData:
        _resolve_workers(options, inputs, reads_files)
        image_size, mean, std = _size_mean_std(options)
        transforms = _transforms(options, image_size, mean, std)
        multi_label, delimiter = options.pop("multi_label"), options.pop("target_delimiter")
        targets: Targets | None
        if raw_targets.get("train") is not None:  # fewer than two classes in training data is an error
            targets = Targets.infer(raw_targets["train"], labels, "the training data", multi_label, delimiter)
        else:
            first = next((raw_targets[s] for s in ("val", "test") if raw_targets.get(s) is not None), None)
            targets = (
                Targets.infer(first, labels, multi_label=multi_label, delimiter=delimiter)
                if first is not None
                else None
            )
        encoded: dict[str, torch.Tensor | None] = {}
        for stage, raw in inputs.items():
            if raw is None:
                continue
            stage_targets = raw_targets.get(stage)
            if stage != "predict" and stage_targets is None:
                raise ValueError(f"{stage} inputs were given without {stage} targets.")
            codes = (
                targets.encode(stage_targets, f"{stage} targets")
                if stage_targets is not None and targets is not None
                else None
            )
            if codes is not None and len(codes) != len(raw):
                raise ValueError(f"{stage} has {len(raw)} images but {len(codes)} targets.")
            encoded[stage] = codes

        def make(stage: str, raw: Any) -> Dataset:
            return make_dataset(raw, encoded[stage], transforms.for_stage(stage))

        # A held-out part of the training images is read through the evaluation transform, not the augmentation.
        train = inputs.get("train")
        val_view = (
            make_dataset(train, encoded["train"], transforms.for_stage("val"))
            if val_split is not None and train is not None
            else None
        )
        datasets = build_stages(inputs, make, val_split, options["seed"], val_view, groups=groups)
        _refuse_random_evaluation(datasets, transforms)
        fixed = image_size is not None or mean is not None or std is not None or bool(transforms.custom_eval)
        return cls(datasets, targets, transforms, fixed, **options)

    @classmethod
    def from_folders(
        cls,
        train_folder: str | None = None,
        val_folder: str | None = None,
        test_folder: str | None = None,
        predict_folder: str | None = None,
        val_split: float | None = None,
        skip_bad_files: bool = False,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Images in ``<folder>/<class name>/<image>`` (predict: any images under the folder); labels are the
        class folder names. ``kwargs``: batch_size, num_workers ("auto": see :mod:`flashtrain.tasks.loading`),
        pin_memory ("auto": on CUDA), seed, image_size, mean, std, transform, cache_bytes (decoded images kept
        in memory across epochs, default 512 MiB; 0 turns it off), and decode_on_device (training JPEGs decoded and
        augmented on the CUDA device, off by default: see :mod:`flashtrain.tasks.image.device_decode`)."""
        inputs: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for stage, folder in (("train", train_folder), ("val", val_folder), ("test", test_folder)):
            if folder is not None:
                inputs[stage], targets[stage] = scan_class_folders(folder, f"{stage}_folder", skip_bad_files)
        if predict_folder is not None:
            found = files_under(predict_folder, "predict_folder")
            inputs["predict"] = [found[i] for i in check_files(found, "predict_folder", skip_bad_files)]
        if not inputs:
            raise ValueError(
                "from_folders needs at least one of train_folder, val_folder, test_folder, predict_folder."
            )
        if "train" in targets and "val" in targets:
            missing = sorted(set(targets["val"]) - set(targets["train"]))
            if missing:
                raise ValueError(f"val_folder has class folders that train_folder lacks: {missing}.")
        labels = sorted(set(targets["train"])) if "train" in targets else None
        return cls._from_files_and_targets(inputs, targets, labels, val_split, **kwargs)

    @classmethod
    def from_files(
        cls,
        train_files: Sequence[str] | None = None,
        train_targets: Sequence[Any] | None = None,
        val_files: Sequence[str] | None = None,
        val_targets: Sequence[Any] | None = None,
        test_files: Sequence[str] | None = None,
        test_targets: Sequence[Any] | None = None,
        predict_files: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        skip_bad_files: bool = False,
        target_delimiter: str | None = "auto",
        train_groups: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Image paths with their targets: a label per image, a list of labels per image, delimited label strings
        (``"cat,dog"``: ``target_delimiter="auto"`` splits on commas as Flash did; None never splits), multi-hot
        rows, or one-hot rows (single-label). ``train_groups``: one group per training file (a patient, a camera,
        a photo session); ``val_split`` then holds out whole groups (see :func:`~flashtrain.tasks.data.grouped_split`).
        """
        if train_groups is not None and (train_files is None or len(train_groups) != len(train_files)):
            given = "no train_files" if train_files is None else f"{len(train_files)} train_files"
            raise ValueError(f"train_groups has {len(train_groups)} entries for {given}; give one group per file.")
        if kwargs.get("multi_label") is False:
            target_delimiter = None
        inputs: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for stage, files, stage_targets in (
            ("train", train_files, train_targets),
            ("val", val_files, val_targets),
            ("test", test_files, test_targets),
            ("predict", predict_files, None),
        ):
            if files is None:
                continue
            if isinstance(files, str):
                raise TypeError(f"{stage}_files must be a list of paths, got one string {files!r}.")
            keep = check_files(files, f"{stage}_files", skip_bad_files)
            inputs[stage] = [files[i] for i in keep]
            if stage == "train" and train_groups is not None:
                train_groups = [train_groups[i] for i in keep]  # a skipped bad file takes its group with it
            if stage_targets is not None:
                if len(stage_targets) != len(files):
                    raise ValueError(
                        f"{stage}_files has {len(files)} paths but {stage}_targets has {len(stage_targets)} entries."
                    )
                # an array, tensor or Series takes the kept positions at once
                kept = (
                    cast(Any, stage_targets)[keep]
                    if hasattr(stage_targets, "ndim")
                    else [stage_targets[i] for i in keep]
                )
                targets[stage] = kept  # strings are split by Targets, the same way for every stage
        if not inputs:
            raise ValueError("from_files needs at least one of train_files, val_files, test_files, predict_files.")
        return cls._from_files_and_targets(
            inputs, targets, labels, val_split, target_delimiter=target_delimiter, groups=train_groups, **kwargs
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
        images_root: str | None = None,
        target_delimiter: str | None = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        skip_bad_files: bool = False,
        val_split_by: str | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Tables with an image-path column and targets: one label column, one column of ``target_delimiter``-
        separated labels (multi-label), or several 0/1 columns (multi-hot; the column names are the labels).
        Relative paths are taken from ``images_root`` (default: the working folder); Flash's per-stage
        ``train_images_root=`` ... and ``train_resolver=`` ... (``(root, file_id) -> path``) are accepted too.
        ``val_split_by``: a column of the training table naming each image's group (a patient, a camera, a photo
        session): ``val_split`` then holds out whole groups, stratified by class where the groups allow, so that no
        group is both trained and validated on."""
        from flashtrain.tasks.image.frame_paths import resolve_paths, stage_path_options

        where = (
            "train_data_frame" if train_data_frame is None else train_data_frame.attrs.get("source", "train_data_frame")
        )
        groups = group_column(train_data_frame, val_split_by, val_split, where)

        stage_paths = stage_path_options(kwargs)
        frames = {
            "train": train_data_frame,
            "val": val_data_frame,
            "test": test_data_frame,
            "predict": predict_data_frame,
        }
        columns = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        files: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for stage, frame in frames.items():
            if frame is None:
                continue
            where = frame.attrs.get("source", f"{stage}_data_frame")
            needed = [input_field] + (columns if stage != "predict" else [])
            check_frame_columns(frame, needed, where, "Check input_field / target_fields.")
            if stage != "predict" and not columns:
                raise ValueError("target_fields is needed for training, validation and test data.")
            stage_root, resolver = stage_paths[stage]
            root = next((r for r in (stage_root, images_root) if r is not None), frame.attrs.get("root", ""))
            files[stage] = resolve_paths(frame[input_field], stage, root, resolver)
            if stage == "predict":
                continue
            targets[stage] = frame_targets(frame, columns, target_delimiter)
            if len(columns) > 1 and labels is None:
                labels = columns
        return cls.from_files(
            train_files=files.get("train"),
            train_targets=targets.get("train"),
            val_files=files.get("val"),
            val_targets=targets.get("val"),
            test_files=files.get("test"),
            test_targets=targets.get("test"),
            predict_files=files.get("predict"),
            labels=labels,
            val_split=val_split,
            skip_bad_files=skip_bad_files,
            train_groups=groups,
            **kwargs,
        )

    @classmethod
    def from_csv(
        cls,
        input_field: str,
        target_fields: str | Sequence[str] | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        images_root: str | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Like :meth:`from_data_frame`, from CSV files; relative image paths are taken from ``images_root`` or,
        by default, the folder of each CSV file."""
        files = {"train": train_file, "val": val_file, "test": test_file, "predict": predict_file}
        frames = {stage: read_table(path, f"{stage}_file") for stage, path in files.items() if path is not None}
        return cls.from_data_frame(
            input_field,
            target_fields,
            train_data_frame=frames.get("train"),
            val_data_frame=frames.get("val"),
            test_data_frame=frames.get("test"),
            predict_data_frame=frames.get("predict"),
            images_root=images_root,
            **kwargs,
        )

    @classmethod
    def from_hf_datasets(
        cls,
        input_field: str = "image",
        target_fields: str = "label",
        train_hf_dataset: Any = None,
        val_hf_dataset: Any = None,
        test_hf_dataset: Any = None,
        predict_hf_dataset: Any = None,
        val_split: float | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Hugging Face ``datasets.Dataset`` objects with an image column (decoded images or paths) and a label
        column; ``ClassLabel`` names (also inside a list, for multi-label) become the labels."""
        hf = {"train": train_hf_dataset, "val": val_hf_dataset, "test": test_hf_dataset, "predict": predict_hf_dataset}
        inputs = {stage: dataset for stage, dataset in hf.items() if dataset is not None}
        if not inputs:
            raise ValueError("from_hf_datasets needs at least one of train/val/test/predict_hf_dataset.")
        targets: dict[str, Any] = {}
        labels = None
        for stage, dataset in inputs.items():
            needed = [input_field] + ([target_fields] if stage != "predict" else [])
            missing = [name for name in needed if name not in dataset.column_names]
            if missing:
                raise ValueError(
                    f"{stage}_hf_dataset has no column(s) {missing}; its columns are {dataset.column_names}."
                )
            if stage != "predict":
                targets[stage], names = _hf_targets(dataset, target_fields)
                labels = labels or names
        options = _options(kwargs)
        options.pop("cache_bytes")

        def make(dataset: Any, encoded: torch.Tensor | None, slot: StageTransform) -> Dataset:
            return HFImageDataset(dataset, input_field, encoded, slot)

        return cls._build(make, inputs, targets, labels, val_split, options)

    @classmethod
    def _from_files_and_targets(
        cls,
        inputs: dict[str, Any],
        targets: dict[str, Any],
        labels: Sequence[Any] | None,
        val_split: float | None,
        groups: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        options = _options(kwargs)
        _resolve_workers(options, inputs, reads_files=True)
        per_process = options.pop("cache_bytes") // max(1, options["num_workers"])

        def make(files: Any, encoded: torch.Tensor | None, slot: StageTransform) -> Dataset:
            return ImageFileDataset(files, encoded, slot, cache_bytes=per_process)

        return cls._build(make, inputs, targets, labels, val_split, options, groups=groups)

    @classmethod
    def from_tensors(
        cls,
        train_data: Any = None,
        train_targets: Any = None,
        val_data: Any = None,
        val_targets: Any = None,
        test_data: Any = None,
        test_targets: Any = None,
        predict_data: Any = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Images as tensors (N, C, H, W) or (N, H, W), uint8 0-255 or float 0-1, with their targets."""
        inputs = {
            stage: as_image_tensor(data, f"{stage}_data")
            for stage, data in (
                ("train", train_data),
                ("val", val_data),
                ("test", test_data),
                ("predict", predict_data),
            )
            if data is not None
        }
        if not inputs:
            raise ValueError("from_tensors needs at least one of train_data, val_data, test_data, predict_data.")
        targets = {
            stage: _target_list(t)
            for stage, t in (("train", train_targets), ("val", val_targets), ("test", test_targets))
            if t is not None
        }
        options = _options(kwargs)
        options.pop("cache_bytes")  # tensors are in memory already
        return cls._build(TensorImageDataset, inputs, targets, labels, val_split, options, reads_files=False)

    @classmethod
    def from_images(
        cls,
        train_images: Sequence[Any] | None = None,
        train_targets: Any = None,
        val_images: Sequence[Any] | None = None,
        val_targets: Any = None,
        test_images: Sequence[Any] | None = None,
        test_targets: Any = None,
        predict_images: Sequence[Any] | None = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Images in memory as lists of PIL images (or arrays/tensors), of any sizes, with their targets."""
        inputs = {
            stage: list(images)
            for stage, images in (
                ("train", train_images),
                ("val", val_images),
                ("test", test_images),
                ("predict", predict_images),
            )
            if images is not None
        }
        if not inputs:
            raise ValueError("from_images needs at least one of train_images, val_images, test_images, predict_images.")
        targets = {
            stage: _target_list(t)
            for stage, t in (("train", train_targets), ("val", val_targets), ("test", test_targets))
            if t is not None
        }
        options = _options(kwargs)
        options.pop("cache_bytes")
        return cls._build(ImageListDataset, inputs, targets, labels, val_split, options, reads_files=False)

    @classmethod
    def from_datasets(  # type: ignore[override]  # Flash's signature (labels, val_split), not DataModule's
        cls,
        train_dataset: Any = None,
        val_dataset: Any = None,
        test_dataset: Any = None,
        predict_dataset: Any = None,
        labels: Sequence[Any] | None = None,
        val_split: float | None = None,
        **kwargs: Any,
    ) -> ImageClassificationData:
        """Your own datasets (e.g. torchvision's) whose items are ``(image, target)`` (predict: images, or pairs
        whose target is ignored); images as PIL, arrays or tensors. Their own transforms should only decode: this
        data class resizes, augments (training only) and normalises."""
        given = {"train": train_dataset, "val": val_dataset, "test": test_dataset, "predict": predict_dataset}
        inputs = {stage: dataset for stage, dataset in given.items() if dataset is not None}
        if not inputs:
            raise ValueError(
                "from_datasets needs at least one of train_dataset, val_dataset, test_dataset, predict_dataset."
            )
        targets = {
            stage: _dataset_labels(dataset, f"{stage}_dataset")
            for stage, dataset in inputs.items()
            if stage != "predict"
        }
        options = _options(kwargs)
        options.pop("cache_bytes")

        def make(dataset: Any, encoded: torch.Tensor | None, slot: StageTransform) -> Dataset:
            return ImageListDataset(dataset, encoded, slot, from_items=True)

        return cls._build(make, inputs, targets, labels, val_split, options)

    @classmethod
    def from_numpy(cls, *args: Any, **kwargs: Any) -> ImageClassificationData:
        """Like :meth:`from_tensors`, for NumPy arrays (channels-last ``(N, H, W, C)`` is accepted)."""
        return cls.from_tensors(*args, **kwargs)


def _target_list(targets: Any) -> Any:
    """Keep 2-D arrays (multi-hot) as they are; turn 1-D tensors/arrays into Python lists of labels."""
    if getattr(targets, "ndim", None) == 2:
        return targets
    if hasattr(targets, "tolist"):
        return targets.tolist()
    return list(targets)


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "batch_size": DEFAULT_BATCH_SIZE,
        "num_workers": "auto",  # see flashtrain.tasks.loading
        "seed": 0,
        "sampler": None,
        "pin_memory": "auto",  # on CUDA only
        "image_size": None,
        "mean": None,
        "std": None,
        "multi_label": None,
        "target_delimiter": "auto",
        "transform": None,
        "train_transform": "default",
        "val_transform": None,
        "test_transform": None,
        "predict_transform": None,
        "transform_kwargs": None,
        "cache_bytes": DEFAULT_CACHE_BYTES,
        "decode_on_device": False,  # training JPEGs decoded on the CUDA device (device_decode.py)
    }
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"Unexpected argument(s) {unknown}. Allowed: {sorted(allowed)}.")
    return {**allowed, **kwargs}


def _resolve_workers(options: dict[str, Any], inputs: dict[str, Any], reads_files: bool) -> None:
    samples = max((len(value) for value in inputs.values()), default=0)
    options["num_workers"] = resolve_num_workers(options["num_workers"], samples, reads_files)


def _transforms(options: dict[str, Any], image_size: Any, mean: Any, std: Any) -> ImageTransforms:
    """The training and evaluation transforms from the options (which lose their transform keys)."""
    from flashtrain.tasks.image.transforms import as_channel_values, as_size

    transform = options.pop("transform")
    train = options.pop("train_transform")
    evaluation = {stage: options.pop(f"{stage}_transform") for stage in ("val", "test", "predict")}
    transform_kwargs = options.pop("transform_kwargs")
    if image_size is not None:
        as_size(image_size)
    if transform is not None:
        # Flash's single transform= runs everywhere; it must then be deterministic (checked once data exists).
        if callable(train) or any(evaluation.values()):
            raise ValueError("Pass transform= (every stage) or train_transform=/val_transform=..., not both.")
        train, evaluation = transform, {"val": transform}
    check_augmentation(train, transform_kwargs)
    defaults = ImageConfig()
    mean = defaults.mean if mean is None else as_channel_values(mean, "mean")
    std = defaults.std if std is None else as_channel_values(std, "std")
    config = ImageConfig(image_size or defaults.image_size, mean, std)
    return ImageTransforms(
        config,
        augmentation=train if isinstance(train, str) else "default",
        options=dict(transform_kwargs or {}),
        custom_train=train if callable(train) else None,
        custom_eval={stage: value for stage, value in evaluation.items() if value is not None},
    )


def _size_mean_std(options: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``image_size``, ``mean``, ``std`` popped from the options, or from ``transform_kwargs`` (Flash's spelling:
    ``transform_kwargs={"image_size": (196, 196), "mean": ..., "std": ...}``), never both."""
    transform_kwargs = dict(options.get("transform_kwargs") or {})
    values = []
    for name in ("image_size", "mean", "std"):
        value = options.pop(name)
        if name in transform_kwargs:
            if value is not None:
                raise ValueError(f"{name} was given twice (as {name}= and in transform_kwargs); pass it once.")
            value = transform_kwargs.pop(name)
        values.append(value)
    if options.get("transform_kwargs") is not None:
        options["transform_kwargs"] = transform_kwargs
    return values[0], values[1], values[2]


def _refuse_random_evaluation(datasets: dict[str, Dataset | None], transforms: ImageTransforms) -> None:
    """A random evaluation transform would make validation and predictions vary from one read to the next."""
    for stage in ("val", "test", "predict"):
        dataset = datasets.get(stage)
        if (
            dataset is None
            or len(cast(Sized, dataset)) == 0
            or stage not in transforms.custom_eval
            and "val" not in transforms.custom_eval
        ):
            continue

        def first_image(_: Any, dataset: Any = dataset) -> Any:
            item = dataset[0]
            return item[0] if isinstance(item, tuple) else item

        if not is_deterministic(first_image, None):
            raise ValueError(
                f"The {stage} transform gives a different result each time it reads the same image (a random "
                "augmentation?), so validation and predictions would be random. Pass augmentations as "
                "train_transform=... and a deterministic val_transform= (or none: resize and normalise)."
            )
