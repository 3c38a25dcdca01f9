"""Say so when training diverges, instead of finishing quietly with a model worse than a constant.

Lightning Flash's tabular regression example (``learning_rate=0.1``) ends with a validation RMSE of 3,230 bike
rentals against a target spread of 495 and predicts negative counts, without a word. :class:`DivergenceCheck`
(added to every task's fit by ``Task.configure_callbacks``) warns with a :class:`DivergenceWarning` when, after an
epoch:

- the loss is not finite (NaN or inf);
- the epoch's loss (validation if there is validation data, else training) is worse than the loss of a constant
  prediction on the same batches by more than ``worse_than_constant`` times: the training mean for a regressor
  (0 on its standardised targets), equal probabilities for a classifier; the task computes this baseline with its
  own loss (``constant_prediction_loss``), so class weights, label smoothing and a custom loss are accounted for;
- the loss is more than ``above_best`` times its best epoch so far (a run that learned, then blew up).

Each kind of warning is given once per fit. ``warnings.simplefilter("error", DivergenceWarning)`` turns it into an
error; ``trainer.callbacks`` shows the check and ``check.diverged`` says whether it fired.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from flashtrain.core.callbacks import Callback
from flashtrain.core.utilities.rank_zero import rank_zero_warn


class DivergenceWarning(UserWarning):
    """Training diverged: the model got worse than a constant prediction, or its loss blew up."""


class _Sums:
    def __init__(self) -> None:
        self.loss = 0.0
        self.baseline = 0.0
        self.batches = 0

    def add(self, loss: float, baseline: float | None) -> None:
        self.loss += loss
        self.baseline += baseline if baseline is not None else math.nan
        self.batches += 1


class DivergenceCheck(Callback):
    def __init__(self, worse_than_constant: float = 1.5, above_best: float = 4.0) -> None:
        self.worse_than_constant = worse_than_constant
        self.above_best = above_best
        self.diverged = False
        self._warned: set[str] = set()
        self._train = _Sums()
        self._val = _Sums()
        self._best: dict[str, float] = {}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.diverged = False
        self._warned.clear()
        self._best.clear()

    # -- collecting ---------------------------------------------------------------------------------------------
    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._train = _Sums()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            self._warn(
                "nonfinite",
                f"Training diverged: the training loss is {value} at epoch {trainer.current_epoch}, batch "
                f"{batch_idx}. {self._advice(pl_module)}",
            )
        self._train.add(value, _baseline(pl_module, batch))

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._val = _Sums()

    def on_validation_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if not trainer.sanity_checking:
            self._val.add(0.0, _baseline(pl_module, batch))  # the loss itself is read from val_loss at the end

    # -- checking -------------------------------------------------------------------------------------------------
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or self._val.batches == 0 or getattr(trainer.state, "fn", None) != "fit":
            return
        val_loss = trainer.callback_metrics.get("val_loss")
        if val_loss is not None:
            self._check("validation", float(val_loss), self._val.baseline / self._val.batches, trainer, pl_module)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._train.batches == 0:
            return
        has_validation = self._val.batches > 0
        loss = self._train.loss / self._train.batches
        baseline = self._train.baseline / self._train.batches
        self._check("training", loss, math.nan if has_validation else baseline, trainer, pl_module)

    def _check(self, stage: str, loss: float, baseline: float, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch
        if not math.isfinite(loss):
            self._warn(
                "nonfinite",
                f"Training diverged: the {stage} loss is {loss} after epoch {epoch}. {self._advice(pl_module)}",
            )
            return
        if math.isfinite(baseline) and baseline > 0 and loss > self.worse_than_constant * baseline:
            self._warn(
                "constant",
                f"Training diverged: after epoch {epoch} the {stage} loss ({loss:.4g}) is {loss / baseline:.1f}x "
                f"the loss of always predicting {_constant_name(pl_module)} ({baseline:.4g}); the model is worse "
                f"than that constant. {self._advice(pl_module)}",
            )
        best = self._best.get(stage)
        if best is not None and best > 0 and loss > self.above_best * best:
            self._warn(
                "above_best",
                f"Training diverged: after epoch {epoch} the {stage} loss ({loss:.4g}) is {loss / best:.1f}x its "
                f"best so far ({best:.4g}). {self._advice(pl_module)}",
            )
        self._best[stage] = loss if best is None else min(best, loss)

    def _advice(self, pl_module: Any) -> str:
        rate = getattr(pl_module, "learning_rate", None)
        if rate is None:
            return "Lower the learning rate."
        return f"learning_rate={rate:g} is likely too high: try {rate / 10:g} (or a schedule with warmup)."

    def _warn(self, kind: str, message: str) -> None:
        self.diverged = True
        if kind not in self._warned:
            self._warned.add(kind)
            rank_zero_warn(message, DivergenceWarning)


def _baseline(pl_module: Any, batch: Any) -> float | None:
    compute = getattr(pl_module, "constant_prediction_loss", None)
    if compute is None:
        return None
    with torch.no_grad():
        value = compute(batch)
    return None if value is None else float(value)


def _constant_name(pl_module: Any) -> str:
    return str(getattr(pl_module, "constant_prediction", "a constant"))
