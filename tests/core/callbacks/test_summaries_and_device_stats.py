"""RichModelSummary (the default summary next to a RichProgressBar) and DeviceStatsMonitor (device statistics
logged around batches)."""

from __future__ import annotations

import sys
import types

import pytest

from flashtrain.core import Trainer
from flashtrain.core.callbacks import DeviceStatsMonitor, ModelSummary, ProgressBar, RichModelSummary, RichProgressBar
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers import Logger
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_the_default_summary_matches_the_progress_bar():
    summaries = [c for c in Trainer(callbacks=RichProgressBar(), logger=False).callbacks if isinstance(c, ModelSummary)]
    assert [type(c) for c in summaries] == [RichModelSummary]
    summaries = [c for c in Trainer(callbacks=ProgressBar(), logger=False).callbacks if isinstance(c, ModelSummary)]
    assert [type(c) for c in summaries] == [ModelSummary]
    given = RichModelSummary(max_depth=2)
    assert [c for c in Trainer(callbacks=[given], logger=False).callbacks if isinstance(c, ModelSummary)] == [given]


def test_the_rich_summary_lists_the_layers_and_totals(capsys):
    quiet_trainer(max_steps=1, callbacks=[RichModelSummary()]).fit(RegressionModule(), loader(8))
    shown = capsys.readouterr().out
    assert "net" in shown and "Net" in shown and "Trainable params" in shown


class Recorder(Logger):
    name, version = "recorder", 0

    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step=None):
        self.logged.append((dict(metrics), step))


def test_device_stats_are_logged_around_batches_under_the_hooks_name(monkeypatch):
    psutil = types.ModuleType("psutil")
    psutil.virtual_memory = psutil.swap_memory = lambda: types.SimpleNamespace(percent=12.5)
    psutil.cpu_percent = lambda: 50.0
    monkeypatch.setitem(sys.modules, "psutil", psutil)
    recorder = Recorder()
    trainer = quiet_trainer(max_steps=2, logger=recorder, log_every_n_steps=1, callbacks=[DeviceStatsMonitor()])
    trainer.fit(RegressionModule(), loader(16))
    stats = {key: value for metrics, _ in recorder.logged for key, value in metrics.items() if "DeviceStats" in key}
    assert stats["DeviceStatsMonitor.on_train_batch_start/cpu_percent"] == 50.0
    assert stats["DeviceStatsMonitor.on_train_batch_end/cpu_vm_percent"] == 12.5


def test_device_stats_need_a_logger_and_psutil_for_the_cpu(monkeypatch):
    with pytest.raises(MisconfigurationException, match="Cannot use `DeviceStatsMonitor` callback"):
        quiet_trainer(max_steps=1, callbacks=[DeviceStatsMonitor()]).fit(RegressionModule(), loader(8))
    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.raises(ModuleNotFoundError, match="cannot log CPU stats as `psutil` is not installed"):
        quiet_trainer(max_steps=1, logger=Recorder(), callbacks=[DeviceStatsMonitor()]).fit(
            RegressionModule(), loader(8)
        )
