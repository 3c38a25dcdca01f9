"""Task modules: a core Module composed of backbone + head + loss + metrics + optimizer choice.

``Task`` holds what every task shares (optimizer and schedule by name, forward, the task name in checkpoints);
``ClassificationTask`` and ``RegressionTask`` add the loss, metrics and prediction formats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from flashtrain.core import Module

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": torch.optim.RMSprop,
}
SCHEDULERS = ("cosine", "step", "linear_warmup", None)
OUTPUTS = ("labels", "probabilities", "logits", "top_k")


class Task(Module):
    """Optimizer and learning-rate schedule chosen by name, ``forward = head(backbone(x))``, and the task's name
    written into every checkpoint (``flash-train predict`` reads it). Subclasses set ``self.backbone`` and
    ``self.head``."""

    backbone: torch.nn.Module
    head: torch.nn.Module
    task_name = "task"

    def __init__(self, optimizer: Any = "adam", lr_scheduler: Any = None, learning_rate: float = 1e-3) -> None:
        super().__init__()
        if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}. Allowed: {sorted(OPTIMIZERS)}, an optimizer class, "
                "or a function (params, lr) -> optimizer."
            )
        if isinstance(lr_scheduler, str) and lr_scheduler not in SCHEDULERS:
            raise ValueError(
                f"Unknown lr_scheduler {lr_scheduler!r}. Allowed: {[s for s in SCHEDULERS if s]}, None, "
                "or a function (optimizer) -> scheduler."
            )
        self.optimizer_choice = optimizer
        self.scheduler_choice = lr_scheduler
        self.learning_rate = learning_rate

    def forward(self, inputs: Any) -> torch.Tensor:
        return self.head(self.backbone(inputs))

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        raise NotImplementedError  # loss and metrics for one batch of ``stage`` ("train", "val", "test")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_callbacks(self) -> Any:
        """The weight-averaging callback chosen with ``weight_averaging`` (none by default)."""
        return weight_averaging_callback(getattr(self, "weight_averaging", None), self.learning_rate)

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]  # a frozen backbone joins later, as its own group
        return self.build_optimizers(params)

    def build_optimizers(self, params: list) -> Any:
        """The named optimizer over ``params`` (tensors, or parameter-group dicts) and the named schedule."""
        choice = self.optimizer_choice
        optimizer = (
            OPTIMIZERS[choice](params, lr=self.learning_rate)
            if isinstance(choice, str)
            else choice(params, lr=self.learning_rate)
        )
        scheduler = self.scheduler_choice
        if scheduler is None:
            return optimizer
        if callable(scheduler):
            return {"optimizer": optimizer, "lr_scheduler": scheduler(optimizer)}
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        built: torch.optim.lr_scheduler.LRScheduler
        if scheduler == "cosine":
            built = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        elif scheduler == "step":
            built = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, steps // 3), gamma=0.1)
        else:  # linear_warmup: 10% warm-up, then linear decay to zero
            warmup = max(1, steps // 10)
            built = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
            )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": built, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["task"] = self.task_name


WEIGHT_AVERAGING = ("ema", "swa")


def check_weight_averaging(value: Any) -> Any:
    """``None``, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging`` callback."""
    from flashtrain.core.callbacks import WeightAveraging

    if value is None or isinstance(value, WeightAveraging):
        return value
    if isinstance(value, str):
        name, _, argument = value.partition(":")
        try:
            number = float(argument) if argument else None
        except ValueError:
            number = None
            name = ""
        if name in WEIGHT_AVERAGING and (not argument or number is not None):
            return value
    raise ValueError(
        f"weight_averaging={value!r} is not valid; use None, 'ema' (decay 0.999), 'ema:DECAY' (e.g. 'ema:0.99'), "
        "'swa' (SWA learning rate = learning_rate / 10, from 80% of the epochs), 'swa:SWA_LR', or a "
        "flashtrain.core.callbacks.WeightAveraging instance."
    )


def weight_averaging_callback(value: Any, learning_rate: float) -> Any:
    """The callback ``value`` (checked by :func:`check_weight_averaging`) stands for, or None."""
    from flashtrain.core.callbacks import EMAWeightAveraging, StochasticWeightAveraging

    if value is None or not isinstance(value, str):
        return value
    name, _, argument = value.partition(":")
    if name == "ema":
        return EMAWeightAveraging(decay=float(argument) if argument else 0.999)
    # SWA's usual recipe: a constant, moderate rate over the last epochs, one epoch of annealing towards it.
    swa_lr = float(argument) if argument else learning_rate / 10
    return StochasticWeightAveraging(swa_lrs=swa_lr, swa_epoch_start=0.8, annealing_epochs=1)


class ClassificationTask(Task):
    """Training, evaluation and prediction for classifiers built from parts.

    Subclasses set ``self.backbone`` (features), ``self.head`` (features -> logits), ``self.labels`` and
    ``self.multi_label`` in ``__init__``; this class supplies the loss (cross-entropy, or binary cross-entropy for
    multi-label), accuracy metrics, the optimizer and scheduler named by ``optimizer`` / ``lr_scheduler``, and
    ``format_predictions`` for ``trainer.predict(..., output=...)``.
    """

    monitor = ("val_acc", "max")  # what "best" means for checkpoints of this task
    outputs = OUTPUTS

    def __init__(
        self,
        labels: list[Any],
        multi_label: bool,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
    ) -> None:
        super().__init__(optimizer, lr_scheduler, learning_rate)
        import torchmetrics

        if not labels:
            raise ValueError("A classifier needs labels: pass labels=datamodule.labels (or num_classes=N).")
        self.labels = list(labels)
        self.multi_label = multi_label
        self.loss_fn = torch.nn.BCEWithLogitsLoss() if multi_label else torch.nn.CrossEntropyLoss()
        n = len(self.labels)

        def accuracy() -> Any:
            if multi_label:
                return torchmetrics.classification.MultilabelAccuracy(num_labels=n)
            return torchmetrics.classification.MulticlassAccuracy(num_classes=n, average="micro")

        self.train_acc, self.val_acc, self.test_acc = accuracy(), accuracy(), accuracy()

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        logits = self(inputs)
        loss = self.loss_fn(logits, targets)
        metric = getattr(self, f"{stage}_acc")
        metric(logits, targets.int() if self.multi_label else targets)
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        self.log(f"{stage}_acc", metric, prog_bar=stage != "train")
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(inputs)

    def format_predictions(self, outputs: list[torch.Tensor], output: str = "labels", k: int = 5) -> list[Any]:
        """One entry per input, in order: label names, class probabilities, raw logits, or the top-k pairs."""
        if output not in OUTPUTS:
            raise ValueError(f"Unknown output {output!r}. Allowed: {', '.join(OUTPUTS)}.")
        logits = torch.cat(outputs).float() if outputs else torch.empty(0, len(self.labels))
        if output == "logits":
            return logits.tolist()
        probabilities = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        if output == "probabilities":
            return probabilities.tolist()
        if output == "labels":
            if self.multi_label:
                return [[self.labels[i] for i in torch.nonzero(row > 0.5).flatten().tolist()] for row in probabilities]
            return [self.labels[i] for i in probabilities.argmax(dim=1).tolist()]
        top = probabilities.topk(min(k, len(self.labels)), dim=1)
        return [
            [(self.labels[i], round(p, 6)) for i, p in zip(idx.tolist(), val.tolist())]
            for idx, val in zip(top.indices, top.values)
        ]


class RegressionTask(Task):
    """Regression on one or more targets: mean squared error on standardised targets (so targets of any scale
    train alike); predictions and the logged RMSE (``val_rmse``, over all targets) are in the original units.

    Subclasses set ``self.backbone`` and ``self.head`` (features -> one output per target).
    """

    target_mean: torch.Tensor
    target_std: torch.Tensor
    monitor = ("val_rmse", "min")
    outputs = ("values",)

    def __init__(
        self,
        target_names: list[str],
        target_means: list[float],
        target_stds: list[float],
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
    ) -> None:
        super().__init__(optimizer, lr_scheduler, learning_rate)
        import torchmetrics

        self.target_names = list(target_names)
        self.register_buffer("target_mean", torch.tensor(target_means, dtype=torch.float32), persistent=False)
        self.register_buffer("target_std", torch.tensor(target_stds, dtype=torch.float32), persistent=False)
        self.loss_fn = torch.nn.MSELoss()
        self.train_rmse, self.val_rmse, self.test_rmse = (
            torchmetrics.MeanSquaredError(squared=False) for _ in range(3)
        )

    def to_original_units(self, scaled: torch.Tensor) -> torch.Tensor:
        return scaled * self.target_std + self.target_mean

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        outputs = self(inputs)
        loss = self.loss_fn(outputs, targets)
        metric = getattr(self, f"{stage}_rmse")
        metric(self.to_original_units(outputs.detach()).flatten(), self.to_original_units(targets).flatten())
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        self.log(f"{stage}_rmse", metric, prog_bar=stage != "train")
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.to_original_units(self(inputs))

    def format_predictions(self, outputs: list[torch.Tensor], output: str = "values") -> list[Any]:
        """One entry per input, in order: a number (one target) or a list with one number per target."""
        if output not in self.outputs:
            raise ValueError(f"Unknown output {output!r} for a regressor. Allowed: {', '.join(self.outputs)}.")
        values = torch.cat(outputs).float() if outputs else torch.empty(0, len(self.target_names))
        return values[:, 0].tolist() if len(self.target_names) == 1 else values.tolist()
