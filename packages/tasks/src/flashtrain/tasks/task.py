"""``ClassificationTask``: a core Module composed of backbone + head + loss + metrics + optimizer choice."""

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


class ClassificationTask(Module):
    """Training, evaluation and prediction for classifiers built from parts.

    Subclasses set ``self.backbone`` (features), ``self.head`` (features -> logits), ``self.labels`` and
    ``self.multi_label`` in ``__init__``; this class supplies the loss (cross-entropy, or binary cross-entropy for
    multi-label), accuracy metrics, the optimizer and scheduler named by ``optimizer`` / ``lr_scheduler``, and
    ``format_predictions`` for ``trainer.predict(..., output=...)``.
    """

    backbone: torch.nn.Module
    head: torch.nn.Module

    def __init__(
        self,
        labels: list[Any],
        multi_label: bool,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
    ) -> None:
        super().__init__()
        import torchmetrics

        if not labels:
            raise ValueError("A classifier needs labels: pass labels=datamodule.labels (or num_classes=N).")
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
        self.labels = list(labels)
        self.multi_label = multi_label
        self.optimizer_choice = optimizer
        self.scheduler_choice = lr_scheduler
        self.learning_rate = learning_rate
        self.loss_fn = torch.nn.BCEWithLogitsLoss() if multi_label else torch.nn.CrossEntropyLoss()
        n = len(self.labels)

        def accuracy() -> Any:
            if multi_label:
                return torchmetrics.classification.MultilabelAccuracy(num_labels=n)
            return torchmetrics.classification.MulticlassAccuracy(num_classes=n, average="micro")

        self.train_acc, self.val_acc, self.test_acc = accuracy(), accuracy(), accuracy()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        logits = self(inputs)
        loss = self.loss_fn(logits, targets)
        metric = getattr(self, f"{stage}_acc")
        metric(logits, targets.int() if self.multi_label else targets)
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        self.log(f"{stage}_acc", metric, prog_bar=stage != "train")
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(inputs)

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]  # a frozen backbone joins later, as its own group
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

    def format_predictions(self, outputs: list[torch.Tensor], output: str, k: int = 5) -> list[Any]:
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

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["task"] = self.task_name

    task_name = "classification"
