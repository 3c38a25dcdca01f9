"""Profilers: where a run spends its time, per hook and step (``Trainer(profiler="simple")``).

``"simple"`` times each action with ``time.perf_counter``, ``"advanced"`` runs each action under
``cProfile``, ``"pytorch"`` records operator-level timings with ``torch.profiler``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flashtrain.core.profilers.base import PassThroughProfiler, Profiler
from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.profilers.profilers import (
        AdvancedProfiler,
        PyTorchProfiler,
        RegisterRecordFunction,
        SimpleProfiler,
    )

# The profilers (cProfile, pstats, torch.profiler) are imported when one is asked for.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AdvancedProfiler": "flashtrain.core.profilers.profilers:AdvancedProfiler",
        "PyTorchProfiler": "flashtrain.core.profilers.profilers:PyTorchProfiler",
        "SimpleProfiler": "flashtrain.core.profilers.profilers:SimpleProfiler",
        "RegisterRecordFunction": "flashtrain.core.profilers.profilers:RegisterRecordFunction",
    },
)
_NAMES = ("simple", "advanced", "pytorch")


def build_profiler(profiler: Any) -> Profiler:
    """The profiler for ``Trainer(profiler=...)``: None, a name in ("simple", "advanced", "pytorch"), or a Profiler.

    Raises:
        MisconfigurationException: For an unknown name (a ``ValueError``).
        TypeError: For anything else.
    """
    if profiler is None:
        return PassThroughProfiler()
    if isinstance(profiler, Profiler):
        return profiler
    if isinstance(profiler, str):
        if profiler.lower() not in _NAMES:
            from flashtrain.core.exceptions import MisconfigurationException

            raise MisconfigurationException(
                "When passing string value for the `profiler` parameter of `Trainer`, it can only be one of "
                f"{sorted(_NAMES)}, or pass a Profiler or None; got {profiler!r}."
            )
        from flashtrain.core.profilers import profilers

        by_name = {"simple": profilers.SimpleProfiler, "advanced": profilers.AdvancedProfiler}
        return by_name.get(profiler.lower(), profilers.PyTorchProfiler)()
    raise TypeError(f"profiler must be a name, a Profiler or None; got {type(profiler).__name__}.")


__all__ = [
    "AdvancedProfiler",
    "PassThroughProfiler",
    "Profiler",
    "PyTorchProfiler",
    "RegisterRecordFunction",
    "SimpleProfiler",
    "build_profiler",
]
