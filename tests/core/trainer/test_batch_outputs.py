"""What ``on_train_batch_end`` receives, and batches a loader or a step chooses to skip (Lightning's forms)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.dataloader import default_collate

from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer, regression_data


class Recording(RegressionModule):
    def __init__(self, returns="tensor", **kwargs):
        super().__init__(**kwargs)
        self.returns, self.seen, self.losses = returns, [], []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.losses.append(float(loss.detach()))
        if self.returns == "none":
            return None
        return {"loss": loss, "extra": x.sum() * 2} if self.returns == "dict" else loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.seen.append(outputs)


def test_outputs_hold_the_detached_loss_divided_by_accumulation_and_the_other_keys():
    model = Recording(returns="dict")
    quiet_trainer(max_steps=2, accumulate_grad_batches=2).fit(model, loader())
    assert [sorted(outputs) for outputs in model.seen] == [["extra", "loss"]] * 4
    assert all(outputs["loss"].grad_fn is None for outputs in model.seen)  # no graph kept alive
    assert [float(outputs["loss"]) for outputs in model.seen] == pytest.approx([loss / 2 for loss in model.losses])


def test_a_bare_loss_arrives_as_a_dict_and_a_skipped_step_as_an_empty_one():
    tensor, skipped = Recording(returns="tensor"), Recording(returns="none")
    quiet_trainer(max_steps=1).fit(tensor, loader())
    assert list(tensor.seen[0]) == ["loss"] and tensor.seen[0]["loss"].grad_fn is None
    with pytest.warns(UserWarning, match="`training_step` returned `None`"):
        quiet_trainer(max_epochs=1, limit_train_batches=1).fit(skipped, loader())
    assert skipped.seen == [{}]


def test_a_manual_step_output_arrives_detached():
    class Manual(Recording):
        def __init__(self):
            super().__init__(returns="tensor")
            self.automatic_optimization = False

    model = Manual()
    quiet_trainer(max_epochs=1, limit_train_batches=1).fit(model, loader())
    assert list(model.seen[0]) == ["loss"] and model.seen[0]["loss"].grad_fn is None


def test_a_batch_the_loader_yields_as_none_is_skipped_with_a_notice():
    calls = {"n": 0}

    def every_other_none(samples):
        calls["n"] += 1
        return None if calls["n"] % 2 else default_collate(samples)

    model = Recording()
    data = DataLoader(regression_data(32), batch_size=8, collate_fn=every_other_none)
    trainer = quiet_trainer(max_epochs=1)
    with pytest.warns(UserWarning, match="train_dataloader yielded None"):
        trainer.fit(model, data)
    assert len(model.losses) == 2  # training_step ran for the two real batches only
    assert [outputs is None for outputs in model.seen] == [True, False, True, False]
    assert trainer.global_step == 2  # and only they stepped the optimizer
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_an_optimizer_step_that_never_runs_the_closure_is_refused():
    class Forgetful(RegressionModule):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            optimizer.step()  # forgot closure=optimizer_closure: no training_step, no gradients

    with pytest.raises(MisconfigurationException, match="The closure hasn't been executed"):
        quiet_trainer(max_steps=1).fit(Forgetful(), loader())


def test_the_closure_runs_with_gradients_under_a_no_grad_optimizer_step():
    class NoGradSGD(torch.optim.SGD):  # some third-party optimizers wrap step (and so the closure) in no_grad
        @torch.no_grad()
        def step(self, closure=None):
            if closure is not None:
                closure()
            return super().step()

    grad_enabled = []

    class Model(RegressionModule):
        def training_step(self, batch, batch_idx):
            grad_enabled.append(torch.is_grad_enabled())
            return super().training_step(batch, batch_idx)

        def configure_optimizers(self):
            return NoGradSGD(self.parameters(), lr=0.01)

    quiet_trainer(max_steps=2).fit(Model(), loader())
    assert grad_enabled == [True, True]
