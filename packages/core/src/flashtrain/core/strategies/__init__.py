"""Strategies by name. Distributed strategies ("ddp", "ddp_spawn", XLA) register here."""

from __future__ import annotations

from flashtrain.core.strategies.base import Strategy
from flashtrain.core.strategies.single_device import SingleDeviceStrategy

STRATEGY_NAMES = ("auto", "single_device", "ddp", "ddp_spawn", "xla")

__all__ = ["STRATEGY_NAMES", "SingleDeviceStrategy", "Strategy"]
