"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates"; Lightning's and fastai's ``lr_find``).

The learning rate grows from ``min_lr`` to ``max_lr`` over ``num_training`` optimizer steps while the smoothed
training loss is recorded; the suggestion is the rate where that loss falls fastest.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from flashtrain.core.callbacks.base import Callback

MODES = ("exponential", "linear")


class LRFinder:
    """What ``Tuner.lr_find`` returns: ``results`` (``{"lr": [...], "loss": [...]}``), ``suggestion()``, ``plot()``."""

    def __init__(self, mode: str, min_lr: float, max_lr: float, num_training: int) -> None:
        self.mode = mode
        self.lr_min = min_lr
        self.lr_max = max_lr
        self.num_training = num_training
        self.results: dict[str, list[float]] = {"lr": [], "loss": []}
        self._optimal_idx: int | None = None

    def learning_rate(self, step: int) -> float:
        """The rate used for optimizer step ``step`` (0-based) of the search."""
        fraction = step / max(self.num_training - 1, 1)
        if self.mode == "linear":
            return self.lr_min + fraction * (self.lr_max - self.lr_min)
        return self.lr_min * (self.lr_max / self.lr_min) ** fraction

    def suggestion(self, skip_begin: int = 10, skip_end: int = 1) -> float | None:
        """The rate at the steepest descent of the smoothed loss.

        In ``"exponential"`` mode the slope is taken against log(rate), as fastai's ``lr_find`` does ("steep");
        Lightning 2.x takes it against the rate itself, which on a log-spaced sweep divides the noise of the first,
        tiny rates by tiny steps: on the bundled digits it suggested 6e-8. In ``"linear"`` mode it is against the
        rate, as in Lightning.

        Args:
            skip_begin: Points left out at the start (the loss barely moves there).
            skip_end: Points left out at the end (the loss is diverging there).

        Returns:
            The suggested rate, or None (with a warning) when fewer than two finite points remain.
        """
        end = len(self.results["loss"]) - skip_end
        points = [
            (index, self.results["lr"][index], loss)
            for index, loss in enumerate(self.results["loss"][:end])
            if index >= skip_begin and math.isfinite(loss)
        ]
        if len(points) < 2:
            warnings.warn(
                f"lr_find could not suggest a learning rate: {len(points)} usable point(s) of "
                f"{len(self.results['loss'])} recorded (skip_begin={skip_begin}, skip_end={skip_end}). Raise "
                "num_training, use more training data, or lower early_stop_threshold's sensitivity.",
                stacklevel=2,
            )
            self._optimal_idx = None
            return None
        import torch

        lrs = torch.tensor([lr for _, lr, _ in points], dtype=torch.float64)
        losses = torch.tensor([loss for _, _, loss in points], dtype=torch.float64)
        spacing = lrs.log() if self.mode == "exponential" else lrs
        gradients = torch.gradient(losses, spacing=[spacing])[0]
        self._optimal_idx = points[int(torch.argmin(gradients))][0]
        return self.results["lr"][self._optimal_idx]

    def plot(self, suggest: bool = False, show: bool = False, ax: Any = None) -> Any:
        """Loss against learning rate (log scale in exponential mode), with the suggestion marked if ``suggest``.

        Returns:
            The matplotlib ``Figure``.

        Raises:
            ImportError: matplotlib is not installed (``pip install 'flashtrain-core[tuner]'``).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("LRFinder.plot needs matplotlib: pip install 'flashtrain-core[tuner]'.") from None
        if ax is None:
            figure, ax = plt.subplots()
        else:
            figure = ax.figure
        ax.plot(self.results["lr"], self.results["loss"])
        if self.mode == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        if suggest:
            self.suggestion()
            if self._optimal_idx is not None:
                index = self._optimal_idx
                ax.plot(self.results["lr"][index], self.results["loss"][index], markersize=10, marker="o", color="red")
        if show:
            plt.show()
        return figure


class LRSearchCallback(Callback):
    """Sets each step's rate before the update and records the smoothed loss after it; stops on divergence."""

    def __init__(self, finder: LRFinder, early_stop_threshold: float | None, beta: float = 0.98) -> None:
        self.finder = finder
        self.early_stop_threshold = early_stop_threshold
        self.beta = beta
        self._average = 0.0
        self._best = math.inf
        self._window: list[float] = []
        self._last_step = 0

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if len(trainer.optimizers) > 1:  # one rate is searched; which optimizer it belongs to would be a guess
            from flashtrain.core.exceptions import MisconfigurationException

            raise MisconfigurationException(
                f"`model.configure_optimizers()` returned {len(trainer.optimizers)} optimizers, but learning rate "
                "finder only works with single optimizer. Tune with one optimizer, or pass update_attr=False and "
                "set each rate yourself."
            )
        # The search owns the rate: the module's own schedulers would fight it (and ReduceLROnPlateau would wait
        # for a validation metric the search does not compute).
        trainer.lr_scheduler_configs.clear()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        rate = self.finder.learning_rate(len(self.finder.results["lr"]))
        for each in trainer.optimizers:
            for group in each.param_groups:
                group["lr"] = rate

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._window.append(float(loss.detach()) if hasattr(loss, "detach") else float(loss))
        if trainer.global_step == self._last_step:  # inside an accumulation window
            return
        self._last_step = trainer.global_step
        step = len(self.finder.results["loss"])
        if not self._window:  # the step's training_step returned None: a NaN point, skipped by the suggestion
            self.finder.results["lr"].append(self.finder.learning_rate(step))
            self.finder.results["loss"].append(math.nan)
            return
        current = sum(self._window) / len(self._window)
        self._window = []
        self._average = self.beta * self._average + (1 - self.beta) * current
        smoothed = self._average / (1 - self.beta ** (step + 1))
        self.finder.results["lr"].append(self.finder.learning_rate(step))
        self.finder.results["loss"].append(smoothed)
        threshold = self.early_stop_threshold
        if threshold is not None and step > 0 and (smoothed > threshold * self._best or not math.isfinite(smoothed)):
            trainer.should_stop = True  # diverged: higher rates only get worse
        if smoothed < self._best or step == 0:
            self._best = smoothed
