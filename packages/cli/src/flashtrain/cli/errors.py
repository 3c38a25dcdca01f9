"""The one place that turns an exception into what the user sees.

Mistakes (flags, files, data, the machine: a full disk, a folder that is a file) are one line on stderr and exit
status 2. Anything else is a bug: one line saying so, exit status 1. ``FLASHTRAIN_DEBUG=1`` shows the traceback of
either. Messages from the Python layers name Python arguments (``skip_bad_files=True``); here they are put in the
words of the command line (``--skip-bad-files``).
"""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import re
import sys

from flashtrain.cli.options import UserError

# ImportError: an optional extra that is not installed (the message says what to pip install).
# FloatingPointError: a loss that became NaN/inf (the message says to lower the learning rate).
MISTAKES = (UserError, ValueError, TypeError, FileNotFoundError, RuntimeError, ImportError, FloatingPointError)
# Python argument names whose flag has another name.
FLAG_NAMES = {"target_fields": "target_field"}
_ASSIGNMENT = re.compile(r"\b([a-z][a-z0-9_]*)=(True|False|'[^']*'|\"[^\"]*\"|[^\s,;)]+)")


def unknown_name(flag: str, value: str, allowed: list[str], listing: str | None = None) -> UserError:
    """The error for a name that is not in a registry: the value, the nearest valid names, and either all of them
    (a short list) or ``listing``, the command that lists them (a long one)."""
    lowered = {name.lower(): name for name in allowed}
    close = [lowered[name] for name in difflib.get_close_matches(value.lower(), list(lowered), n=4, cutoff=0.5)]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    rest = f"list them with {listing}" if listing else f"allowed: {', '.join(allowed)}"
    return UserError(f"{flag} {value!r} is not known; {hint}{rest}")


def debug_enabled() -> bool:
    """``FLASHTRAIN_DEBUG`` set to anything but empty, 0, false, no or off."""
    return os.environ.get("FLASHTRAIN_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def report(error: BaseException, parser: argparse.ArgumentParser | None = None) -> int:
    """Print ``error`` as one line on stderr and return the exit status (re-raise it when debugging)."""
    if isinstance(error, BrokenPipeError):
        # `flash-train predict ... | head`: the reader has what it wanted. Quiet, like other command-line tools;
        # stdout is pointed at /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer cut off this way
    if debug_enabled():
        raise error
    message = describe(error)
    if message is None:
        first = _first_line(error)
        print(
            f"flash-train: internal error: {type(error).__name__}: {first} (a bug, not your input: rerun with "
            "FLASHTRAIN_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1
    print(f"flash-train: error: {in_flag_words(message, parser)}", file=sys.stderr)
    return 2


def describe(error: BaseException) -> str | None:
    """The one-line message for a user's mistake, or None if ``error`` is not one."""
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError) and error.errno is not None:
        return _os_error(error)
    if isinstance(error, (*MISTAKES, OSError)):
        return _first_line(error)
    return None


def _os_error(error: OSError) -> str:
    name = error.filename or ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        if not (error.strerror and "MiB free in" in error.strerror):  # not yet said by flashtrain's write helper
            from flashtrain.core.utilities.disk import no_space_error  # here: it imports torch, rarely needed

            error = no_space_error(name)
        return f"{error.strerror} (--output-dir)"
    if isinstance(error, PermissionError):
        return f"permission denied: {name}. Choose a folder you can write to (--output-dir) or fix its permissions."
    if isinstance(error, NotADirectoryError):
        return f"{name}: part of this path is a file, not a folder. Choose another path."
    if isinstance(error, IsADirectoryError):
        return f"{name} is a folder; a file name was expected here."
    if isinstance(error, FileExistsError):
        return f"{name} already exists and is in the way. Choose another path."
    return f"{error.strerror or _first_line(error)}{': ' + str(name) if name else ''}"


def in_flag_words(message: str, parser: argparse.ArgumentParser | None) -> str:
    """``skip_bad_files=True`` -> ``--skip-bad-files``, ``accelerator='cpu'`` -> ``--accelerator cpu``, for the
    Python arguments that are flags of this command; other text is left as it is."""
    if parser is None:
        return message
    actions = {action.dest: action for action in parser._actions if action.option_strings}

    def replace(match: re.Match) -> str:
        name, value = FLAG_NAMES.get(match.group(1), match.group(1)), match.group(2)
        action = actions.get(name)
        if action is None:
            return match.group(0)
        flag = action.option_strings[0]
        if isinstance(action, (argparse._StoreTrueAction, argparse.BooleanOptionalAction)):
            if value == "True":
                return flag
            if value == "False" and isinstance(action, argparse.BooleanOptionalAction):
                return "--no-" + flag[2:]
            return match.group(0)
        if value[:1] in "'\"":
            value = value[1:-1]
        else:
            trailing = len(value) - len(value.rstrip("."))
            value, rest = value[: len(value) - trailing], value[len(value) - trailing :]
            return f"{flag} {value}{rest}"
        return f"{flag} {value}"

    return _ASSIGNMENT.sub(replace, message)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
