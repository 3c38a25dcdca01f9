"""Exception classes with Lightning's names, so ``except MisconfigurationException`` in ported code works.

Each is also the built-in exception flashtrain raised for the same mistake before these existed
(``ValueError`` for a bad value, ``TypeError`` for a bad type), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os
import warnings


class MisconfigurationException(ValueError):
    """A Trainer, Module or callback was configured in a way that cannot run (Lightning's name)."""


class MisconfigurationTypeError(MisconfigurationException, TypeError):
    """A misconfiguration where flashtrain raised ``TypeError``: an argument of the wrong type."""


class MisconfigurationRuntimeError(MisconfigurationException, RuntimeError):
    """A misconfiguration Lightning reports as ``RuntimeError`` (or flashtrain did): both ``except`` forms work."""


class PossibleUserWarning(UserWarning):
    """A warning about something that may be intended (Lightning's category): filter it to silence such notices."""


def disable_possible_user_warnings(module: str = "") -> None:
    """Silence every :class:`PossibleUserWarning` (from modules matching the ``module`` regex; all by default)."""
    warnings.filterwarnings("ignore", module=module, category=PossibleUserWarning)


def apply_warning_settings_from_environment() -> None:
    """``POSSIBLE_USER_WARNINGS=0`` (or ``off``) in the environment silences :class:`PossibleUserWarning` notices;
    read when ``flashtrain.core`` is imported (Lightning reads the same variable on import)."""
    if os.environ.get("POSSIBLE_USER_WARNINGS", "").lower() in ("0", "off"):
        disable_possible_user_warnings()


class SIGTERMException(SystemExit):
    """A fit stopped by SIGTERM (Lightning's name), after saving where it stopped: a ``SystemExit`` with the
    shell's status for the signal (143), so an uncaught one ends the process as the signal would have."""


class LightningDeprecationWarning(DeprecationWarning):
    """A feature Lightning deprecated and flashtrain follows it in (Lightning's category, so filters port)."""


__all__ = [
    "LightningDeprecationWarning",
    "MisconfigurationException",
    "MisconfigurationRuntimeError",
    "MisconfigurationTypeError",
    "PossibleUserWarning",
    "SIGTERMException",
    "apply_warning_settings_from_environment",
    "disable_possible_user_warnings",
]
