"""The base of the strategies that run one process per device (DDP, FSDP): Lightning's ``ParallelStrategy``.

User code tests ``isinstance(trainer.strategy, ParallelStrategy)`` to learn whether the batch is split over
processes (Lightning's ImageNet example divides its batch size by ``strategy.num_processes``), so the name and
its small public surface are kept; the process-group work lives in ``ddp.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.strategies.base import Strategy


class ParallelStrategy(Strategy):
    """A strategy with ``num_processes`` processes on each of ``num_nodes`` machines, one device each."""

    def __init__(
        self,
        processes_per_node: int = 1,
        num_nodes: int = 1,
        device_indices: list[int] | None = None,
        *,
        parallel_devices: list[torch.device] | None = None,
    ):
        super().__init__()
        self.given_devices = list(parallel_devices) if parallel_devices else None  # Lightning's form: the devices
        if self.given_devices is not None:
            processes_per_node = len(self.given_devices)
            device_indices = [i if d.index is None else d.index for i, d in enumerate(self.given_devices)]
        self.processes_per_node = processes_per_node
        self.num_nodes = num_nodes
        self.device_indices = device_indices
        self.cluster_environment: Any = None  # a ClusterEnvironment plugin: the user's, else the Trainer's choice
        self.environment_given = False  # whether the user named it (then it is joined as it says)
        self.layer_sync: Any = None  # a LayerSync plugin (Trainer(sync_batchnorm=True)): applied for a fit

    @property
    def num_processes(self) -> int:
        """Processes (devices) on each machine."""
        return self.processes_per_node

    @property
    def node_rank(self) -> int:
        """This machine's index among the ``num_nodes``."""
        return self.global_rank // self.processes_per_node

    @property
    def parallel_devices(self) -> list[torch.device]:
        """The devices of this machine, one per process."""
        assert self.accelerator is not None, "the strategy has no accelerator before Trainer(...) sets it up"
        indices = self.device_indices if self.device_indices is not None else range(self.processes_per_node)
        return [self.accelerator.get_device(index) for index in indices]

    @property
    def distributed_sampler_kwargs(self) -> dict[str, Any]:
        """What a ``DistributedSampler`` for this process needs: ``num_replicas`` and ``rank``."""
        return {"num_replicas": self.world_size, "rank": self.global_rank}
