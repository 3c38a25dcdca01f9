"""The legacy ``meta_tags.csv`` hyper-parameter files (Lightning < 0.8 wrote them; Lightning 2 still reads and
writes them with ``save_hparams_to_tags_csv`` / ``load_hparams_from_tags_csv``): one ``key,value`` row each, under a
``key,value`` header. Values come back as Python literals where they parse as one (``1``, ``2.0``, ``True``,
``[1, 2]``), else as the text written. New code should use ``hparams.yaml`` (:mod:`flashtrain.core.hparams`)."""

from __future__ import annotations

import ast
import csv
import os
import warnings
from collections.abc import Mapping
from typing import Any


def save_hparams_to_tags_csv(tags_csv: str | os.PathLike, hparams: Mapping[str, Any] | Any) -> None:
    """Write ``hparams`` (a mapping or an argparse ``Namespace``) as ``key,value`` rows."""
    from flashtrain.core.utilities import fs

    folder = os.path.dirname(os.fspath(tags_csv))
    if folder and not fs.exists(folder):
        raise RuntimeError(f"Missing folder: {folder}.")
    values = hparams if isinstance(hparams, Mapping) else vars(hparams)
    with fs.open_file(os.fspath(tags_csv), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "value"])
        for key, value in values.items():
            writer.writerow([key, value])


def load_hparams_from_tags_csv(tags_csv: str | os.PathLike) -> dict[str, Any]:
    """The hyper-parameters of a ``meta_tags.csv`` (``{}`` with a warning when the file does not exist)."""
    from flashtrain.core.utilities import fs

    if not fs.exists(os.fspath(tags_csv)):
        warnings.warn(f"Missing Tags: {tags_csv}.", RuntimeWarning, stacklevel=2)
        return {}
    with fs.open_file(os.fspath(tags_csv), "r", newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: _literal(row[1]) for row in rows[1:]}


def _literal(text: str) -> Any:
    """A number, bool, None or container written as text comes back as that value; anything else stays text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
