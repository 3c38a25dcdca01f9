"""How a strategy writes and reads checkpoint files: Lightning's ``CheckpointIO`` plugins.

The default, :class:`TorchCheckpointIO`, is flashtrain's own atomic ``torch.save`` writer and its checked
``weights_only`` reader. A user passes another (``Trainer(plugins=[MyCheckpointIO()])`` or
``DDPStrategy(checkpoint_io=...)``) to write somewhere else or in another way; the strategy still decides *which*
rank writes (rank zero) and moves tensors to the CPU first.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any


class CheckpointIO(ABC):
    """Saves, loads and removes one checkpoint file (Lightning's interface)."""

    @abstractmethod
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str, storage_options: Any = None) -> None:
        """Write ``checkpoint`` to ``path``."""

    @abstractmethod
    def load_checkpoint(self, path: str, map_location: Any = None) -> dict[str, Any]:
        """Read the checkpoint at ``path``."""

    @abstractmethod
    def remove_checkpoint(self, path: str) -> None:
        """Delete the checkpoint at ``path``."""

    def teardown(self) -> None:  # noqa: B027 - optional
        """Finish pending writes and release resources at the end of a run."""


class TorchCheckpointIO(CheckpointIO):
    """``torch.save`` to a temporary file, fsync, rename (a crash leaves the old file or the new one, never a torn
    file); local paths and fsspec URLs. Reading loads with ``weights_only=True`` and checks the contents."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(  # Lightning's words
                "`Trainer.save_checkpoint(..., storage_options=...)` with `storage_options` arg is not supported for "
                f"`{type(self).__name__}`. Please implement your custom `CheckpointIO` to define how you'd like to use "
                "`storage_options`."
            )
        from flashtrain.core.checkpoint.io import save_checkpoint_file

        save_checkpoint_file(checkpoint, path)

    def load_checkpoint(self, path: str, map_location: Any = None) -> dict[str, Any]:
        from flashtrain.core.checkpoint.io import load_checkpoint

        return load_checkpoint(path, map_location="cpu" if map_location is None else map_location)

    def remove_checkpoint(self, path: str) -> None:
        from flashtrain.core.utilities import fs

        path = os.fspath(path)
        if fs.exists(path):
            fs.remove(path)
