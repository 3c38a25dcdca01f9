"""``ProgressBar``: tqdm bars for training and evaluation, showing ``prog_bar`` metrics."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from flashtrain.core.callbacks.base import Callback


class ProgressBar(Callback):
    """In a terminal: a training bar plus one bar per evaluation run, with ``prog_bar`` metrics refreshed with the
    bar (about 10 Hz). When stderr is not a terminal (a log file, CI), one plain line per epoch instead (the bars
    still exist, disabled, so code that reads them works).

    As Lightning's ``TQDMProgressBar``: the bars are ``train_progress_bar``, ``val_progress_bar`` (also the sanity
    check's), ``test_progress_bar`` and ``predict_progress_bar``, each made by the matching ``init_*_tqdm()`` hook
    (override one to restyle its bar); ``leave=True`` leaves each epoch's training bar on screen (a new bar per
    epoch), ``leave=False`` redraws one. ``disable()``/``enable()`` switch it; it is disabled off global rank zero.

    ``runs_last``: its epoch line is written after the epoch's metrics are reduced, so it shows this epoch's.
    """

    runs_last = True
    # tqdm's own setting for "redraw every N iterations": when set, it is a floor for refresh_rate (as Lightning).
    refresh_rate_variable: str | None = "TQDM_MINITERS"

    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False) -> None:
        floor = os.environ.get(self.refresh_rate_variable or "", "")
        self.refresh_rate = max(refresh_rate, int(floor)) if floor.strip().isdigit() else refresh_rate
        self.process_position = process_position
        self.leave = leave
        self.interactive = True
        self._enabled = True
        self._bars: dict[str, Any] = {}  # "train" / "validate" / "test" / "predict": the latest bar of each
        self._epoch_started = 0.0
        self._trainer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**vars(self), "_bars": {}}  # tqdm bars hold a stream: they are not pickled (as Lightning)

    @property
    def trainer(self) -> Any:
        """The trainer this bar reports on (set in ``setup``)."""
        if self._trainer is None:
            raise RuntimeError(f"{type(self).__name__}.trainer is set once a Trainer run has started.")
        return self._trainer

    @property
    def total_train_batches(self) -> int | float:
        """The training bar's length: the epoch's batches, or the steps left when only ``max_steps`` ends training
        (``max_epochs=-1``; a loader without length then still shows a total), as Lightning's bar."""
        trainer = self.trainer
        if trainer.max_epochs == -1 and trainer.max_steps is not None and trainer.max_steps > 0:
            return min(trainer.num_training_batches, trainer.max_steps - trainer.global_step)
        return trainer.num_training_batches

    @property
    def total_val_batches(self) -> int | float:
        """Validation batches over all loaders; 0 in a fit epoch that check_val_every_n_epoch skips."""
        trainer = self.trainer
        if trainer.state.fn == "fit" and not trainer.progress.validates_this_epoch():
            return 0
        return sum(trainer.num_val_batches)

    # -- the bars -----------------------------------------------------------------------------------------------
    def _get(self, stage: str, name: str) -> Any:
        if stage not in self._bars:
            raise TypeError(f"The `{type(self).__name__}.{name}` is set once a {stage} run has started.")
        return self._bars[stage]

    @property
    def train_progress_bar(self) -> Any:
        return self._get("train", "train_progress_bar")

    @train_progress_bar.setter
    def train_progress_bar(self, bar: Any) -> None:
        self._bars["train"] = bar

    @property
    def val_progress_bar(self) -> Any:
        return self._get("validate", "val_progress_bar")

    @val_progress_bar.setter
    def val_progress_bar(self, bar: Any) -> None:
        self._bars["validate"] = bar

    @property
    def test_progress_bar(self) -> Any:
        return self._get("test", "test_progress_bar")

    @test_progress_bar.setter
    def test_progress_bar(self, bar: Any) -> None:
        self._bars["test"] = bar

    @property
    def predict_progress_bar(self) -> Any:
        return self._get("predict", "predict_progress_bar")

    @predict_progress_bar.setter
    def predict_progress_bar(self, bar: Any) -> None:
        self._bars["predict"] = bar

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self.refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def default_model_summary(self) -> Callback:
        """The model summary the Trainer adds when none is given (``enable_model_summary`` not False)."""
        from flashtrain.core.callbacks.model_summary import ModelSummary

        return ModelSummary()

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print above the bars without breaking them (``tqdm.write``; ``LightningModule.print`` comes here while the
        bar is enabled). ``kwargs`` are ``print``'s ``end`` and ``file``."""
        from flashtrain.core.callbacks.tqdm_bar import Tqdm

        Tqdm.write(sep.join(map(str, args)), **kwargs)

    def _bar(self, description: str, row: int, leave: bool) -> Any:
        from flashtrain.core.callbacks.tqdm_bar import Tqdm

        return Tqdm(
            desc=description,
            position=2 * self.process_position + row,
            leave=leave,
            disable=self.is_disabled or not self.interactive,
            dynamic_ncols=True,
            file=sys.stderr,
            smoothing=0,
            miniters=self.refresh_rate,
        )

    def _evaluation_row(self) -> int:
        """Evaluation bars sit under the training bar while fitting."""
        return 1 if self._trainer is not None and self._trainer.state.fn == "fit" else 0

    def init_train_tqdm(self) -> Any:
        """The training bar (override to restyle it)."""
        return self._bar("Training", 0, True)

    def init_sanity_tqdm(self) -> Any:
        """The sanity check's bar (override to restyle it)."""
        return self._bar("Sanity Checking", 0, False)

    def init_validation_tqdm(self) -> Any:
        """The validation bar (override to restyle it); left on screen only outside ``fit``."""
        row = self._evaluation_row()
        return self._bar("Validation", row, leave=not row)

    def init_test_tqdm(self) -> Any:
        """The test bar (override to restyle it)."""
        return self._bar("Testing", 0, True)

    def init_predict_tqdm(self) -> Any:
        """The prediction bar (override to restyle it)."""
        return self._bar("Predicting", 0, True)

    @staticmethod
    def _reset(bar: Any, total: float) -> None:
        bar.reset(total=None if math.isinf(total) else int(total))

    # -- metrics ------------------------------------------------------------------------------------------------
    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, int | str | float | dict[str, float]]:
        """What the bar shows: the logger's version as ``v_num`` and the ``prog_bar`` metrics. Override to change
        it (Lightning's hook: call ``super().get_metrics(trainer, pl_module)`` and edit the dict)."""
        items: dict[str, Any] = {}
        if trainer.logger is not None and trainer.logger.version != "":
            items["v_num"] = trainer.logger.version
        items.update(trainer.progress_bar_metrics)
        return items

    def _postfix(self, trainer: Any) -> dict[str, Any]:
        items = self.get_metrics(trainer, trainer.lightning_module)
        return {key: f"{value:.3g}" if isinstance(value, float) else value for key, value in items.items()}

    def _show_train_metrics(self, trainer: Any) -> None:
        bar = self._bars.get("train")
        if bar is not None and not bar.disable:
            bar.set_postfix(self._postfix(trainer), refresh=False)

    # -- hooks --------------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.interactive = sys.stderr.isatty()
        self._trainer = trainer
        if not trainer.is_global_zero:
            self.disable()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.train_progress_bar = self.init_train_tqdm()

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._epoch_started = time.monotonic()
        if self.leave or "train" not in self._bars:
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar
        self._reset(bar, self.total_train_batches)
        bar.set_description(f"Epoch {trainer.current_epoch}")
        if trainer.progress.batches_done:
            bar.update(trainer.progress.batches_done)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        bar = self._bars.get("train")
        if bar is not None and not bar.disable and bar.update(1):  # a disabled bar counts nothing: no call
            # tqdm redrew (it does so at most every 0.1 s): only then pay for reading metrics.
            bar.set_postfix(self._postfix(trainer), refresh=False)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.interactive and self.is_enabled:
            metrics = ", ".join(f"{key}={value}" for key, value in self._postfix(trainer).items() if key != "v_num")
            seconds = time.monotonic() - self._epoch_started
            print(f"Epoch {trainer.current_epoch}: {metrics} ({seconds:.1f} s)", file=sys.stderr, flush=True)
        self._show_train_metrics(trainer)  # close() draws it once
        if self.leave:
            self._close("train")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("train")

    def _close(self, stage: str) -> None:
        bar = self._bars.get(stage)
        if bar is not None:
            bar.close()  # kept: its total and count stay readable, as Lightning's

    def _start_eval(self, stage: str, bar: Any, total: float) -> None:
        self._bars[stage] = bar
        self._reset(bar, total)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        bar = self.init_sanity_tqdm() if trainer.sanity_checking else self.init_validation_tqdm()
        self._start_eval("validate", bar, trainer.num_eval_batches)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self._bars["validate"].update(1)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("validate")
        if trainer.state.fn == "fit":
            self._show_train_metrics(trainer)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_eval("test", self.init_test_tqdm(), trainer.num_eval_batches)

    def on_test_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self._bars["test"].update(1)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("test")

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_eval("predict", self.init_predict_tqdm(), trainer.num_eval_batches)

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        self._bars["predict"].update(1)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close("predict")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        for stage in list(self._bars):
            self._close(stage)
