"""benchmarks/gpu_check.sh, the one-shot device check, in its CPU fallback: every step runs and the JSON holds
the figures a device run reports (on a GPU machine the same script runs the CUDA versions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_device_check_runs_its_cpu_fallback_and_writes_one_json(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": "", "GPU_CHECK_TIMEOUT": "900"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    figures = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    steps = figures["steps"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert figures["cuda"] is False and figures["quick"] is True and figures["failed_steps"] == []
    assert set(steps) == {
        "cuda_tests",
        "headline_sample",
        "headline_jpeg",
        "trainer_vs_loop",
        "input_bound",
        "device_decode",
        "fp16_step",
    }
    for name in ("headline_sample", "headline_jpeg"):
        assert steps[name]["returncode"] == 0 and 0.0 <= steps[name]["val_accuracy"] <= 1.0, name
        assert "precision 32-true" in steps[name]["defaults"], name  # "auto" resolved on a CPU
    for name in ("trainer_vs_loop", "input_bound", "device_decode"):
        assert steps[name]["ratio"] > 0, name
    # On a CPU "the device" decodes with the CPU decoder: the same pixels as the workers' path
    assert steps["device_decode"]["decoded_on_device"] > 0 and steps["device_decode"]["batch_max_abs_diff_levels"] == 0
    assert steps["trainer_vs_loop"]["images_per_s_trainer"] > 0 and steps["input_bound"]["images_per_s_on_gpu"] > 0
    assert "skipped" in steps["fp16_step"] and "skipped" in steps["cuda_tests"]
