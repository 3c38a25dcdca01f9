"""Checks a module against the entry point it is run with, before any hook runs (Lightning's configuration
validator): the steps each stage needs, manual optimization and the Trainer flags it cannot honour, and a
validation half-configured (a step without data, or data without a step).

The messages start with Lightning's words, which ported code and its tests match, and add how to fix it.
"""

from __future__ import annotations

from typing import Any

from flashtrain.core.exceptions import MisconfigurationException, PossibleUserWarning
from flashtrain.core.module import Module
from flashtrain.core.utilities.model_helpers import is_overridden
from flashtrain.core.utilities.rank_zero import rank_zero_warn


def verify_loop_configuration(fn: str, module: Any, *, limits: Any, has_val_data: bool) -> None:
    """Refuse a module that cannot run ``fn`` ("fit", "validate", "test", "predict"); warn about a half-set-up
    validation in fit. ``has_val_data``: fit was given validation loaders or something defines ``val_dataloader``."""
    name = type(module).__name__
    if fn == "fit":
        _verify_fit(module, name, limits, has_val_data)
    elif fn in ("validate", "test"):
        step = "validation_step" if fn == "validate" else "test_step"
        if not is_overridden(step, module, Module):
            raise MisconfigurationException(
                f"No `{step}()` method defined to run `Trainer.{fn}`. Define `{step}(self, batch, batch_idx)` in "
                f"{name}."
            )
    elif fn == "predict":
        if getattr(module, "predict_step", None) is None:
            raise MisconfigurationException(
                "`predict_step` cannot be None to run `Trainer.predict`: remove the assignment or define "
                f"`predict_step(self, batch, batch_idx)` in {name}."
            )
        if not is_overridden("predict_step", module, Module) and not is_overridden("forward", module, Module):
            raise MisconfigurationException(
                f"`Trainer.predict` requires `forward` method to run: {name} defines neither forward nor "
                "predict_step (the default predict_step returns self(batch))."
            )


def _verify_fit(module: Any, name: str, limits: Any, has_val_data: bool) -> None:
    for hook, example in (
        ("training_step", "training_step(self, batch, batch_idx)"),
        ("configure_optimizers", "configure_optimizers(self), e.g. `return torch.optim.Adam(self.parameters())`"),
    ):
        if not is_overridden(hook, module, Module):
            raise MisconfigurationException(
                f"No `{hook}()` method defined. The Trainer expects as minimum a `training_step()`, "
                f"`train_dataloader()` and `configure_optimizers()` to be defined: add {example} to {name}."
            )
    has_val_step = is_overridden("validation_step", module, Module)
    if has_val_data and not has_val_step:
        rank_zero_warn("You passed in a `val_dataloader` but have no `validation_step`. Skipping val loop.")
    if has_val_step and not has_val_data:
        rank_zero_warn(
            "You defined a `validation_step` but have no `val_dataloader`. Skipping val loop.",
            category=PossibleUserWarning,
        )
    if module.automatic_optimization:
        return
    if limits.gradient_clip_val:
        raise MisconfigurationException(
            "Automatic gradient clipping is not supported for manual optimization. Remove "
            f"`Trainer(gradient_clip_val={limits.gradient_clip_val})` or switch to automatic optimization "
            "(in training_step, clip with self.clip_gradients(optimizer, gradient_clip_val=...))."
        )
    if limits.accumulate_grad_batches != 1:
        raise MisconfigurationException(
            "Automatic gradient accumulation is not supported for manual optimization. Remove "
            f"`Trainer(accumulate_grad_batches={limits.accumulate_grad_batches})` or switch to automatic "
            "optimization (in training_step, step the optimizer every N batches yourself)."
        )


def check_logging_interval(num_training_batches: int | float, limits: Any, has_loggers: bool) -> None:
    """Warn when an epoch is shorter than ``log_every_n_steps``: its training metrics would never be logged."""
    if has_loggers and not limits.fast_dev_run and num_training_batches < limits.log_every_n_steps:
        rank_zero_warn(
            f"The number of training batches ({num_training_batches}) is smaller than the logging interval "
            f"Trainer(log_every_n_steps={limits.log_every_n_steps}). Set a lower value for log_every_n_steps if you "
            "want to see logs for the training epoch.",
            category=PossibleUserWarning,
        )
