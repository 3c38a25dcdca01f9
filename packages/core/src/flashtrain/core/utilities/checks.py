"""Checking Trainer arguments up front, with errors that name what is allowed."""

from __future__ import annotations

import datetime
import re
from typing import Any

from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError
from flashtrain.core.utilities.rank_zero import rank_zero_info


def check_limit(name: str, value: int | float | None) -> int | float:
    """``limit_*_batches``: an int count (>= 0) or a float fraction in [0, 1]."""
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MisconfigurationTypeError(
            f"{name} must be an int (number of batches) or a float in [0.0, 1.0], got {value!r}."
        )
    if isinstance(value, float) and value > 1.0 and value.is_integer():
        return int(value)  # as Lightning: 10.0 means 10 batches
    if (isinstance(value, float) and not 0.0 <= value <= 1.0) or (isinstance(value, int) and value < 0):
        # Lightning's words first; then what each type means
        raise MisconfigurationException(
            f"You have passed invalid value {value} for {name}, it has to be in [0.0, 1.0] or an int: a float is "
            "a fraction of the batches, an int a number of batches (>= 0)."
        )
    return value


def announce_unit_limit(name: str, value: Any) -> None:
    """Lightning's notice for the two values whose type decides their meaning: ``1`` (one batch) and ``1.0``
    (all of them), so a user who meant the other one sees which was chosen."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and value == 1:
        what = {
            "limit_train_batches": "1 batch per epoch will be used.",
            "val_check_interval": ("validation will run after every batch."),
        }.get(name, "1 batch will be used.")
        rank_zero_info(f"`Trainer({name}=1)` was configured so {what}")
    elif isinstance(value, float) and value == 1.0:
        what = {
            "limit_train_batches": "100% of the batches per epoch will be used.",
            "val_check_interval": "validation will run at the end of the training epoch.",
        }.get(name, "100% of the batches will be used.")
        rank_zero_info(f"`Trainer({name}=1.0)` was configured so {what}.")


def check_positive_int(name: str, value: Any, allow_none: bool = False, minimum: int = 1) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MisconfigurationException(
            f"{name} must be an int >= {minimum}{' or None' if allow_none else ''}, got {value!r}."
        )
    return value


def parse_max_time(value: Any, name: str = "max_time") -> float | None:
    """A duration flag (``max_time``, a time-based ``val_check_interval``) as seconds: a timedelta, a dict of
    timedelta fields, or ``"DD:HH:MM:SS"``."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        try:
            return datetime.timedelta(**value).total_seconds()
        except TypeError as error:
            raise MisconfigurationException(
                f"{name} dict must hold timedelta fields (days, hours, minutes, seconds): {error}"
            ) from None
    if isinstance(value, str) and re.fullmatch(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}", value):
        days, hours, minutes, seconds = (int(part) for part in value.split(":"))
        return datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
    raise MisconfigurationException(
        f"{name} must be a string in the format DD:HH:MM:SS, a datetime.timedelta or a dict like {{'hours': 1}}, "
        f"got {value!r}."
    )


def check_choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise MisconfigurationException(
            f"{name}={value!r} is not supported. Allowed: {', '.join(repr(a) for a in allowed)}."
        )
    return value
