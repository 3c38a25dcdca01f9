"""Fixtures for running Lightning's test files on flashtrain (stands in for Lightning's conftest).

Also the harness's reporting plugin: every collected, excluded and finished test is appended, as one JSON
line, to the file named by ``LIGHTNING_COMPAT_LOG``, so a file killed at its time budget still reports the
tests it finished (the runner counts the rest as failed on the budget).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket

import pytest
import torch

_LOG = os.environ.get("LIGHTNING_COMPAT_LOG")


def _record(**fields: object) -> None:
    if _LOG:
        with open(_LOG, "a") as handle:
            handle.write(json.dumps(fields) + "\n")


def _test_id(nodeid: str) -> str:
    return nodeid.removeprefix("tests_pytorch/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from exclusions import exclusion_reason  # the harness folder is on sys.path (run_tests.py sets it)

    kept, dropped = [], []
    for item in items:
        reason = exclusion_reason(_test_id(item.nodeid), item)
        if reason:
            dropped.append(item)
            _record(test=_test_id(item.nodeid), status="excluded", message=reason)
        else:
            kept.append(item)
            _record(test=_test_id(item.nodeid), status="collected", message="")
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        text = str(report.longrepr)
        errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
        _record(test=_test_id(report.nodeid) + "::", status="collection-error", message=errors[-1] if errors else text)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    message = ""
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
    elif report.skipped:
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
    if hasattr(report, "wasxfail"):  # Lightning marks it expected to fail: failing as expected matches Lightning
        status = "passed" if report.skipped else "failed"
        message = "" if report.skipped else "xpassed (strict)"
    else:
        status = report.outcome
    if report.when == "call" or status != "passed":
        _record(test=_test_id(report.nodeid), status=status, message=message, when=report.when)


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


@pytest.fixture(autouse=True)
def reset_deterministic_algorithm():
    """Lightning's conftest resets this after each test (``deterministic=True`` sets it process-wide)."""
    yield
    torch.use_deterministic_algorithms(False)


@pytest.fixture
def caplog(caplog):
    """Records reach caplog even from loggers that do not propagate (as Lightning's conftest arranges)."""
    root = logging.getLogger()
    propagate = root.propagate
    root.propagate = True
    yield caplog
    root.propagate = propagate


@pytest.fixture
def single_process_pg():
    """A one-process gloo process group for the duration of the test."""
    environ = dict(os.environ)
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    os.environ.update(MASTER_ADDR="localhost", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1")
    torch.distributed.init_process_group("gloo")
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture
def tmpdir_server(tmp_path):
    """An HTTP server on localhost serving ``tmp_path`` (Lightning's fixture, for checkpoints loaded from a URL)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("localhost", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address
        server.shutdown()


def _lightning_hardware_mock(*args: object, **kwargs: object) -> None:
    """Lightning's conftest helpers that fake CUDA/MPS/TPU through its private modules; tests calling them are
    excluded (exclusions.HARDWARE_MOCK_FUNCTIONS), so these only have to import."""
    raise NotImplementedError("mocks accelerator availability through Lightning's private modules")


mock_cuda_count = mock_mps_count = mock_xla_available = mock_tpu_available = _lightning_hardware_mock
