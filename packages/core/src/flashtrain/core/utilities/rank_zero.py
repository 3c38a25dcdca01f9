"""Run or report something on the global-zero process only (Lightning's ``rank_zero_*`` helpers).

The rank is read from the launcher's environment variables, as torch.distributed launchers
(torchrun, SLURM, the DDP strategy's own launcher) set them before the user's code runs.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

_log = logging.getLogger("flashtrain.core")
_Function = TypeVar("_Function", bound=Callable[..., Any])


def global_rank() -> int:
    """This process's global rank according to the environment (0 when not launched distributed)."""
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable])
    return 0


def rank_zero_only(function: _Function) -> _Function:
    """Decorate ``function`` so that it runs on global rank 0 and returns None elsewhere."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if global_rank() == 0:
            return function(*args, **kwargs)
        return None

    return wrapped  # type: ignore[return-value]


@rank_zero_only
def rank_zero_info(message: str, *args: Any, **kwargs: Any) -> None:
    """``logging.info`` on rank 0 only."""
    _log.info(message, *args, **kwargs)


@rank_zero_only
def rank_zero_debug(message: str, *args: Any, **kwargs: Any) -> None:
    """``logging.debug`` on rank 0 only."""
    _log.debug(message, *args, **kwargs)


@rank_zero_only
def rank_zero_warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 4) -> None:
    """``warnings.warn`` on rank 0 only."""
    warnings.warn(message, category, stacklevel=stacklevel)


class WarningCache(set):
    """Warn (on rank 0) once per distinct message: a message already in the cache is not repeated.
    ``clear()`` forgets them, so each warns again (Lightning's ``WarningCache``)."""

    def warn(self, message: str, stacklevel: int = 5, category: type[Warning] = UserWarning) -> None:
        if message not in self:
            self.add(message)
            rank_zero_warn(message, category, stacklevel=stacklevel)

    def info(self, message: str) -> None:
        if message not in self:
            self.add(message)
            rank_zero_info(message)


__all__ = ["WarningCache", "global_rank", "rank_zero_debug", "rank_zero_info", "rank_zero_only", "rank_zero_warn"]
