"""One rule for a write that fails: the error names the file, and a full disk also says how much space is left.

Every write path (checkpoints, loggers, configs, exports, model folders, reports) runs inside :func:`writing`, so
a full disk reads the same everywhere: ``no space left on the device to write runs/x/metrics.csv (3 MiB free in
runs/x); free some space or write to another disk``. Without it, the same fault shows as ``[Errno 28] No space
left on device`` with no file name (a ``write()`` has none), as torch's ``[enforce fail at inline_container.cc]``,
or as a Rust library's ``IoError(Os { code: 28 ... })``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator

FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# torch's zip writer (torch.save, torch.export.save, torch.jit.save) reports a failed write without an errno, as
# "[enforce fail at inline_container.cc:...] ... file write failed" or "... unexpected pos N vs M" (a short write).
_TORCH_WRITE_FAILURE = ("inline_container", "unexpected pos", "file write failed")
# Rust libraries (safetensors, tokenizers) put the OS error in their message text only.
_FULL_DISK_TEXT = ("No space left on device", "StorageFull", "os error 28", "Disk quota exceeded")


def free_space(path: str) -> tuple[int, str] | None:
    """Bytes free on the disk of ``path`` and the nearest existing folder asked (None if none can be asked)."""
    folder = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    try:
        return shutil.disk_usage(folder).free, folder
    except OSError:
        return None


def no_space_error(path: str) -> OSError:
    """The error for a full disk while writing ``path``: names it and the space left (``errno.ENOSPC``)."""
    space = free_space(path)
    left = f" ({space[0] // 2**20} MiB free in {space[1]})" if space else ""
    return OSError(
        errno.ENOSPC,
        f"no space left on the device to write {path}{left}; free some space or write to another disk",
        path,
    )


def is_full_disk(error: BaseException) -> bool:
    """Whether ``error`` is a write that failed for lack of space, whatever library raised it."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.errno in FULL_DISK_ERRNOS
    text = str(error)
    if isinstance(error, RuntimeError) and any(sign in text for sign in _TORCH_WRITE_FAILURE):
        return True  # the zip writer gives no reason; a full disk is what it almost always is
    return any(sign in text for sign in _FULL_DISK_TEXT)


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
    """Writes to ``path`` inside the block: a full disk becomes :func:`no_space_error` (whatever raised it), and
    any other OSError without a file name gets ``path`` as its file name.

    Raises:
        OSError: with ``filename == path`` (``errno.ENOSPC`` for a full disk).
    """
    try:
        yield
    except Exception as error:
        if is_full_disk(error):
            if isinstance(error, OSError) and error.strerror and "MiB free in" in error.strerror:
                raise  # already said, by an inner block naming the file itself
            raise no_space_error(os.fspath(path)) from error
        if isinstance(error, OSError) and error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror or str(error), os.fspath(path)) from error
        raise
