"""SIGTERM / SIGINT during ``fit``: remember the signal, let the loop finish the optimizer step, save, and exit."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn


class SignalHandler:
    """Owns the signal handlers of a fit and the signal received, if any (``received``)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.saving = False  # while the interrupt checkpoint is written, further signals wait for it
        self._previous_sigterm: Callable[[int, Any], Any] | None = None  # the process's own handler, still called

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGTERM and SIGINT inside the block (main thread only), then put the previous handlers back."""
        self.received = None
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._on_signal)
        # As Lightning, a SIGTERM handler the program installed itself still runs (its clean-up, say); the
        # default action (end the process) and SIGINT's KeyboardInterrupt are replaced by the graceful stop.
        sigterm_handler = previous.get(signal.SIGTERM)
        self._previous_sigterm = sigterm_handler if callable(sigterm_handler) else None
        try:
            yield
        finally:
            self._previous_sigterm = None
            for previous_signum, handler in previous.items():
                signal.signal(previous_signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.saving:  # a second Ctrl-C here would leave the checkpoint behind the run it says it continues
            print(
                f"{signal.Signals(signum).name} received while saving the interrupt checkpoint: stopping as soon as "
                "it is written.",
                file=sys.stderr,
            )
            return
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.received = signum
        if signum == signal.SIGTERM and self._previous_sigterm is not None:
            self._previous_sigterm(signum, frame)

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Stop as if ``signum`` had arrived here (another rank received it)."""
        if self.received is None:
            self.received = signum

    @staticmethod
    def exit_for(error: BaseException) -> BaseException:
        """What a Trainer call raises for ``error``: Ctrl-C (``KeyboardInterrupt``) ends it as Lightning 2 does, with
        a graceful shutdown (teardown, loggers finalized) and then ``SystemExit`` (status 130, the shell's Ctrl-C
        status, where Lightning exits with 1)."""
        if isinstance(error, KeyboardInterrupt):
            print("\nDetected KeyboardInterrupt, attempting graceful shutdown ...", file=sys.stderr)
            return SystemExit(128 + signal.SIGINT)
        return error

    def stop(self, save: Callable[[], str], step: int) -> NoReturn:
        """Save through ``save`` (which returns the path written), say where, and end the process's run."""
        signum = self.received
        assert signum is not None
        self.saving = True
        try:
            path = save()
        finally:
            self.saving = False
        name = signal.Signals(signum).name
        print(f"{name} received: saved {path} at step {step}; resume with ckpt_path='last'.", file=sys.stderr)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        if signum == signal.SIGTERM:
            from flashtrain.core.exceptions import SIGTERMException

            raise SIGTERMException(128 + signum)
        raise SystemExit(128 + signum)
