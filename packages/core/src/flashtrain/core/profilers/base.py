"""The profiler interface: ``start``/``stop`` an action, ``profile(action)`` as a context manager, ``summary``."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flashtrain.core.utilities import disk

# Characters that are unsafe in a file name on some platform; an action name (e.g. a metric "val/loss") may hold them.
_UNSAFE = re.compile(r"[\\/:*?\"<>|\n\r\t]")


class Profiler:
    """Base class: subclasses record ``start(action)``/``stop(action)`` pairs and describe them in ``summary``.

    Args:
        dirpath: Folder for the report (default: the trainer's log dir); None with no filename prints it.
        filename: Report file name stem; the report goes to ``<dirpath>/<stage>-<filename>[-<rank>].txt``.
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None) -> None:
        self.dirpath = dirpath  # kept as given (a Path stays a Path), as Lightning does
        self.filename = filename
        self._stage: str | None = None
        self._local_rank: int | None = None

    @property
    def local_rank(self) -> int:
        """The process's local rank (0 when not distributed)."""
        return 0 if self._local_rank is None else self._local_rank

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
        """Called by the trainer before a stage runs; ``local_rank`` is given only when several processes run."""
        self._stage = stage
        self._local_rank = local_rank
        if self.dirpath is None:
            self.dirpath = log_dir

    def file_name(self, action_name: str | None = None, extension: str = ".txt") -> str:
        """The report's file name: ``<stage>-<filename>-<rank>-<action>`` (the parts that are set), made safe."""
        parts = [self._stage, self.filename, None if self._local_rank is None else str(self._local_rank), action_name]
        base = "-".join(part for part in parts if part)
        base = re.sub("_+", "_", _UNSAFE.sub("_", base)).strip()
        return (base or "profile") + extension

    def describe(self) -> None:
        """Write (or print) the summary, then release what was recorded; the trainer calls this once a stage ends."""
        report = self.summary()
        if report:
            if self.filename and self.dirpath:
                os.makedirs(self.dirpath, exist_ok=True)
                path = os.path.join(self.dirpath, self.file_name())
                with disk.writing(path), open(path, "a") as handle:
                    handle.write(report + "\n")
            elif self.local_rank == 0:
                print(report)
        self.teardown(self._stage)

    def stats_report(self, stats: dict[str, str]) -> str:
        """Per-action statistics under one header (``"FIT Profiler Report"``), each titled with its action."""
        lines = [(f"{self._stage.upper()} " if self._stage else "") + "Profiler Report"]
        rank = f" rank: {self._local_rank}" if self._local_rank is not None else ""
        for action, text in stats.items():
            lines += [f"Profile stats for: {action}{rank}", text]
        return os.linesep.join(lines)

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
