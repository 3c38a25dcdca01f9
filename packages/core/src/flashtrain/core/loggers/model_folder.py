"""The folder a tracking logger's ``log_model`` uploads: a model's ``save_pretrained`` folder, or one you give.

The core does not know the task models (cli -> tasks -> core): any object with a ``save_pretrained(folder, card=...)``
method is a model here (flashtrain's tasks; Hugging Face models take the same call without ``card``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def model_folder(model: Any, card: dict[str, Any] | None = None, name: str = "model") -> Iterator[str]:
    """A local folder holding ``model``: the folder itself when ``model`` is a path, else a temporary folder that
    ``model.save_pretrained`` writes (removed on exit)."""
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"log_model({folder!r}): no such folder. Pass a model (anything with save_pretrained) or a folder "
                "written by model.save_pretrained(folder)."
            )
        if card is not None:
            raise ValueError("log_model(folder, card=...): the card is written by save_pretrained; pass the model.")
        yield folder
        return
    save = getattr(model, "save_pretrained", None)
    if not callable(save):
        raise TypeError(
            f"log_model needs a model with save_pretrained(folder) (a flashtrain task, a Hugging Face model) or the "
            f"path of a saved folder; got {type(model).__name__}."
        )
    with tempfile.TemporaryDirectory(prefix="flashtrain-model-") as scratch:
        folder = os.path.join(scratch, name)
        if card is None:
            save(folder)
        else:
            save(folder, card=card)
        yield folder


def folder_files(folder: str) -> list[str]:
    """The files under ``folder``, as sorted paths relative to it with ``/`` separators."""
    found = []
    for root, _, files in os.walk(folder):
        for file in files:
            found.append(os.path.relpath(os.path.join(root, file), folder).replace(os.sep, "/"))
    return sorted(found)
