"""``LearningRateFinder`` and ``BatchSizeFinder``: the Tuner's two searches, run by the trainer when a fit starts.

Both run the search of :class:`flashtrain.core.tuner.Tuner` on trial copies of the trainer (the model's weights,
the random state and the trainer are left as they were), then apply what was found to the fit that is starting.
"""

from __future__ import annotations

from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException


class LearningRateFinder(Callback):
    """Find a learning rate with the range test at the start of ``fit`` and train with it (Lightning 2's callback).

    Args:
        min_lr: Rate of the first search step.
        max_lr: Rate of the last search step.
        num_training_steps: Optimizer steps of the search.
        mode: ``"exponential"`` or ``"linear"`` spacing of the rates.
        early_stop_threshold: Stop the search once the loss exceeds this multiple of the best (None: never).
        update_attr: Set the suggestion on the model's ``lr`` / ``learning_rate`` and on the optimizer.
        attr_name: The model attribute to set, if not ``lr`` or ``learning_rate``.

    After the search, ``optimal_lr`` is the :class:`~flashtrain.core.tuner.LRFinder` (``results``, ``suggestion()``).
    Override :meth:`on_fit_start` (or call :meth:`lr_find` from another hook) to search at other times.
    """

    tuner_search = "LearningRateFinder"  # the Tuner refuses to run its own search beside this callback

    def __init__(
        self,
        min_lr: float = 1e-8,
        max_lr: float = 1.0,
        num_training_steps: int = 100,
        mode: str = "exponential",
        early_stop_threshold: float | None = 4.0,
        update_attr: bool = True,
        attr_name: str = "",
    ) -> None:
        if mode not in ("exponential", "linear"):
            raise ValueError(f"`mode` should be either of ('exponential', 'linear'), got {mode!r}.")
        self.min_lr, self.max_lr, self.num_training_steps = min_lr, max_lr, num_training_steps
        self.mode, self.early_stop_threshold = mode, early_stop_threshold
        self.update_attr, self.attr_name = update_attr, attr_name
        self.optimal_lr: Any = None

    def lr_find(self, trainer: Any, pl_module: Any) -> None:
        """Run the search now and (with ``update_attr``) give the running optimizers the suggested rate."""
        from flashtrain.core.tuner.tuning import Tuner

        # Loaders passed to fit directly are not rebuilt by the trials: they get the fit's training loader.
        given = None if trainer.datamodule is not None else trainer.data_connector.load_fit_train()
        self.optimal_lr = Tuner(trainer).run_lr_search(
            pl_module,
            given,
            datamodule=trainer.datamodule,
            min_lr=self.min_lr,
            max_lr=self.max_lr,
            num_training=self.num_training_steps,
            mode=self.mode,
            early_stop_threshold=self.early_stop_threshold,
            update_attr=self.update_attr,
            attr_name=self.attr_name,
        )
        suggestion = self.optimal_lr.suggestion() if self.update_attr and self.optimal_lr is not None else None
        if suggestion is not None:
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = suggestion

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.lr_find(trainer, pl_module)


class BatchSizeFinder(Callback):
    """Find the largest batch size that fits at the start of ``fit`` and train with it (Lightning 2's callback).

    Args:
        mode: ``"power"`` or ``"binsearch"``.
        steps_per_trial: Batches per trial.
        init_val: First batch size tried.
        max_trials: Most successful trials.
        batch_arg_name: Attribute (or hparams key) of the model or datamodule holding the batch size.
        margin: Fraction taken off the size ``"binsearch"`` found.
        max_val: Largest batch size to try.

    After the search, ``optimal_batch_size`` is the size found (also set on the model / datamodule).
    """

    SUPPORTED_MODES = ("power", "binsearch")
    tuner_search = "BatchSizeFinder"  # the Tuner refuses to run its own search beside this callback

    def __init__(
        self,
        mode: str = "power",
        steps_per_trial: int = 3,
        init_val: int = 2,
        max_trials: int = 25,
        batch_arg_name: str = "batch_size",
        margin: float = 0.05,
        max_val: int = 8192,
    ) -> None:
        if mode not in self.SUPPORTED_MODES:
            raise ValueError(f"`mode` should be either of {self.SUPPORTED_MODES}, got {mode!r}.")
        self.mode, self.steps_per_trial, self.init_val, self.max_trials = mode, steps_per_trial, init_val, max_trials
        self.batch_arg_name, self.margin, self.max_val = batch_arg_name, margin, max_val
        self.optimal_batch_size: int | None = init_val

    def setup(self, trainer: Any, pl_module: Any, stage: str | None = None) -> None:
        if trainer.num_devices * trainer.num_nodes > 1:
            raise MisconfigurationException("The Batch size finder is not supported with distributed strategies.")

    def scale_batch_size(self, trainer: Any, pl_module: Any) -> None:
        """Run the search now (the loaders are built from the size found when the fit requests them)."""
        from flashtrain.core.tuner.tuning import Tuner

        self.optimal_batch_size = Tuner(trainer).run_batch_size_search(
            pl_module,
            datamodule=trainer.datamodule,
            mode=self.mode,
            steps_per_trial=self.steps_per_trial,
            init_val=self.init_val,
            max_trials=self.max_trials,
            batch_arg_name=self.batch_arg_name,
            margin=self.margin,
            max_val=self.max_val,
        )

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.scale_batch_size(trainer, pl_module)
