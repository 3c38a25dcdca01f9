"""Trainer.finetune strategies: which backbone layers are frozen, and really stay unchanged, in which epoch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Callback, Module
from flashtrain.core.callbacks import ModelCheckpoint
from tests.core.helpers import loader, quiet_trainer


class WithBackbone(Module):
    """A four-layer backbone and a head, with an optimizer over trainable parameters only (as tasks build it)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = torch.nn.Sequential(*(torch.nn.Linear(8, 8) for _ in range(4)))
        self.head = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.head(torch.relu(self.backbone(x))), y)

    def configure_optimizers(self):
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)


class LayerWatcher(Callback):
    """Per epoch: which backbone layers changed, and the optimizer's group learning rates."""

    def __init__(self):
        self.changed: list[list[bool]] = []
        self.lrs: list[list[float]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._before = [layer.weight.detach().clone() for layer in pl_module.backbone]

    def on_train_epoch_end(self, trainer, pl_module):
        self.changed.append([not torch.equal(b, layer.weight) for b, layer in zip(self._before, pl_module.backbone)])
        self.lrs.append([round(group["lr"], 6) for group in trainer.optimizers[0].param_groups])


def finetune(strategy, epochs=4, **kwargs):
    watcher = LayerWatcher()
    trainer = quiet_trainer(max_epochs=epochs, callbacks=[watcher], **kwargs)
    model = WithBackbone()
    trainer.finetune(model, loader(), strategy=strategy)
    return watcher, model, trainer


def test_no_freeze_trains_everything_from_the_start():
    watcher, _, _ = finetune("no_freeze", epochs=2)
    assert watcher.changed == [[True] * 4, [True] * 4]
    assert watcher.lrs == [[0.1], [0.1]]


def test_freeze_keeps_the_backbone_unchanged():
    watcher, model, _ = finetune("freeze", epochs=3)
    assert watcher.changed == [[False] * 4] * 3
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_freeze_unfreeze_at_an_epoch():
    watcher, _, _ = finetune(("freeze_unfreeze", 2), epochs=4)
    assert watcher.changed == [[False] * 4, [False] * 4, [True] * 4, [True] * 4]
    assert watcher.lrs == [[0.1], [0.1], [0.1, 0.01], [0.1, 0.01]]


def test_unfreeze_milestones_last_layers_first_then_the_rest():
    watcher, _, _ = finetune(("unfreeze_milestones", ((1, 3), 1)), epochs=4)
    assert watcher.changed == [
        [False, False, False, False],
        [False, False, False, True],  # the last layer from epoch 1
        [False, False, False, True],
        [True, True, True, True],  # the rest from epoch 3
    ]
    assert watcher.lrs[-1] == [0.1, 0.01, 0.01]


def test_a_later_finetune_call_replaces_the_strategy():
    watcher = LayerWatcher()
    trainer = quiet_trainer(max_epochs=1, callbacks=[watcher])
    model = WithBackbone()
    trainer.finetune(model, loader(), strategy="freeze")
    trainer.max_epochs = 2
    trainer.finetune(model, loader(), strategy="no_freeze")
    assert sum(type(cb).__name__ == "BackboneUnfreezing" for cb in trainer.callbacks) == 0


def test_milestones_resume_rebuilds_the_parameter_groups(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    strategy = ("unfreeze_milestones", ((1, 2), 2))
    first = quiet_trainer(max_epochs=2, enable_checkpointing=True, callbacks=[checkpoint])
    first.finetune(WithBackbone(), loader(), strategy=strategy)
    assert len(first.optimizers[0].param_groups) == 2
    resumed = quiet_trainer(max_epochs=4, enable_checkpointing=True, callbacks=[ModelCheckpoint(dirpath=str(tmp_path))])
    model = WithBackbone()
    resumed.finetune(model, loader(), strategy=strategy, ckpt_path="last")
    assert len(resumed.optimizers[0].param_groups) == 3
    assert all(p.requires_grad for p in model.backbone.parameters())


@pytest.mark.parametrize(
    "strategy",
    ["freez", ("freeze_unfreeze", -1), ("unfreeze_milestones", (5, 2)), ("unfreeze_milestones", ((3, 1), 2))],
)
def test_unknown_strategies_list_the_allowed_forms(strategy):
    with pytest.raises(
        ValueError,
        match=r'Unknown finetuning strategy .* Allowed: "no_freeze", "freeze", '
        r'\("freeze_unfreeze", epoch\)',
    ):
        quiet_trainer().finetune(WithBackbone(), loader(), strategy=strategy)


def test_a_module_without_backbone_is_explained():
    class Plain(WithBackbone):
        def __init__(self):
            super().__init__()
            self.backbone = None

    with pytest.raises(ValueError, match="needs the module to have a `backbone` attribute.*strategy='no_freeze'"):
        quiet_trainer(max_epochs=1).finetune(Plain(), loader(), strategy="freeze")
