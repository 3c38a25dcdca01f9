"""The profiler interface: ``start``/``stop`` an action, ``profile(action)`` as a context manager, ``summary``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from flashtrain.core.utilities import disk


class Profiler:
    """Base class: subclasses record ``start(action)``/``stop(action)`` pairs and describe them in ``summary``.

    Args:
        dirpath: Folder for the report (default: the trainer's log dir); None with no filename prints it.
        filename: Report file name stem; the report goes to ``<dirpath>/<stage>-<filename>.txt``.
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None) -> None:
        self.dirpath = os.fspath(dirpath) if dirpath is not None else None
        self.filename = filename
        self._stage: str | None = None

    def start(self, action_name: str) -> None:
        """Begin timing ``action_name``."""

    def stop(self, action_name: str) -> None:
        """End timing ``action_name``."""

    def summary(self) -> str:
        """A human-readable report of what was recorded."""
        return ""

    @contextlib.contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        """Time the enclosed block as ``action_name``."""
        self.start(action_name)
        try:
            yield action_name
        finally:
            self.stop(action_name)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """Called by the trainer before a stage runs."""
        self._stage = stage
        if self.dirpath is None:
            self.dirpath = log_dir

    def describe(self) -> None:
        """Write (or print) the summary; the trainer calls this once a stage ends."""
        report = self.summary()
        if not report:
            return
        if self.filename and self.dirpath:
            os.makedirs(self.dirpath, exist_ok=True)
            prefix = f"{self._stage}-" if self._stage else ""
            path = os.path.join(self.dirpath, f"{prefix}{self.filename}.txt")
            with disk.writing(path), open(path, "a") as handle:
                handle.write(report + "\n")
        else:
            print(report)

    def teardown(self, stage: str | None) -> None:
        """Release what ``setup`` acquired."""

    def state_dict(self) -> dict[str, Any]:
        return {}


class PassThroughProfiler(Profiler):
    """Records nothing (the default, so profiling costs nothing when it is off)."""

    @contextlib.contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        yield action_name

    def describe(self) -> None:
        pass
