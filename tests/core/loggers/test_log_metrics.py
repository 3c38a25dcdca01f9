"""Loggers take Lightning's call: ``log_metrics(metrics={name: float}, step=int | None)``."""

from __future__ import annotations

import csv

from flashtrain.core.loggers import CSVLogger, TensorBoardLogger


def test_csv_logger_takes_keywords_floats_and_no_step(tmp_path):
    logger = CSVLogger(tmp_path, name="run")
    logger.log_metrics(metrics={"loss": 0.5}, step=3)
    logger.log_metrics(metrics={"loss": 0.25})  # no step: the row number, as Lightning
    logger.save()
    with open(logger.metrics_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["step"], r["loss"]) for r in rows] == [("3", "0.5"), ("1", "0.25")]


def test_tensorboard_logger_takes_keywords_and_no_step(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name="run")
    logger.log_metrics(metrics={"acc": 0.75}, step=2)
    logger.log_metrics(metrics={"acc": 1.0})
    logger.finalize("success")
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    assert [round(e.value, 2) for e in events.Scalars("acc")] == [0.75, 1.0]
    assert events.Scalars("acc")[0].step == 2
