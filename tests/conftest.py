"""Test-wide fixtures: every test runs in its own folder with no seed leaking in from another test."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The suite runs on as many workers as there are cores (-n auto): one thread each, not two workers' thread
    # pools fighting over the same cores. Tests that compare runs make both in the same setting.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLASHTRAIN_GLOBAL_SEED", raising=False)
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = benchmark
