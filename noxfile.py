"""Developer sessions: ``nox -s tests``, ``lint``, ``demo``, ``bench``, ``xla``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["-e", "packages/core", "-e", "packages/tasks", "-e", "packages/cli"]
MYPY_PATHS = ["packages/core/src", "packages/tasks/src", "packages/cli/src"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (GPU and XLA tests skip themselves where the hardware or torch_xla is absent)."""
    session.install(*PACKAGES, "-r", "requirements-dev.txt")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything; mypy over the three packages (settings in pyproject.toml)."""
    session.install(*PACKAGES, "-r", "requirements-dev.txt")  # mypy reads the libraries' own types
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", *MYPY_PATHS)


@nox.session
def demo(session: nox.Session) -> None:
    """The Quickstart's training job: image classification on the bundled sample data."""
    session.install(*PACKAGES, "-r", "requirements-dev.txt")
    session.run("flash-train", "image_classification", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed benchmarks (print ratios; not part of the tests)."""
    session.install(*PACKAGES, "-r", "requirements-dev.txt")
    session.run("python", "benchmarks/overhead.py", *session.posargs)
    session.run("python", "benchmarks/import_time.py")
    session.run("python", "benchmarks/image_data.py")


XLA_PAIR = ("torch==2.9.0", "torch_xla==2.9.0")  # torch_xla only works with the torch release it was built for


@nox.session
def xla(session: nox.Session) -> None:
    """The TPU path for real on the CPU (PJRT_DEVICE=CPU): its own venv with a matching torch + torch_xla."""
    session.install(*XLA_PAIR)
    session.install("-e", "packages/core", "torchmetrics", "scikit-learn", "pytest", *XLA_PAIR)
    session.run(
        "python", "-m", "pytest", "tests/core/strategies/test_xla.py", *session.posargs, env={"PJRT_DEVICE": "CPU"}
    )
