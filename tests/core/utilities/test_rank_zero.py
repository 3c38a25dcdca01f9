"""rank_zero_only / rank_zero_info / rank_zero_warn follow the launcher's RANK."""

from __future__ import annotations

import logging

import pytest

from flashtrain.core.utilities.rank_zero import global_rank, rank_zero_info, rank_zero_only, rank_zero_warn


def test_rank_zero_only_runs_on_rank_zero_and_returns_none_elsewhere(monkeypatch):
    calls = []

    @rank_zero_only
    def record(value):
        calls.append(value)
        return value

    monkeypatch.setenv("RANK", "0")
    assert record(1) == 1
    monkeypatch.setenv("RANK", "1")
    assert record(2) is None
    assert calls == [1]


def test_global_rank_reads_slurm_when_rank_is_unset(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert global_rank() == 3


def test_rank_zero_info_and_warn(monkeypatch, caplog):
    monkeypatch.setenv("RANK", "0")
    with caplog.at_level(logging.INFO, logger="flashtrain.core"):
        rank_zero_info("hello %s", "world")
    assert "hello world" in caplog.text
    with pytest.warns(UserWarning, match="careful"):
        rank_zero_warn("careful")
    monkeypatch.setenv("RANK", "2")
    caplog.clear()
    rank_zero_info("not shown")
    assert "not shown" not in caplog.text
