"""``toggle_optimizer`` / ``toggled_optimizer`` and ``clip_gradients`` on Lightning's rules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Module
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class TwoOptimizers(Module):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.a, self.b, self.shared_head = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)
        self.b.bias.requires_grad = False  # frozen by the user: must stay frozen
        self.seen = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt_a, opt_b = self.optimizers()
        with self.toggled_optimizer(opt_a):
            self.seen.append(
                (self.a.weight.requires_grad, self.b.weight.requires_grad, self.shared_head.weight.requires_grad)
            )
            loss = F.mse_loss(self.shared_head(self.a(x)), y)  # the head is in no optimizer: left as it is
            opt_a.zero_grad()
            self.manual_backward(loss)
            opt_a.step()
        self.seen.append((self.b.weight.requires_grad, self.b.bias.requires_grad))

    def configure_optimizers(self):
        return [torch.optim.SGD(self.a.parameters(), lr=0.1), torch.optim.SGD(self.b.parameters(), lr=0.1)]


def test_toggling_turns_off_only_the_other_optimizers_parameters_and_restores_them():
    model = TwoOptimizers()
    quiet_trainer(max_steps=1, limit_train_batches=1).fit(model, loader())
    assert model.seen == [(True, False, True), (True, False)]


def _clipping_model(**clip_kwargs):
    class Clipping(RegressionModule):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            self.clip_gradients(optimizer, **clip_kwargs)

    return Clipping(optimizer="sgd")


def test_clip_gradients_takes_the_trainers_values_when_left_out():
    model = _clipping_model()
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            loss = closure() if closure is not None else None  # backward and clipping run in the closure
            seen.append(max(p.grad.abs().max().item() for g in self.param_groups for p in g["params"]))
            super().step()
            return loss

    model.configure_optimizers = lambda: Spy(model.parameters(), lr=0.01)
    quiet_trainer(max_steps=2, gradient_clip_val=1e-3, gradient_clip_algorithm="value").fit(model, loader())
    assert max(seen) <= 1e-3 + 1e-9


@pytest.mark.parametrize(
    ("clip_kwargs", "trainer_kwargs", "match"),
    [
        ({"gradient_clip_val": 0.01}, {"gradient_clip_val": 1e-4}, r"gradient_clip_val=0.0001\)` and have passed"),
        ({"gradient_clip_algorithm": "value"}, {"gradient_clip_algorithm": "norm"}, "algorithm='norm'.*'value'"),
        ({"gradient_clip_val": 1.0, "gradient_clip_algorithm": "foo"}, {}, r"must be one of \['value', 'norm'\]"),
    ],
)
def test_clip_gradients_refuses_values_that_contradict_the_trainer(clip_kwargs, trainer_kwargs, match):
    with pytest.raises(MisconfigurationException, match=match):
        quiet_trainer(max_steps=1, **trainer_kwargs).fit(_clipping_model(**clip_kwargs), loader())


@pytest.mark.parametrize(
    ("strict", "strict_loading", "loads"),
    [(None, None, "strict"), (None, False, "partial"), (False, None, "partial"), (True, False, "error")],
)
def test_load_strictness_follows_the_argument_or_strict_loading(tmp_path, strict, strict_loading, loads):
    class Partial(RegressionModule):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.extra = torch.nn.Linear(2, 2)  # not in the checkpoint below
            if strict_loading is not None:
                self.strict_loading = strict_loading

    trainer = quiet_trainer(max_steps=1, default_root_dir=str(tmp_path))
    trainer.fit(RegressionModule(), loader())
    trainer.save_checkpoint(tmp_path / "plain.ckpt")
    if loads == "error":
        with pytest.raises(ValueError, match=r"strict=True\)` which is in conflict with `Partial.strict_loading=False"):
            Partial.load_from_checkpoint(tmp_path / "plain.ckpt", strict=strict)
    elif loads == "strict":
        with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "extra.weight"'):
            Partial.load_from_checkpoint(tmp_path / "plain.ckpt", strict=strict)
    else:
        model = Partial.load_from_checkpoint(tmp_path / "plain.ckpt", strict=strict)
        assert torch.equal(model.net.layers[0].weight, trainer.lightning_module.net.layers[0].weight)


def test_a_checkpoint_without_weights_loads_none_with_a_warning(tmp_path):
    trainer = quiet_trainer(max_steps=1, default_root_dir=str(tmp_path))
    trainer.fit(RegressionModule(), loader())
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    checkpoint = torch.load(tmp_path / "model.ckpt", weights_only=True)
    checkpoint["state_dict"] = {}
    torch.save(checkpoint, tmp_path / "empty.ckpt")
    with pytest.warns(UserWarning, match="empty.ckpt' contains no parameters"):
        RegressionModule.load_from_checkpoint(tmp_path / "empty.ckpt", strict=False)
