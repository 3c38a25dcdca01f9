"""Strategies by name: how a run is laid out over devices and processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flashtrain.core.accelerators import Accelerator
from flashtrain.core.strategies.base import Strategy
from flashtrain.core.strategies.single_device import SingleDeviceStrategy
from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.strategies.ddp import DDPSpawnStrategy, DDPStrategy
    from flashtrain.core.strategies.fsdp import FSDPStrategy
    from flashtrain.core.strategies.xla import XLAStrategy

# The distributed strategies are imported when one is asked for: a single-device run never loads them.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DDPSpawnStrategy": "flashtrain.core.strategies.ddp:DDPSpawnStrategy",
        "DDPStrategy": "flashtrain.core.strategies.ddp:DDPStrategy",
        "FSDPStrategy": "flashtrain.core.strategies.fsdp:FSDPStrategy",
        "XLAStrategy": "flashtrain.core.strategies.xla:XLAStrategy",
    },
)

STRATEGY_NAMES = (
    "auto",
    "single_device",
    "ddp",
    "ddp_find_unused_parameters_true",
    "ddp_find_unused_parameters_false",
    "ddp_spawn",
    "ddp_spawn_find_unused_parameters_true",
    "ddp_spawn_find_unused_parameters_false",
    "fsdp",
    "xla",
)


def build_strategy(
    name: Any, accelerator: Accelerator, num_devices: int, num_nodes: int, device_indices: list[int] | None
) -> Strategy:
    """The strategy for a ``Trainer(strategy=...)`` name, given the hardware flags."""
    from flashtrain.core.utilities.checks import check_choice

    name = name.lower() if isinstance(name, str) else name  # "DDP" is "ddp", as in Lightning
    check_choice("strategy", name, STRATEGY_NAMES)
    if name == "xla" or (name == "auto" and accelerator.name == "xla"):
        from flashtrain.core.strategies.xla import XLAStrategy

        if num_devices > 1 or num_nodes > 1:
            raise ValueError(
                "strategy='xla' runs on one XLA device in this flashtrain version; pass devices=1 (multi-core TPU "
                "training is not available yet)."
            )
        return XLAStrategy()
    if name == "single_device":
        if num_devices > 1 or num_nodes > 1:
            raise ValueError(
                f"strategy='single_device' uses one device; got devices={num_devices}, num_nodes={num_nodes}."
            )
    elif name == "fsdp":
        from flashtrain.core.strategies.fsdp import FSDPStrategy

        return FSDPStrategy(num_devices, num_nodes, device_indices)
    elif name != "auto" or num_devices > 1 or num_nodes > 1:
        from flashtrain.core.strategies.ddp import DDPSpawnStrategy, DDPStrategy

        return (DDPSpawnStrategy if name.startswith("ddp_spawn") else DDPStrategy)(
            num_devices,
            num_nodes,
            device_indices,
            find_unused_parameters=name.endswith("_find_unused_parameters_true"),
        )
    index = device_indices[0] if device_indices else 0
    return SingleDeviceStrategy(accelerator.get_device(index))


__all__ = [
    "STRATEGY_NAMES",
    "DDPSpawnStrategy",
    "DDPStrategy",
    "FSDPStrategy",
    "SingleDeviceStrategy",
    "Strategy",
    "XLAStrategy",
    "build_strategy",
]
