"""``RichProgressBar``: the progress bars drawn with ``rich`` (Lightning 2's callback and theme).

This module imports ``rich``; ``flashtrain.core.callbacks`` imports it only when ``RichProgressBar`` or
``RichProgressBarTheme`` is asked for.
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any

from flashtrain.core.callbacks.progress import ProgressBar

try:
    from rich import get_console
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text
except ImportError as error:  # pragma: no cover - rich ships with the dev requirements
    raise ModuleNotFoundError(
        "RichProgressBar needs the `rich` package: `pip install rich`, or use the default ProgressBar."
    ) from error


@dataclasses.dataclass
class RichProgressBarTheme:
    """Styles of the bar's parts (any ``rich`` style string), and how metrics are written."""

    description: str = ""
    progress_bar: str = "#6206E0"
    progress_bar_finished: str = "#6206E0"
    progress_bar_pulse: str = "#6206E0"
    batch_progress: str = ""
    time: str = "dim"
    processing_speed: str = "dim underline"
    metrics: str = "italic"
    metrics_text_delimiter: str = " "
    metrics_format: str = ".3f"


class _BatchesColumn(ProgressColumn):
    """``done/total`` batches (``done/?`` when the total is unknown)."""

    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style

    def render(self, task: Any) -> Text:
        total = "?" if task.total is None or math.isinf(task.total) else str(int(task.total))
        return Text(f"{int(task.completed)}/{total}", style=self.style)


class _SpeedColumn(ProgressColumn):
    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style

    def render(self, task: Any) -> Text:
        speed = f"{task.speed:>.2f}" if task.speed is not None else "0.00"
        return Text(f"{speed}it/s", style=self.style)


class _MetricsColumn(ProgressColumn):
    """The metrics of the training bar (other bars show none)."""

    def __init__(self, theme: RichProgressBarTheme) -> None:
        super().__init__()
        self.theme = theme
        self.metrics: dict[str, Any] = {}
        self.train_task: Any = None

    def render(self, task: Any) -> Text:
        if task.id != self.train_task:
            return Text()
        parts = []
        for name, value in self.metrics.items():
            shown = format(value, self.theme.metrics_format) if isinstance(value, float) else str(value)
            parts.append(f"{name}: {shown}")
        return Text(self.theme.metrics_text_delimiter.join(parts), style=self.theme.metrics, justify="left")


