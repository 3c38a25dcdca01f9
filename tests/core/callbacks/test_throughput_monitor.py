"""ThroughputMonitor logs each stage's rates; Throughput computes them over a window of running totals."""

from __future__ import annotations

import csv

import pytest

from flashtrain.core.callbacks import ThroughputMonitor
from flashtrain.core.loggers import CSVLogger
from flashtrain.core.utilities.throughput import Throughput
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_throughput_rates_come_from_the_window():
    throughput = Throughput(window_size=3)
    throughput.update(time=1.0, batches=1, samples=4)
    throughput.update(time=2.0, batches=2, samples=8)
    assert throughput.compute() == {"time": 2.0, "batches": 2, "samples": 8}  # window not full: totals only
    throughput.update(time=3.0, batches=3, samples=12, flops=None)
    metrics = throughput.compute()
    assert metrics["device/batches_per_sec"] == pytest.approx(1.0)  # (3 - 1) batches over (3 - 1) s
    assert metrics["device/samples_per_sec"] == pytest.approx(4.0)
    assert "batches_per_sec" not in metrics  # one device: no global figure


def test_throughput_refuses_counters_that_go_backwards():
    throughput = Throughput(window_size=2)
    throughput.update(time=1.0, batches=1, samples=1)
    with pytest.raises(ValueError, match="Expected the value to increase, last: 1.0, current: 0.5"):
        throughput.update(time=0.5, batches=2, samples=2)
    with pytest.raises(ValueError, match=r"samples \(1\) to be greater or equal than batches \(2\)"):
        Throughput().update(time=1.0, batches=2, samples=1)
    with pytest.raises(ValueError, match="a rate needs at least 2 updates"):
        Throughput(window_size=1)


def test_monitor_logs_train_and_validation_rates(tmp_path):
    logger = CSVLogger(str(tmp_path))
    monitor = ThroughputMonitor(batch_size_fn=lambda batch: batch[0].shape[0], window_size=2)
    trainer = quiet_trainer(
        max_epochs=1,
        callbacks=[monitor],
        logger=logger,
        log_every_n_steps=1,
        limit_train_batches=3,
        limit_val_batches=2,
    )
    with pytest.warns(UserWarning, match="define a `flops_per_batch` attribute"):
        trainer.fit(RegressionModule(), loader(), loader())
    with open(logger.metrics_file, newline="") as handle:
        rows = [{key: float(value) for key, value in row.items() if value} for row in csv.DictReader(handle)]
    train = [row for row in rows if "train/batches" in row]
    assert [row["train/batches"] for row in train] == [1.0, 2.0, 3.0]
    assert "train/device/batches_per_sec" not in train[0] and train[1]["train/device/batches_per_sec"] > 0
    batch_size = next(iter(loader()))[0].shape[0]
    assert train[-1]["train/samples"] == 3 * batch_size
    validate = [row for row in rows if "validate/batches" in row]
    assert [(row["step"], row["validate/batches"]) for row in validate] == [(1, 1.0), (2, 2.0)]


def test_monitor_refuses_a_batch_size_fn_that_is_not_callable():
    with pytest.raises(TypeError, match=r"batch_size_fn=32\): pass a function"):
        ThroughputMonitor(batch_size_fn=32)  # type: ignore[arg-type]
