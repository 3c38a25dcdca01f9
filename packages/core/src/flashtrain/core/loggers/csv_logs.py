"""Metrics in a CSV file, one row per step, for quick looks with pandas or a spreadsheet."""

from __future__ import annotations

import csv
import os
from typing import Any

from flashtrain.core.loggers.base import VersionedFolderLogger, to_float


class CSVLogger(VersionedFolderLogger):
    """Writes ``<save_dir>/<name>/version_<N>/metrics.csv`` (columns: step, then every metric seen)."""

    def __init__(
        self,
        save_dir: str = ".",
        name: str = "logs",
        version: int | str | None = None,
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(save_dir, name, version)
        self._rows: list[dict[str, Any]] = []
        self._columns: list[str] = []
        self._flush_every = flush_logs_every_n_steps

    @property
    def metrics_file(self) -> str:
        return os.path.join(self.log_dir, "metrics.csv")

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        self._rows.append({"step": step, **{key: to_float(value) for key, value in metrics.items()}})
        if len(self._rows) >= self._flush_every:
            self.save()

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.write_hparams_yaml(params)

    def save(self) -> None:
        if not self._rows:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        if not self._columns and os.path.exists(self.metrics_file):  # a resumed run appends to its old file
            with open(self.metrics_file, newline="") as handle:
                self._columns = next(csv.reader(handle), [])
        new_columns = [key for row in self._rows for key in row if key not in self._columns]
        for key in dict.fromkeys(new_columns):
            self._columns.append(key)
        existing: list[dict[str, Any]] = []
        if new_columns and os.path.exists(self.metrics_file):
            # A new column means a new header: rewrite the rows already on disk under it.
            with open(self.metrics_file, newline="") as handle:
                existing = list(csv.DictReader(handle))
        mode = "w" if new_columns or not os.path.exists(self.metrics_file) else "a"
        with open(self.metrics_file, mode, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._columns)
            if mode == "w":
                writer.writeheader()
                writer.writerows(existing)
            writer.writerows(self._rows)
        self._rows = []
