"""``LoopLimits``: the Trainer's loop flags, checked once when the Trainer is built (errors name what is allowed)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError, PossibleUserWarning
from flashtrain.core.utilities import checks
from flashtrain.core.utilities.rank_zero import rank_zero_info, rank_zero_warn

ON_NAN = ("raise", "skip_step", None)


@dataclass
class LoopLimits:
    """How long and how far each loop runs, and the per-step options; the Trainer's flags of the same names."""

    max_epochs: int | None  # None until a fit resolves it (resolve_max_epochs)
    min_epochs: int | None
    max_steps: int
    min_steps: int | None
    max_time: float | None
    limit_train_batches: int | float
    limit_val_batches: int | float
    limit_test_batches: int | float
    limit_predict_batches: int | float
    overfit_batches: int | float
    val_check_interval: int | float | str | dict | datetime.timedelta
    check_val_every_n_epoch: int | None
    num_sanity_val_steps: int
    log_every_n_steps: int
    accumulate_grad_batches: int
    gradient_clip_val: float | None
    gradient_clip_algorithm: str | None
    fast_dev_run: int  # True when 1 (Lightning's reading); the limits above hold the int
    on_nan: str | None
    inference_mode: bool
    use_distributed_sampler: bool
    detect_anomaly: bool
    default_root_dir: str
    reload_dataloaders_every_n_epochs: int = 0
    val_check_time: float | None = None  # val_check_interval given as a duration: validate every this many seconds

    def resolve_max_epochs(self, callbacks: list[Any]) -> None:
        """Lightning's rule, applied when a fit starts: ``max_epochs`` not given (None) is 1000, with a notice, when
        neither ``max_steps`` nor a time limit (``max_time``, a ``Timer``) ends the run, else no epoch limit (-1)."""
        if self.max_epochs is not None:
            return
        from flashtrain.core.callbacks.timer import Timer

        timed = self.max_time is not None or any(isinstance(callback, Timer) for callback in callbacks)
        if self.max_steps == -1 and not timed:
            rank_zero_warn(
                "`max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch limit, set "
                "`max_epochs=-1`.",
                category=PossibleUserWarning,
            )
            self.max_epochs = 1000
        else:
            self.max_epochs = -1


