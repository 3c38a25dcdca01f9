"""Reading and writing checkpoint files: atomic writes, and loads that never run pickled code."""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import uuid
import warnings
import zipfile
from typing import IO, Any

import torch

from flashtrain.core.checkpoint.download import cached_download, is_url
from flashtrain.core.utilities import disk, fs

FORMAT_VERSION = 1
_SAFE_SCALARS = (bool, int, float, str, type(None), torch.Tensor, torch.dtype, torch.device, torch.Size)


class CheckpointError(ValueError):
    """A file that cannot be used as a flashtrain checkpoint (the message says why and what to do)."""


def save_checkpoint_file(checkpoint: dict[str, Any], path: str) -> None:
    """Write ``checkpoint`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    A crash at any moment leaves either the old file or the complete new one, never a torn file. On an fsspec
    URL (``memory://``, ``s3://``...) the file is written beside the target under a temporary name, then moved.
    A local file gets the permissions of any other new file (0644 under the usual umask), not ``mkstemp``'s 0600.

    Raises:
        OSError: the disk is full (``errno.ENOSPC``, naming ``path``) or the folder cannot be written.
    """
    path = os.fspath(path)
    if fs.is_remote(path):
        _save_remote(checkpoint, path)
        return
    path = fs.local(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".ckpt", dir=folder)
    try:
        with disk.writing(path):
            _give_new_file_permissions(temp_path)
            with os.fdopen(handle, "wb") as stream:
                torch.save(checkpoint, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_path, path)
        _fsync_folder(folder)
    except BaseException:
        _remove(temp_path)
        raise


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def _give_new_file_permissions(path: str) -> None:
    """What a new file gets under the umask, where the file system lets permissions be set: some mounts (SMB/CIFS,
    FUSE, a cross-device temp folder) refuse ``chmod`` and the checkpoint is then written with the mount's own."""
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o666 & ~_current_umask())


def _current_umask() -> int:
    # The only portable way to read the umask is to set it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _save_remote(checkpoint: dict[str, Any], path: str) -> None:
    filesystem, inner = fs.filesystem(path)
    folder = inner.rsplit("/", 1)[0] if "/" in inner else ""
    if folder:
        filesystem.makedirs(folder, exist_ok=True)
    temp_path = f"{folder}/.tmp-{uuid.uuid4().hex}.ckpt"
    try:
        with filesystem.open(temp_path, "wb") as stream:
            torch.save(checkpoint, stream)
        # Object stores have no rename: mv copies then deletes, and a reader sees the old or the whole new file.
        filesystem.mv(temp_path, inner)
    except BaseException:
        if filesystem.exists(temp_path):
            filesystem.rm(temp_path)
        raise


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_weights_only(weights_only: Any) -> None:
    """Lightning's ``weights_only`` argument of every checkpoint loader. A flashtrain checkpoint holds only tensors
    and plain values and is always read with ``torch.load(weights_only=True)``, so None, True and False load the
    same file the same safe way: ``False`` never unpickles code (a file that would need it fails with the
    loader's error; docs/lightning-differences.md)."""
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be None, True or False, got {weights_only!r}.")


