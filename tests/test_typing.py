"""mypy over the three packages, with the settings of pyproject.toml [tool.mypy] (as ``nox -s lint`` runs it), so
that CI (which runs only pytest) keeps them type-clean.

The cache lives in the repository's ``.mypy_cache`` (git-ignored): a developer's rerun takes seconds, a fresh clone
(CI) reads the libraries' types once, which takes minutes on two cores (mostly torch), hence ``slow``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is in requirements-dev.txt")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_SOURCES = ["packages/core/src", "packages/tasks/src", "packages/cli/src"]


def run_mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache"), *targets]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_the_three_packages_are_type_clean():
    result = run_mypy(*PACKAGE_SOURCES)
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout


def test_the_mypy_settings_report_a_wrong_type_and_a_stale_ignore(tmp_path):
    # The check above only means something if the settings it reads make mypy report errors at all.
    snippet = tmp_path / "wrong.py"
    snippet.write_text('count: int = "three"\nother: int = 3  # type: ignore[assignment]\n')
    result = run_mypy(str(snippet))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Incompatible types in assignment (expression has type "str", variable has type "int")' in result.stdout
    assert 'Unused "type: ignore" comment' in result.stdout  # warn_unused_ignores
