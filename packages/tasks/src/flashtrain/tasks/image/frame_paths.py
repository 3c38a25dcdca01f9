"""Image paths from a table's input column: Flash's ``images_root`` / ``{stage}_images_root`` and
``{stage}_resolver`` (a callable ``(root, file_id) -> path``, for tables that hold ids rather than file names).

Kept apart from the data class so the rule is in one place: the stage's resolver if given, else the id joined to
the stage's root (absolute paths stay as they are). A resolver's result that is not a file is reported with the
id, the root and the resolver, so the error names what to fix (before, the resolver was swallowed and the error
blamed the table's file ids).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

STAGES = ("train", "val", "test", "predict")


def stage_path_options(kwargs: dict[str, Any]) -> dict[str, tuple[str | None, Callable[[Any, Any], Any] | None]]:
    """Pop ``{stage}_images_root`` and ``{stage}_resolver`` from ``kwargs``: stage -> (root, resolver)."""
    found = {}
    for stage in STAGES:
        root = kwargs.pop(f"{stage}_images_root", None)
        resolver = kwargs.pop(f"{stage}_resolver", None)
        if resolver is not None and not callable(resolver):
            raise TypeError(f"{stage}_resolver must be a callable (root, file_id) -> path, got {resolver!r}.")
        found[stage] = (root, resolver)
    return found


def resolve_paths(ids: Any, stage: str, root: str, resolver: Callable[[Any, Any], Any] | None) -> list[str]:
    if resolver is None:
        return [str(path) if os.path.isabs(str(path)) else os.path.join(root, str(path)) for path in ids]
    paths = []
    for file_id in ids:
        path = resolver(root, file_id)
        if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
            name = getattr(resolver, "__name__", repr(resolver))
            raise FileNotFoundError(
                f"{stage}_resolver {name}(root={root!r}, file_id={file_id!r}) returned {path!r}, which is not a "
                f"file. Check the resolver, or {stage}_images_root (default: the CSV file's folder)."
            )
        paths.append(os.fspath(path))
    return paths
