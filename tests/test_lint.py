"""ruff over the whole repository (settings in pyproject.toml), as ``nox -s lint`` runs it: lint rules and the
formatting, so that CI (which runs only pytest) keeps both clean. ruff takes well under a second here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ruff", reason="ruff is in requirements-dev.txt")

ROOT = Path(__file__).resolve().parents[1]


def run_ruff(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_is_clean():
    result = run_ruff("check", ".")
    assert result.returncode == 0, f"ruff check found problems (fix with `ruff check --fix`):\n{result.stdout}"


def test_ruff_format_leaves_every_file_as_it_is():
    result = run_ruff("format", "--check", ".")
    assert result.returncode == 0, f"files ruff would reformat (run `ruff format`):\n{result.stdout}"
