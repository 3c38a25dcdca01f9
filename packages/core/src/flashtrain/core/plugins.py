"""``Trainer(plugins=[...])``: Lightning's plugin objects, sorted by kind for the strategy the Trainer builds.

A plugin is a precision (``Precision``, ``DoublePrecision``, ``MixedPrecision``), a ``CheckpointIO`` (how checkpoint
files are written and read), a ``ClusterEnvironment`` (where the processes come from) or a ``LayerSync`` (layers
synchronised across processes, e.g. ``TorchSyncBatchNorm``). At most one of each kind;
the strategy gets them (a strategy instance keeps the ones it was built with). The classes are importable from here
as from ``lightning.pytorch.plugins``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError
from flashtrain.core.utilities.lazy import lazy_exports

if TYPE_CHECKING:
    from flashtrain.core.checkpoint.checkpoint_io import CheckpointIO, TorchCheckpointIO
    from flashtrain.core.precision import DoublePrecision, MixedPrecision, Precision
    from flashtrain.core.strategies.environments import (
        ClusterEnvironment,
        KubeflowEnvironment,
        LightningEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )
    from flashtrain.core.strategies.layer_sync import LayerSync, TorchSyncBatchNorm

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CheckpointIO": "flashtrain.core.checkpoint.checkpoint_io:CheckpointIO",
        "TorchCheckpointIO": "flashtrain.core.checkpoint.checkpoint_io:TorchCheckpointIO",
        "Precision": "flashtrain.core.precision:Precision",
        "DoublePrecision": "flashtrain.core.precision:DoublePrecision",
        "MixedPrecision": "flashtrain.core.precision:MixedPrecision",
        "ClusterEnvironment": "flashtrain.core.strategies.environments:ClusterEnvironment",
        "KubeflowEnvironment": "flashtrain.core.strategies.environments:KubeflowEnvironment",
        "LightningEnvironment": "flashtrain.core.strategies.environments:LightningEnvironment",
        "SLURMEnvironment": "flashtrain.core.strategies.environments:SLURMEnvironment",
        "TorchElasticEnvironment": "flashtrain.core.strategies.environments:TorchElasticEnvironment",
        "LayerSync": "flashtrain.core.strategies.layer_sync:LayerSync",
        "TorchSyncBatchNorm": "flashtrain.core.strategies.layer_sync:TorchSyncBatchNorm",
    },
)


@dataclass
class Plugins:
    """The plugins given, one of each kind at most."""

    precision: Precision | None = None
    checkpoint_io: CheckpointIO | None = None
    cluster_environment: ClusterEnvironment | None = None
    layer_sync: LayerSync | None = None


def sort_plugins(plugins: Any) -> Plugins:
    """Sort ``Trainer(plugins=...)`` (one plugin or a list) by kind; two of one kind, or an object that is no
    plugin, is an error (Lightning's message for the first)."""
    given = list(plugins) if isinstance(plugins, (list, tuple)) else [] if plugins is None else [plugins]
    if not given:
        return Plugins()
    from flashtrain.core.checkpoint.checkpoint_io import CheckpointIO
    from flashtrain.core.precision import Precision
    from flashtrain.core.strategies.environments import ClusterEnvironment
    from flashtrain.core.strategies.layer_sync import LayerSync

    kinds = {
        Precision: "precision",
        CheckpointIO: "checkpoint_io",
        ClusterEnvironment: "cluster_environment",
        LayerSync: "layer_sync",
    }
    found: dict[str, Any] = {}
    duplicated: list[str] = []
    for plugin in given:
        kind = next((kinds[base] for base in kinds if isinstance(plugin, base)), None)
        if kind is None:
            raise MisconfigurationTypeError(
                f"Trainer(plugins=[{plugin!r}]) is not supported: a plugin is a Precision, a CheckpointIO, a "
                "ClusterEnvironment or a LayerSync (pass a strategy as strategy=...)."
            )
        if kind in found:
            name = next(base.__name__ for base in kinds if kinds[base] == kind)
            if name not in duplicated:
                duplicated.append(name)
        found[kind] = plugin
    if duplicated:
        raise MisconfigurationException(
            f"Received multiple values for {', '.join(duplicated)} flags in `plugins`. Expected one value for each "
            "type at most."
        )
    return Plugins(**found)


__all__ = [
    "CheckpointIO",
    "ClusterEnvironment",
    "DoublePrecision",
    "KubeflowEnvironment",
    "LayerSync",
    "LightningEnvironment",
    "MixedPrecision",
    "Plugins",
    "Precision",
    "SLURMEnvironment",
    "TorchCheckpointIO",
    "TorchElasticEnvironment",
    "TorchSyncBatchNorm",
    "sort_plugins",
]
