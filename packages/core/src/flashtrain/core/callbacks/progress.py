"""``ProgressBar``: tqdm bars for training and evaluation, showing ``prog_bar`` metrics."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from flashtrain.core.callbacks.base import Callback


class ProgressBar(Callback):
    """In a terminal: one bar per training epoch plus one per evaluation run, with ``prog_bar`` metrics refreshed
    with the bar (about 10 Hz). When stderr is not a terminal (a log file, CI), one plain line per epoch instead.

    ``runs_last``: its epoch line is written after the epoch's metrics are reduced, so it shows this epoch's.
    """

    runs_last = True
    # tqdm's own setting for "redraw every N iterations": when set, it is a floor for refresh_rate (as Lightning).
    refresh_rate_variable: str | None = "TQDM_MINITERS"

    def __init__(self, refresh_rate: int = 1, leave: bool = False) -> None:
        floor = os.environ.get(self.refresh_rate_variable or "", "")
        self.refresh_rate = max(refresh_rate, int(floor)) if floor.strip().isdigit() else refresh_rate
        self.leave = leave
        self.train_bar: Any = None
        self.eval_bar: Any = None
        self.interactive = True
        self._epoch_started = 0.0
        self._trainer: Any = None

    @property
    def trainer(self) -> Any:
        """The trainer this bar reports on (set in ``setup``)."""
        if self._trainer is None:
            raise RuntimeError(f"{type(self).__name__}.trainer is set once a Trainer run has started.")
        return self._trainer

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.interactive = sys.stderr.isatty()
        self._trainer = trainer

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, int | str | float | dict[str, float]]:
        """What the bar shows: the logger's version as ``v_num`` and the ``prog_bar`` metrics. Override to change
        it (Lightning's hook: call ``super().get_metrics(trainer, pl_module)`` and edit the dict)."""
        items: dict[str, Any] = {}
        if trainer.logger is not None and trainer.logger.version != "":
            items["v_num"] = trainer.logger.version
        items.update(trainer.progress_bar_metrics)
        return items

    def _bar(self, description: str, total: float, position: int, leave: bool) -> Any:
        from flashtrain.core.callbacks.tqdm_bar import Tqdm

        return Tqdm(
            desc=description,
            total=None if math.isinf(total) else int(total),
            position=position,
            leave=leave,
            dynamic_ncols=True,
            file=sys.stderr,
            smoothing=0,
            miniters=self.refresh_rate,
        )

    def _postfix(self, trainer: Any) -> dict[str, Any]:
        items = self.get_metrics(trainer, trainer.lightning_module)
        return {key: f"{value:.3g}" if isinstance(value, float) else value for key, value in items.items()}

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._epoch_started = time.monotonic()
        if not trainer.is_global_zero or not self.interactive:
            return
        self.train_bar = self._bar(f"Epoch {trainer.current_epoch}", trainer.num_training_batches, 0, True)
        if trainer.progress.batches_done:
            self.train_bar.update(trainer.progress.batches_done)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        bar = self.train_bar
        if bar is not None and bar.update(1):
            # tqdm redrew (it does so at most every 0.1 s): only then pay for reading metrics.
            bar.set_postfix(self._postfix(trainer), refresh=False)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.interactive and trainer.is_global_zero:
            metrics = ", ".join(f"{key}={value}" for key, value in self._postfix(trainer).items() if key != "v_num")
            seconds = time.monotonic() - self._epoch_started
            print(f"Epoch {trainer.current_epoch}: {metrics} ({seconds:.1f} s)", file=sys.stderr, flush=True)
        if self.train_bar is not None:
            self.train_bar.set_postfix(self._postfix(trainer), refresh=False)  # close() draws it once
            self.train_bar.close()
            self.train_bar = None

    def _start_eval(self, trainer: Any, label: str) -> None:
        if trainer.is_global_zero and self.interactive:
            total = trainer.num_eval_batches
            self.eval_bar = self._bar(label, total, 1 if self.train_bar is not None else 0, self.leave)

    def _stop_eval(self) -> None:
        if self.eval_bar is not None:
            self.eval_bar.close()
            self.eval_bar = None

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_eval(trainer, "Sanity Checking" if trainer.sanity_checking else "Validation")

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.eval_bar is not None:
            self.eval_bar.update(1)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop_eval()
        if self.train_bar is not None:
            self.train_bar.set_postfix(self._postfix(trainer), refresh=False)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_eval(trainer, "Testing")

    def on_test_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.eval_bar is not None:
            self.eval_bar.update(1)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop_eval()

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_eval(trainer, "Predicting")

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if self.eval_bar is not None:
            self.eval_bar.update(1)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop_eval()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._stop_eval()
        if self.train_bar is not None:
            self.train_bar.close()
            self.train_bar = None
