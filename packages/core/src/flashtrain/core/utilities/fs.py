"""Paths that may be fsspec URLs (``memory://runs``, ``s3://bucket/runs``) as well as local folders.

Local paths (and ``file://`` URLs) go through ``os`` as before, so local checkpoint writes keep their
fsync-and-rename atomicity and cost nothing extra; anything else goes through fsspec, imported only then.
This module is a thin facade over fsspec, not a filesystem layer of our own: it only picks between the two.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
from typing import IO, Any

_FILE_PREFIX = "file://"


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL that ``os`` cannot open (any ``protocol://`` except ``file://``)."""
    return "://" in path and not path.startswith(_FILE_PREFIX)


def local(path: str) -> str:
    """``path`` without a ``file://`` prefix (other paths unchanged)."""
    return path[len(_FILE_PREFIX) :] if path.startswith(_FILE_PREFIX) else path


def filesystem(path: str) -> tuple[Any, str]:
    """The fsspec filesystem for ``path`` and the path inside it.

    Raises:
        ImportError: fsspec is not installed, or the URL's protocol needs a package that is not (e.g. s3fs).
    """
    try:
        import fsspec
    except ImportError:
        raise ImportError(
            f"{path!r} is a URL; writing to it needs fsspec: pip install fsspec (plus e.g. s3fs for s3://)."
        ) from None
    return fsspec.core.url_to_fs(path)


def join(base: str, *parts: str) -> str:
    """``os.path.join`` for local paths; ``/``-joined for URLs."""
    if not is_remote(base):
        return os.path.join(base, *parts)
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts if part.strip("/"))])


def makedirs(path: str) -> None:
    if is_remote(path):
        fs, inner = filesystem(path)
        fs.makedirs(inner, exist_ok=True)
    else:
        os.makedirs(local(path), exist_ok=True)


def exists(path: str) -> bool:
    if is_remote(path):
        fs, inner = filesystem(path)
        return fs.exists(inner)
    return os.path.exists(local(path))


def isfile(path: str) -> bool:
    if is_remote(path):
        fs, inner = filesystem(path)
        return fs.isfile(inner)
    return os.path.isfile(local(path))


def listdir(path: str) -> list[str]:
    """Names (not paths) in the folder ``path``; empty when it does not exist."""
    if is_remote(path):
        fs, inner = filesystem(path)
        if not fs.isdir(inner):
            return []
        return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(inner, detail=False)]
    path = local(path)
    return os.listdir(path) if os.path.isdir(path) else []


def glob(pattern: str) -> list[str]:
    """Paths matching ``pattern``, as full URLs when ``pattern`` is one."""
    if is_remote(pattern):
        fs, inner = filesystem(pattern)
        return [fs.unstrip_protocol(found) for found in fs.glob(inner)]
    return _glob.glob(local(pattern))


def remove(path: str) -> None:
    """Delete a file, or a folder with what it holds (a sharded checkpoint is a folder)."""
    if is_remote(path):
        fs, inner = filesystem(path)
        fs.rm(inner, recursive=True)
    elif os.path.isdir(local(path)):
        shutil.rmtree(local(path))
    else:
        os.remove(local(path))


def modified_ns(path: str) -> int:
    """Last modification time in nanoseconds (for picking the newest checkpoint)."""
    if is_remote(path):
        fs, inner = filesystem(path)
        return int(fs.modified(inner).timestamp() * 1e9)
    return os.stat(local(path)).st_mtime_ns


def open_file(path: str, mode: str = "r", **kwargs: Any) -> IO[Any]:
    """``open`` for local paths, ``fsspec.open`` (already entered) for URLs; close it with ``with``."""
    if is_remote(path):
        fs, inner = filesystem(path)
        return fs.open(inner, mode, **kwargs)
    return open(local(path), mode, **kwargs)


def upload(local_path: str, url: str) -> None:
    """Copy a local file to ``url`` (replacing what is there)."""
    fs, inner = filesystem(url)
    fs.put_file(local_path, inner)