def check_loop_flags(
    *,
    fast_dev_run: int | bool,
    max_epochs: int | None,
    min_epochs: int | None,
    max_steps: int,
    min_steps: int | None,
    max_time: Any,
    limit_train_batches: int | float | None,
    limit_val_batches: int | float | None,
    limit_test_batches: int | float | None,
    limit_predict_batches: int | float | None,
    overfit_batches: int | float,
    val_check_interval: int | float | str | dict | datetime.timedelta | None,
    check_val_every_n_epoch: int | None,
    num_sanity_val_steps: int | None,
    log_every_n_steps: int | None,
    accumulate_grad_batches: int,
    gradient_clip_val: float | None,
    gradient_clip_algorithm: str | None,
    on_nan: str | None,
    inference_mode: bool,
    use_distributed_sampler: bool,
    detect_anomaly: bool,
    default_root_dir: str | os.PathLike | None,
    reload_dataloaders_every_n_epochs: int = 0,
) -> LoopLimits:
    """Validate the loop flags and apply what fast_dev_run and overfit_batches imply."""
    fast_dev_run = _check_fast_dev_run(
        fast_dev_run, max_epochs, max_steps, max_time, limit_train_batches, limit_val_batches
    )
    if max_epochs is not None and (isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < -1):
        raise MisconfigurationException(
            f"`max_epochs` must be a non-negative integer or -1. You passed in {max_epochs!r} (-1: no epoch limit; "
            "None: 1000 unless max_steps or max_time is set)."
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < -1:
        raise MisconfigurationException(
            f"`max_steps` must be a non-negative integer or -1 (infinite steps). You passed in {max_steps!r}."
        )
    limits = {
        "train": checks.check_limit("limit_train_batches", limit_train_batches),
        "val": checks.check_limit("limit_val_batches", limit_val_batches),
        "test": checks.check_limit("limit_test_batches", limit_test_batches),
        "predict": checks.check_limit("limit_predict_batches", limit_predict_batches),
    }
    overfit_batches = checks.check_limit("overfit_batches", overfit_batches)
    if not fast_dev_run:
        given = {
            "limit_train_batches": limit_train_batches,
            "limit_val_batches": limit_val_batches,
            "limit_test_batches": limit_test_batches,
            "limit_predict_batches": limit_predict_batches,
            "overfit_batches": overfit_batches,
            "val_check_interval": val_check_interval,
        }
        for name, value in given.items():
            checks.announce_unit_limit(name, value)
    if fast_dev_run:  # as Lightning: one epoch of N batches per stage, validated once at its end
        max_epochs, max_steps = 1, fast_dev_run
        limits = dict.fromkeys(limits, fast_dev_run)
        val_check_interval, check_val_every_n_epoch = 1.0, 1
    if overfit_batches:
        limits["train"] = limits["val"] = overfit_batches
    if val_check_interval is None:
        val_check_interval = 1.0
    val_check_time = None
    if isinstance(val_check_interval, (str, dict, datetime.timedelta)):  # validate by the clock (Lightning 2.6)
        val_check_time = checks.parse_max_time(val_check_interval, "val_check_interval")
    elif isinstance(val_check_interval, bool) or not isinstance(val_check_interval, (int, float)):
        raise MisconfigurationTypeError(
            "val_check_interval must be a float in (0.0, 1.0] (fraction of an epoch), an int >= 1 "
            "(every N training batches) or a duration ('DD:HH:MM:SS', a datetime.timedelta or a dict of its "
            f"fields), got {val_check_interval!r}."
        )
    elif (isinstance(val_check_interval, float) and not 0.0 < val_check_interval <= 1.0) or (
        isinstance(val_check_interval, int) and val_check_interval < 1
    ):
        if isinstance(val_check_interval, float) and val_check_interval > 1.0 and val_check_interval.is_integer():
            val_check_interval = int(val_check_interval)  # as Lightning: 10.0 means every 10 batches
        else:
            raise MisconfigurationException(
                f"You have passed invalid value {val_check_interval} for val_check_interval, it has to be in "
                "(0.0, 1.0] (a fraction of an epoch), an int >= 1 (every N training batches) or a duration "
                "('DD:HH:MM:SS', a datetime.timedelta or a dict of its fields)."
            )
    if check_val_every_n_epoch is not None and (
        isinstance(check_val_every_n_epoch, bool) or not isinstance(check_val_every_n_epoch, int)
    ):
        raise MisconfigurationException(
            f"`check_val_every_n_epoch` should be an integer, found {check_val_every_n_epoch!r}. Pass an int >= 1 "
            "(validate every N epochs) or None (count val_check_interval batches across epochs)."
        )
    checks.check_positive_int("check_val_every_n_epoch", check_val_every_n_epoch, allow_none=True)
    if check_val_every_n_epoch is None and isinstance(val_check_interval, float):
        raise MisconfigurationException(
            "`val_check_interval` should be an integer or a time-based duration (str 'DD:HH:MM:SS', "
            "datetime.timedelta, or dict kwargs for timedelta) when `check_val_every_n_epoch=None`."
        )
    sanity = (0 if fast_dev_run else 2) if num_sanity_val_steps is None else num_sanity_val_steps
    if not isinstance(sanity, int) or sanity < -1:
        raise MisconfigurationException(
            f"num_sanity_val_steps must be an int >= -1 (-1: all batches), got {num_sanity_val_steps!r}."
        )
    if gradient_clip_val is not None and (
        isinstance(gradient_clip_val, bool) or not isinstance(gradient_clip_val, (int, float))
    ):
        raise MisconfigurationTypeError(
            f"`gradient_clip_val` should be an int or a float. Got {gradient_clip_val!r}; pass a number >= 0 or None."
        )
    if gradient_clip_val is not None and gradient_clip_val < 0:
        raise MisconfigurationException(f"gradient_clip_val must be a number >= 0 or None, got {gradient_clip_val!r}.")
    if gradient_clip_algorithm not in (None, "norm", "value"):
        raise MisconfigurationException(
            f"`gradient_clip_algorithm` {gradient_clip_algorithm} is invalid. Allowed algorithms: ['value', 'norm']"
            " (or None for 'norm')."
        )
    checked = LoopLimits(
        max_epochs=max_epochs,
        min_epochs=checks.check_positive_int("min_epochs", min_epochs, allow_none=True, minimum=0),
        max_steps=max_steps,
        min_steps=checks.check_positive_int("min_steps", min_steps, allow_none=True, minimum=0),
        max_time=checks.parse_max_time(max_time),
        limit_train_batches=limits["train"],
        limit_val_batches=limits["val"],
        limit_test_batches=limits["test"],
        limit_predict_batches=limits["predict"],
        overfit_batches=overfit_batches,
        val_check_interval=val_check_interval,
        check_val_every_n_epoch=check_val_every_n_epoch,
        num_sanity_val_steps=sanity,
        log_every_n_steps=checks.check_positive_int(
            "log_every_n_steps", 50 if log_every_n_steps is None else log_every_n_steps, minimum=0
        ),  # 0: training steps are never logged (Lightning; barebones mode)
        accumulate_grad_batches=checks.check_positive_int("accumulate_grad_batches", accumulate_grad_batches),
        gradient_clip_val=gradient_clip_val,
        gradient_clip_algorithm=gradient_clip_algorithm,
        fast_dev_run=True if fast_dev_run == 1 else fast_dev_run,  # as Lightning: 1 reads back as True
        on_nan=checks.check_choice("on_nan", on_nan, ON_NAN),
        inference_mode=inference_mode,
        use_distributed_sampler=use_distributed_sampler,
        detect_anomaly=detect_anomaly,
        # "~/runs" is the user's home folder, as in every path flashtrain writes to (a remote URL is left as is)
        default_root_dir=os.path.expanduser(os.fspath(default_root_dir))
        if default_root_dir is not None
        else os.getcwd(),
        reload_dataloaders_every_n_epochs=_check_reload_every(reload_dataloaders_every_n_epochs),
        val_check_time=val_check_time,
    )
    return checked


def _check_reload_every(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MisconfigurationException(
            f"`reload_dataloaders_every_n_epochs` should be an int >= 0, got {value!r} (0: request the loaders "
            "once per fit; N: again every N epochs)."
        )
    return value


def _check_fast_dev_run(
    value: Any, max_epochs: Any, max_steps: Any, max_time: Any, limit_train: Any, limit_val: Any
) -> int:
    if isinstance(value, bool):
        value = 1 if value else 0
    if not isinstance(value, int) or value < 0:
        raise MisconfigurationException(
            f"fast_dev_run={value!r} is not a valid configuration. It should be >= 0 (a bool, or the number of "
            "batches to run)."
        )
    if value:
        overridden = {
            "max_epochs": max_epochs,
            "max_time": max_time,
            "limit_train_batches": limit_train,
            "limit_val_batches": limit_val,
        }
        set_flags = [name for name, v in overridden.items() if v is not None]
        if max_steps != -1:
            set_flags.insert(0, "max_steps")
        # As Lightning: fast_dev_run wins over the flags it sets (a debug run of N batches), and says so.
        rank_zero_info(
            "Running in `fast_dev_run` mode: one epoch of %d batch(es) per stage%s.",
            value,
            f"; ignoring {', '.join(set_flags)}" if set_flags else "",
        )
    return value
