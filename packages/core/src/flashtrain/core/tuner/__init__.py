"""Tuning before training: ``Tuner(trainer).lr_find(model, ...)`` and ``Tuner(trainer).scale_batch_size(model, ...)``.

Names and semantics follow Lightning 2.x's ``lightning.pytorch.tuner.Tuner``. Hyper-parameter search:
``tune_hyperparameters(build, n_trials)`` on an Optuna study, with :class:`OptunaPruning` (needs optuna).
The names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.tuner.hpo import OptunaPruning, tune_hyperparameters
    from flashtrain.core.tuner.lr_finder import LRFinder
    from flashtrain.core.tuner.tuning import Tuner

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LRFinder": "flashtrain.core.tuner.lr_finder:LRFinder",
        "OptunaPruning": "flashtrain.core.tuner.hpo:OptunaPruning",
        "Tuner": "flashtrain.core.tuner.tuning:Tuner",
        "tune_hyperparameters": "flashtrain.core.tuner.hpo:tune_hyperparameters",
    },
)

__all__ = ["LRFinder", "OptunaPruning", "Tuner", "tune_hyperparameters"]
