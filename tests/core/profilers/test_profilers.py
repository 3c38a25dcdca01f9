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
