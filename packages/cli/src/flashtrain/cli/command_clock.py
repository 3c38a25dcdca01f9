"""When the running ``flash-train`` command started: its ``--time-budget`` counts from there, so that the budget
bounds the whole command (imports, data loading, the data check, fit, the passes after it, the summary), not only
fit. Set by :func:`flashtrain.cli.main.main` for the length of one command; None outside one (a task's ``run``
called directly counts its budget from fit's start, as ``Trainer(time_budget=...)`` does)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

_started: list[float] = []  # the start of the command running now (empty between commands)


@contextlib.contextmanager
def running() -> Iterator[None]:
    """One command's extent: :func:`started` reads its start until it ends."""
    _started.append(time.monotonic())
    try:
        yield
    finally:
        _started.pop()


def started() -> float | None:
    """The ``time.monotonic()`` reading when the running command started, or None outside a command."""
    return _started[-1] if _started else None
