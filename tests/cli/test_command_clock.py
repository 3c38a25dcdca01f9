"""The command's start, which its --time-budget counts from: set for the length of one command only."""

from __future__ import annotations

import time

import pytest

from flashtrain.cli import command_clock


def test_the_start_is_known_inside_a_command_and_forgotten_after_it_even_when_it_fails():
    assert command_clock.started() is None  # a task's run called directly counts its budget from fit's start
    before = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"), command_clock.running():
        started = command_clock.started()
        assert started is not None and before <= started <= time.monotonic()
        raise RuntimeError("boom")
    assert command_clock.started() is None
