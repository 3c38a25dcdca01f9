"""The three built-in profilers."""

from __future__ import annotations

import cProfile
import functools
import io
import math
import os
import pstats
import time
from collections import defaultdict
from typing import Any

from flashtrain.core.profilers.base import Profiler


class SimpleProfiler(Profiler):
    """Wall-clock time of each action: mean, count, total and share of the run (``Trainer(profiler="simple")``).

    Args:
        extended: Also show the number of calls and each action's percentage of the run's time.
    """

    def __init__(self, dirpath: Any = None, filename: str | None = None, extended: bool = True) -> None:
        super().__init__(dirpath, filename)
        self.extended = extended
        self.current_actions: dict[str, float] = {}
        self.recorded_durations: dict[str, list[float]] = defaultdict(list)
        self.start_time = time.perf_counter()

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
        """Lightning's table: one ``|``-separated row per action, most expensive first, framed by dashed lines."""
        if not self.recorded_durations:
            return ""
        sep = os.linesep
        width = max(len(name) for name in self.recorded_durations)

        def row(*cells: str) -> str:
            return sep + f"|  {cells[0]:<{width}s}\t|" + "".join(f"  {cell:<15}\t|" for cell in cells[1:])

        totals = {name: math.fsum(durations) for name, durations in self.recorded_durations.items()}
        counts = {name: len(durations) for name, durations in self.recorded_durations.items()}
        if self.extended:
            header = row("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %")
        else:
            header = row("Action", "Mean duration (s)", "Total time (s)")
        rule = sep + "-" * len(header.expandtabs())
        text = (f"{self._stage.upper()} " if self._stage else "") + "Profiler Report" + sep + rule + header + rule
        if self.extended:
            run = time.perf_counter() - self.start_time
            text += row("Total", "-", str(sum(counts.values())), f"{run:.5}", "100 %") + rule
            for name in sorted(totals, key=lambda n: -totals[n]):
                mean = totals[name] / counts[name]
                cells = (f"{mean:.5}", str(counts[name]), f"{totals[name]:.5}", f"{100.0 * totals[name] / run:.5}")
                text += row(name, *cells)
        else:
            for name in sorted(totals, key=lambda n: -totals[n] / counts[n]):
                text += row(name, f"{totals[name] / counts[name]:.5}", f"{totals[name]:.5}")
        return text + rule + sep


class AdvancedProfiler(Profiler):
    """``cProfile`` statistics of each action (``Trainer(profiler="advanced")``).

    Args:
        line_count_restriction: How many lines of each action's statistics to show (an int, or a fraction).
        dump_stats: Also write each action's raw ``cProfile`` data to ``<dirpath>/<stage>-<filename>-<action>.prof``
            (readable with ``pstats`` or snakeviz); needs a ``dirpath`` (or the trainer's log dir).
    """

    def __init__(
        self,
        dirpath: Any = None,
        filename: str | None = None,
        line_count_restriction: float = 1.0,
        dump_stats: bool = False,
    ) -> None:
        super().__init__(dirpath, filename)
        self.profiled_actions: dict[str, cProfile.Profile] = {}
        self.line_count_restriction = line_count_restriction
        self.dump_stats = dump_stats

    def start(self, action_name: str) -> None:
        # Only one cProfile may be active at a time (Python 3.12+ refuses a second): an inner action pauses the outer.
        for profiler in self.profiled_actions.values():
            profiler.disable()
        self.profiled_actions.setdefault(action_name, cProfile.Profile()).enable()

    def stop(self, action_name: str) -> None:
        profiler = self.profiled_actions.get(action_name)
        if profiler is None:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        profiler.disable()

    def summary(self) -> str:
        if self.dump_stats and self.profiled_actions and self.dirpath is None:
            raise ValueError("AdvancedProfiler(dump_stats=True) needs a dirpath to write the .prof files to.")
        reports = {}
        for name, profiler in self.profiled_actions.items():
            if self.dump_stats:
                os.makedirs(self.dirpath, exist_ok=True)  # type: ignore[arg-type]  # checked above
                profiler.dump_stats(os.path.join(self.dirpath, self.file_name(name, ".prof")))  # type: ignore[arg-type]
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(
                self.line_count_restriction
            )
            reports[name] = stream.getvalue()
        return self.stats_report(reports) if reports else ""

    def teardown(self, stage: str | None) -> None:
        self.profiled_actions = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # cProfile.Profile objects cannot be pickled or deep-copied: a copy starts with no recordings.
        state = {
            "dirpath": self.dirpath,
            "filename": self.filename,
            "line_count_restriction": self.line_count_restriction,
        }
        return (
            self.__class__,
            (),
            {**state, "dump_stats": self.dump_stats, "profiled_actions": {}, "_stage": None, "_local_rank": None},
        )


