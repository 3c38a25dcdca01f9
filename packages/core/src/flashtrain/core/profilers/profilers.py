"""The three built-in profilers."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import defaultdict
from typing import Any

from flashtrain.core.profilers.base import Profiler


class SimpleProfiler(Profiler):
    """Wall-clock time of each action: count, mean and total, sorted by total (``Trainer(profiler="simple")``)."""

    def __init__(self, dirpath: Any = None, filename: str | None = None, extended: bool = True) -> None:
        super().__init__(dirpath, filename)
        self.extended = extended
        self.current_actions: dict[str, float] = {}
        self.recorded_durations: dict[str, list[float]] = defaultdict(list)
        self._started = time.perf_counter()

    def start(self, action_name: str) -> None:
        if action_name in self.current_actions:
            raise ValueError(f"Attempted to start {action_name} which has already started.")
        self.current_actions[action_name] = time.perf_counter()

    def stop(self, action_name: str) -> None:
        end = time.perf_counter()
        if action_name not in self.current_actions:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        self.recorded_durations[action_name].append(end - self.current_actions.pop(action_name))

    def summary(self) -> str:
        if not self.recorded_durations:
            return ""
        total_run = time.perf_counter() - self._started
        rows = sorted(self.recorded_durations.items(), key=lambda item: -sum(item[1]))
        width = max(len("Action"), *(len(name) for name, _ in rows))
        lines = [
            "Profiler Report",
            f"{'Action':<{width}} | Mean duration (s) | Num calls | Total time (s) | Percentage %",
        ]
        for name, durations in rows:
            total = sum(durations)
            lines.append(
                f"{name:<{width}} | {total / len(durations):17.5f} | {len(durations):9d} | {total:14.5f} | "
                f"{100 * total / total_run:11.2f}"
            )
        return "\n".join(lines)


class AdvancedProfiler(Profiler):
    """``cProfile`` statistics of each action (``Trainer(profiler="advanced")``).

    Args:
        line_count_restriction: How many lines of each action's statistics to show (an int, or a fraction).
    """

    def __init__(self, dirpath: Any = None, filename: str | None = None, line_count_restriction: float = 1.0) -> None:
        super().__init__(dirpath, filename)
        self.profiled_actions: dict[str, cProfile.Profile] = {}
        self.line_count_restriction = line_count_restriction

    def start(self, action_name: str) -> None:
        profiler = self.profiled_actions.setdefault(action_name, cProfile.Profile())
        profiler.enable()

    def stop(self, action_name: str) -> None:
        profiler = self.profiled_actions.get(action_name)
        if profiler is None:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        profiler.disable()

    def summary(self) -> str:
        reports = []
        for name, profiler in self.profiled_actions.items():
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(
                self.line_count_restriction
            )
            reports.append(f"Profile stats for: {name}\n{stream.getvalue()}")
        return "\n".join(reports)

    def teardown(self, stage: str | None) -> None:
        self.profiled_actions = {}


class PyTorchProfiler(Profiler):
    """``torch.profiler`` around the run, each action marked with ``record_function`` (operator-level times).

    Args:
        sort_by_key: Column the summary table is sorted by.
        row_limit: Rows of the summary table.
        export_to_chrome: Also write a Chrome trace (``<dirpath>/<stage>-<filename>.json``) when a file is set.
        **profiler_kwargs: Passed to ``torch.profiler.profile`` (e.g. ``record_shapes=True``).
    """

    def __init__(
        self,
        dirpath: Any = None,
        filename: str | None = None,
        sort_by_key: str = "cpu_time_total",
        row_limit: int = 20,
        export_to_chrome: bool = True,
        **profiler_kwargs: Any,
    ) -> None:
        super().__init__(dirpath, filename)
        self.sort_by_key = sort_by_key
        self.row_limit = row_limit
        self.export_to_chrome = export_to_chrome
        self.profiler_kwargs = profiler_kwargs
        self._profiler: Any = None
        self._records: dict[str, Any] = {}

    def start(self, action_name: str) -> None:
        import torch

        if self._profiler is None:
            self._profiler = torch.profiler.profile(**self.profiler_kwargs)
            self._profiler.__enter__()
        record = torch.autograd.profiler.record_function(action_name)
        record.__enter__()
        self._records[action_name] = record

    def stop(self, action_name: str) -> None:
        record = self._records.pop(action_name, None)
        if record is None:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        record.__exit__(None, None, None)

    def summary(self) -> str:
        if self._profiler is None:
            return ""
        for record in self._records.values():
            record.__exit__(None, None, None)
        self._records = {}
        self._profiler.__exit__(None, None, None)
        profiler, self._profiler = self._profiler, None
        if self.export_to_chrome and self.filename and self.dirpath:
            import os

            os.makedirs(self.dirpath, exist_ok=True)
            prefix = f"{self._stage}-" if self._stage else ""
            profiler.export_chrome_trace(os.path.join(self.dirpath, f"{prefix}{self.filename}.json"))
        return profiler.key_averages().table(sort_by=self.sort_by_key, row_limit=self.row_limit)