class RichProgressBar(ProgressBar):
    """Progress bars for training, validation, testing and prediction drawn with ``rich``, metrics beside them.

    Args:
        refresh_rate: Update the bars every this many batches; 0 disables them.
        leave: Keep each finished training epoch's bar on screen (default: one bar, reused every epoch).
        theme: Colours and metric formatting.
        console_kwargs: Arguments of the ``rich.console.Console`` the bars draw on.

    The ``progress`` attribute is the ``rich.progress.Progress`` of the running (or last) stage; its tasks are the
    bars in the order they appeared (sanity check, training, then each validation run).
    """

    refresh_rate_variable = None  # TQDM_MINITERS is tqdm's, not rich's

    def __init__(
        self,
        refresh_rate: int = 1,
        leave: bool = False,
        theme: RichProgressBarTheme | None = None,
        console_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(refresh_rate=refresh_rate, leave=leave)
        self.theme = theme or RichProgressBarTheme()
        self.console_kwargs = console_kwargs or {}
        self.progress: Any = None
        self.running = False  # whether ``progress`` is live (a new stage starts a new one once it stopped)
        self.metrics_column: _MetricsColumn | None = None
        self.train_progress_bar_id: Any = None
        self.val_sanity_progress_bar_id: Any = None
        self.val_progress_bar_id: Any = None
        self.test_progress_bar_id: Any = None
        self.predict_progress_bar_id: Any = None

    @property
    def is_enabled(self) -> bool:
        return self.refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def disable(self) -> None:
        self.refresh_rate = 0

    def configure_columns(self, trainer: Any) -> list[Any]:
        """The columns of every bar; override to change them (the metrics column is appended after these)."""
        return [
            TextColumn("{task.description}", style=self.theme.description or "progress.description"),
            BarColumn(
                complete_style=self.theme.progress_bar,
                finished_style=self.theme.progress_bar_finished,
                pulse_style=self.theme.progress_bar_pulse,
            ),
            _BatchesColumn(self.theme.batch_progress),
            TimeRemainingColumn(elapsed_when_finished=True),
            _SpeedColumn(self.theme.processing_speed),
        ]

    def default_model_summary(self) -> Any:
        """Rich bars come with a rich summary table (as Lightning)."""
        from flashtrain.core.callbacks.rich_model_summary import RichModelSummary

        return RichModelSummary()

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print``: rich's live display shows printed text above the bars."""
        print(*args, **kwargs)

    # -- the rich display ---------------------------------------------------------------------------------------
    def _start(self, trainer: Any) -> None:
        if self.is_disabled or not trainer.is_global_zero or self.running:
            return
        self.metrics_column = _MetricsColumn(self.theme)
        console = Console(**self.console_kwargs) if self.console_kwargs else get_console()
        self.progress = Progress(*self.configure_columns(trainer), self.metrics_column, console=console)
        self.progress.start()
        self.running = True
        self.train_progress_bar_id = self.val_sanity_progress_bar_id = self.val_progress_bar_id = None
        self.test_progress_bar_id = self.predict_progress_bar_id = None

    def _stop(self) -> None:
        if self.progress is not None and self.running:
            self.progress.stop()
        self.running = False

    def _add(self, total: float, description: str, visible: bool = True) -> Any:
        total_or_none = None if total is None or math.isinf(total) else int(total)
        return self.progress.add_task(description, total=total_or_none, visible=visible)

    def _advance(self, task: Any, done: int) -> None:
        if task is not None and self.running and done % self.refresh_rate == 0:
            self.progress.update(task, completed=done)

    def _hide(self, task: Any) -> None:
        if task is not None and self.running:
            self.progress.update(task, advance=0, visible=False)

    def _show_metrics(self, trainer: Any, pl_module: Any) -> None:
        if self.metrics_column is not None and self.running:
            self.metrics_column.metrics = self.get_metrics(trainer, pl_module)

    def train_description(self, trainer: Any) -> str:
        """``Epoch e/last``, padded to the width of the validation bar's description so the bars line up."""
        last = trainer.max_epochs - 1 if trainer.max_epochs not in (None, -1) else "?"
        text = f"Epoch {trainer.current_epoch}/{last}"
        return text.ljust(len("Validation"))

    # -- hooks --------------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        super().setup(trainer, pl_module, stage)

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        self._hide(self.val_sanity_progress_bar_id)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.running:
            return
        total, description = trainer.num_training_batches, self.train_description(trainer)
        if self.train_progress_bar_id is None or self.leave:
            if self.train_progress_bar_id is not None:
                self.progress.update(self.train_progress_bar_id, visible=True)
            self.train_progress_bar_id = self._add(total, description)
        else:
            finite = None if math.isinf(total) else int(total)
            self.progress.reset(self.train_progress_bar_id, total=finite, description=description, visible=True)
        assert self.metrics_column is not None
        self.metrics_column.train_task = self.train_progress_bar_id

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._advance(self.train_progress_bar_id, batch_idx + 1)
        self._show_metrics(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._show_metrics(trainer, pl_module)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.state.fn != "fit":
            self._start(trainer)

    def on_validation_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if not self.running or batch_idx != 0:
            return
        total = trainer.num_eval_batches
        if trainer.sanity_checking:
            self._hide(self.val_sanity_progress_bar_id)
            self.val_sanity_progress_bar_id = self._add(total, "Sanity Checking")
        else:
            self._hide(self.val_progress_bar_id)
            self.val_progress_bar_id = self._add(total, "Validation")

    def on_validation_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        task = self.val_sanity_progress_bar_id if trainer.sanity_checking else self.val_progress_bar_id
        self._advance(task, batch_idx + 1)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._hide(self.val_progress_bar_id)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._show_metrics(trainer, pl_module)
        elif trainer.state.fn != "fit":
            self._stop()

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_test_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.running and batch_idx == 0:
            self._hide(self.test_progress_bar_id)
            self.test_progress_bar_id = self._add(trainer.num_eval_batches, "Testing")

    def on_test_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._advance(self.test_progress_bar_id, batch_idx + 1)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop()

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_predict_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.running and batch_idx == 0:
            self._hide(self.predict_progress_bar_id)
            self.predict_progress_bar_id = self._add(trainer.num_eval_batches, "Predicting")

    def on_predict_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._advance(self.predict_progress_bar_id, batch_idx + 1)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._stop()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._stop()

    def __getstate__(self) -> dict[str, Any]:
        # The live display holds a console and a refresh thread: a pickled bar starts without one.
        # Methods bound to the running module (``log``) would drag the whole run along: they are re-attached.
        state = {k: v for k, v in self.__dict__.items() if not isinstance(v, types.MethodType)}
        state.update(progress=None, running=False, metrics_column=None, _trainer=None)
        return state
