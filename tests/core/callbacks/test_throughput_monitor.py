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


def test_validation_inside_fit_is_not_counted_as_training_time(monkeypatch):
    """Clock readings: train start 0, train batch 7, validation start 11, validation batch 13, train batch 19."""
    from types import SimpleNamespace

    from flashtrain.core.callbacks import throughput_monitor

    clock = iter([0.0, 7.0, 11.0, 13.0, 19.0])
    monkeypatch.setattr(throughput_monitor.time, "perf_counter", lambda: next(clock))
    logged: list = []
    trainer = SimpleNamespace(
        world_size=1,
        is_global_zero=True,
        sanity_checking=False,
        state=SimpleNamespace(fn="fit"),
        strategy=SimpleNamespace(root_device=SimpleNamespace(type="cpu")),
        limits=SimpleNamespace(fast_dev_run=0, log_every_n_steps=1, accumulate_grad_batches=1),
        loggers=[SimpleNamespace(log_metrics=lambda metrics, step: logged.append((step, metrics)))],
        current_epoch=0,
        global_step=0,
    )
    module = SimpleNamespace(flops_per_batch=None)
    monitor = ThroughputMonitor(batch_size_fn=lambda batch: 1, window_size=2)
    monitor.setup(trainer, module, "fit")
    monitor.on_train_start(trainer, module)
    trainer.global_step = 1
    monitor.on_train_batch_end(trainer, module, None, None, 0)
    monitor.on_validation_start(trainer, module)
    monitor.on_validation_batch_end(trainer, module, None, None, 0)
    monitor.on_validation_end(trainer, module)
    trainer.global_step = 2
    monitor.on_train_batch_end(trainer, module, None, None, 1)
    assert [(step, metrics.get("train/time"), metrics.get("validate/time")) for step, metrics in logged] == [
        (0, 7.0, None),
        (1, None, 2.0),
        (1, 7.0 + (19.0 - 13.0), None),
    ]
