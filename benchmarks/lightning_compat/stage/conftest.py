"""Fixtures for running Lightning's test files on flashtrain (stands in for Lightning's conftest)."""

from __future__ import annotations

import os
import signal

import pytest


@pytest.fixture(autouse=True)
def restore_env_and_signals():
    """Each test starts with the environment and signal handlers it found (as Lightning's conftest does)."""
    environ = dict(os.environ)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    os.environ.clear()
    os.environ.update(environ)
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@pytest.fixture(autouse=True)
def run_in_tmp_path(tmp_path, monkeypatch):
    """Lightning's tests assume artifacts never land in the source tree; keep the default root out of it."""
    monkeypatch.chdir(tmp_path)
    yield
