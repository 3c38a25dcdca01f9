"""Metrics in a CSV file, one row per step, for quick looks with pandas or a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from flashtrain.core.loggers.base import VersionedFolderLogger, to_float, write_hparams_yaml
from flashtrain.core.utilities import disk, fs


class ExperimentWriter:
    """The files of one CSV experiment: rows of metrics buffered in memory until :meth:`save`, plus ``hparams.yaml``.

    ``CSVLogger.experiment`` (as Lightning's): ``log_metrics`` buffers a row in :attr:`metrics`, ``save`` writes the
    buffered rows to :attr:`metrics_file_path` (appending; a new column rewrites the file with the wider header) and
    empties :attr:`metrics`. An existing ``metrics.csv`` in ``log_dir`` is appended to, so a resumed run continues its
    old file (Lightning deletes it; see docs/lightning-differences.md).
    """

    NAME_METRICS_FILE = "metrics.csv"
    NAME_HPARAMS_FILE = "hparams.yaml"

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.metrics_file_path = fs.join(log_dir, self.NAME_METRICS_FILE)
        self.metrics: list[dict[str, Any]] = []
        self.metrics_keys: list[str] = []
        self.hparams: dict[str, Any] = {}
        self._rows_logged = 0

    def log_metrics(self, metrics_dict: dict[str, Any], step: int | None = None) -> None:
        """Buffer one row; ``step`` defaults to the number of rows logged before it."""
        if step is None:
            step = self._rows_logged
        self._rows_logged += 1
        self.metrics.append({"step": step, **{key: to_float(value) for key, value in metrics_dict.items()}})

    def log_hparams(self, params: dict[str, Any]) -> None:
        """Merge ``params`` into :attr:`hparams` and rewrite ``hparams.yaml`` with all of them."""
        self.hparams.update(params)
        write_hparams_yaml(self.log_dir, self.hparams)

    def save(self) -> None:
        """Write the buffered rows to ``metrics.csv`` and empty the buffer."""
        if not self.metrics:
            return
        fs.makedirs(self.log_dir)
        path = self.metrics_file_path
        on_disk = fs.exists(path)
        if not self.metrics_keys and on_disk:  # a resumed run appends to its old file
            with fs.open_file(path, "r", newline="") as handle:
                self.metrics_keys = next(csv.reader(handle), [])
        new_keys = [key for row in self.metrics for key in row if key not in self.metrics_keys]
        self.metrics_keys.extend(dict.fromkeys(new_keys))
        rewrite = bool(new_keys) or not on_disk or fs.is_remote(path)
        existing: list[dict[str, Any]] = []
        if rewrite and on_disk:
            # A new column means a new header (and URLs cannot be appended to): rewrite the rows already there.
            with fs.open_file(path, "r", newline="") as handle:
                existing = list(csv.DictReader(handle))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.metrics_keys)
        if rewrite:
            writer.writeheader()
            writer.writerows(existing)
        writer.writerows(self.metrics)
        with disk.writing(path), fs.open_file(path, "w" if rewrite else "a", newline="") as handle:
            handle.write(buffer.getvalue())
        self.metrics = []


class CSVLogger(VersionedFolderLogger):
    """Writes ``<save_dir>/<name>/version_<N>/metrics.csv`` (columns: step, then every metric seen).

    ``save_dir`` may be an fsspec URL; there the file is rewritten whole at each save (object stores cannot append).
    The files are written by :attr:`experiment`, an :class:`ExperimentWriter` made on first use.
    """

    def __init__(
        self,
        save_dir: str = ".",
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(save_dir, name, version)
        self._experiment: ExperimentWriter | None = None
        self.flush_logs_every_n_steps = flush_logs_every_n_steps

    @property
    def experiment(self) -> ExperimentWriter:
        """The writer of this version's files (made on first use, so the version folder is fixed only then)."""
        if self._experiment is None:
            self._experiment = ExperimentWriter(self.log_dir)
        return self._experiment

    @property
    def metrics_file(self) -> str:
        return fs.join(self.log_dir, ExperimentWriter.NAME_METRICS_FILE)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self.experiment.log_metrics(metrics, step)
        if len(self.experiment.metrics) >= self.flush_logs_every_n_steps:
            self.save()

    def log_hyperparams(self, params: dict[str, Any] | None = None) -> None:
        self.experiment.log_hparams(params or {})

    def save(self) -> None:
        if self._experiment is not None:
            self._experiment.save()
