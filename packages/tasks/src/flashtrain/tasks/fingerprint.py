"""What a run trained on, in a few numbers and one digest, so that resuming on other data is noticed.

The fingerprint of a task data class's training split: its row count, label set, the number and total size of its
files (image data read from files), and a digest of its content (file paths and sizes, texts, table values,
image tensors, encoded targets). It is stored in the checkpoint's ``datamodule`` section; resuming compares it with
the data given now and warns on a difference, or refuses with ``strict_resume`` (``--strict-resume``).

The content is read through the datasets' public attributes (``files``, ``texts``, ``tensors``, ``images``,
``targets``), so each task's dataset needs no code of its own for it; a dataset with none of them is described by
its size and labels only.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
from torch.utils.data import Subset


def data_fingerprint(dataset: Any, labels: list[Any] | None) -> dict[str, Any]:
    """The fingerprint of a training dataset (see the module docstring); plain values, checkpoint-safe."""
    digest = hashlib.sha256()
    files, size = _content(dataset, digest)
    fingerprint: dict[str, Any] = {
        "rows": len(dataset),
        "labels": [label if isinstance(label, (int, str)) else str(label) for label in labels or []],
        "digest": digest.hexdigest()[:16],
    }
    if files:
        fingerprint.update(files=files, bytes=size)
    return fingerprint


def _content(dataset: Any, digest: Any) -> tuple[int, int]:
    """Feed ``dataset``'s content into ``digest``; (files, their total bytes)."""
    if isinstance(dataset, Subset):
        digest.update(b"indices:" + torch.as_tensor(list(dataset.indices), dtype=torch.long).numpy().tobytes())
        return _content(dataset.dataset, digest)
    files, size = 0, 0
    for path in getattr(dataset, "files", None) or []:
        path = os.fspath(path)
        stat = os.stat(path) if os.path.exists(path) else None
        files, size = files + 1, size + (stat.st_size if stat else 0)
        digest.update(f"{path}\0{stat.st_size if stat else -1}\n".encode())
    texts = getattr(dataset, "texts", None)
    if texts is not None and hasattr(texts, "iter"):  # a datasets.Dataset with a "text" column
        for chunk in texts.iter(batch_size=10_000):
            digest.update("\0".join(map(str, chunk.get("text", []))).encode())
    tensors = getattr(dataset, "tensors", None)
    for part in (getattr(tensors, "categorical", None), getattr(tensors, "numerical", None)):
        if isinstance(part, torch.Tensor):
            digest.update(part.contiguous().numpy().tobytes())
    images = getattr(dataset, "images", None)
    if isinstance(images, torch.Tensor):
        digest.update(images.contiguous().cpu().numpy().tobytes())
    targets = getattr(dataset, "targets", None)
    if isinstance(targets, torch.Tensor):
        digest.update(b"targets:" + targets.contiguous().cpu().numpy().tobytes())
    return files, size


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's fingerprint and the current data's, in words (empty: the same data)."""
    found = []
    if saved.get("rows") != current.get("rows"):
        found.append(f"{saved.get('rows')} training samples then, {current.get('rows')} now")
    if saved.get("labels") != current.get("labels"):
        found.append(
            f"labels {list(saved.get('labels') or [])[:10]} then, {list(current.get('labels') or [])[:10]} now"
        )
    if saved.get("files") != current.get("files") or saved.get("bytes") != current.get("bytes"):
        found.append(
            f"{saved.get('files', 0)} files of {saved.get('bytes', 0)} bytes then, "
            f"{current.get('files', 0)} of {current.get('bytes', 0)} now"
        )
    if not found and saved.get("digest") != current.get("digest"):
        found.append("the same sizes but different content (file names, texts or values)")
    return found
