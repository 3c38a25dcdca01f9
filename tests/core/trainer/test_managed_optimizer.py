"""The optimizer a module's ``self.optimizers()`` returns (Lightning's ``LightningOptimizer``)."""

from __future__ import annotations

import torch

from flashtrain.core.trainer.optimizers import ManagedOptimizer
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_it_is_an_instance_of_the_wrapped_class_and_reads_its_state_from_it():
    optimizer = torch.optim.Adam(torch.nn.Linear(3, 4).parameters(), lr=0.1)
    managed = ManagedOptimizer(optimizer)
    assert isinstance(managed, torch.optim.Adam) and isinstance(managed, ManagedOptimizer)
    assert str(managed) == "Lightning" + str(optimizer)
    optimizer.param_groups[0]["lr"] = 1.0
    assert managed.param_groups[0]["lr"] == 1.0
    replacement = torch.optim.Adam(torch.nn.Linear(3, 4).parameters(), lr=5.0)
    optimizer.load_state_dict(replacement.state_dict())  # rebinds the optimizer's param_groups list
    assert managed.param_groups[0]["lr"] == 5.0
    assert managed.state_dict() == optimizer.state_dict()
    assert type(ManagedOptimizer(replacement)) is type(managed)  # one wrapper class per optimizer class


def test_a_hand_built_wrapper_steps_the_optimizer():
    layer = torch.nn.Linear(2, 1)
    managed = ManagedOptimizer(torch.optim.SGD(layer.parameters(), lr=1.0))
    layer(torch.ones(1, 2)).sum().backward()
    before = layer.bias.detach().clone()
    managed.step()
    assert torch.allclose(layer.bias, before - 1.0)


def test_the_module_sees_the_wrapper_during_fit():
    seen = []

    class Recording(RegressionModule):
        def on_train_batch_start(self, batch, batch_idx):
            seen.append(self.optimizers())

    quiet_trainer(max_steps=1).fit(Recording(), loader())
    assert isinstance(seen[0], torch.optim.Adam) and str(seen[0]).startswith("LightningAdam (")


def test_a_trained_module_with_its_wrapped_optimizers_pickles_and_loads(tmp_path):
    # The wrapper's class ("LightningSGD") is made at run time; torch.save(model) after fit failed to pickle it.
    import pickle

    model = RegressionModule()
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2)
    trainer.fit(model, loader())
    managed = model.optimizers()
    copy = pickle.loads(pickle.dumps(managed))
    assert type(copy).__name__ == type(managed).__name__ and isinstance(copy, type(managed.optimizer))
    assert copy.state_dict()["param_groups"] == managed.state_dict()["param_groups"]
    torch.save(model, tmp_path / "model.pt")
    assert isinstance(torch.load(tmp_path / "model.pt", weights_only=False), RegressionModule)
