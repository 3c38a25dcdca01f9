"""Hyper-parameter search with Optuna: ``tune_hyperparameters(build, n_trials=20)`` runs an Optuna study whose
trials each fit a fresh Trainer, and stops unpromising trials early with the study's pruner.

Optuna is imported on first use; install it with ``pip install 'flashtrain-core[optuna]'``. The search itself is
Optuna's (its study, samplers and pruners); what is written here is only the glue to our Trainer: optuna-integration's
``PyTorchLightningPruningCallback`` needs Lightning itself, so :class:`OptunaPruning` reports to the trial with
Optuna's own ``trial.report`` / ``trial.should_prune``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flashtrain.core.callbacks.base import Callback

if TYPE_CHECKING:
    import optuna

    from flashtrain.core.module import Module

_DIRECTIONS = {"min": "minimize", "max": "maximize"}


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("Hyper-parameter search needs optuna: pip install 'flashtrain-core[optuna]'.") from None
    return optuna


class OptunaPruning(Callback):
    """After every validation, report ``monitor`` to ``trial`` at the current epoch, and end the fit with
    ``optuna.TrialPruned`` when the study's pruner says the trial is not worth finishing.

    Args:
        trial: The Optuna trial this fit belongs to.
        monitor: The logged metric the study optimizes (e.g. ``"val_loss"``).
    """

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise ValueError(
                f"OptunaPruning(monitor={self.monitor!r}): {self.monitor!r} was not logged; logged metrics: "
                f"{sorted(trainer.callback_metrics)}. Log it with self.log({self.monitor!r}, ...) in "
                "validation_step, or monitor one of those."
            )
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise _import_optuna().TrialPruned(f"pruned at epoch {epoch} with {self.monitor}={float(value):.6g}")


def tune_hyperparameters(
    build: Callable[[optuna.Trial], tuple[Module, Any]],
    n_trials: int,
    monitor: str = "val_loss",
    mode: str = "min",
    trainer_kwargs: dict[str, Any] | None = None,
    study: optuna.Study | None = None,
    timeout: float | None = None,
) -> optuna.Study:
    """Search hyper-parameters with an Optuna study.

    Each trial calls ``build(trial)``, which samples its values with ``trial.suggest_*`` and returns
    ``(module, datamodule)``, fits them with a fresh ``Trainer(**trainer_kwargs)`` (its callbacks copied for each
    trial, plus :class:`OptunaPruning`), and scores the trial with ``monitor``'s value at the end of the fit.

    Args:
        build: ``trial -> (module, datamodule)``; the datamodule may be None when the module has its own
            ``*_dataloader`` methods.
        n_trials: Trials to run (added to those the study already has).
        monitor: Logged metric to optimize; also what the pruner sees after each validation.
        mode: ``"min"`` or ``"max"``.
        trainer_kwargs: Arguments of each trial's ``Trainer``.
        study: An Optuna study of your own (sampler, pruner, storage...); its direction must match ``mode``.
            Default: ``optuna.create_study`` with Optuna's defaults (TPE sampler, median pruner).
        timeout: Stop starting trials after this many seconds.

    Returns:
        The study: ``study.best_params``, ``study.best_value``, ``study.trials_dataframe()``.

    Raises:
        ValueError: a bad ``n_trials``, ``mode``, or a study whose direction is not ``mode``'s; ``monitor`` not logged.
    """
    optuna_lib = _import_optuna()
    from flashtrain.core.trainer.trainer import Trainer

    if mode not in _DIRECTIONS:
        raise ValueError(f"tune_hyperparameters mode must be one of {list(_DIRECTIONS)}, got {mode!r}.")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"tune_hyperparameters n_trials must be an int >= 1, got {n_trials!r}.")
    direction = _DIRECTIONS[mode]
    if study is None:
        study = optuna_lib.create_study(direction=direction)
    elif study.direction.name.lower() != direction:
        raise ValueError(
            f"tune_hyperparameters(mode={mode!r}) needs a study that will {direction} {monitor!r}, but the study "
            f"given was created with direction={study.direction.name.lower()!r}. Pass mode to match it, or "
            f"create the study with direction={direction!r}."
        )
    options = dict(trainer_kwargs or {})
    callbacks = list(options.pop("callbacks", None) or [])

    def objective(trial: optuna.Trial) -> float:
        module, datamodule = build(trial)
        trainer = Trainer(**options, callbacks=[*copy.deepcopy(callbacks), OptunaPruning(trial, monitor)])
        trainer.fit(module, datamodule=datamodule)
        value = trainer.callback_metrics.get(monitor)
        if value is None:
            raise ValueError(
                f"tune_hyperparameters(monitor={monitor!r}): {monitor!r} was not logged during the fit; logged "
                f"metrics: {sorted(trainer.callback_metrics)}."
            )
        return float(value)

    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    return study
