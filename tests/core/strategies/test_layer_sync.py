"""Trainer(sync_batchnorm=True) and the LayerSync plugins (Lightning's): batch norm synchronised for a DDP fit."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Module, Trainer
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.plugins import LayerSync, TorchSyncBatchNorm


class _Normed(Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 1))
        self.kinds_seen: set[type] = set()

    def training_step(self, batch, batch_idx):
        self.kinds_seen.add(type(self.net[1]))
        return self.net(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer(**kwargs):
    return Trainer(
        accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, **kwargs
    )


def test_sync_batchnorm_chooses_torch_sync_batchnorm_and_refuses_a_second_layer_sync_plugin():
    class OwnSync(LayerSync):
        def apply(self, model):
            return model

        def revert(self, model):
            return model

    assert isinstance(_trainer(strategy="ddp", devices=1, sync_batchnorm=True).strategy.layer_sync, TorchSyncBatchNorm)
    own = OwnSync()
    assert _trainer(strategy="ddp", devices=1, plugins=[own]).strategy.layer_sync is own
    assert _trainer(strategy="ddp", devices=1).strategy.layer_sync is None
    with pytest.raises(MisconfigurationException, match=r"sync_batchnorm=True\)` and provided a `OwnSync` plugin"):
        _trainer(strategy="ddp", devices=1, sync_batchnorm=True, plugins=[own])
    with pytest.raises(TypeError, match="sync_batchnorm=...\\) must be True or False, got 'yes'"):
        _trainer(sync_batchnorm="yes")


def test_torch_sync_batchnorm_round_trip_keeps_the_parameters_and_statistics():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    net(torch.randn(4, 1, 3, 3))  # running statistics away from their initial values
    weight, running_mean = net[1].weight, net[1].running_mean.clone()
    synced = TorchSyncBatchNorm().apply(net)
    assert isinstance(synced[1], torch.nn.SyncBatchNorm) and synced[1].weight is weight
    reverted = TorchSyncBatchNorm().revert(synced)
    assert not isinstance(reverted[1], torch.nn.SyncBatchNorm) and reverted[1].weight is weight
    assert torch.equal(reverted[1].running_mean, running_mean)
    reverted.eval()
    assert reverted(torch.randn(2, 1, 3, 3)).shape == (2, 2, 3, 3)


def test_a_cpu_ddp_fit_with_sync_batchnorm_is_refused_with_a_clear_message_and_leaves_the_module_alone():
    module = _Normed()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(16, 4)), batch_size=4)
    with pytest.raises(MisconfigurationException, match=r"sync_batchnorm=True\) needs GPUs"):
        _trainer(strategy="ddp", devices=1, sync_batchnorm=True).fit(module, data)
    assert type(module.net[1]) is torch.nn.BatchNorm1d and module.kinds_seen == set()
