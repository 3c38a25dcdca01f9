"""Which of a ``ModelCheckpoint``'s files a tracking logger should upload (``log_model=True`` / ``"all"``).

Shared by the loggers that upload checkpoints as run artifacts. A file is uploaded once per version of it: a path
that was overwritten since (``last.ckpt``, a fixed ``filename``) is uploaded again.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

# The checkpoint settings written into each uploaded checkpoint's metadata, under the callback's class name. The
# keys are the ones Lightning writes (its users query artifacts by them), ``_every_n_train_steps`` included.
_SETTINGS = {
    "monitor": "monitor",
    "mode": "mode",
    "save_last": "save_last",
    "save_top_k": "save_top_k",
    "save_weights_only": "save_weights_only",
    "_every_n_train_steps": "every_n_train_steps",
}


class CheckpointFile(NamedTuple):
    modified: float  # the file's mtime: a later one means the file was rewritten and is uploaded again
    path: str
    score: Any  # the monitored value it was saved with (a Python number; None without a monitor)
    best: bool  # the callback's best model: uploaded with the alias "best"


def new_checkpoint_files(callback: Any, uploaded: dict[str, float]) -> list[CheckpointFile]:
    """The callback's last, best and top-k files not uploaded yet (or rewritten since), oldest first.

    ``uploaded`` maps a path to the mtime it had when it was uploaded; the caller updates it.
    """
    scores: dict[str, Any] = {}
    if callback.last_model_path:
        scores[callback.last_model_path] = callback.current_score
    if callback.best_model_path:
        scores[callback.best_model_path] = callback.best_model_score
    scores.update(callback.best_k_models)
    files = []
    for path, score in scores.items():
        if not os.path.isfile(path):
            continue
        modified = os.path.getmtime(path)
        if path in uploaded and uploaded[path] >= modified:
            continue
        value = score.item() if hasattr(score, "item") else score  # artifact metadata must be JSON
        files.append(CheckpointFile(modified, path, value, path == callback.best_model_path))
    return sorted(files)


def checkpoint_metadata(callback: Any, file: CheckpointFile) -> dict[str, Any]:
    """An uploaded checkpoint's metadata: its score, its file name and the callback's settings."""
    settings = {key: getattr(callback, name) for key, name in _SETTINGS.items() if hasattr(callback, name)}
    return {
        "score": file.score,
        "original_filename": os.path.basename(file.path),
        type(callback).__name__: settings,
    }
