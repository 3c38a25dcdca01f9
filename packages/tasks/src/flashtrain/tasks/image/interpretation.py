"""fastai-style interpretation after training: a confusion matrix and the validation samples with the largest
losses, written as PNG next to the checkpoints and logged to TensorBoard when that is the logger.

    trainer = Trainer(callbacks=[ClassificationInterpretation()])   # or ImageClassifier(interpretation=True)
"""

from __future__ import annotations

import os
from typing import Any

import torch

from flashtrain.core import Callback
from flashtrain.tasks.calibration import reliability_table


class ClassificationInterpretation(Callback):
    """At the end of fit, over the validation data: ``confusion_matrix.png`` (single-label, as the model decides:
    a tuned decision threshold included), for images ``top_losses.png`` (the ``top_k`` worst samples, titled actual /
    predicted / loss), and for a model with ``calibrate="temperature"`` ``reliability_diagram.png`` with its numbers
    in ``reliability.csv`` (accuracy against confidence per bin, without and with the temperature).

    Args:
        top_k: How many of the worst samples to show.
        dirpath: Where to write; default the checkpoint folder, else the log folder.
    """

    def __init__(self, top_k: int = 9, dirpath: str | None = None) -> None:
        self.top_k = top_k
        self.dirpath = dirpath
        self.written: dict[str, str] = {}

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        datamodule = getattr(trainer, "datamodule", None)
        loader = datamodule.val_dataloader() if datamodule is not None else None
        if loader is None or not hasattr(pl_module, "labels"):
            return
        from flashtrain.tasks.image import visualize

        logits, targets, samples = self._collect(pl_module, loader)
        if not len(targets):
            return
        folder = self._folder(trainer)
        labels = list(pl_module.labels)
        figures = {}
        calibration = getattr(pl_module, "calibration", None)
        if calibration is not None and calibration.calibrate is not None:
            temperature = float(calibration.temperature)
            rows = reliability_table(logits, targets, pl_module.multi_label, temperature)
            self.written["reliability_table"] = write_reliability_csv(rows, os.path.join(folder, "reliability.csv"))
            figures["reliability_diagram"] = visualize.reliability_figure(rows, temperature)
        if not pl_module.multi_label:
            predicted = pl_module.decide(logits) if hasattr(pl_module, "decide") else logits.argmax(dim=1)
            matrix = torch.zeros(len(labels), len(labels), dtype=torch.long)
            matrix.index_put_((targets, predicted), torch.ones_like(targets), accumulate=True)
            figures["confusion_matrix"] = visualize.confusion_matrix_figure(matrix, labels)
            losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
            if samples is not None and samples.ndim == 4:
                worst = losses.topk(min(self.top_k, len(losses))).indices
                titles = [
                    f"{labels[int(targets[i])]} / {labels[int(predicted[i])]} / {float(losses[i]):.2f}" for i in worst
                ]
                config = getattr(pl_module, "image_config", None)
                mean = config.mean if config is not None else (0.0, 0.0, 0.0)
                std = config.std if config is not None else (1.0, 1.0, 1.0)
                figures["top_losses"] = visualize.image_grid_figure(samples[worst], titles, mean, std)
        for name, figure in figures.items():
            experiment = getattr(trainer.logger, "experiment", None) if trainer.logger else None
            if experiment is not None and hasattr(experiment, "add_figure"):
                experiment.add_figure(f"interpretation/{name}", figure, global_step=trainer.global_step, close=False)
            self.written[name] = visualize.save_figure(figure, os.path.join(folder, f"{name}.png"))

    def _folder(self, trainer: Any) -> str:
        if self.dirpath:
            return self.dirpath
        checkpoint = trainer.checkpoint_callback
        folder = getattr(checkpoint, "dirpath", None) if checkpoint is not None else None
        return folder or trainer.log_dir or trainer.default_root_dir

    @torch.no_grad()
    def _collect(self, pl_module: Any, loader: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        was_training = pl_module.training
        pl_module.eval()
        logits, targets, images = [], [], []
        kept = 0
        for inputs, batch_targets in loader:
            moved = _to(inputs, pl_module.device)
            logits.append(pl_module(moved).float().cpu())
            targets.append(batch_targets.cpu())
            if isinstance(inputs, torch.Tensor) and inputs.ndim == 4 and kept < 4096:  # images, bounded memory
                images.append(inputs.cpu())
                kept += len(inputs)
        pl_module.train(was_training)
        all_images = torch.cat(images) if images and kept == sum(len(t) for t in targets) else None
        return torch.cat(logits), torch.cat(targets), all_images


def write_reliability_csv(rows: list[dict[str, float]], path: str) -> str:
    import csv

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _to(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, dict):
        return {key: _to(value, device) for key, value in inputs.items()}
    if isinstance(inputs, (tuple, list)):
        return type(inputs)(_to(value, device) for value in inputs)
    return inputs
