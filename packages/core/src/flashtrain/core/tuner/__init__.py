"""Tuning before training: ``Tuner(trainer).lr_find(model, ...)`` and ``Tuner(trainer).scale_batch_size(model, ...)``.

Names and semantics follow Lightning 2.x's ``lightning.pytorch.tuner.Tuner``. Hyper-parameter search:
``tune_hyperparameters(build, n_trials)`` on an Optuna study, with :class:`OptunaPruning` (needs optuna).
"""

from flashtrain.core.tuner.hpo import OptunaPruning, tune_hyperparameters
from flashtrain.core.tuner.lr_finder import LRFinder
from flashtrain.core.tuner.tuning import Tuner

__all__ = ["LRFinder", "OptunaPruning", "Tuner", "tune_hyperparameters"]
