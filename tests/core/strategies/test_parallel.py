"""ParallelStrategy: the public base of the one-process-per-device strategies (Lightning's name and surface)."""

from __future__ import annotations

import torch

from flashtrain.core import Trainer
from flashtrain.core.strategies import DDPStrategy, FSDPStrategy, ParallelStrategy, SingleDeviceStrategy


def test_ddp_and_fsdp_are_parallel_strategies_and_one_device_is_not():
    assert issubclass(DDPStrategy, ParallelStrategy) and issubclass(FSDPStrategy, ParallelStrategy)
    assert not issubclass(SingleDeviceStrategy, ParallelStrategy)
    assert not isinstance(Trainer(accelerator="cpu", logger=False).strategy, ParallelStrategy)


def test_the_layout_a_script_reads_before_the_processes_start():
    """imagenet.py divides its batch by ``strategy.num_processes`` in setup."""
    strategy = Trainer(accelerator="cpu", devices=3, strategy="ddp", logger=False).strategy
    assert isinstance(strategy, ParallelStrategy)
    assert strategy.num_processes == 3 and strategy.num_nodes == 1 and strategy.node_rank == 0
    assert strategy.parallel_devices == [torch.device("cpu")] * 3
    assert strategy.distributed_sampler_kwargs == {"num_replicas": 1, "rank": 0}  # not launched yet: one process
