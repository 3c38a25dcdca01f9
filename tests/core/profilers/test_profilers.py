"""Profilers record the actions they are given and report them (Trainer(profiler=...) builds them by name)."""

from __future__ import annotations

import time

import pytest
import torch

from flashtrain.core.profilers import (
    AdvancedProfiler,
    PassThroughProfiler,
    PyTorchProfiler,
    SimpleProfiler,
    build_profiler,
)


def test_simple_profiler_counts_and_times_each_action():
    profiler = SimpleProfiler()
    for _ in range(3):
        with profiler.profile("training_step"):
            time.sleep(0.01)
    with profiler.profile("validation_step"):
        pass
    assert len(profiler.recorded_durations["training_step"]) == 3
    assert sum(profiler.recorded_durations["training_step"]) >= 0.03
    report = profiler.summary()
    assert report.index("training_step") < report.index("validation_step")  # sorted by total time


def test_simple_profiler_refuses_unbalanced_calls():
    profiler = SimpleProfiler()
    profiler.start("a")
    with pytest.raises(ValueError, match="Attempted to start a which has already started"):
        profiler.start("a")
    with pytest.raises(ValueError, match=r"stop recording an action \(b\) which was never started"):
        profiler.stop("b")


def test_advanced_profiler_reports_cprofile_stats(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path, filename="perf")
    with profiler.profile("work"):
        sorted(range(10000), key=lambda v: -v)
    profiler.setup("fit")
    profiler.describe()
    text = (tmp_path / "fit-perf.txt").read_text()
    assert "Profile stats for: work" in text and "function calls" in text


def test_pytorch_profiler_reports_operators_of_an_action(tmp_path):
    profiler = PyTorchProfiler(dirpath=tmp_path, filename="trace")
    profiler.setup("fit")
    with profiler.profile("matmul_action"):
        torch.randn(32, 32) @ torch.randn(32, 32)
    report = profiler.summary()
    assert "matmul_action" in report and "aten::mm" in report
    assert (tmp_path / "fit-trace.json").exists()


def test_build_profiler_by_name_and_errors():
    assert isinstance(build_profiler(None), PassThroughProfiler)
    assert isinstance(build_profiler("simple"), SimpleProfiler)
    assert isinstance(build_profiler("advanced"), AdvancedProfiler)
    custom = SimpleProfiler()
    assert build_profiler(custom) is custom
    with pytest.raises(ValueError, match="profiler must be one of \\['advanced', 'pytorch', 'simple'\\]"):
        build_profiler("fast")
    with pytest.raises(TypeError, match="profiler must be a name, a Profiler or None; got int"):
        build_profiler(3)


def test_trainer_profiler_simple_reports_each_step_and_hook_with_counts(tmp_path):
    from flashtrain.core.callbacks import EarlyStopping
    from tests.core.helpers import RegressionModule, loader, quiet_trainer

    profiler = SimpleProfiler(dirpath=tmp_path, filename="perf")
    trainer = quiet_trainer(
        max_epochs=2, limit_train_batches=3, profiler=profiler, callbacks=[EarlyStopping("val_loss", patience=9)]
    )
    assert trainer.profiler is profiler
    trainer.fit(RegressionModule(), loader(), loader(n=16))
    durations = profiler.recorded_durations
    assert len(durations["[Strategy]SingleDeviceStrategy.training_step"]) == 6  # 2 epochs x 3 batches
    assert len(durations["[Strategy]SingleDeviceStrategy.validation_step"]) == 4  # 2 validations x 2 batches
    assert len(durations["[LightningModule]RegressionModule.backward"]) == 6
    assert len(durations["[Callback]EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}.on_validation_end"]) == 2
    report = (tmp_path / "fit-perf.txt").read_text()
    training_row = next(line for line in report.splitlines() if ".training_step" in line)
    assert training_row.split("|")[2].strip() == "6"  # the report's call count


def test_trainer_profiler_by_name_and_refused_names():
    from flashtrain.core import Trainer

    assert isinstance(Trainer(logger=False, profiler="simple").profiler, SimpleProfiler)
    assert isinstance(Trainer(logger=False).profiler, PassThroughProfiler)
    with pytest.raises(ValueError, match=r"profiler must be one of \['advanced', 'pytorch', 'simple'\]"):
        Trainer(logger=False, profiler="fast")
