"""``DataModule``: the data side of a run, Lightning 2.x style."""

from __future__ import annotations

from typing import Any


class DataModule:
    """Group data preparation and the dataloaders of every stage.

    ``prepare_data`` runs once (rank zero only) for downloads or writing to disk; ``setup(stage)``
    runs on every process with ``stage`` in ``"fit"``, ``"validate"``, ``"test"``, ``"predict"``.
    Whatever ``state_dict`` returns travels in checkpoints.
    """

    def __init__(self) -> None:
        self.trainer: Any = None

    def prepare_data(self) -> None:
        """Download or write data once; do not set state here (it runs on one process only)."""

    def setup(self, stage: str) -> None:
        """Build datasets for ``stage``."""

    def teardown(self, stage: str) -> None:
        """Release what ``setup`` built."""

    def train_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no train_dataloader(); fit needs one.")

    def val_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no val_dataloader(); validate needs one.")

    def test_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no test_dataloader(); test needs one.")

    def predict_dataloader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no predict_dataloader(); predict needs one.")

    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints (tensors, numbers, strings, lists and dicts of them)."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Edit a checkpoint before it is written."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Read a checkpoint as it is loaded."""

    @staticmethod
    def defines(datamodule: Any, method: str) -> bool:
        """Whether ``datamodule`` overrides ``method`` (so the trainer knows which stages it serves)."""
        impl = getattr(type(datamodule), method, None)
        return impl is not None and impl is not getattr(DataModule, method, None)
