"""``DataModule``: the data side of a run, Lightning 2.x style."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from flashtrain.core.hparams import AttributeDict, HyperparametersMixin


class DataModule(HyperparametersMixin):
    """Group data preparation and the dataloaders of every stage.

    ``prepare_data`` runs once (rank zero only) for downloads or writing to disk; ``setup(stage)``
    runs on every process with ``stage`` in ``"fit"``, ``"validate"``, ``"test"``, ``"predict"``.
    Whatever ``state_dict`` returns travels in checkpoints.
    """

    # Lightning's names of the datamodule's entries in a fit's checkpoint
    CHECKPOINT_HYPER_PARAMS_KEY = "datamodule_hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "datamodule_hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "datamodule_hparams_type"

    def __init__(self) -> None:
        self.trainer: Any = None
        self._hparams: AttributeDict = AttributeDict()

    @classmethod
    def from_datasets(
        cls,
        train_dataset: Any = None,
        val_dataset: Any = None,
        test_dataset: Any = None,
        predict_dataset: Any = None,
        batch_size: int = 1,
        num_workers: int = 0,
        **datamodule_kwargs: Any,
    ) -> DataModule:
        """A DataModule whose loaders wrap the given datasets (each one dataset, or a list/dict of them).

        Training loaders shuffle; the others keep the dataset order. ``datamodule_kwargs`` go to
        ``cls.__init__``.

        Raises:
            ValueError: If no dataset is given, or ``batch_size`` / ``num_workers`` are out of range.
        """
        if all(d is None for d in (train_dataset, val_dataset, test_dataset, predict_dataset)):
            raise ValueError(
                "DataModule.from_datasets needs at least one of train_dataset, val_dataset, test_dataset, "
                "predict_dataset."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"from_datasets: batch_size must be an int >= 1, got {batch_size!r}.")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"from_datasets: num_workers must be an int >= 0, got {num_workers!r}.")

        def loaders(datasets: Any, shuffle: bool) -> Any:
            from torch.utils.data import DataLoader, IterableDataset

            def one(dataset: Any) -> Any:
                # A shuffled IterableDataset is an error in DataLoader; it keeps its own order.
                order = shuffle and not isinstance(dataset, IterableDataset)
                return DataLoader(dataset, batch_size=batch_size, shuffle=order, num_workers=num_workers)

            if isinstance(datasets, Mapping):
                return {key: one(dataset) for key, dataset in datasets.items()}
            if _is_dataset_list(datasets):
                return [one(dataset) for dataset in datasets]
            return one(datasets)

        # As Lightning: batch_size and num_workers also reach __init__ when it takes them (or **kwargs).
        parameters = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        loader_kwargs = {"batch_size": batch_size, "num_workers": num_workers}
        init_kwargs = {k: v for k, v in loader_kwargs.items() if takes_any or k in parameters}
        datamodule = cls(**datamodule_kwargs, **init_kwargs)
        # Set on the instance; DataModule.defines() counts those as defined.
        served = {
            "train_dataloader": (train_dataset, True),
            "val_dataloader": (val_dataset, False),
            "test_dataloader": (test_dataset, False),
            "predict_dataloader": (predict_dataset, False),
        }
        for method, (datasets, shuffle) in served.items():
            if datasets is not None:
                setattr(datamodule, method, lambda d=datasets, s=shuffle: loaders(d, s))
        return datamodule

    def prepare_data(self) -> None:
        """Download or write data once; do not set state here (it runs on one process only)."""

    def setup(self, stage: str) -> None:
        """Build datasets for ``stage``."""

    def teardown(self, stage: str) -> None:
        """Release what ``setup`` built."""

    def on_exception(self, exception: BaseException) -> None:
        """Called when a fit, validate, test or predict run ends with an exception (after the callbacks')."""

    def train_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no train_dataloader(); fit needs one.")

    def val_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no val_dataloader(); validate needs one.")

    def test_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no test_dataloader(); test needs one.")

    def predict_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no predict_dataloader(); predict needs one.")

    # -- batch transfer: Lightning's three hooks, used when the DataModule defines them and the module does not ----
    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch before it moves to the device; return the batch."""
        return batch

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        """Move a batch to ``device`` (tensors inside lists, tuples, dicts and dataclasses)."""
        from flashtrain.core.utilities.apply import move_to_device

        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch once it is on the device; return the batch."""
        return batch

    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints (tensors, numbers, strings, lists and dicts of them)."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    @classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: str,
        map_location: Any = None,
        hparams_file: str | None = None,
        weights_only: bool | None = None,
        **overrides: Any,
    ) -> Any:
        """Rebuild the datamodule a fit used from its checkpoint: the hyper-parameters it saved with
        ``save_hyperparameters`` (a YAML ``hparams_file`` replaces them, keyword ``overrides`` win), then the state
        its ``state_dict()`` returned. Read with ``torch.load(weights_only=True)``, as every checkpoint
        (``weights_only`` is Lightning's argument: None, True or False, never unpickling anything)."""
        from flashtrain.core.checkpoint.io import check_weights_only, load_checkpoint
        from flashtrain.core.hparams import read_hparams_file, rebuild_arguments

        check_weights_only(weights_only)
        checkpoint = load_checkpoint(checkpoint_path, map_location=map_location or "cpu")
        saved = dict(checkpoint.get(cls.CHECKPOINT_HYPER_PARAMS_KEY, {}))
        if hparams_file is not None:
            saved.update(read_hparams_file(hparams_file))
        arguments = rebuild_arguments(
            cls, saved, checkpoint.get(cls.CHECKPOINT_HYPER_PARAMS_NAME), overrides, checkpoint
        )
        try:
            datamodule = cls(**arguments)
        except TypeError as error:
            raise TypeError(
                f"Could not rebuild {cls.__name__} from {checkpoint_path}: {error}. Saved hyper-parameters: "
                f"{sorted(saved)}; pass the missing ones as keyword arguments."
            ) from error
        if "datamodule" in checkpoint:
            datamodule.load_state_dict(checkpoint["datamodule"])
        return datamodule

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Edit a checkpoint before it is written."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Read a checkpoint as it is loaded."""

    def __str__(self) -> str:
        """Each stage's loader and its dataset size, as Lightning prints a datamodule (``None``: not available
        yet, e.g. before ``setup``; ``NA``: a dataset without a length)."""
        lines = []
        for title, method in (
            ("Train dataloader", "train_dataloader"),
            ("Validation dataloader", "val_dataloader"),
            ("Test dataloader", "test_dataloader"),
            ("Predict dataloader", "predict_dataloader"),
        ):
            try:
                loaders = getattr(self, method)()
            except Exception:  # noqa: BLE001 - any failure means "not available", as Lightning reports it
                lines.append(f"{{{title}: None}}")
                continue
            if isinstance(loaders, Mapping):
                loaders = list(loaders.values())
            if isinstance(loaders, (list, tuple)):
                sizes = " ; ".join(f"{i}. size={_dataset_size(loader)}" for i, loader in enumerate(loaders, start=1))
                lines.append(f"{{{title}: {sizes}}}")
            else:
                lines.append(f"{{{title}: size={_dataset_size(loaders)}}}")
        return os.linesep.join(lines)

    @staticmethod
    def defines(datamodule: Any, method: str) -> bool:
        """Whether ``datamodule`` overrides ``method`` (so the trainer knows which stages it serves)."""
        from flashtrain.core.utilities.model_helpers import is_overridden

        return is_overridden(method, datamodule, DataModule)  # set on the instance counts, as from_datasets does


def _dataset_size(loader: Any) -> str:
    dataset = getattr(loader, "dataset", None)
    try:
        return str(len(dataset))  # type: ignore[arg-type]
    except TypeError:
        return "NA"


def _is_dataset_list(value: Any) -> bool:
    """A list or tuple of datasets (not one dataset that happens to be a sequence of samples)."""
    from torch.utils.data import Dataset

    return isinstance(value, (list, tuple)) and all(isinstance(item, Dataset) for item in value)