class PyTorchProfiler(Profiler):
    """``torch.profiler`` around the run, each action marked with ``record_function`` (operator-level times).

    Args:
        sort_by_key: Column the summary table is sorted by (one of :attr:`AVAILABLE_SORT_KEYS`).
        row_limit: Rows of the summary table.
        export_to_chrome: Also write a Chrome trace, ``<dirpath>/<stage>-<filename>.pt.trace.json`` (``dirpath``
            defaults to the trainer's log dir).
        table_kwargs: Further keyword arguments of ``torch.autograd.profiler_util.EventList.table``
            (e.g. ``max_name_column_width``).
        **profiler_kwargs: Passed to ``torch.profiler.profile`` (e.g. ``record_shapes=True``).

    Raises:
        MisconfigurationException: an unknown ``sort_by_key``.
        KeyError: a ``table_kwargs`` key the table does not take, or one this class sets itself.
    """

    # Each action's name in the trace starts with this (Lightning's marker, kept so trace tools that look for it
    # find flashtrain's actions too).
    RECORD_PREFIX = "[pl][profile]"
    AVAILABLE_SORT_KEYS = frozenset(
        {
            "cpu_time",
            "cuda_time",
            "cpu_time_total",
            "cuda_time_total",
            "cpu_memory_usage",
            "cuda_memory_usage",
            "self_cpu_memory_usage",
            "self_cuda_memory_usage",
            "count",
        }
    )

    def __init__(
        self,
        dirpath: Any = None,
        filename: str | None = None,
        sort_by_key: str = "cpu_time_total",
        row_limit: int = 20,
        export_to_chrome: bool = True,
        table_kwargs: dict[str, Any] | None = None,
        **profiler_kwargs: Any,
    ) -> None:
        super().__init__(dirpath, filename)
        if sort_by_key not in self.AVAILABLE_SORT_KEYS:
            from flashtrain.core.exceptions import MisconfigurationException

            raise MisconfigurationException(
                f"Found sort_by_key: {sort_by_key}. Should be within {sorted(self.AVAILABLE_SORT_KEYS)}."
            )
        self.table_kwargs = dict(table_kwargs or {})
        if self.table_kwargs:
            _check_table_kwargs(self.table_kwargs)
        self.sort_by_key = sort_by_key
        self.row_limit = row_limit
        self.export_to_chrome = export_to_chrome
        self.profiler_kwargs = profiler_kwargs
        self.function_events: Any = None  # the recorded events (torch's EventList) once the report was made
        self._profiler: Any = None
        self._records: dict[str, Any] = {}

    def start(self, action_name: str) -> None:
        import torch

        if self._profiler is None:
            self._profiler = torch.profiler.profile(**self.profiler_kwargs)
            self._profiler.__enter__()
        record = torch.autograd.profiler.record_function(self.RECORD_PREFIX + action_name)
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
        self.function_events = profiler.events()
        if self.export_to_chrome and self.dirpath:  # the trainer's log dir when no dirpath was given
            os.makedirs(self.dirpath, exist_ok=True)
            # torch's trace-file suffix: TensorBoard's profiler plugin lists only ``*.pt.trace.json`` files
            profiler.export_chrome_trace(os.path.join(self.dirpath, self.file_name(extension=".pt.trace.json")))
        table = profiler.key_averages().table(sort_by=self.sort_by_key, row_limit=self.row_limit, **self.table_kwargs)
        return self.stats_report({"records": table})


class RegisterRecordFunction:
    """Within ``with RegisterRecordFunction(model):`` each submodule's forward is one range of the active
    ``torch.profiler`` trace, named ``[pl][module]<module class path>: <submodule name>`` (Lightning's names), so a
    trace shows which layer an operator ran in. The hooks are removed on exit."""

    RECORD_PREFIX = "[pl][module]"  # Lightning's marker for module ranges

    def __init__(self, model: Any) -> None:
        self.model = model
        self._open: dict[str, Any] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> RegisterRecordFunction:
        for name, module in self.model.named_modules():
            if not name:  # the model itself: the action around the call already covers it
                continue
            label = f"{self.RECORD_PREFIX}{type(module).__module__}.{type(module).__name__}: {name}"
            self._handles.append(module.register_forward_pre_hook(functools.partial(self._enter_range, label)))
            self._handles.append(module.register_forward_hook(functools.partial(self._exit_range, label)))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for record in self._open.values():  # a forward that raised left its range open
            record.__exit__(None, None, None)
        self._open = {}

    def _enter_range(self, label: str, module: Any, inputs: Any) -> None:
        import torch

        record = torch.autograd.profiler.record_function(label)
        record.__enter__()
        self._open[label] = record

    def _exit_range(self, label: str, module: Any, inputs: Any, output: Any) -> None:
        record = self._open.pop(label, None)
        if record is not None:
            record.__exit__(None, None, None)


def _check_table_kwargs(table_kwargs: dict[str, Any]) -> None:
    import inspect

    from torch.autograd.profiler_util import EventList

    valid = set(inspect.signature(EventList.table).parameters) - {"self", "sort_by", "row_limit"}
    for key in table_kwargs:
        if key in ("sort_by", "row_limit"):
            raise KeyError(
                f"Found invalid table_kwargs key: {key}. This is already a positional argument of the Profiler."
            )
        if key not in valid:
            raise KeyError(f"Found invalid table_kwargs key: {key}. Should be within {sorted(valid)}.")