def check_regular_file(path: str, what: str = "Checkpoint") -> None:
    """A FileNotFoundError when nothing is at ``path``; a ValueError when it is not a regular file (a FIFO, a
    device, a folder: reading those would block, read nothing, or fail later with a worse message)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "a FIFO, device or socket"
        raise CheckpointError(f"{path} is not a regular file ({kind}); pass the .ckpt file itself.")


def load_checkpoint(path: str | os.PathLike | IO[bytes], map_location: Any = "cpu") -> dict[str, Any]:
    """Load and check a flashtrain checkpoint, with ``torch.load(weights_only=True)``.

    Args:
        path: A file path, an ``http(s)://`` URL (downloaded once, cached), an fsspec URL, or an open binary file
            object (``io.BytesIO``, ``open(path, "rb")``; read from its current position), as Lightning accepts.
        map_location: Where the tensors go, as for ``torch.load``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, is not a flashtrain checkpoint, carries pickled objects,
            or comes from a newer flashtrain.
    """
    if not isinstance(path, (str, os.PathLike)):
        return _load_stream(path, map_location)
    path = os.fspath(path)
    if is_url(path):  # downloaded once, then read from the local cache
        path = cached_download(path)
    if not fs.is_remote(path) and os.path.isfile(os.path.join(path, "meta.pt")):
        raise CheckpointError(
            f"{path} is a sharded checkpoint folder (FSDPStrategy(state_dict_type='sharded')). Resume it with "
            "Trainer(strategy=FSDPStrategy(state_dict_type='sharded'), ...), or make one file of it with "
            "flashtrain.core.strategies.fsdp.consolidate_checkpoint(folder, 'full.ckpt')."
        )
    if not fs.is_remote(path):
        check_regular_file(fs.local(path), "Checkpoint")
    elif not fs.isfile(path):
        raise FileNotFoundError(f"Checkpoint file not found: {path}")
    if not fs.is_remote(path):
        _check_archive(fs.local(path))
    if fs.is_remote(path):
        with fs.open_file(path, "rb") as stream:
            return _checked(_torch_load(stream, path, map_location), path)
    return _checked(_torch_load(fs.local(path), path, map_location), path)


def _load_stream(stream: IO[bytes], map_location: Any) -> dict[str, Any]:
    """A checkpoint from an open binary file object, checked as a file on disk is (zip archive, CRCs)."""
    if not callable(getattr(stream, "read", None)) or not callable(getattr(stream, "seek", None)):
        raise TypeError(
            f"load_checkpoint takes a path, a URL or an open binary file object (with read and seek); got "
            f"{type(stream).__name__}. For a checkpoint dict already loaded, use "
            "flashtrain.core.checkpoint.module_from_checkpoint(cls, checkpoint)."
        )
    name = str(getattr(stream, "name", None) or f"the {type(stream).__name__} stream")
    start = stream.tell()
    _check_archive(stream, name)
    stream.seek(start)
    return _checked(_torch_load(stream, name, map_location), name)


def _torch_load(source: Any, path: str, map_location: Any) -> Any:
    """``torch.load(weights_only=True)`` with its failures as CheckpointErrors that say what to do."""
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"Refusing to load {path}: it contains pickled Python objects, which could run arbitrary code "
            f"when loaded ({str(error).splitlines()[0]}). flashtrain checkpoints hold only tensors, numbers, "
            "strings and lists/dicts of them; re-save the file with flashtrain or load it yourself if you trust it."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"Cannot read checkpoint {path}: the file is truncated or corrupt ({error}). "
            "Use an earlier checkpoint (e.g. the previous epoch's file)."
        ) from None


def _checked(checkpoint: Any, path: str) -> dict[str, Any]:
    """``checkpoint`` if it is a flashtrain checkpoint this version can read (a warning for Lightning's)."""
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        keys = f" with keys {sorted(checkpoint)[:8]}" if isinstance(checkpoint, dict) else ""
        raise CheckpointError(
            f"{path} is not a flashtrain checkpoint: expected a dict with 'state_dict', got "
            f"{type(checkpoint).__name__}{keys}."
        )
    version = checkpoint.get("format_version")
    if version is None:
        # Lightning checkpoints share the layout; their tensors load, other state may differ.
        warnings.warn(
            f"{path} has no format_version (not written by flashtrain); loading its state_dict only.", stacklevel=3
        )
    elif not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format {version}, newer than this flashtrain understands ({FORMAT_VERSION}). "
            "Upgrade flashtrain to load it."
        )
    return checkpoint


def _check_archive(path: str | IO[bytes], name: str | None = None) -> None:
    """``torch.save`` writes a zip archive; refuse anything else, and archives whose bytes were damaged.

    torch itself neither recognises a text file early (it fails deep inside unpickling, e.g. ``KeyError: 101``)
    nor checks the archive's CRCs, so damaged tensor bytes would load silently as wrong weights. ``path`` may be
    an open binary file (``name`` then names it in messages).
    """
    name = name or str(path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"Cannot read checkpoint {name}: the file is truncated or corrupt, or not a checkpoint at all (torch.save "
            "writes a zip archive; this file is not one: a text file, an error page, a cut-off copy?). Use the .ckpt "
            "file a training run wrote, or an earlier checkpoint."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every member and checks its CRC-32: about 1 s per GB
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        damaged = f"({error})"
    if damaged is not None:
        raise CheckpointError(
            f"Cannot read checkpoint {name}: the file is corrupt, its bytes are damaged (the check of {damaged} "
            "failed), so its weights cannot be trusted. Use an earlier checkpoint (e.g. the previous epoch's file)."
        )


def safe_value(value: Any, where: str) -> Any:
    """Return ``value`` if ``torch.load(weights_only=True)`` can read it back, else raise a TypeError naming it."""
    if isinstance(value, _SAFE_SCALARS):
        return value
    if isinstance(value, dict):
        return {key: safe_value(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        converted = [safe_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return converted if isinstance(value, list) else tuple(converted)
    raise TypeError(
        f"Cannot store {where} in a checkpoint: {type(value).__name__} is not a tensor, number, string or a "
        "list/dict of them (checkpoints must load with weights_only=True)."
    )


def safe_hyperparameters(hparams: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters a checkpoint can hold; others are dropped with a warning saying how to pass them."""
    kept = {}
    for key, value in hparams.items():
        try:
            kept[key] = safe_value(value, f"hyper-parameter {key!r}")
        except TypeError:
            warnings.warn(
                f"Hyper-parameter {key!r} ({type(value).__name__}) is not saved in the checkpoint: only tensors, "
                f"numbers, strings and lists/dicts of them are. Pass save_hyperparameters(ignore=[{key!r}]) and give "
                f"it again to load_from_checkpoint({key}=...).",
                stacklevel=3,
            )
    return kept
