"""Metrics in a CSV file, one row per step, for quick looks with pandas or a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from flashtrain.core.loggers.base import VersionedFolderLogger, to_float
from flashtrain.core.utilities import disk, fs


class CSVLogger(VersionedFolderLogger):
    """Writes ``<save_dir>/<name>/version_<N>/metrics.csv`` (columns: step, then every metric seen).

    ``save_dir`` may be an fsspec URL; there the file is rewritten whole at each save (object stores cannot append).
    """

    def __init__(
        self,
        save_dir: str = ".",
        name: str | None = "logs",
        version: int | str | None = None,
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(save_dir, name, version)
        self._rows: list[dict[str, Any]] = []
        self._rows_logged = 0
        self._columns: list[str] = []
        self.flush_logs_every_n_steps = flush_logs_every_n_steps

    @property
    def metrics_file(self) -> str:
        return fs.join(self.log_dir, "metrics.csv")

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if step is None:  # as Lightning: the row number
            step = self._rows_logged
        self._rows_logged += 1
        self._rows.append({"step": step, **{key: to_float(value) for key, value in metrics.items()}})
        if len(self._rows) >= self.flush_logs_every_n_steps:
            self.save()

    def log_hyperparams(self, params: dict[str, Any] | None = None) -> None:
        self.write_hparams_yaml(params or {})

    def save(self) -> None:
        if not self._rows:
            return
        fs.makedirs(self.log_dir)
        on_disk = fs.exists(self.metrics_file)
        if not self._columns and on_disk:  # a resumed run appends to its old file
            with fs.open_file(self.metrics_file, "r", newline="") as handle:
                self._columns = next(csv.reader(handle), [])
        new_columns = [key for row in self._rows for key in row if key not in self._columns]
        for key in dict.fromkeys(new_columns):
            self._columns.append(key)
        rewrite = bool(new_columns) or not on_disk or fs.is_remote(self.metrics_file)
        existing: list[dict[str, Any]] = []
        if rewrite and on_disk:
            # A new column means a new header (and URLs cannot be appended to): rewrite the rows already there.
            with fs.open_file(self.metrics_file, "r", newline="") as handle:
                existing = list(csv.DictReader(handle))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns)
        if rewrite:
            writer.writeheader()
            writer.writerows(existing)
        writer.writerows(self._rows)
        mode = "w" if rewrite else "a"
        with disk.writing(self.metrics_file), fs.open_file(self.metrics_file, mode, newline="") as handle:
            handle.write(buffer.getvalue())
        self._rows = []
