"""BaseFinetuning: a subclass's freeze_before_training / finetune_function drive what trains, and resume."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Module, Trainer
from flashtrain.core.callbacks.base_finetuning import BaseFinetuning
from tests.core.helpers import loader


class WithBackbone(Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.head(self.backbone(x)), y)

    def configure_optimizers(self):
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)


class UnfreezeAtOne(BaseFinetuning):
    def __init__(self) -> None:
        super().__init__()
        self.seen_epochs: list[int] = []

    def freeze_before_training(self, pl_module):
        self.freeze(pl_module.backbone, train_bn=False)

    def finetune_function(self, pl_module, epoch, optimizer):
        self.seen_epochs.append(epoch)
        if epoch == 1:
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, train_bn=True)


def _trainer(tmp_path, epochs, callback):
    return Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_backbone_frozen_until_finetune_function_adds_it_as_a_group(tmp_path):
    torch.manual_seed(0)
    model, callback = WithBackbone(), UnfreezeAtOne()
    first_weight = model.backbone[0].weight.detach().clone()
    trainer = _trainer(tmp_path, 1, callback)
    trainer.fit(model, loader(32))
    torch.testing.assert_close(model.backbone[0].weight, first_weight)  # frozen through epoch 0
    assert len(trainer.optimizers[0].param_groups) == 1

    trainer = _trainer(tmp_path, 2, callback := UnfreezeAtOne())
    trainer.fit(model := WithBackbone(), loader(32))
    groups = trainer.optimizers[0].param_groups
    assert callback.seen_epochs == [0, 1]
    assert [g["lr"] for g in groups] == [0.1, pytest.approx(0.01)]  # first group's lr / initial_denom_lr
    assert len(groups[1]["params"]) == 4  # Linear weight+bias, BatchNorm weight+bias
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_freeze_keeps_batchnorm_trainable_with_train_bn():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    BaseFinetuning.freeze(net, train_bn=True)
    assert [p.requires_grad for p in net.parameters()] == [False, False, True, True]
    BaseFinetuning.freeze(net, train_bn=False)
    assert not any(p.requires_grad for p in net.parameters()) and not net[1].track_running_stats
    BaseFinetuning.make_trainable(net)
    assert all(p.requires_grad for p in net.parameters()) and net[1].track_running_stats  # tracks stats again


def test_adding_parameters_the_optimizer_already_holds_warns():
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    with pytest.warns(UserWarning, match=r"already exist within another group of this optimizer \(2 of 2\)"):
        BaseFinetuning.unfreeze_and_add_param_group(net, optimizer, lr=0.5)
    assert len(optimizer.param_groups) == 1


def test_resume_rebuilds_the_unfrozen_groups_before_the_optimizer_state_loads(tmp_path):
    torch.manual_seed(0)
    trainer = _trainer(tmp_path, 2, UnfreezeAtOne())
    trainer.fit(WithBackbone(), loader(32))
    path = tmp_path / "after2.ckpt"
    trainer.save_checkpoint(str(path))

    resumed = _trainer(tmp_path, 3, callback := UnfreezeAtOne())
    resumed.fit(model := WithBackbone(), loader(32), ckpt_path=str(path))
    groups = resumed.optimizers[0].param_groups
    assert callback.seen_epochs == [2]
    assert len(groups) == 2 and groups[1]["lr"] == pytest.approx(0.01)
    held = {id(p) for g in groups for p in g["params"]}
    assert all(id(p) in held for p in model.parameters())


def test_subclass_without_the_two_methods_says_what_to_define():
    with pytest.raises(NotImplementedError, match=r"must define freeze_before_training\(self, pl_module\)"):
        BaseFinetuning().freeze_before_training(None)


def test_backbone_finetuning_doubles_the_backbone_lr_each_epoch_by_default():
    from flashtrain.core.callbacks import BackboneFinetuning
    from tests.core.helpers import quiet_trainer

    finetuning = BackboneFinetuning(unfreeze_backbone_at_epoch=0, backbone_initial_lr=0.001, should_align=False)
    quiet_trainer(max_epochs=3, callbacks=[finetuning]).fit(WithBackbone(), loader(16))
    assert finetuning.previous_backbone_lr == pytest.approx(0.004)  # 0.001 at epoch 0, doubled at 1 and 2
