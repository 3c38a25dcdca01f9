"""CSVLogger.experiment: the ExperimentWriter that buffers rows and writes metrics.csv / hparams.yaml."""

from __future__ import annotations

import csv

import torch
import yaml

from flashtrain.core.loggers import CSVLogger
from flashtrain.core.loggers.csv_logs import ExperimentWriter


def _rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_experiment_is_one_writer_that_buffers_until_the_flush(tmp_path):
    logger = CSVLogger(str(tmp_path), flush_logs_every_n_steps=2)
    assert isinstance(logger.experiment, ExperimentWriter)
    assert logger.experiment is logger.experiment
    logger.log_metrics({"loss": torch.tensor(0.5)}, step=0)
    assert logger.experiment.metrics == [{"step": 0, "loss": 0.5}]
    logger.log_metrics({"loss": 0.25}, step=1)  # the second row reaches flush_logs_every_n_steps
    assert logger.experiment.metrics == []
    assert logger.experiment.metrics_file_path == logger.metrics_file
    assert [row["loss"] for row in _rows(logger.metrics_file)] == ["0.5", "0.25"]


def test_a_new_column_rewrites_the_header_and_keeps_old_rows(tmp_path):
    writer = ExperimentWriter(str(tmp_path / "v0"))
    writer.log_metrics({"a": 1})
    writer.save()
    writer.log_metrics({"a": 2, "b": 3})
    writer.save()
    writer.log_metrics({"b": 4})  # a missing column stays, empty
    writer.save()
    rows = _rows(writer.metrics_file_path)
    assert list(rows[0]) == ["step", "a", "b"]
    assert [(r["step"], r["a"], r["b"]) for r in rows] == [("0", "1.0", ""), ("1", "2.0", "3.0"), ("2", "", "4.0")]


def test_log_hparams_merges_calls_into_one_yaml(tmp_path):
    logger = CSVLogger(str(tmp_path))
    logger.log_hyperparams({"lr": 0.1})
    logger.log_hyperparams({"layer": torch.nn.BatchNorm1d})
    assert logger.experiment.hparams == {"lr": 0.1, "layer": torch.nn.BatchNorm1d}
    path = tmp_path / "lightning_logs" / "version_0" / ExperimentWriter.NAME_HPARAMS_FILE
    saved = yaml.safe_load(path.read_text())
    assert saved["lr"] == 0.1 and "BatchNorm1d" in saved["layer"]
