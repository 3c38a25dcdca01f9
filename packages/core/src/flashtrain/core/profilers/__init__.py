"""Profilers: where a run spends its time, per hook and step (``Trainer(profiler="simple")``).

``"simple"`` times each action with ``time.perf_counter``, ``"advanced"`` runs each action under
``cProfile``, ``"pytorch"`` records operator-level timings with ``torch.profiler``.
"""

from __future__ import annotations

from typing import Any

from flashtrain.core.profilers.base import PassThroughProfiler, Profiler
from flashtrain.core.profilers.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler

_BY_NAME = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}


def build_profiler(profiler: Any) -> Profiler:
    """The profiler for ``Trainer(profiler=...)``: None, a name in ("simple", "advanced", "pytorch"), or a Profiler.

    Raises:
        ValueError: For an unknown name.
        TypeError: For anything else.
    """
    if profiler is None:
        return PassThroughProfiler()
    if isinstance(profiler, Profiler):
        return profiler
    if isinstance(profiler, str):
        if profiler.lower() not in _BY_NAME:
            raise ValueError(f"profiler must be one of {sorted(_BY_NAME)}, a Profiler or None; got {profiler!r}.")
        return _BY_NAME[profiler.lower()]()
    raise TypeError(f"profiler must be a name, a Profiler or None; got {type(profiler).__name__}.")


__all__ = [
    "AdvancedProfiler",
    "PassThroughProfiler",
    "Profiler",
    "PyTorchProfiler",
    "SimpleProfiler",
    "build_profiler",
]
