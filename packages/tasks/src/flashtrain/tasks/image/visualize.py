"""Pictures of the data and of a trained classifier's mistakes, saved as PNG (matplotlib, headless)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch


def _pyplot():
    from flashtrain.tasks.optional import require

    matplotlib = require("matplotlib", "image", "Saving pictures (show_train_batch, interpretation)")

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _displayable(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo the normalisation and clamp to 0-1, channels last, for imshow."""
    mean_t = torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1)
    std_t = torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1)
    return (image.float().cpu() * std_t + mean_t).clamp(0, 1).permute(1, 2, 0)


def image_grid_figure(
    images: torch.Tensor, titles: Sequence[str], mean: Sequence[float], std: Sequence[float]
) -> object:
    """A matplotlib figure with the images (N, 3, H, W; normalised) in a grid, each titled."""
    plt = _pyplot()
    count = len(images)
    columns = min(8, max(1, math.ceil(math.sqrt(count))))
    rows = max(1, math.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 1.9 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(_displayable(images[index], mean, std).numpy())
            axis.set_title(str(titles[index])[:28], fontsize=7)
    figure.tight_layout()
    return figure


def save_figure(figure: object, path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    from flashtrain.core.utilities.disk import writing

    with writing(path):
        figure.savefig(path, dpi=100)  # type: ignore[attr-defined]
    _pyplot().close(figure)
    return path


def save_image_grid(
    images: torch.Tensor, titles: Sequence[str], mean: Sequence[float], std: Sequence[float], path: str
) -> str:
    return save_figure(image_grid_figure(images, titles, mean, std), path)


def confusion_matrix_figure(matrix: torch.Tensor, labels: Sequence[object]) -> object:
    """Counts per (true, predicted) class, annotated when the matrix is small enough to read."""
    plt = _pyplot()
    size = max(4.0, 0.45 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix.numpy(), cmap="Blues")
    ticks = list(range(len(labels)))
    axis.set_xticks(ticks, [str(label) for label in labels], rotation=90, fontsize=7)
    axis.set_yticks(ticks, [str(label) for label in labels], fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    if len(labels) <= 30:
        peak = float(matrix.max()) or 1.0
        for row in ticks:
            for column in ticks:
                value = int(matrix[row, column])
                colour = "white" if value > peak / 2 else "black"
                axis.text(column, row, str(value), ha="center", va="center", fontsize=7, color=colour)
    axis.set_title("confusion matrix (validation)")
    figure.tight_layout()
    return figure
