"""Exception classes with Lightning's names, so ``except MisconfigurationException`` in ported code works.

Each is also the built-in exception flashtrain raised for the same mistake before these existed
(``ValueError`` for a bad value, ``TypeError`` for a bad type), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class MisconfigurationException(ValueError):
    """A Trainer, Module or callback was configured in a way that cannot run (Lightning's name)."""


class MisconfigurationTypeError(MisconfigurationException, TypeError):
    """A misconfiguration where flashtrain raised ``TypeError``: an argument of the wrong type."""


class MisconfigurationRuntimeError(MisconfigurationException, RuntimeError):
    """A misconfiguration Lightning reports as ``RuntimeError`` (or flashtrain did): both ``except`` forms work."""


class PossibleUserWarning(UserWarning):
    """A warning about something that may be intended (Lightning's category): filter it to silence such notices."""


__all__ = [
    "MisconfigurationException",
    "MisconfigurationRuntimeError",
    "MisconfigurationTypeError",
    "PossibleUserWarning",
]
